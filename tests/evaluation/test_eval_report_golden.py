"""The evaluation report as users read it, on a small hand-built collection: report.md, .csv and
.json must equal the reviewed copies in tests/evaluation/golden/ (header, averages, per-pair tables
with the best value in bold, domain bias, notes, number formats). A deliberate change of the format
is accepted by regenerating them: ``PYTHONPATH=. python
tests/evaluation/test_eval_report_golden.py``. Also the protocol details the mutation check found
unguarded."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from cdir.evaluation.protocol import EvalConfig, EvalData, evaluate
from cdir.evaluation.report import render_markdown, write_report
from cdir.retrieval.scoring import FusionWeights

GOLDEN = Path(__file__).resolve().parent / "golden"
HEADER = {
    "preset": "hand-built",
    "dataset": "three photos, two sketches",
    "note": "a | b\nc",
}  # a bar and a line break inside a cell
D = 6
E = np.eye(D, dtype=np.float32)


def _unit(*values: float) -> np.ndarray:
    v = np.zeros(D, dtype=np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


def collection() -> EvalData:
    """photo: cat, dog, bird (no bird among the sketches); sketch: dog, cat. The photo dog has no
    caption; image vectors lean towards the wrong class for the photo cat, its caption towards
    the right one. Captions share the images' dimensions (0 cat, 1 dog, 2 bird) besides their
    own (3-5), so every caption-vs-image and caption-vs-caption score is a distinct number and
    the rankings come from the scores, never from the tie rule."""
    image = np.stack([_unit(0.2, 1.0), E[1], E[2], E[1], _unit(1.0, 0.4)])
    caption = np.stack(
        [
            _unit(0.9, 0.2, 0, 1.0),
            np.zeros(D, np.float32),
            _unit(0, 0.1, 1.0, 0, 0, 1.0),
            _unit(0.3, 1.0, 0, 0, 1.0),
            _unit(1.0, 0.3, 0, 1.0),
        ]
    )
    neutral = np.stack(
        [
            _unit(1.0, 0.1, 0, 1.0),
            _unit(0.1, 1.0, 0, 0, 1.0),
            _unit(0, 0, 1.0, 0, 0, 1.0),
            _unit(0.2, 1.0, 0, 0, 1.0),
            _unit(1.0, 0.2, 0, 0.5, 0.5),
        ]
    )
    return EvalData(
        image=image,
        caption=caption,
        caption_neutral=neutral,
        domains=["photo", "photo", "photo", "sketch", "sketch"],
        classes=["cat", "dog", "bird", "dog", "cat"],
    )


CONFIG = EvalConfig(ks=(1, 2), fusion_grid=(FusionWeights.parse("image=1"),), bias_k=2)


def gaps() -> EvalData:
    """sketch: cat; photo: cat, dog (no caption); clipart: bird. No pair with clipart has a
    query of a class found on the other side: those pairs have no measured query (NaN)."""
    image = np.stack([E[0], _unit(1.0, 0.5), E[1], E[2]])
    caption = np.stack(
        [
            _unit(1.0, 0, 0, 1.0),
            _unit(0.8, 0.3, 0, 1.0),
            np.zeros(D, np.float32),
            _unit(0, 0, 1.0, 0, 0, 1.0),
        ]
    )
    return EvalData(
        image=image,
        caption=caption,
        caption_neutral=None,
        domains=["sketch", "photo", "photo", "clipart"],
        classes=["cat", "cat", "dog", "bird"],
    )


GAPS_CONFIG = EvalConfig(
    modes=("image", "caption"),
    ks=(1,),
    neutralise=(False,),
    domains=("sketch", "photo", "clipart"),
    bias_k=1,
)
SCENARIOS = {"report": (collection, CONFIG), "report_gaps": (gaps, GAPS_CONFIG)}


def report_bytes(out: Path, scenario: str = "report") -> dict[str, bytes]:
    data, config = SCENARIOS[scenario]
    paths = write_report(evaluate(data(), config), out, HEADER)
    return {kind: path.read_bytes() for kind, path in paths.items()}


def report_texts(out: Path) -> dict[str, str]:
    return {kind: data.decode("utf-8") for kind, data in report_bytes(out).items()}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("kind", ["md", "csv", "json"])
def test_the_report_files_are_the_reviewed_ones(tmp_path: Path, kind: str, scenario: str) -> None:
    got = report_bytes(tmp_path / "a" / "b", scenario)[kind]
    assert got == (GOLDEN / f"{scenario}.{kind}").read_bytes()


def test_one_domain_says_there_is_no_pair() -> None:
    data = collection().subset(np.array([True, True, True, False, False]))
    markdown = render_markdown(evaluate(data, CONFIG), HEADER)
    assert markdown.startswith("# Cross-domain retrieval evaluation\n")
    assert "\nNo retrieval metrics: there is no domain pair to evaluate.\n" in markdown


def test_config_bounds() -> None:
    EvalConfig(bias_k=1, chunk_size=1)
    for bad in ({"bias_k": 0}, {"chunk_size": 0}):
        with pytest.raises(ValueError) as error:
            EvalConfig(**bad)
        assert str(error.value) == "bias_k and chunk_size must be at least 1"


def test_writing_twice_into_a_new_nested_folder_and_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "new" / "nested"
    with caplog.at_level(logging.INFO, logger="cdir.evaluation.report"):
        first = report_texts(out)
        assert report_texts(out) == first
    assert f"wrote evaluation report to {out}" in caplog.messages
    assert "\r" not in first["csv"] and "→" in first["json"]  # \n lines; UTF-8, not \u escapes


def test_a_fusion_of_the_grid_is_scored_with_its_own_weights() -> None:
    report = evaluate(collection(), CONFIG)
    for a, b in (("photo", "sketch"), ("sketch", "photo")):
        image, fused = report.pair("image", a, b), report.pair("fusion(image=1)", a, b)
        assert (fused.map, fused.precision) == (image.map, image.precision)


def test_a_gallery_image_without_a_caption_ranks_below_negative_scores() -> None:
    """Query caption e0; the relevant sketch's caption scores -0.2; an irrelevant sketch has no
    caption: scored, a zero vector would rank first (0 > -0.2); it must rank last."""
    caption = np.stack([E[0], _unit(-0.2, 1.0), np.zeros(D, np.float32)])
    data = EvalData(
        image=np.stack([E[0], E[1], E[2]]),
        caption=caption,
        caption_neutral=None,
        domains=["photo", "sketch", "sketch"],
        classes=["cat", "cat", "dog"],
    )
    report = evaluate(data, EvalConfig(modes=("caption-caption",), neutralise=(False,), ks=(1,)))
    assert report.pair("caption-caption", "photo", "sketch").map == 100.0


def test_a_subset_of_data_without_captions() -> None:
    data = collection()
    data.caption = data.caption_neutral = None
    report = evaluate(data, EvalConfig(modes=("image",), classes=("cat", "dog"), ks=(1,)))
    assert report.domain_sizes == {"photo": 2, "sketch": 2}


def test_asking_for_a_pair_not_evaluated_names_it() -> None:
    report = evaluate(collection(), CONFIG)
    with pytest.raises(KeyError) as error:
        report.pair("image", "photo", "clipart")
    assert error.value.args == ("no result for 'image' on photo → clipart",)


if __name__ == "__main__":  # regenerate the reviewed copies after a deliberate format change
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        for scenario in SCENARIOS:
            for kind, data in report_bytes(Path(scratch), scenario).items():
                (GOLDEN / f"{scenario}.{kind}").write_bytes(data)
    json.loads((GOLDEN / "report.json").read_text(encoding="utf-8"))
    sys.exit(0)
