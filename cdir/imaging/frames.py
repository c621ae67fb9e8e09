"""What an RGB frame does not show: transparency and the further frames of an animation.

- **Background.** A transparent image is flattened on white, unless what it draws is light (white
  outlines on transparency, a common kind of line art): then on dark grey, so thumbnails and
  embeddings still show it (:func:`background_for`).
- **Exact key.** ``pixel_sha256`` of the flattened first frame cannot tell a white star from a
  white heart on transparency, nor two animations that open on the same frame;
  :func:`exact_extra` is a digest of the alpha channel (when not fully opaque) and of every
  further frame (RGBA), added to the exact key (:func:`cdir.imaging.decode.pixel_sha256`): two
  animations are exact duplicates only if every frame is.
- **Several frames.** An animation is shown, embedded and captioned by its most detailed frame
  among a few spread over it (a fade-in is not black), and its perceptual hash is taken over a
  strip of those frames side by side (:func:`frame_strip`), so two animations that share their
  first frame but not the rest do not hash alike.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

WHITE = (255, 255, 255)
DARK = (48, 48, 48)
LIGHT_CONTENT = 200  # mean luminance (0..255) of the opaque part above which it is "light"
MAX_EXACT_FRAMES = 500  # frames hashed for the exact key (the rest of a longer one: ignored)
STRIP_FRAMES = 4  # frames sampled for the strip and the shown frame
STRIP_SIDE = 64


@dataclass
class Frames:
    """``shown``: the frame to show and embed (RGB, full size), None to keep the first;
    ``strip``: the sampled frames side by side for the perceptual hash, None for a still image;
    ``extra``: the exact key's digest of alpha and further frames, None when there is none."""

    shown: Image.Image | None
    strip: Image.Image | None
    extra: str | None


def background_for(rgba: Image.Image) -> tuple[int, int, int]:
    """White, or dark grey when the visible part of ``rgba`` is light."""
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32)
    weight = float(alpha.sum())
    if weight <= 0:
        return WHITE
    lum = np.asarray(rgba.convert("L"), dtype=np.float32)
    return DARK if float((lum * alpha).sum()) / weight > LIGHT_CONTENT else WHITE


def flatten(rgba: Image.Image) -> Image.Image:
    """``rgba`` composited on :func:`background_for`'s colour."""
    background = Image.new("RGB", rgba.size, background_for(rgba))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


ANIMATED_FORMATS = ("GIF", "PNG", "WEBP")  # an MPO's second frame is a preview, not motion


def is_animated(img: Image.Image) -> bool:
    return (
        img.format in ANIMATED_FORMATS
        and bool(getattr(img, "is_animated", False))
        and getattr(img, "n_frames", 1) > 1
    )


def frames_of(img: Image.Image, has_alpha: bool, to_rgb: object) -> Frames:
    """The :class:`Frames` of an opened image whose first frame is loaded; ``to_rgb``: the
    conversion of one frame to RGB. Leaves ``img`` on its first frame."""
    if not is_animated(img):
        return Frames(None, None, _alpha_digest(img) if has_alpha else None)
    n = min(int(getattr(img, "n_frames", 1)), MAX_EXACT_FRAMES)
    picks = set(np.linspace(0, n - 1, min(STRIP_FRAMES, n)).round().astype(int).tolist())
    digest = hashlib.sha256(f"frames:{n}".encode())
    sampled: list[Image.Image] = []
    try:
        for index in range(n):
            img.seek(index)
            rgba = img.convert("RGBA")
            digest.update(rgba.tobytes())
            if index in picks:
                sampled.append(to_rgb(img))  # type: ignore[operator]
    except (EOFError, OSError, ValueError) as exc:
        log.debug("animation read up to a damaged frame: %s", exc)
    finally:
        img.seek(0)
    if len(sampled) < 2:
        return Frames(None, None, digest.hexdigest())
    shown = max(sampled, key=lambda f: float(np.asarray(f.convert("L"), np.float32).std()))
    return Frames(shown, frame_strip(sampled), digest.hexdigest())


def frame_strip(frames: list[Image.Image]) -> Image.Image:
    """``frames`` at STRIP_SIDE x STRIP_SIDE, side by side."""
    strip = Image.new("RGB", (STRIP_SIDE * len(frames), STRIP_SIDE))
    for n, frame in enumerate(frames):
        strip.paste(
            frame.convert("RGB").resize((STRIP_SIDE, STRIP_SIDE), Image.Resampling.BOX),
            (n * STRIP_SIDE, 0),
        )
    return strip


def _alpha_digest(img: Image.Image) -> str | None:
    alpha = img.convert("RGBA").getchannel("A")
    low, _ = alpha.getextrema()
    if low == 255:  # fully opaque: the same picture as its RGB
        return None
    return hashlib.sha256(b"alpha:" + alpha.tobytes()).hexdigest()
