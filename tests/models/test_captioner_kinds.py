"""The captioner kinds table: every preset's kind has a row, and each row says what the if-chains
on the kind's name used to say (which kinds load weights, quantise, share the embedder)."""

from __future__ import annotations

import pytest

from cdir.models.captioner_kinds import CAPTIONER_KINDS, captioner_kind
from cdir.models.presets import get_preset, list_presets


def test_every_preset_names_a_known_kind() -> None:
    for name in list_presets():
        assert captioner_kind(get_preset(name).captioner.kind).name in CAPTIONER_KINDS


def test_the_rows() -> None:
    own = {name for name, kind in CAPTIONER_KINDS.items() if kind.own_weights}
    assert own == {"blip", "blip2", "florence2"}
    assert {name for name, kind in CAPTIONER_KINDS.items() if kind.int8} == {"blip", "blip2"}
    assert {name for name, kind in CAPTIONER_KINDS.items() if kind.from_embedder} == {"coca"}
    assert not captioner_kind("none").captions
    assert captioner_kind("blip").fused_attention and not captioner_kind("blip2").fused_attention
    assert {name for name, kind in CAPTIONER_KINDS.items() if kind.task_prompt} == {"florence2"}


def test_transformers_classes_exist() -> None:
    transformers = pytest.importorskip("transformers")
    for kind in CAPTIONER_KINDS.values():
        for cls in kind.transformers_classes or ():
            assert hasattr(transformers, cls), cls


def test_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="blip, blip2, florence2, coca, none"):
        captioner_kind("gpt")
