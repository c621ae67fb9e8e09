"""Text embeddings without the padding give the vectors open_clip's ``encode_text`` gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cdir.models import text_tower
from cdir.models.loaded import Models, load_models

TEXTS = [
    "a photo of a dog",
    "x",
    "",
    "a pencil sketch of a house with a red door, two windows and a chimney at dusk",
]


def reference(model: torch.nn.Module, tokens: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return model.encode_text(tokens, normalize=True).numpy()


def test_the_clip_text_tower_runs_without_padding_and_gives_the_same_vectors(
    tiny: Models,
) -> None:
    model, tokens = tiny.embedder.model, tiny.embedder.tokenizer(TEXTS)
    assert text_tower.unpaddable(model)
    assert text_tower.used_length(tokens) < tokens.shape[1] // 2
    with torch.inference_mode():
        got = text_tower.encode_text(model, tokens).numpy()
    np.testing.assert_allclose(got, reference(model, tokens), atol=1e-5)


def test_each_text_gets_the_vector_it_gets_alone(tiny: Models) -> None:
    """A batch is cut after its longest text: shorter texts must not notice."""
    model, tokenizer = tiny.embedder.model, tiny.embedder.tokenizer
    with torch.inference_mode():
        batch = text_tower.encode_text(model, tokenizer(TEXTS)).numpy()
        alone = np.vstack([text_tower.encode_text(model, tokenizer([t])).numpy() for t in TEXTS])
    np.testing.assert_allclose(batch, alone, atol=1e-5)


def test_the_embedder_uses_it(tiny: Models) -> None:
    tokens = tiny.embedder.tokenizer(TEXTS)
    np.testing.assert_allclose(
        tiny.embedder.encode_texts(TEXTS), reference(tiny.embedder.model, tokens), atol=1e-5
    )


def test_other_text_towers_run_their_own_encode_text(
    tiny: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    coca = load_models("tiny-coca", device="cpu").embedder
    assert not text_tower.unpaddable(coca.model)
    tokens = coca.tokenizer(TEXTS)
    with torch.inference_mode():
        np.testing.assert_allclose(
            text_tower.encode_text(coca.model, tokens).numpy(),
            reference(coca.model, tokens),
            atol=1e-6,
        )
    monkeypatch.setattr(tiny.embedder.model, "text_pool_type", "last")
    assert not text_tower.unpaddable(tiny.embedder.model)


def test_used_length_counts_up_to_the_last_real_token() -> None:
    tokens = torch.tensor([[5, 9, 0, 0, 0], [5, 7, 8, 9, 0]])
    assert text_tower.used_length(tokens) == 4
    assert text_tower.used_length(torch.zeros((2, 5), dtype=torch.long)) == 1
