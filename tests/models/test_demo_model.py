"""The shipped ``demo`` preset: its weights load through the local-directory path, its captions
name what held-out drawings show, and caption matching on held-out drawings keeps its measured
quality (docs/reproducing.md has the full table).

Held-out drawings come from ``scripts/make_training_set.py`` with seeds the model never saw
(it was trained on seed 1)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import cdir.models.encoders
import cdir.models.loaded
from cdir.models.availability import offline_fallback
from cdir.models.loaded import load_models
from cdir.models.weights import BUNDLED_MODEL_DIR

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import make_training_set as mts  # noqa: E402

HELD_OUT_SEED = 4242  # never used in training
# CM P@1 (style words kept) measured on this test's fair set (3 per cell, seed 4243, the 6
# trained styles): 53.1; the floor leaves room for other CPUs' float rounding, not for a worse
# model (a model trained on the older, unfair drawings scores chance, about 20, on fair ones)
CM_P1_FLOOR = 42.0
# captions naming the class on seed 4242, one per (style, class) of clipart, photo, silhouette:
# measured 17 of 18 (a clipart house is "a clipart of a blue car")
CAPTIONS_RIGHT_FLOOR = 16


def draw_set(root: Path, seed: int, per_cell: int, domains: tuple[str, ...]) -> list[dict]:
    return mts.build(root, seed, per_cell, domains, jobs=1)


def test_demo_loads_from_the_bundled_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path | None] = []
    real = cdir.models.encoders.load_open_clip

    def spy(spec, preset, local, device, seed=0):  # noqa: ANN001, ANN202
        calls.append(local)
        return real(spec, preset, local, device, seed)

    monkeypatch.setattr(cdir.models.loaded, "load_open_clip", spy)
    monkeypatch.delenv("CDIR_MODEL_DIR", raising=False)
    models = load_models("demo", device="cpu")
    assert calls == [BUNDLED_MODEL_DIR / "demo" / "embedder"]
    assert models.preset.trained
    assert offline_fallback() == "demo"
    weights = sum(p.stat().st_size for p in (BUNDLED_MODEL_DIR / "demo").rglob("*") if p.is_file())
    assert weights <= 25_000_000


def test_demo_captions_name_the_class(tmp_path: Path) -> None:
    from PIL import Image

    rows = draw_set(tmp_path, HELD_OUT_SEED, 1, ("clipart", "photo", "silhouette"))
    images = [Image.open(tmp_path / r["path"]).convert("RGB") for r in rows]
    captions = load_models("demo", device="cpu").captioner.caption(images)
    right = [
        any(mts.SYNONYMS[r["class"]][i] in c.split() for i in range(len(mts.SYNONYMS[r["class"]])))
        for r, c in zip(rows, captions, strict=True)
    ]
    assert sum(right) >= CAPTIONS_RIGHT_FLOOR, list(
        zip([r["class"] for r in rows], captions, strict=True)
    )


@pytest.mark.slow
def test_demo_caption_matching_beats_the_floor(tmp_path: Path) -> None:
    from cdir.evaluation.evaluate_store import evaluate_tree
    from cdir.evaluation.protocol import EvalConfig

    draw_set(tmp_path / "tree", HELD_OUT_SEED + 1, 3, mts.TRAIN_DOMAINS)
    config = EvalConfig(modes=("image", "caption"), ks=(1, 5), neutralise=(False,))
    report, _ = evaluate_tree(tmp_path / "tree", tmp_path / "store", "demo", config)
    assert report.average("caption").precision[1] >= CM_P1_FLOOR
