"""Published quality of the checkpoints the presets use, with the source of every figure.

Embedders: open_clip's own benchmark tables, ``docs/openclip_results.csv`` (zero-shot ImageNet-1k,
ImageNet-Sketch, ImageNet-R, average over 38 datasets) and ``docs/openclip_retrieval_results.csv``
(Flickr30k / MSCOCO text → image retrieval R@1), in the open_clip repository at commit f862f86
(the tables shipped with open_clip 3.x). ImageNet-Sketch and ImageNet-R are the nearest public
proxies for retrieval across visual domains. Figures are fractions (0.6656 = 66.56 %).

Captioners: the model card of each hub id (licence, what it was trained on) and the paper it
points to; the cards give no caption score of their own, so none is stated here.

A checkpoint is *useful for retrieval* when its text → image R@1 on Flickr30k is at least
:data:`MIN_FLICKR_IMAGE_R1`: every contrastive checkpoint in the tables that a preset could use
scores 0.60 or more; the CoCa captioning fine-tune ``mscoco_finetuned_laion2b_s13b_b90k`` scores
0.0074 (its contrastive alignment was lost in fine-tuning), so it must never embed.
"""

from __future__ import annotations

from dataclasses import dataclass

RESULTS_SOURCE = "open_clip docs/openclip_results.csv (commit f862f86)"
RETRIEVAL_SOURCE = "open_clip docs/openclip_retrieval_results.csv (commit f862f86)"
MIN_FLICKR_IMAGE_R1 = 0.5  # see the module docstring


@dataclass(frozen=True)
class EmbedderQuality:
    """One open_clip checkpoint's published figures (fractions), as the two tables give them."""

    arch: str  # the table's ``name`` column (open_clip lists -quickgelu variants under the base)
    tag: str
    imagenet: float  # zero-shot ImageNet-1k top-1
    imagenet_sketch: float
    imagenet_r: float
    average_38: float  # average over the 38 datasets of the results table
    flickr_image_r1: float  # Flickr30k text → image R@1 (retrieval table)
    mscoco_image_r1: float  # MSCOCO text → image R@1 (retrieval table)
    gflops: float  # the tables' FLOPs (B) column: compute per image + text pair
    source: str = f"{RESULTS_SOURCE}; {RETRIEVAL_SOURCE}"

    @property
    def useful_for_retrieval(self) -> bool:
        return self.flickr_image_r1 >= MIN_FLICKR_IMAGE_R1

    def summary(self) -> str:
        """One line: zero-shot ImageNet, -Sketch, -R, Flickr R@1, in percent."""
        return (
            f"ImageNet {self.imagenet:.1%}, Sketch {self.imagenet_sketch:.1%}, "
            f"R {self.imagenet_r:.1%}, Flickr image R@1 {self.flickr_image_r1:.1%}"
        )


def _q(
    arch: str,
    tag: str,
    imagenet: float,
    sketch: float,
    r: float,
    avg: float,
    flickr: float,
    coco: float,
    gflops: float,
) -> EmbedderQuality:
    return EmbedderQuality(arch, tag, imagenet, sketch, r, avg, flickr, coco, gflops)


# (architecture as the tables name it, tag) -> figures, copied from the two tables' rows
EMBEDDERS: dict[tuple[str, str], EmbedderQuality] = {
    (q.arch, q.tag): q
    for q in (
        _q("ViT-B-32", "laion2b_s34b_b79k", 0.6656, 0.5366, 0.7643, 0.5694, 0.6678, 0.3934, 14.78),
        _q(
            "ViT-L-14",
            "datacomp_xl_s13b_b90k",
            0.7921,
            0.6795,
            0.9083,
            0.6627,
            0.7338,
            0.4573,
            175.33,
        ),
        _q("ViT-L-14", "openai", 0.7554, 0.5959, 0.8784, 0.6173, 0.6496, 0.3651, 175.33),
        _q(
            "coca_ViT-B-32",
            "laion2b_s13b_b90k",
            0.6331,
            0.5121,
            0.7376,
            0.5533,
            0.6336,
            0.3618,
            33.34,
        ),
        _q(
            "coca_ViT-B-32",
            "mscoco_finetuned_laion2b_s13b_b90k",
            0.0079,
            0.0028,
            0.0199,
            0.1108,
            0.0074,
            0.0033,
            33.34,
        ),
        _q(
            "ViT-B-32-256",
            "datacomp_s34b_b86k",
            0.7281,
            0.6065,
            0.8344,
            0.6087,
            0.6492,
            0.3993,
            17.46,
        ),
        _q("ViT-B-16-SigLIP", "webli", 0.7604, 0.6792, 0.9030, 0.6232, 0.7468, 0.4778, 46.44),
    )
}


def table_arch(arch: str) -> str:
    """The name the tables use: open_clip lists ``X-quickgelu`` + ``openai`` under ``X``."""
    return arch.removesuffix("-quickgelu")


def embedder_quality(arch: str, tag: str | None) -> EmbedderQuality | None:
    """The published figures of ``arch`` / ``tag``, or None when the tables have no such row."""
    if not tag:
        return None
    return EMBEDDERS.get((table_arch(arch), tag))


@dataclass(frozen=True)
class CaptionerCard:
    """What a captioner's model card states: its licence and what it was trained for."""

    hub_id: str
    licence: str
    trained_on: str
    source: str


CAPTIONERS: dict[str, CaptionerCard] = {
    c.hub_id: c
    for c in (
        CaptionerCard(
            "Salesforce/blip-image-captioning-base",
            "BSD-3-Clause",
            "BLIP ViT-B captioner fine-tuned on COCO captions (arXiv 2201.12086)",
            "huggingface.co/Salesforce/blip-image-captioning-base model card",
        ),
        CaptionerCard(
            "Salesforce/blip-image-captioning-large",
            "BSD-3-Clause",
            "BLIP ViT-L captioner fine-tuned on COCO captions (arXiv 2201.12086)",
            "huggingface.co/Salesforce/blip-image-captioning-large model card",
        ),
        CaptionerCard(
            "Salesforce/blip2-opt-2.7b",
            "MIT (BLIP-2); its OPT-2.7b language model is "
            "under Meta's OPT licence: non-commercial research only",
            "BLIP-2 pre-trained (not COCO fine-tuned), ViT-g + OPT-2.7b (arXiv 2301.12597)",
            "huggingface.co/Salesforce/blip2-opt-2.7b model card; facebook/opt-2.7b card",
        ),
        CaptionerCard(
            "open_clip:coca_ViT-B-32/mscoco_finetuned_laion2b_s13b_b90k",
            "MIT",
            "CoCa ViT-B-32 (LAION-2B) fine-tuned on MSCOCO captions (arXiv 2205.01917)",
            "open_clip README, 'Fine-tuning CoCa' and its pretrained list",
        ),
    )
}
