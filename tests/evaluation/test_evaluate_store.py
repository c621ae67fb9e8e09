"""``cdir eval`` end to end with the ``tiny`` preset: a drawn <domain>/<class>/<file> tree is
ingested into a store and evaluated; subsets and --max-per-class pick files before ingesting; a
rerun reuses the store; a collection without labels is refused with a clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cdir import cli
from cdir.evaluation.evaluate_store import (
    LabelError,
    evaluate_store_dir,
    evaluate_tree,
    labelled_rows,
    needs_captions,
    scan_tree,
    select_files,
)
from cdir.evaluation.protocol import EvalConfig
from cdir.evaluation.report import render_json, render_markdown
from cdir.evaluation.results import EvalReport
from cdir.ingest.pipeline import IngestConfig, ingest
from cdir.ingest.source_files import SourceFile
from cdir.models.loaded import Models
from cdir.retrieval.scoring import FusionWeights
from cdir.store.collection import Store
from tests.drawn import CLASSES, DOMAINS, draw_collection

REPO = Path(__file__).resolve().parents[2]
PER_CLASS = 2
ALL_VARIANTS = {
    "image",
    "caption",
    "caption+neutral",
    "caption-caption",
    "caption-caption+neutral",
    "fusion(image=0.5,caption=1,caption-caption=0.5)",
    "fusion(image=0.5,caption=1,caption-caption=0.5)+neutral",
}
PAIRS = {(a, b) for a in DOMAINS for b in DOMAINS if a != b}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("eval") / "shapes"
    draw_collection(root, per_class=PER_CLASS)
    return root


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("module-cache")


@pytest.fixture(scope="module")
def first_run(
    tmp_path_factory: pytest.TempPathFactory, tiny_shared: Models, tree: Path, module_cache: Path
) -> tuple[EvalReport, dict[str, str], Path, list[str]]:
    store = tmp_path_factory.mktemp("stores") / "shapes"
    stages: list[str] = []
    with pytest.MonkeyPatch.context() as mp:  # module fixtures run outside conftest's guard
        mp.setenv("CDIR_CACHE_DIR", str(module_cache))
        report, header = evaluate_tree(
            tree,
            store,
            "tiny",
            EvalConfig(),
            models=tiny_shared,
            progress=lambda done, total, stage: stages.append(stage),
        )
    return report, header, store, stages


# -------------------------------------------------------------------------------- end to end
def test_tree_report_has_every_pair_and_variant(first_run) -> None:  # noqa: ANN001
    report, header, _, stages = first_run
    assert set(report.variants) == ALL_VARIANTS
    assert {(p.variant, p.query_domain, p.gallery_domain) for p in report.pairs} == {
        (v, a, b) for v in ALL_VARIANTS for a, b in PAIRS
    }
    assert report.domain_sizes == {d: len(CLASSES) * PER_CLASS for d in sorted(DOMAINS)}
    assert report.n_classes == len(CLASSES) and report.ks == (1, 5, 15)
    assert all(p.n_queries == len(CLASSES) * PER_CLASS for p in report.pairs)
    assert all(0.0 <= p.map <= 100.0 for p in report.pairs)
    assert "evaluating" in stages and "embedding images" in stages


def test_header_names_preset_dataset_and_work_done(first_run) -> None:  # noqa: ANN001
    report, header, store, _ = first_run
    assert header["preset"].startswith("tiny (random weights")
    assert header["dataset"].startswith("shapes (") and header["store"] == str(store.resolve())
    assert header["modes"] == "image, caption, caption-caption, fusion"
    n = len(DOMAINS) * len(CLASSES) * PER_CLASS
    assert (
        header["ingest"] == f"{n} new images; computed now: {n} image embeddings, "
        f"{n} captions; 0 unreadable"
    )
    markdown = render_markdown(report, header)
    assert "| preset | tiny (random weights" in markdown and "### photo → sketch" in markdown


def _spy(real: Callable[..., Any], name: str, calls: list[str]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return real(*args, **kwargs)

    return wrapper


def test_rerun_reuses_the_store_and_computes_nothing(
    first_run,
    tiny_shared: Models,
    tree: Path,
    monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
) -> None:
    report, _, store, _ = first_run
    calls: list[str] = []
    embedder, captioner = tiny_shared.embedder, tiny_shared.captioner
    for owner, name in (
        (embedder, "encode_image_tensors"),
        (embedder, "encode_texts"),
        (captioner, "caption"),
    ):
        monkeypatch.setattr(owner, name, _spy(getattr(owner, name), name, calls))
    again, header = evaluate_tree(tree, store, "tiny", EvalConfig(), models=tiny_shared)
    assert calls == []
    assert header["ingest"].startswith("0 new images; computed now: 0 image embeddings, 0 captions")
    assert again.pairs == report.pairs


def test_a_labelled_store_evaluates_like_its_tree(first_run, tiny_shared: Models) -> None:  # noqa: ANN001
    report, _, store, _ = first_run
    again, header = evaluate_store_dir(store, models=tiny_shared)
    assert again.pairs == report.pairs
    assert header["dataset"].startswith("shapes (") and "ingest" not in header


def test_captions_made_after_a_checkpoint_reach_the_store(
    tiny_shared: Models, tmp_path: Path
) -> None:
    """Captioning checkpoints the store (Store.write replaces its table); the captions made after
    a checkpoint must still be written, or caption modes lose most queries on a long run."""
    root = tmp_path / "tree"
    draw_collection(root, domains=("photo", "sketch"), classes=CLASSES[:2], per_class=2)
    config = IngestConfig(checkpoint_seconds=0, caption_batch_size=2)
    report = ingest([root], tmp_path / "store", tiny_shared, config)
    store = Store.load(tmp_path / "store")
    assert report.captioned == 8
    assert store.items["caption"].notna().sum() == 8 and store.caption_mask().sum() == 8


def test_tiles_and_predicted_domains_are_not_evaluated(first_run) -> None:  # noqa: ANN001
    _, _, store_dir, _ = first_run
    store = Store.load(store_dir)
    store.items.loc[0, "parent_id"] = 5
    store.items.loc[1, "label_source"] = "predicted"
    rows = labelled_rows(store)
    assert 0 not in rows and 1 not in rows and len(rows) == len(store.items) - 2


# ---------------------------------------------------------------------- selecting files first
def _file(rel: str) -> SourceFile:
    domain, label, _ = rel.split("/")
    return SourceFile(Path("/x") / rel, rel, domain, label, "folder")


def test_max_per_class_takes_the_first_files_by_name() -> None:
    files = [_file(f"photo/cat/{n}.png") for n in ("c", "a", "b")]
    files += [_file("photo/dog/z.png"), _file("sketch/cat/b.png"), _file("sketch/cat/a.png")]
    chosen = [f.rel_path for f in select_files(files, max_per_class=2)]
    assert chosen == [
        "photo/cat/a.png",
        "photo/cat/b.png",
        "photo/dog/z.png",
        "sketch/cat/a.png",
        "sketch/cat/b.png",
    ]


def test_subsets_and_unknown_names() -> None:
    files = [_file(f"{d}/{c}/1.png") for d in ("photo", "sketch", "clipart") for c in ("a", "b")]
    chosen = select_files(files, domains=("sketch", "photo"), classes=("b",))
    assert [f.rel_path for f in chosen] == ["photo/b/1.png", "sketch/b/1.png"]
    with pytest.raises(LabelError, match=r"unknown domains \['paint'\]; the tree has: clipart"):
        select_files(files, domains=("paint",))
    with pytest.raises(LabelError, match="unknown classes"):
        select_files(files, classes=("c",))
    with pytest.raises(ValueError, match="at least 1"):
        select_files(files, max_per_class=0)


def test_scan_tree_leaves_out_unlabelled_files_and_a_store_inside(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    draw_collection(root, domains=("photo", "sketch"), classes=("circle",), per_class=3)
    (root / "loose.png").write_bytes((root / "photo/circle/circle_0.png").read_bytes())
    store = root / "results" / "store"
    draw_collection(store / "thumbs", domains=("x",), classes=("y",), per_class=1)
    selection = scan_tree(root, max_per_class=2, exclude=store)
    assert sorted(selection.rel_paths) == [
        f"{d}/circle/circle_{i}.png" for d in ("photo", "sketch") for i in (0, 1)
    ]
    assert selection.unlabelled == 1


def test_subset_run_ingests_only_the_selected_files(
    tiny_shared: Models, tree: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    report, header = evaluate_tree(
        tree,
        store,
        "tiny",
        EvalConfig(modes=("image",)),
        1,
        domains=("sketch", "photo"),
        classes=CLASSES[:2],
        models=tiny_shared,
    )
    assert report.domain_sizes == {"sketch": 2, "photo": 2}
    assert report.variants == ["image"] and len(report.pairs) == 2
    assert len(Store.load(store).items) == 4
    assert header["captions"] == "not used" and "0 captions" in header["ingest"]
    assert (header["domain subset"], header["max per class"]) == ("sketch, photo", "1")


def test_needs_captions() -> None:
    image_only = FusionWeights.parse("image=1")
    assert not needs_captions(EvalConfig(modes=("image",)))
    assert not needs_captions(EvalConfig(modes=("image",), fusion_grid=(image_only,)))
    assert needs_captions(EvalConfig(modes=("image", "caption")))
    assert needs_captions(EvalConfig(modes=("image",), fusion_grid=(FusionWeights.parse(None),)))


# ----------------------------------------------------------------------------------- errors
@pytest.fixture
def unlabelled_store(tmp_path: Path, tiny_shared: Models) -> Path:
    flat = tmp_path / "flat"
    flat.mkdir()
    draw_collection(tmp_path / "drawn", domains=("photo",), classes=("circle",), per_class=2)
    for path in (tmp_path / "drawn").rglob("*.png"):
        (flat / path.name).write_bytes(path.read_bytes())
    store = tmp_path / "store"
    ingest([flat], store, tiny_shared, IngestConfig(captions="none"))
    return store


def test_a_store_without_labels_is_refused(unlabelled_store: Path, tiny_shared: Models) -> None:
    with pytest.raises(LabelError, match="no image with a domain and a class label"):
        evaluate_store_dir(unlabelled_store, models=tiny_shared)


def test_cli_exit_code_2_for_a_store_without_labels(
    unlabelled_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["eval", str(unlabelled_store), "--json"]) == 2
    err = capsys.readouterr().err
    assert "no image with a domain and a class label" in err and "<domain>/<class>/<file>" in err


def test_cli_on_a_store_writes_the_report_files(
    first_run,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],  # noqa: ANN001
) -> None:
    _, _, store, _ = first_run
    out = tmp_path / "out"
    argv = [
        "eval",
        str(store),
        "--modes",
        "image,caption",
        "--no-neutral",
        "--k",
        "1,3",
        "--fusion-grid",
        "image=1,caption=1",
        "--out",
        str(out),
        "--json",
        "-q",
    ]
    assert cli.main(argv) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["variants"] == ["image", "caption", "fusion(image=1,caption=1)"]
    assert document["ks"] == [1, 3] and document["header"]["fusion grid"] == "image=1,caption=1"
    assert sorted(p.name for p in out.iterdir()) == ["report.csv", "report.json", "report.md"]
    assert json.loads((out / "report.json").read_text())["pairs"] == document["pairs"]


def test_cli_usage_errors(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["eval", str(tree), "--k", "one"]) == 2
    assert cli.main(["eval", str(tree), "--modes", "text"]) == 2
    assert cli.main(["eval", str(tree), "--preset", "tiny", "--domains", "mars"]) == 2
    assert cli.main(["eval", str(tree / "missing")]) == 2
    err = capsys.readouterr().err
    assert "--k takes integers" in err and "typed queries" in err and "unknown domains" in err


# ------------------------------------------------------------------------------- subprocess
@pytest.mark.slow
def test_cli_json_on_a_generated_tree(
    first_run,
    tree: Path,
    module_cache: Path,
    tmp_path: Path,  # noqa: ANN001
) -> None:
    """A new store in ./stores; the images' embeddings and captions come from the shared cache
    the first run filled, so the subprocess only builds the models and evaluates."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "CDIR_CACHE_DIR": str(module_cache),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "cdir", "eval", str(tree), "--preset", "tiny", "--json"]
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document["variants"]) == ALL_VARIANTS
    found = {(p["variant"], p["query_domain"], p["gallery_domain"]) for p in document["pairs"]}
    assert found == {(v, a, b) for v in ALL_VARIANTS for a, b in PAIRS}
    assert {a["variant"] for a in document["averages"]} == ALL_VARIANTS
    assert all(set(p["precision"]) == {"1", "5", "15"} for p in document["pairs"])
    assert (tmp_path / "stores" / "eval-shapes-tiny" / "meta.json").is_file()
    assert document["header"]["ingest"].endswith("0 image embeddings, 0 captions; 0 unreadable")
    assert document["pairs"] == json.loads(json.dumps(render_json(first_run[0])))["pairs"]
