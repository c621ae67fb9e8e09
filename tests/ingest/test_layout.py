"""Which folder level means the domain and which the class, guessed from hand-built layouts
(Office-Home, DomainNet, p0/p1 batches, dated folders, flat folders, one domain), the choice that
overrides the guess, and the ingest labelling with it."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from cdir import api
from cdir.ingest.layout import AUTO, Layout, guess_layout, listed_rel_paths, opaque
from cdir.ingest.sources import SourceError, scan_sources
from tests.drawn import draw_image


def _paths(*trees: tuple[str, list[str], list[str]]) -> list[str]:
    """Every ``prefix/a/b/img_<n>.jpg`` of (prefix, upper names, lower names) trees."""
    return [
        f"{prefix}{upper}/{lower}/img_{n}.jpg".lstrip("/")
        for prefix, uppers, lowers in trees
        for upper in uppers
        for lower in lowers
        for n in range(2)
    ]


OFFICE_HOME_CLASSES = ["Alarm_Clock", "Backpack", "Batteries", "Bed"]
DOMAINNET_CLASSES = ["aircraft_carrier", "airplane", "alarm_clock"]


def test_office_home_under_a_wrapper_folder() -> None:
    rels = _paths(
        ("OfficeHomeDataset/", ["Art", "Clipart", "Product", "Real World"], OFFICE_HOME_CLASSES)
    )
    guess = guess_layout(rels)
    assert guess.layout == Layout(2, 3)
    assert guess.domains == ("Art", "Clipart", "Product", "Real World")
    assert guess.describe() == (
        "domains: Art, Clipart, Product, Real World (from level 2); classes: 4 (from level 3); "
        "32 images"
    )


def test_domainnet() -> None:
    rels = _paths(
        ("", ["clipart", "infograph", "painting", "quickdraw", "real", "sketch"], DOMAINNET_CLASSES)
    )
    guess = guess_layout(rels)
    assert guess.layout == Layout(1, 2) and guess.classes == 3 and len(guess.domains) == 6


def test_opaque_batches_mean_neither() -> None:
    assert guess_layout(_paths(("", ["p0", "p1", "p2"], ["cat", "dog"]))).layout == Layout(None, 2)
    over_domains = _paths(("p0/", ["photo", "sketch"], ["cat", "dog"])) + _paths(
        ("p1/", ["photo"], ["cat"])
    )
    assert guess_layout(over_domains).layout == Layout(2, 3)
    dated = _paths(("", ["2024-05-01", "2024-05-02"], ["batch_3", "batch_4"]))
    assert guess_layout(dated).layout == Layout(None, None)
    for name in ("p0", "P12", "batch_3", "part-2", "2024-05-01", "20240501", "0042", "train"):
        assert opaque(name), name
    for name in ("photo", "3d", "cat", "Alarm_Clock", "Real World"):
        assert not opaque(name), name


def test_classes_repeated_under_unknown_names_make_the_upper_level_the_domain() -> None:
    rels = _paths(("", ["mine", "theirs", "old"], ["cat", "dog", "fish"]))
    assert guess_layout(rels).layout == Layout(1, 2)


def test_flat_folders_and_files_at_the_root() -> None:
    assert guess_layout(["a.jpg", "b.png"]).layout == Layout(None, None)
    assert guess_layout(["cat/a.jpg", "dog/b.jpg"]).layout == Layout(None, 1)
    assert guess_layout(["photo/a.jpg", "sketch/b.jpg"]).layout == Layout(1, None)
    assert guess_layout(["uploads/a.jpg", "uploads/b.jpg"]).layout == Layout(None, None)


def test_a_single_domain() -> None:
    guess = guess_layout(_paths(("", ["photo"], ["cat", "dog", "fish"])))
    assert guess.layout == Layout(1, 2) and guess.domains == ("photo",) and guess.classes == 3
    assert guess_layout(_paths(("", ["cat", "dog"], ["sketch"]))).layout == Layout(2, 1)
    assert guess_layout(["照片/猫/a.png", "照片/狗/b.png"]).layout == Layout(1, 2)


def test_a_choice_overrides_the_guess_level_by_level() -> None:
    rels = _paths(("", ["p0", "p1"], ["cat", "dog"]))
    assert guess_layout(rels, Layout(1, AUTO)).layout == Layout(1, 2)
    assert guess_layout(rels, Layout(AUTO, None)).layout == Layout(None, None)
    assert guess_layout(rels, Layout(2, AUTO)).layout == Layout(2, None)  # the guess gives way
    with pytest.raises(ValueError, match="^no folder level 3 for the class"):
        guess_layout(rels, Layout(1, 3))
    with pytest.raises(ValueError, match="cannot come from the same folder level"):
        guess_layout(rels, Layout(2, 2))
    assert api.layout("2", "none") == Layout(2, None)
    assert api.layout("auto", "") == Layout(AUTO, AUTO)
    with pytest.raises(api.UsageError, match="a folder level is a number"):
        api.layout("second")


def _tree(root: Path, rels: list[str]) -> Path:
    for n, rel in enumerate(rels):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        draw_image("photo", "circle", n % 5, size=64).save(root / rel)
    return root


def test_the_ingest_labels_by_the_same_guess_and_the_preview_reads_no_file(tmp_path: Path) -> None:
    rels = [r.replace(".jpg", ".png") for r in _paths(("", ["p0", "p1"], ["cat", "dog"]))]
    src = _tree(tmp_path / "src", rels)
    archive = tmp_path / "batches.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for rel in rels:
            zf.write(src / rel, rel)
        zf.writestr("__MACOSX/p0/cat/._img_0.png", b"junk")
    for source in (src, archive):
        assert sorted(listed_rel_paths([source])) == sorted(rels)
        preview = api.guess_layout_of([source])
        scan = scan_sources([source], tmp_path / f"x-{source.name}")
        assert scan.layout == preview
        assert {(f.domain, f.label) for f in scan.files} == {(None, "cat"), (None, "dog")}
    chosen = scan_sources([src], tmp_path / "y", layout=Layout(1, 2))
    assert {(f.domain, f.label, f.label_source) for f in chosen.files} == {
        (p, c, "folder") for p in ("p0", "p1") for c in ("cat", "dog")
    }
    with pytest.raises(SourceError, match="no folder level 4"):
        scan_sources([src], tmp_path / "z", layout=Layout(4, AUTO))
    with pytest.raises(api.UsageError, match="no folder level 4"):
        api.guess_layout_of([src], Layout(4, AUTO))
