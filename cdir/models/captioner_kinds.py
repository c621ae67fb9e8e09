"""The captioner kinds, in one table: what each kind of captioner is and how it is handled.

A preset names its captioner's kind as a string (:class:`~cdir.models.presets.CaptionerSpec`);
loading (:mod:`~cdir.models.loaded`), laziness (:mod:`~cdir.models.lazy`), availability
(:mod:`~cdir.models.availability`) and the captioners themselves read the kind's row here instead
of testing the string. A new kind is one row. Imports nothing else of cdir.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaptionerKind:
    """One kind of captioner.

    ``captions``: the preset captions at all (``none`` does not). ``from_embedder``: the embedder
    itself captions (an open_clip CoCa), so there are no weights of its own to load or save.
    ``transformers_classes``: the model and processor classes of transformers for kinds with their
    own weights. ``int8``: ``--quantize int8`` applies to it on the CPU. ``fused_attention``: its
    attention runs through fused SDPA (:mod:`~cdir.models.blip_attention`).
    """

    name: str
    captions: bool = True
    from_embedder: bool = False
    transformers_classes: tuple[str, str] | None = None
    int8: bool = False
    fused_attention: bool = False

    @property
    def own_weights(self) -> bool:
        """Whether the captioner has weights apart from the embedder's (a local copy or the hub)."""
        return self.captions and not self.from_embedder


CAPTIONER_KINDS: dict[str, CaptionerKind] = {
    kind.name: kind
    for kind in (
        CaptionerKind("blip",
                      transformers_classes=("BlipForConditionalGeneration", "BlipProcessor"),
                      int8=True, fused_attention=True),
        CaptionerKind("blip2",
                      transformers_classes=("Blip2ForConditionalGeneration", "Blip2Processor"),
                      int8=True),
        CaptionerKind("coca", from_embedder=True),
        CaptionerKind("none", captions=False),
    )
}


def captioner_kind(name: str) -> CaptionerKind:
    """The row of kind ``name``; ValueError naming the known kinds for any other name."""
    try:
        return CAPTIONER_KINDS[name]
    except KeyError:
        known = ", ".join(CAPTIONER_KINDS)
        raise ValueError(f"unknown captioner kind {name!r}; known kinds: {known}") from None
