"""The web app's handlers, called directly (no browser): what each user action shows."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import gradio as gr
import pytest
from PIL import Image, ImageDraw

from cdir import api
from cdir.app.handlers import AppActions, _clicked_id
from cdir.app.queries import SearchSettings, sketch_image
from cdir.app.tabs.method import worked_example
from cdir.app.workspace import Workspace
from cdir.retrieval.search import SearchOptions
from cdir.store.collection import Store
from tests.drawn import DOMAINS, draw_collection

SETTINGS = ("caption", 5, False, [], False, "", 0.5, 1.0, 0.5)  # the search widgets' values


@pytest.fixture(scope="module")
def actions(tmp_path_factory: pytest.TempPathFactory) -> AppActions:
    # a private deployment (--shared-workspace): the tests below decide on the examples, which a
    # public page refuses (tests/security/test_names_and_owners.py)
    return AppActions(Workspace(tmp_path_factory.mktemp("workspace"), shared=True), "tiny")


@pytest.fixture(scope="module")
def loaded(actions: AppActions, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A collection built through the upload path: a zip of a labelled tree plus a loose file."""
    src = tmp_path_factory.mktemp("upload")
    draw_collection(src / "tree")
    archive = src / "shapes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((src / "tree").rglob("*.png")):
            zf.write(path, path.relative_to(src / "tree").as_posix())
    loose = src / "loose one.png"
    Image.new("RGB", (40, 40), (200, 10, 10)).save(loose)
    out = actions.build([str(archive), str(loose)], "My Shapes!", "tiny", "lazy")
    return out[0]


def test_upload_builds_a_collection_inside_the_workspace(actions: AppActions, loaded: str) -> None:
    assert Path(loaded).parent == actions.workspace.root
    assert Path(loaded).name == "my-shapes"
    out = actions.collection_view(loaded)
    assert "37 images" in out[1]
    assert "circle (9)" in out[1] and "cross (9)" in out[1]
    assert "predicted zero-shot" in out[1]  # the loose file has no folder to give its domain
    assert out[2].count('class="cdir-card"') >= 3  # a preview of every domain
    assert "my-shapes" in out[5]["choices"]


def test_saved_collection_opens_and_unknown_names_are_refused(
    actions: AppActions, loaded: str
) -> None:
    assert actions.open_saved("my-shapes")[0] == loaded
    with pytest.raises(Exception, match="no collection named"):
        actions.open_saved("nope")
    with pytest.raises(Exception, match="not a collection"):
        actions.open_saved("../etc")


def test_search_shows_the_query_caption_and_result_cards(actions: AppActions, loaded: str) -> None:
    query_md, html, table = actions.search_text(loaded, "a red circle", *SETTINGS)
    assert "a red circle" in query_md
    assert html.count('class="cdir-card"') == 5 and len(table) == 5
    item = actions.search(loaded, {"item_id": 3}, SearchSettings(k=4))
    assert "The query's caption" in item[0]
    assert all(row[1] != 3 for row in item[2])  # the query itself is never a result


def test_cross_domain_view_has_one_row_per_target_domain(actions: AppActions, loaded: str) -> None:
    settings = ("image", 3, True, ["sketch", "photo"], False, "", 0.5, 1.0, 0.5)
    _, html, table = actions.on_result_click(loaded, "0:123", *settings)
    assert html.count('class="cdir-row"') == 2
    assert {row[3] for row in table} == {"sketch", "photo"}


def api_ids(store: str, item_id: int, **options: object) -> list[int]:
    """The ids the same search gives through the API, in a session of its own."""
    session = api.open_collection(store)
    return [
        hit.id
        for hit in api.search(session, item_id=item_id, options=SearchOptions(**options)).hits
    ]


def card_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-id="(\d+)"', html)]


