"""Every per-file step of an ingest fails for that file alone: decode, metadata, grid split,
hashing, thumbnail. The collection is ingested, the file's reason is in the report in one line,
and the run never aborts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from cdir.ingest import reader
from cdir.ingest.pipeline import IngestConfig, ingest
from cdir.models.loaded import Models, load_models


@pytest.fixture(scope="module")
def tiny() -> Models:
    return load_models("tiny", device="cpu")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "in" / "cats"
    root.mkdir(parents=True)
    for name, colour in (
        ("good.png", (200, 30, 30)),
        ("victim.png", (30, 30, 200)),
        ("other.png", (30, 200, 30)),
    ):
        Image.new("RGB", (96, 80), colour).save(root / name)
    return root.parent


def _only_for_victim(real: Callable[..., Any], exc: Exception) -> Callable[..., Any]:
    """``real``, raising ``exc`` when called on the victim (its path or its blue pixels)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        first = args[0]
        if "victim" in str(first) or (
            hasattr(first, "getpixel") and first.getpixel((0, 0))[:3] == (30, 30, 200)
        ):
            raise exc
        return real(*args, **kwargs)

    return wrapper


FAILING = {  # step -> (reader attribute, whether the file is failed, what the reason says)
    "decode": ("_decode_item", True, "cannot decode: RuntimeError: boom"),
    "grid split": ("detect_grid", False, "grid split failed (kept whole): IndexError"),
    "metadata": ("extract_metadata_fields", False, "metadata not read: ValueError"),
    "hashing": ("perceptual_hashes", True, "hashing failed: ZeroDivisionError"),
    "thumbnail": ("make_thumbnail", True, "thumbnail failed: MemoryError"),
}
ERRORS = {
    "decode": RuntimeError("boom"),
    "grid split": IndexError("index 64 is out of bounds"),
    "metadata": ValueError("odd\nchunk"),
    "hashing": ZeroDivisionError("x"),
    "thumbnail": MemoryError("big"),
}


@pytest.mark.parametrize("step", list(FAILING))
def test_a_failing_step_fails_one_file(
    step: str, folder: Path, tmp_path: Path, tiny: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, fails, reason = FAILING[step]
    if name == "extract_metadata_fields":
        from cdir.ingest.metadata import extract

        monkeypatch.setattr(
            extract, "extract_metadata", _only_for_victim(extract.extract_metadata, ERRORS[step])
        )
    else:
        monkeypatch.setattr(reader, name, _only_for_victim(getattr(reader, name), ERRORS[step]))
    report = ingest([folder], tmp_path / "store", tiny, IngestConfig(captions="none"))
    failed = {Path(f["file"]).name: f["reason"] for f in report.failed}
    if fails:
        assert list(failed) == ["victim.png"]
        assert failed["victim.png"].startswith(reason) and "\n" not in failed["victim.png"]
        assert report.counts["n_ok"] == 2
    else:
        assert failed == {} and report.counts["n_ok"] == 3
        issues = " ".join(str(i) for i in report.metadata["issues"])
        assert reason in issues and "\n" not in issues


def test_folder_hashing_fails_one_file(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``cdir dupes FOLDER``: a decoder or hashing bug on one file is that file's reason."""
    from cdir.duplicates import file_hashes

    victim, good = folder / "cats" / "victim.png", folder / "cats" / "good.png"
    monkeypatch.setattr(
        file_hashes,
        "thumbnail_hashes",
        _only_for_victim(file_hashes.thumbnail_hashes, ZeroDivisionError("x\ny")),
    )
    assert file_hashes.hash_file(victim) == "hashing failed: ZeroDivisionError: x y"
    assert not isinstance(file_hashes.hash_file(good), str)
    monkeypatch.setattr(
        file_hashes,
        "draft_thumbnail",
        _only_for_victim(file_hashes.draft_thumbnail, RuntimeError("boom")),
    )
    monkeypatch.setattr(file_hashes, "read_image_bytes", lambda path, limits: str(path))
    assert file_hashes.hash_file(victim) == "cannot decode: RuntimeError: boom"
    monkeypatch.setattr(
        file_hashes,
        "load_rgb_bytes",
        _only_for_victim(file_hashes.load_rgb_bytes, RuntimeError("boom")),
    )
    assert file_hashes.pixel_hash(victim) is None
