"""The app's start-up warm-up, run in a background thread: the query models loaded and run once,
then UMAP's numba code compiled, so that neither the first query nor the first map pays for it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from cdir import api

log = logging.getLogger(__name__)


def warm_up(preset: str | None = None, model_root: str | Path | None = None) -> None:
    """At start, in the background: load ``preset``'s models and caption one small image, so
    the first dropped query pays neither the loading nor the first-call set-up (captioning is
    the default CM mode's step); then compile UMAP's numba code so the first map is quick. The
    models come first: a query is what a visitor does first. Failures are logged, never raised:
    warm-up only makes the first query and map faster."""
    import time

    if preset is not None:
        try:
            start = time.perf_counter()
            warm_up_models(preset, model_root)
            log.info("models warmed up in %.1f s", time.perf_counter() - start)
        except Exception:
            log.warning("model warm-up failed", exc_info=True)
    try:
        seconds = api.warm_up_maps()
        log.info("UMAP warmed up in %.1f s", seconds)
    except Exception:  # warm-up is an optimisation; a failure only means a slower first map
        log.warning("UMAP warm-up failed", exc_info=True)


def warm_up_models(preset: str, model_root: str | Path | None = None) -> None:
    """Load the shared models of ``preset`` (as queries get them) and run the embedder and the
    captioner once on a small grey image."""
    from PIL import Image

    models = api.get_models(preset, model_root)
    image = Image.new("RGB", (64, 48), (128, 128, 128))
    models.embedder.encode_images([image])
    models.embedder.encode_texts(["a grey picture"])
    models.query_captioner.caption([image])