def test_result_click_searches_more_like_the_clicked_item(actions: AppActions, loaded: str) -> None:
    query_md, html, table = actions.on_result_click(loaded, "7:1700000000", *SETTINGS)
    assert "item #7" in query_md
    want = api_ids(loaded, 7, mode="caption", k=5)
    assert len(want) == 5 and 7 not in want
    assert [row[1] for row in table] == want
    assert card_ids(html) == want
    assert actions.on_result_click(loaded, "", *SETTINGS)[0] == gr.update()


def test_sketch_queries_use_the_drawing_on_white(actions: AppActions, loaded: str) -> None:
    canvas = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).ellipse((10, 10, 50, 50), outline=(0, 0, 0, 255), width=3)
    picture = sketch_image({"composite": canvas})
    assert picture.mode == "RGB" and picture.getpixel((0, 0)) == (255, 255, 255)
    assert sketch_image({"composite": Image.new("RGBA", (64, 64))}) is None
    assert (
        actions.search_sketch(loaded, {"composite": canvas}, *SETTINGS)[1].count(
            'class="cdir-card"'
        )
        == 5
    )


def test_bad_input_gives_messages_not_crashes(
    actions: AppActions, loaded: str, tmp_path: Path
) -> None:
    with pytest.raises(gr.Error, match="Open a collection first"):
        actions.search_text(None, "x", *SETTINGS)
    with pytest.raises((gr.Error, ValueError), match="Drop some images"):
        actions.build([], "", "tiny", "lazy")
    with pytest.raises(gr.Error, match="Drop or paste"):
        actions.search_image(loaded, None, *SETTINGS)
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    with pytest.raises(Exception, match="not an image"):
        actions.search_image(loaded, str(bad), *SETTINGS)


def test_map_click_shows_the_point_and_its_neighbours(actions: AppActions, loaded: str) -> None:
    assert _clicked_id("12:99") == 12 and _clicked_id("x") is None
    thumb, text, cards = actions.show_point(loaded, "4:1")
    assert Path(thumb).is_file() and Path(thumb).is_relative_to(Path(loaded))
    assert "item #4" in text
    want = api_ids(loaded, 4, k=8)  # caption matching, the map's neighbours
    assert len(want) == 8 and 4 not in want
    assert card_ids(cards) == want


def test_worked_example_compares_image_mode_with_caption_matching(actions: AppActions) -> None:
    html, summary = worked_example(actions)
    assert "Its caption:" in html and html.count('class="cdir-row"') == 2
    assert "Image → image" in summary and "Caption matching" in summary
    assert summary.count("of the top 6 pictures in the other styles are houses") == 2
    assert "style words removed" in summary
    assert "sketch" not in {m.group(1) for m in re.finditer(r'class="badge dom">([^<]+)<', html)}


def test_evaluate_panel_reports_every_domain_pair(actions: AppActions, loaded: str) -> None:
    """One section per ordered pair of the 3 labelled domains (the loose file's domain is only
    predicted, so it is left out), each with 12 queries against 12 gallery images; every variant
    measures or skips each query, and the image variant measures all 12."""
    report = actions.evaluate(loaded)
    assert "P@1" in report and "mAP" in report and "caption" in report
    # the summary first, then one folded section per pair
    assert report.index("## Summary") < report.index("<details")
    sections = re.findall(r"<summary>(\w+) → (\w+): .*?</summary>\n\n(.*?)</details>", report, re.S)
    assert sorted((a, b) for a, b, _ in sections) == sorted(
        (a, b) for a in DOMAINS for b in DOMAINS if a != b
    )
    for a, b, body in sections:
        assert body.startswith(f"Queries: the 12 images of {a}; gallery: the 12 images of {b}.")
        rows = [
            [c.strip() for c in line.strip("|").split("|")]
            for line in body.splitlines()
            if line.startswith("| ") and "---" not in line
        ]
        counts = {row[0]: (int(row[-2]), int(row[-1])) for row in rows[1:]}  # after the header
        assert counts["image"] == (12, 0), (a, b)
        assert all(q + skipped == 12 for q, skipped in counts.values()), (a, b, counts)
    assert "1 images with a predicted (not given) domain were left out" in report


