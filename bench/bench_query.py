"""A dropped query through the running app: seconds to the first cards and to the CM cards.

    python bench/bench_query.py [--queries 20] [--preset default] [--quick]

The app (``app.py``, as users run it) serves the example collection; a gradio_client script
calls ``/search_image`` with ``submit`` for a new image each time (nothing cached; models warm:
after the app's own start-up warm-up has ended, and two warm-up queries) and times, from the
call, the first output (the image → image stage of a caption-matching query) and the final
output (the CM stage). Image → image queries (one stage) alternate with the CM ones, side by
side, as the baseline of the first stage.
Targets: first cards < 1 s, CM cards < 2.5 s, p50 and p95 over 20 queries, with
the ``default`` architectures (ViT-B-32, BLIP base: random weights saved in the real layouts
and loaded through ``--model-dir``) on 2 cores.

Random BLIP weights never stop early, so every query caption would be ``max_new_tokens`` (30)
tokens long where real captions stop after 10-15: with ``default``, the app and this process run
the preset with captions fixed at 15 new tokens (``bench/app_fixed_tokens.py``). Where the time
of a CM query goes is measured in this process on the same models before the app starts: the
CLIP image embedding, BLIP's image preprocessing, its vision encoder, its decoder (per step), and
the CLIP text embedding of the caption.
``--quick``: tiny models, 3 queries per mode (a smoke run of about a minute).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_search import connect, example_workspace
from common import REPO, log, machine, median, percentile, photo_like, report

REAL_TOKENS = 15  # a real BLIP base caption's length (new tokens)


def timed(fn, reps: int) -> float:  # noqa: ANN001
    """Median seconds of ``fn()`` over ``reps`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return median(times)


def breakdown(preset: str, model_dir: Path | None, image_path: Path, reps: int) -> dict:
    """Median seconds of each step of one CM query on the loaded models (this process, torch's
    own thread count): CLIP image embedding, BLIP preprocessing, vision encoder, generate()
    (its decoder = generate - vision encoder), CLIP text embedding of the caption."""
    import torch
    from PIL import Image

    from cdir.models.loaded import get_models

    models = get_models(preset, model_dir)
    image = Image.open(image_path).convert("RGB")
    captioner = models.captioner
    out: dict = {"torch_threads": torch.get_num_threads()}
    out["clip_image_s"] = timed(lambda: models.embedder.encode_images([image]), reps)
    if not hasattr(captioner, "processor"):  # CoCa (tiny): one call, no split
        out["caption_s"] = timed(lambda: captioner.caption([image]), reps)
        caption = captioner.caption([image])[0]
        out["clip_text_s"] = timed(lambda: models.embedder.encode_texts([caption]), reps)
        return out
    spec = captioner.spec
    inputs = captioner.processor(images=[image], return_tensors="pt")
    out["blip_preprocess_s"] = timed(
        lambda: captioner.processor(images=[image], return_tensors="pt"), reps
    )

    def generate() -> object:
        with torch.inference_mode():
            return captioner.model.generate(
                **inputs,
                max_new_tokens=spec.max_new_tokens,
                num_beams=spec.num_beams,
                do_sample=False,
                repetition_penalty=spec.repetition_penalty,
            )

    def vision() -> object:
        with torch.inference_mode():
            return captioner.model.vision_model(pixel_values=inputs["pixel_values"])

    out["blip_vision_s"] = timed(vision, reps)
    out["blip_generate_s"] = timed(generate, reps)
    tokens = int(generate().shape[1]) - 1  # the first token is the prompt's [BOS]
    out["new_tokens"] = tokens
    # generate - vision encoder; 0 where noise makes it negative (tiny models on a busy machine)
    out["blip_decoder_s"] = max(0.0, out["blip_generate_s"] - out["blip_vision_s"])
    out["decoder_step_s"] = out["blip_decoder_s"] / max(tokens, 1)
    out["caption_s"] = timed(lambda: captioner.caption([image]), reps)
    caption = captioner.caption([image])[0]
    out["clip_text_s"] = timed(lambda: models.embedder.encode_texts([caption]), reps)
    return out


def wait_for_warm_up(app_log: Path, timeout: float = 600.0) -> float:
    """Seconds until the app's log says its start-up warm-up ended (``UMAP warmed up`` or its
    failure): the queries are then timed with warm models, as a visitor who arrives after
    start-up meets them, not against numba compiling UMAP on the same two cores."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        text = app_log.read_text(errors="replace") if app_log.exists() else ""
        if "UMAP warmed up" in text or "UMAP warm-up failed" in text:
            break
        time.sleep(1)
    return time.perf_counter() - start


def app_stages(work: Path, preset: str, model_dir: Path | None, n_queries: int, port: int) -> dict:
    """Through the running app: seconds from submit to the first and the final output of CM
    queries, and to the output of image → image queries, alternating, each a new image."""
    from gradio_client import handle_file

    models = ["--preset", preset] + (["--model-dir", str(model_dir)] if model_dir else [])
    queries = example_workspace(
        work, models, 2 * n_queries + 2, seed=11, size=(640, 480), quality=90
    )
    env = {**os.environ, "CDIR_CACHE_DIR": str(work / "cache")}
    launcher = (
        ["bench/app_fixed_tokens.py", str(REAL_TOKENS)] if preset == "default" else ["app.py"]
    )
    app_log = (work / "app.log").open("w")
    started = time.perf_counter()
    app = subprocess.Popen(
        [sys.executable, *launcher, "--store", str(work / "ws"), "--port", str(port), *models],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=app_log,
    )
    try:
        client = connect(f"http://127.0.0.1:{port}/")
        warm_s = wait_for_warm_up(work / "app.log")
        log(
            f"  the app's start-up warm-up (models, then UMAP) ended {warm_s:.0f} s after launch "
            f"({time.perf_counter() - started:.0f} s)"
        )
        first, final, image_only, stages_seen = [], [], [], []
        for i, path in enumerate(queries):  # alternate the modes; the first two warm up
            mode = "image" if i % 2 else "caption"
            start = time.perf_counter()
            job = client.submit(
                collection="examples",
                image=handle_file(str(path)),
                mode=mode,
                api_name="/search_image",
            )
            first_s = None
            while not job.done():
                if first_s is None and job.outputs():
                    first_s = time.perf_counter() - start
                time.sleep(0.02)  # finer polling costs the app CPU on 2 cores
            result = job.result()
            total = time.perf_counter() - start
            stages = [o["stage"] for o in job.outputs()]
            if first_s is None:  # answered between two polls
                first_s = total
            log(
                f"  query {i + 1}/{len(queries)} ({mode}): first {first_s:.2f} s, "
                f"final {total:.2f} s"
            )
            if i < 2:
                continue
            if mode == "image":
                image_only.append(total)
                continue
            first.append(first_s)
            final.append(total)
            stages_seen.append(stages)
            assert result["stage"] == "final" and result["query"]["caption"], result
        return {
            "first": first,
            "final": final,
            "image_only": image_only,
            "staged": sum(s == ["image", "final"] for s in stages_seen),
            "cm_queries": len(stages_seen),
        }
    finally:
        app.terminate()
        app_log.close()
        app.wait(timeout=30)


def stats(values: list[float]) -> tuple[float, float]:
    return median(values), percentile(values, 95)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--queries", type=int, default=20, help="CM queries (and as many image ones)")
    p.add_argument(
        "--preset",
        default="default",
        help="default: its architectures with random weights (--model-dir)",
    )
    p.add_argument("--reps", type=int, default=5, help="repetitions of each breakdown step")
    p.add_argument("--port", type=int, default=7898)
    p.add_argument("--quick", action="store_true", help="tiny models, 3 queries per mode")
    args = p.parse_args()
    if args.quick:
        args.preset, args.queries, args.reps = "tiny", 3, 2
    work = Path(tempfile.mkdtemp(prefix="cdir-bench-query-"))
    try:
        model_dir = None
        if args.preset == "default":
            from app_fixed_tokens import fix_caption_tokens
            from bench_caption import save_random_default_models

            fix_caption_tokens(REAL_TOKENS)  # as the app below: captions of a real length
            log("saving random default models ...")
            save_random_default_models(work / "models")
            model_dir = work / "models"
        sample = work / "sample.jpg"
        from PIL import Image

        Image.fromarray(photo_like(np.random.default_rng(3), 640, 480)).save(sample, quality=90)
        log("where a CM query's time goes (this process) ...")
        split = breakdown(args.preset, model_dir, sample, args.reps)
        log(f"through the app, {args.queries} queries per mode ...")
        app = app_stages(work, args.preset, model_dir, args.queries, args.port)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    first, final, image_only = (stats(app[k]) for k in ("first", "final", "image_only"))
    rows = [
        [
            "first cards (image match) of a CM query",
            f"{first[0]:.2f}",
            f"{first[1]:.2f}",
            "< 1 s",
            "met" if first[1] < 1 else "missed",
        ],
        [
            "CM cards (final) of a CM query",
            f"{final[0]:.2f}",
            f"{final[1]:.2f}",
            "< 2.5 s",
            "met" if final[1] < 2.5 else "missed",
        ],
        [
            "image → image query (one stage), side by side",
            f"{image_only[0]:.2f}",
            f"{image_only[1]:.2f}",
            "",
            "",
        ],
    ]
    report(
        "query",
        ["through gradio_client (submit)", "p50 s", "p95 s", "target", ""],
        rows,
        {
            "preset": args.preset,
            "queries": args.queries,
            "breakdown": split,
            **{f"{k}_p50_s": stats(app[k])[0] for k in ("first", "final", "image_only")},
            **{f"{k}_p95_s": stats(app[k])[1] for k in ("first", "final", "image_only")},
            "staged_queries": app["staged"],
            "cm_queries": app["cm_queries"],
        },
    )
    print(
        f"\n{app['staged']} of {app['cm_queries']} CM queries answered in two stages; first "
        f"stage / image-only query p50: {first[0] / image_only[0]:.2f}x"
    )
    print(
        f"\nWhere one CM query's time goes ({machine()}, load average "
        f"{os.getloadavg()[0]:.1f}, {split['torch_threads']} torch threads, medians):"
    )
    for key, value in split.items():
        if key.endswith("_s"):
            print(f"  {key[:-2]:<18} {value * 1000:8.0f} ms")
    if split.get("new_tokens", 0) > REAL_TOKENS:
        tokens = split["new_tokens"]
        saved = (tokens - REAL_TOKENS) * split["decoder_step_s"]
        print(
            f"  the caption had {tokens} new tokens (random weights never stop early); at "
            f"{REAL_TOKENS} tokens, a real caption's length, {saved:.2f} s of decoder steps "
            "fewer at this process's step time (a projection; the app ran later, at its own "
            "load)"
        )


if __name__ == "__main__":
    main()
