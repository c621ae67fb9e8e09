"""Devices and ZeroGPU: ``--device``/``$CDIR_DEVICE``, float16 on CUDA (tests marked ``gpu``,
skipped without one), and the ``spaces.GPU`` wiring checked with the real ``spaces`` package."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from cdir.cli import main
from cdir.models import zerogpu
from cdir.models.device import (
    default_batch_sizes,
    device_choice,
    resolve_device,
    set_device_choice,
)
from cdir.models.loaded import Models, load_models


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


gpu = pytest.mark.gpu
needs_cuda = pytest.mark.skipif(not _cuda(), reason="no CUDA GPU here")


def _images(n: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)) for _ in range(n)]


def test_device_choice_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDIR_DEVICE", raising=False)
    assert device_choice() == "auto"
    monkeypatch.setenv("CDIR_DEVICE", "CPU")
    assert device_choice() == "cpu" and resolve_device() == "cpu"
    previous = set_device_choice("auto")
    try:
        assert device_choice() == "auto"  # the flag wins over the environment
    finally:
        set_device_choice(previous)
    monkeypatch.setenv("CDIR_DEVICE", "tpu")
    with pytest.raises(ValueError, match=r"\$CDIR_DEVICE must be one of auto, cpu, cuda"):
        device_choice()
    assert default_batch_sizes("cpu") == (32, 8)
    assert default_batch_sizes("cuda:0")[0] > 32


@pytest.mark.skipif(_cuda(), reason="checks the message on a machine without CUDA")
def test_cuda_without_a_gpu_is_a_clear_usage_error(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")
    (tmp_path / "a.png").write_bytes(b"")
    assert (
        main(
            [
                "ingest",
                str(tmp_path),
                "--store",
                str(tmp_path / "s"),
                "--preset",
                "tiny",
                "--device",
                "cuda",
                "-q",
            ]
        )
        == 2
    )
    assert "--device auto or cpu" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
    assert resolve_device("auto") == "cpu"


# --- ZeroGPU, with the real spaces package ------------------------------------------------------


def test_spaces_is_harmless_off_a_space(monkeypatch: pytest.MonkeyPatch) -> None:
    import spaces
    from spaces.config import Config

    def job(x: int) -> int:
        return x + 1

    assert not Config.zero_gpu
    assert spaces.GPU(job) is job and spaces.GPU(duration=5)(job) is job
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert not zerogpu.on_zero_gpu()
    # the variable alone is not enough: the spaces package must agree
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert not zerogpu.on_zero_gpu()
    assert zerogpu._gpu_call is None and zerogpu.run_on_gpu(job, 1, kind="embed", n=1) == 2


def test_durations_fit_the_batch() -> None:
    assert zerogpu.seconds_for("embed", 1) < zerogpu.seconds_for("embed", 1000)
    assert zerogpu.seconds_for("caption", 8) < zerogpu.seconds_for("caption", 64)
    assert zerogpu.seconds_for("caption", 10**6) == zerogpu.MAX_SECONDS


def test_model_calls_run_inside_spaces_gpu_on_zerogpu(
    tiny: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ZeroGPU would see: each embedding and captioning batch goes through the one
    ``spaces.GPU`` function, with the duration its batch asks for, and gives the same result."""
    import spaces

    images = _images(3)
    direct = (
        tiny.embedder.encode_images(images),
        tiny.embedder.encode_texts(["a", "b"]),
        tiny.captioner.caption(images),
    )
    calls: list[tuple[str, int]] = []

    def fake_gpu(task: Any = None, *, duration: Any = None, size: Any = None) -> Any:
        def wrap(fn: Any) -> Any:
            def inside(*args: Any, **kwargs: Any) -> Any:
                calls.append((args[0].__name__, duration(*args, **kwargs)))
                return fn(*args, **kwargs)

            return inside

        return wrap

    monkeypatch.setattr(spaces, "GPU", fake_gpu)
    monkeypatch.setattr(zerogpu, "_gpu_call", zerogpu.decorate())
    routed = (
        tiny.embedder.encode_images(images),
        tiny.embedder.encode_texts(["a", "b"]),
        tiny.captioner.caption(images),
    )
    np.testing.assert_array_equal(routed[0], direct[0])
    np.testing.assert_array_equal(routed[1], direct[1])
    assert routed[2] == direct[2]
    assert calls == [
        ("_encode_image_tensors", zerogpu.seconds_for("embed", 3)),
        ("_encode_texts", zerogpu.seconds_for("text", 2)),
        ("_generate", zerogpu.seconds_for("caption", 3)),
    ]


# --- on a GPU -----------------------------------------------------------------------------------


@gpu
@needs_cuda
def test_cuda_matches_cpu_within_tolerance(tiny: Models) -> None:
    on_gpu = load_models("tiny", device="cuda")
    assert on_gpu.device == "cuda"
    images = _images(8)
    cpu, cuda = tiny.embedder.encode_images(images), on_gpu.embedder.encode_images(images)
    assert cuda.dtype == np.float32
    assert np.min(np.sum(cpu * cuda, axis=1)) > 0.99  # cosine of unit vectors, fp16 autocast
    texts = ["a photo of a cat", "a sketch of a dog"]
    assert (
        np.min(
            np.sum(tiny.embedder.encode_texts(texts) * on_gpu.embedder.encode_texts(texts), axis=1)
        )
        > 0.99
    )
    assert len(on_gpu.captioner.caption(images)) == 8
