"""CLIP-style image and text embedding with open_clip."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from cdir.models import text_tower
from cdir.models.device import inference_context
from cdir.models.presets import EmbedderSpec
from cdir.models.torch_threads import few_texts
from cdir.models.weights import unavailable
from cdir.models.zerogpu import run_on_gpu

log = logging.getLogger(__name__)

CONFIG_FILE = "open_clip_config.json"
WEIGHTS_FILE = "open_clip_model.safetensors"
MAX_ASPECT = 4  # longer side : shorter side an image keeps before the model's preprocessing
REDUCING_GAP = 2.0  # images are box-reduced to no less than this times the model's input


@dataclass
class ClipEmbedder:
    """An open_clip model with its preprocessing and tokenizer; outputs L2-normalised float32."""

    model: Any
    preprocess: Callable[[Any], Any]
    tokenizer: Callable[[Sequence[str]], Any]
    arch: str
    model_cfg: dict[str, Any]
    device: str = "cpu"

    @cached_property
    def dim(self) -> int:
        return int(self.encode_texts(["a"]).shape[1])

    def encode_image_tensors(self, batch: Any) -> np.ndarray:
        """Embed a preprocessed (B, 3, H, W) float tensor: (B, D) float32, L2-normalised. On
        CUDA in float16 autocast; on a ZeroGPU Space inside ``spaces.GPU``
        (:mod:`cdir.models.zerogpu`)."""
        return run_on_gpu(self._encode_image_tensors, batch, kind="embed", n=len(batch))

    def _encode_image_tensors(self, batch: Any) -> np.ndarray:
        with inference_context(self.device):
            feats = self.model.encode_image(batch.to(self.device), normalize=True)
        return feats.float().cpu().numpy()

    def prepare(self, image: Any) -> Any:
        """The pixel half of ``preprocess``, for reader threads: the resized, cropped image as an
        RGB uint8 (H, W, 3) array (or, for a preprocessing this cannot split, its tensor).

        The conversion to float and the normalisation run in :meth:`encode_prepared`, once per
        batch on the model's thread: torch ops in reader threads would each start a team of
        OpenMP threads that competes with the model's (bench/bench_ingest.py).
        """
        pixels, _ = self._split
        if pixels is None:
            return self.preprocess(image)
        out = pixels(image)
        return np.asarray(out if out.mode == "RGB" else out.convert("RGB"))

    def encode_prepared(self, items: Sequence[Any]) -> np.ndarray:
        """Embed outputs of :meth:`prepare`; equal to ``encode_image_tensors`` of ``preprocess``."""
        import torch

        _, tensors = self._split
        if tensors is None:
            return self.encode_image_tensors(torch.stack(list(items)))
        batch = torch.from_numpy(np.stack(items)).permute(0, 3, 1, 2).float().div_(255)
        return self.encode_image_tensors(normalize_in_place(tensors, batch))

    @cached_property
    def _split(self) -> tuple[Callable[[Any], Any] | None, Callable[[Any], Any] | None]:
        return split_preprocess(self.preprocess)

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        """Embed PIL images (preprocessing them on the calling thread)."""
        import torch

        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.encode_image_tensors(torch.stack([self.preprocess(im) for im in images]))

    def encode_texts(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """CLIP text embeddings: (len(texts), D) float32, L2-normalised (see
        :meth:`encode_image_tensors` for the device)."""
        return run_on_gpu(self._encode_texts, texts, batch_size, kind="text", n=len(texts))

    def _encode_texts(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        chunks = []
        with inference_context(self.device), few_texts(len(texts)):
            for start in range(0, len(texts), batch_size):
                tokens = self.tokenizer(list(texts[start : start + batch_size])).to(self.device)
                chunks.append(text_tower.encode_text(self.model, tokens).float().cpu().numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)


def register_config(name: str, config: dict[str, Any]) -> None:
    """Make an architecture config known to open_clip under ``name``."""
    from open_clip import factory

    factory._MODEL_CONFIGS[name] = config  # open_clip has no public API to add a dict config


def load_open_clip(
    spec: EmbedderSpec, preset: str, local: Path | None, device: str, seed: int = 0
) -> ClipEmbedder:
    """Load from a local directory, else by pretrained tag (hub cache), else build from config."""
    import open_clip
    import torch

    if local is not None:
        name, pretrained = f"local-dir:{local}", None
    elif spec.config is not None:
        register_config(spec.arch, spec.config)
        name, pretrained = spec.arch, None
        torch.manual_seed(seed)
    else:
        name, pretrained = spec.arch, spec.pretrained
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=pretrained, device=device
        )
        tokenizer = open_clip.get_tokenizer(name)
        model_cfg = open_clip.get_model_config(name)
    except Exception as exc:  # download, missing file, corrupt checkpoint: all told the same way
        raise unavailable(preset, f"embedder {spec.arch}/{spec.pretrained}", exc) from exc
    if local is None and spec.config is not None:
        init_decoder_projection(model)
    model.eval()
    log.info("embedder %s loaded from %s", spec.arch, local or pretrained or "config (random)")
    preprocess = box_reduced(bounded_aspect(preprocess))
    return ClipEmbedder(model, preprocess, tokenizer, spec.arch, model_cfg, device)


def init_decoder_projection(model: Any) -> None:
    """Give a CoCa built from a config a seeded output projection: open_clip leaves its
    ``text_decoder.text_projection`` as ``torch.empty`` (uninitialised memory, NaN at times),
    which made random CoCa captions differ between runs."""
    import torch

    decoder = getattr(model, "text_decoder", None)
    projection = getattr(decoder, "text_projection", None)
    if isinstance(projection, torch.nn.Parameter):
        with torch.no_grad():
            torch.nn.init.normal_(projection, std=decoder.width**-0.5)


def bounded_aspect(preprocess: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``preprocess`` with extreme aspect ratios cropped first, when it resizes the shorter side.

    open_clip's default preprocessing scales the shorter side up to the input size and keeps the
    centre square: a 1 x 100,000 PNG of a few hundred bytes (far below any pixel limit) would
    become 224 x 22 million pixels (15 GB) on the way. Keeping the centre at most
    :data:`MAX_ASPECT`:1 first changes nothing the model sees.
    """
    from torchvision import transforms

    steps = list(getattr(preprocess, "transforms", [])) or [None]
    size = getattr(steps[0], "size", None)
    shorter_side = isinstance(size, int) or (isinstance(size, Sequence) and len(size) == 1)
    if isinstance(steps[0], transforms.Resize) and shorter_side:
        return transforms.Compose([crop_to_aspect, *steps])
    return preprocess


