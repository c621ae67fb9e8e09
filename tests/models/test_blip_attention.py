"""Fused (SDPA) attention in BLIP gives the eager attention's numbers: vision states, decoder
logits with a causal mask and with the key/value cache, and greedy captions."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from cdir.models.blip_attention import use_fused_attention  # noqa: E402


def _blip(seed: int = 0):  # noqa: ANN202
    from transformers import BlipConfig, BlipForConditionalGeneration

    block = {
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 128,
    }
    config = BlipConfig(
        text_config={
            **block,
            "vocab_size": 300,
            "encoder_hidden_size": 64,
            "bos_token_id": 2,
            "sep_token_id": 3,
            "eos_token_id": 3,
            "pad_token_id": 0,
            "max_position_embeddings": 64,
        },
        vision_config={**block, "image_size": 64, "patch_size": 16},
        projection_dim=64,
    )
    torch.manual_seed(seed)
    model = BlipForConditionalGeneration(config).eval()
    with torch.no_grad():  # visible, varied outputs (the default init leaves them near zero)
        for name, p in model.named_parameters():
            if p.ndim >= 2:
                p.normal_(0.0, 0.2)
            elif "bias" in name:
                p.normal_(0.0, 0.1)
    return model


@pytest.fixture(scope="module")
def pair():  # noqa: ANN201
    eager = _blip()
    fused = copy.deepcopy(eager)
    assert use_fused_attention(fused) == 2 + 2 * 2  # vision layers + decoder self and cross
    return eager, fused


def test_vision_states_agree(pair) -> None:  # noqa: ANN001
    eager, fused = pair
    pixels = torch.randn(3, 3, 64, 64)
    with torch.inference_mode():
        a = eager.vision_model(pixel_values=pixels).last_hidden_state
        b = fused.vision_model(pixel_values=pixels).last_hidden_state
    assert a.abs().mean() > 0.1  # not a degenerate comparison
    torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)


def test_decoder_logits_agree_with_a_causal_mask(pair) -> None:  # noqa: ANN001
    eager, fused = pair
    pixels = torch.randn(2, 3, 64, 64)
    ids = torch.tensor([[2, 17, 45, 99, 7], [2, 250, 4, 4, 31]])
    with torch.inference_mode():
        a = eager(pixel_values=pixels, input_ids=ids).logits
        b = fused(pixel_values=pixels, input_ids=ids).logits
    assert a.std() > 0.1
    torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4)


def test_greedy_captions_are_the_same_tokens(pair) -> None:  # noqa: ANN001
    eager, fused = pair
    pixels = torch.randn(4, 3, 64, 64)
    kwargs = {"max_new_tokens": 12, "do_sample": False, "repetition_penalty": 1.2}
    with torch.inference_mode():
        a = eager.generate(pixel_values=pixels, **kwargs)
        b = fused.generate(pixel_values=pixels, **kwargs)
    assert a.shape[1] > 3
    assert torch.equal(a, b)


def test_hf_captioner_uses_fused_attention_and_int8_keeps_it() -> None:
    from cdir.models.blip_attention import _text_forward, _vision_forward
    from cdir.models.captioners import build_tiny_blip
    from cdir.models.presets import get_preset
    from cdir.models.quantize import quantize_linear_int8

    captioner = build_tiny_blip(get_preset("tiny").captioner, seed=0)
    forwards = {
        m.forward.__func__
        for m in captioner.model.modules()
        if type(m).__name__ in ("BlipAttention", "BlipTextSelfAttention")
    }
    assert forwards == {_vision_forward, _text_forward}
    quantize_linear_int8(captioner.model)
    from PIL import Image

    assert len(captioner.caption([Image.new("RGB", (80, 60), (200, 30, 30))])) == 1


def test_other_models_are_refused_and_patching_twice_is_harmless(pair) -> None:  # noqa: ANN001
    with pytest.raises(TypeError, match="no BLIP attention"):
        use_fused_attention(torch.nn.Linear(2, 2))
    _, fused = pair
    assert use_fused_attention(fused) == 6


def test_decoder_runs_on_fewer_threads_and_the_count_comes_back(pair) -> None:  # noqa: ANN001
    import threading

    from cdir.models.torch_threads import after_module, fewer_threads

    _, fused = pair
    before = torch.get_num_threads()
    seen: list[int] = []
    hook = fused.text_decoder.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    try:
        with torch.inference_mode(), after_module(fused.vision_model, 1):
            fused.generate(pixel_values=torch.randn(1, 3, 64, 64), max_new_tokens=3)
    finally:
        hook.remove()
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == before

    # a worker thread's setting is its own and is undone when it leaves
    def other() -> None:
        with fewer_threads(1), fewer_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == before

    worker = threading.Thread(target=other)
    worker.start()
    worker.join()
    assert torch.get_num_threads() == before


def test_decoder_threads_drop_to_one_only_when_other_work_competes() -> None:
    from cdir.models.torch_threads import decoder_threads

    threads = torch.get_num_threads()
    assert decoder_threads(load=0.5) is None
    assert decoder_threads(load=threads + 0.9) is None  # our own threads make the load
    assert decoder_threads(load=threads + 3.0) == 1