EXAMPLES = Path(__file__).resolve().parents[2] / "cdir" / "assets" / "examples"
# Simple drawings of one class whose pHash differ in at most 8 bits: at the default threshold
# (precision 0.97 on the calibration set) these pairs of different images are grouped too.
LOOK_ALIKES = {
    frozenset(pair)
    for pair in [
        ("clipart/boat/clipart_boat_01.jpg", "clipart/boat/clipart_boat_03.jpg"),
        ("clipart/car/clipart_car_01.jpg", "clipart/car/clipart_car_02.jpg"),
        ("clipart/flower/clipart_flower_03.jpg", "render3d/flower/render3d_flower_03.jpg"),
        ("render3d/car/render3d_car_01.jpg", "render3d/car/render3d_car_02.jpg"),
        ("sketch/car/sketch_car_01.jpg", "sketch/car/sketch_car_03.jpg"),
    ]
}


def test_duplicates_review_finds_the_bundled_near_duplicates(
    actions: AppActions, tmp_path: Path
) -> None:
    store = actions.load_examples("tiny")[0]
    settings = (["exact", "perceptual"], 8, 0.95)
    summary, html, state = actions.find_dupes(store, *settings)
    assert "groups" in summary and "complete linkage" in summary
    assert html.count('class="cdir-row"') == len(state)
    rel = Store.load(store).items["rel_path"].tolist()
    found = {frozenset(rel[m] for m in group["members"]) for group in state}
    manifest = json.loads((EXAMPLES / "manifest.json").read_text(encoding="utf-8"))
    bundled = {frozenset(pair) for pair in manifest["near_duplicate_pairs"]}
    bundled.add(
        frozenset(
            {
                "generated/fish/upscale_fish.png",  # the upscale of the grid's U2
                "generated/fish/grid_fish.png#tile2",
            }
        )
    )
    assert found == bundled | LOOK_ALIKES  # every bundled pair, each as a group of its own
    group = state[0]
    other = next(m for m in group["members"] if m != group["representative"])
    summary, html, state = actions.choose_keep(store, f"0-{other}:5", state, *settings)
    assert "1 of" in summary and html.count("kept") >= 1  # saved in the collection
    kept = next(g for g in state if other in g["members"])
    assert kept["keep"] == other and kept["keep_reason"] == "your choice"
    # the keys: a (alternate) and u (undo) on a member, r (remove) on another group's
    number = state.index(kept)
    rep = next(m for m in kept["members"] if m != other)
    _, html, state = actions.choose_keep(store, f"{number}-{rep}-alternate:6", state, *settings)
    assert Store.load(store) is not None and 'badge decided">alternate' in html
    _, html, state = actions.choose_keep(store, f"{number}-{rep}-undo:7", state, *settings)
    assert 'badge decided">alternate' not in html
    last = state[-1]
    _, html, state = actions.choose_keep(
        store, f"{len(state) - 1}-{last['members'][0]}-remove:8", state, *settings
    )
    assert 'badge decided">remove' in html
    _, _, state = actions.choose_keep(
        store, f"{len(state) - 1}-{last['members'][0]}-undo:9", state, *settings
    )
    out = Path(actions.export_dupes(store, state, "json"))
    assert out.is_relative_to(Path(store)) and out.suffix == ".json"
    rows = json.loads(out.read_text())
    assert [
        r["id"]
        for r in rows
        if other in kept["members"] and r["id"] in kept["members"] and r["keep"]
    ] == [other]
    figure, examples = actions.dupes_histogram(store, "perceptual")
    assert figure.data and 'class="cdir-card"' in examples
    drift = actions.prompt_drift(store)
    assert len(drift) >= 5  # every generated image carries its prompt
