"""A dropped image's caption-matching (CM) results: the query captioned in float32 against int8.

    python bench/bench_query_captions.py [--queries 20] [--items 10000] [--quick]

The app's query path in this process (``cdir.api.search_staged``, what ``/search_image`` runs,
without the web transport): a new 640x480 JPEG each time, the first stage (image → image) and the
CM stage timed from the call. Two variants alternate query by query, in one process on the same
models: the query captioned by the collection's float32 BLIP (``CDIR_QUERY_QUANTIZE=none``, how
the app ran before) and by its int8 copy (the default now, :mod:`cdir.models.quantize`). Preset
``default``'s architectures (ViT-B-32, BLIP base) with random weights saved in the real layouts,
captions fixed at 15 new tokens (``bench/app_fixed_tokens.py``: random weights never stop early);
a synthetic collection of ``--items`` items (``bench/bench_cold.py``). Quality: first-step logits
of int8 against float32 on the same query images (lowest cosine; the target is >= 0.998), and
the share of caption tokens that agree. Targets: CM results < 1.0 s p50 and < 1.5 s p95 on 2
cores. ``--quick``: 1,000 items, 4 queries.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from app_fixed_tokens import fix_caption_tokens
from bench_cold import synthetic_store
from common import log, median, percentile, photo_like, report

TOKENS = 15
VARIANTS = {"float32 query captions": "none", "int8 query captions": "int8"}


def one_query(session, image_path: Path) -> tuple[float, float, float]:  # noqa: ANN001
    """Seconds to the first stage and to the final (CM) stage of a staged query, and the CPU
    seconds of this process for the whole query (steadier than wall time on a shared machine)."""
    from cdir import api

    start, cpu = time.perf_counter(), time.process_time()
    first = final = 0.0
    for _stage in api.search_staged(session, image=image_path, options=api.SearchOptions()):
        elapsed = time.perf_counter() - start
        first = first or elapsed
        final = elapsed
    return first, final, time.process_time() - cpu


def agreement(models, images: list) -> dict:  # noqa: ANN001
    """Lowest first-step logits cosine and the share of equal caption tokens, int8 vs float32."""
    import torch

    fp32, int8 = models.captioner, models.query_captioner
    assert int8 is not fp32, "CDIR_QUERY_QUANTIZE must be int8 here"
    cosines, same = [], []
    for image in images:
        inputs = fp32.processor(images=[image], return_tensors="pt")
        bos = torch.full((1, 1), fp32.model.config.text_config.bos_token_id)
        with torch.inference_mode():
            a = fp32.model(pixel_values=inputs["pixel_values"], input_ids=bos).logits[0, -1]
            b = int8.model(pixel_values=inputs["pixel_values"], input_ids=bos).logits[0, -1]
        cosines.append(float(torch.nn.functional.cosine_similarity(a, b, dim=0)))
        x, y = fp32.caption([image])[0].split(), int8.caption([image])[0].split()
        same.append(sum(p == q for p, q in zip(x, y, strict=False)) / max(len(x), len(y), 1))
    return {"logits_cosine_min": min(cosines), "same_words": float(np.mean(same))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--queries", type=int, default=20, help="CM queries per variant")
    p.add_argument("--items", type=int, default=10_000)
    p.add_argument("--model-dir", type=Path, help="saved random default models (else made)")
    p.add_argument("--quick", action="store_true", help="1,000 items, 4 queries")
    args = p.parse_args()
    if args.quick:
        args.items, args.queries = 1_000, 4
    fix_caption_tokens(TOKENS)
    work = Path(tempfile.mkdtemp(prefix="cdir-bench-qcap-"))
    os.environ["CDIR_CACHE_DIR"] = str(work / "cache")
    try:
        model_dir = args.model_dir
        if model_dir is None:
            from bench_caption import save_random_default_models

            log("saving random default models ...")
            save_random_default_models(work / "models")
            model_dir = work / "models"
        synthetic_store(work / "store", args.items, model_dir)
        from PIL import Image

        from cdir import api

        rng = np.random.default_rng(11)
        paths = []
        for i in range(2 * args.queries + 4):
            paths.append(work / f"q{i}.jpg")
            Image.fromarray(photo_like(rng)).save(paths[-1], quality=90)
        session = api.open_collection(work / "store", model_dir)
        models = session.models.load()
        times: dict[str, list[tuple[float, float, float]]] = {name: [] for name in VARIANTS}
        names = list(VARIANTS)
        for i, path in enumerate(paths):
            name = names[i % 2] if (i // 2) % 2 == 0 else names[1 - i % 2]  # ABBA order
            os.environ["CDIR_QUERY_QUANTIZE"] = VARIANTS[name]
            first, final, cpu = one_query(session, path)
            log(f"  {name}: first {first:.2f} s, CM {final:.2f} s, CPU {cpu:.2f} s")
            if i >= 4:  # the first two of each load and warm their captioner
                times[name].append((first, final, cpu))
        os.environ["CDIR_QUERY_QUANTIZE"] = "int8"  # query_captioner: the int8 copy
        quality = agreement(models, [Image.open(q).convert("RGB") for q in paths[:8]])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows, results = [], {"items": args.items, "queries": args.queries, **quality}
    for name in names:
        firsts, finals, cpus = ([t[k] for t in times[name]] for k in range(3))
        p50, p95 = median(finals), percentile(finals, 95)
        ok = "met" if p50 < 1.0 and p95 < 1.5 else "missed"
        cells = [f"{median(firsts):.2f}", f"{p50:.2f}", f"{p95:.2f}", f"{median(cpus):.2f}"]
        rows.append([name, *cells, ok])
        results[name] = {"first_p50": median(firsts), "cm_p50": p50, "cm_p95": p95}
        results[name]["cpu_p50"] = median(cpus)
    fp32, int8 = (times[name] for name in names)
    paired = median([a[1] / b[1] for a, b in zip(fp32, int8, strict=False)])
    cpu = median([a[2] / b[2] for a, b in zip(fp32, int8, strict=False)])
    results.update(speed_up_paired=paired, cpu_ratio_paired=cpu)
    rows.append(["float32 / int8, paired (CM; CPU)", "", f"{paired:.2f}x", "", f"{cpu:.2f}x", ""])
    cosine = f"{quality['logits_cosine_min']:.4f}"
    rows.append(["first-step logits cosine (min)", "", cosine, "", "", ""])
    rows.append(["caption words in the same place", "", f"{quality['same_words']:.0%}", "", "", ""])
    headers = ["variant", "first cards p50 s", "CM p50 s", "CM p95 s", "CPU s / query", "target"]
    report("a dropped image's CM results", headers, rows, results)


if __name__ == "__main__":
    main()