def crop_to_aspect(image: Any, max_aspect: int = MAX_ASPECT) -> Any:
    """The centre of a PIL image, its longer side at most ``max_aspect`` times the shorter (the
    crop keeps the parity of the side it cuts, so the centre stays exactly where it was)."""
    width, height = image.size
    short, long = sorted((width, height))
    if long <= max_aspect * short:
        return image
    keep = max_aspect * short + (long - max_aspect * short) % 2
    start = (long - keep) // 2
    box = (0, start, width, start + keep) if height > width else (start, 0, start + keep, height)
    return image.crop(box)


def split_preprocess(
    preprocess: Callable[[Any], Any],
) -> tuple[Callable[[Any], Any] | None, Callable[[Any], Any] | None]:
    """(the PIL steps, the tensor steps) of a torchvision ``Compose`` whose tensor part is
    ``ToTensor`` followed only by ``Normalize`` steps (open_clip's); (None, None) otherwise."""
    from torchvision import transforms

    steps = list(getattr(preprocess, "transforms", []))
    for i, step in enumerate(steps):
        if type(step).__name__ in ("ToTensor", "MaybeToTensor"):
            rest = steps[i + 1 :]
            if all(isinstance(s, transforms.Normalize) for s in rest):
                return transforms.Compose(steps[:i]), transforms.Compose(rest)
            break
    return None, None


def normalize_in_place(steps: Any, batch: Any) -> Any:
    """The tensor steps of :func:`split_preprocess` (``Normalize`` only) on a float (B, C, H, W)
    ``batch`` of the caller's own, overwritten: the same values as ``steps(batch)``, without
    the copy ``Normalize`` makes first (a third of the cost of the step)."""
    from torchvision.transforms import functional

    for step in steps.transforms:
        batch = functional.normalize(batch, step.mean, step.std, inplace=True)
    return batch


def box_reduced(
    preprocess: Callable[[Any], Any], gap: float = REDUCING_GAP
) -> Callable[[Any], Any]:
    """``preprocess`` with a :class:`BoxReduce` step before its resize (when that resizes the
    shorter side), keeping images at least ``gap`` times the resize's size."""
    from torchvision import transforms

    steps = list(getattr(preprocess, "transforms", []))
    for i, step in enumerate(steps):
        if isinstance(step, transforms.Resize):
            size = step.size if isinstance(step.size, int) else list(step.size)
            if isinstance(size, list) and len(size) == 1:
                size = size[0]
            if not isinstance(size, int):
                break
            return transforms.Compose([*steps[:i], BoxReduce(int(gap * size)), *steps[i:]])
    return preprocess


@dataclass(frozen=True)
class BoxReduce:
    """Shrink a PIL image by the largest integer factor that keeps its shorter side at least
    ``min_side`` (``Image.reduce``, a box filter: a few ms even for a 12-megapixel photo).

    Before a resize to ``min_side / 2`` this is Pillow's own ``reducing_gap=2``, "indistinguishable
    from fair resampling": embeddings agree with the unreduced path to cosine >= 0.99999, and the
    bicubic resize of a large photo, the dearest step of preprocessing, costs a fraction of what it
    did (bench/bench_ingest.py).
    """

    min_side: int

    def __call__(self, image: Any) -> Any:
        factor = min(image.size) // self.min_side
        return image.reduce(factor) if factor >= 2 else image


def save_open_clip(embedder: ClipEmbedder, out_dir: Path, half: bool = False) -> Path:
    """Write the model in the layout open_clip's ``local-dir:`` schema reads: the config, the
    weights (float32, or float16 with ``half``: open_clip casts them back to the model's float32
    on load) and, for a model whose config names a Hugging Face tokenizer, that tokenizer's files
    (open_clip reads them from the same folder)."""
    from open_clip.model import get_model_preprocess_cfg
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "model_cfg": embedder.model_cfg,
        "preprocess_cfg": get_model_preprocess_cfg(embedder.model),
    }
    (out_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    state = {k: v.contiguous() for k, v in embedder.model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    save_file(state, str(out_dir / WEIGHTS_FILE))
    if embedder.model_cfg.get("text_cfg", {}).get("hf_tokenizer_name"):
        embedder.tokenizer.save_pretrained(str(out_dir))
    return out_dir
