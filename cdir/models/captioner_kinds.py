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

    ``captions``: the preset captions at all (``none`` does not). ``from_embedder``: an open_clip
    CoCa, which captions with the embedder's own weights unless the preset names a CoCa
    checkpoint of its own (``CaptionerSpec.pretrained``). ``transformers_classes``: the model and
    processor classes of transformers for kinds with their own weights. ``int8``: ``--quantize
    int8`` applies to it on the CPU. ``fused_attention``: its attention runs through fused SDPA
    (:mod:`~cdir.models.blip_attention`). ``task_prompt``: it needs a task prompt to caption
    (Florence-2).
    """

    name: str
    captions: bool = True
    from_embedder: bool = False
    transformers_classes: tuple[str, str] | None = None
    int8: bool = False
    fused_attention: bool = False
    task_prompt: bool = False  # it captions only after a task prompt (Florence-2: "<CAPTION>")

    @property
    def own_weights(self) -> bool:
        """Whether the captioner has weights apart from the embedder's (a local copy or the hub)."""
        return self.captions and not self.from_embedder


CAPTIONER_KINDS: dict[str, CaptionerKind] = {
    kind.name: kind
    for kind in (
        CaptionerKind(
            "blip",
            transformers_classes=("BlipForConditionalGeneration", "BlipProcessor"),
            int8=True,
            fused_attention=True,
        ),
        CaptionerKind(
            "blip2",
            transformers_classes=("Blip2ForConditionalGeneration", "Blip2Processor"),
            int8=True,
        ),
        # Florence-2 (transformers >= 4.56) captions after a task prompt ("<CAPTION>")
        CaptionerKind(
            "florence2",
            transformers_classes=("Florence2ForConditionalGeneration", "AutoProcessor"),
            task_prompt=True,
        ),
        # an open_clip CoCa: the embedder itself, or a captioning checkpoint of its own when
        # the preset names one (CaptionerSpec.pretrained: the MSCOCO fine-tune)
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
