"""A model command from a cold start: `cdir search` on a 10,000-item collection, fresh processes.

    python bench/bench_cold.py [--items 10000] [--runs 5] [--baseline REPO] [--quick]

Every run is a new ``python -m cdir`` process, timed from outside (start to exit, imports and model
loading included), as a user at a terminal waits for it: ``search --text`` (a new text each run),
``search --image`` (a new 640x480 JPEG each run, CM mode: the query is captioned, 15 new tokens as
a real caption; then the same with ``--mode image`` and ``--mode fusion``), ``info``, and
``python -c pass`` as the interpreter's own floor. The collection is synthetic (clustered 512-d
vectors, preset ``default``; the items' files do not exist, only the table and matrices matter);
the models are preset ``default``'s architectures (ViT-B-32, BLIP base) with random weights saved
where ``--model-dir`` loads them, the same code path as real saved weights. ``--baseline REPO``
also runs the same commands from another checkout (e.g. the main branch) in turn with this one,
and prints this/baseline ratios pair by pair. Targets: text query < 3 s, image query (every image
mode) < 5 s on a quiet 2-core machine; commands that need no model import no torch
(tests/cli/test_cold_imports.py).
``--quick``: 1,000 items, 2 runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import DIM, REPO, clustered, log, median, photo_like, report

# ``python -m cdir`` with captions fixed at 15 new tokens, a real BLIP base caption's length
# (random weights never stop early: bench/app_fixed_tokens.py); run from either checkout
FIXED_TOKENS = (
    "import sys; sys.path.insert(0, 'bench'); from app_fixed_tokens import fix_caption_tokens; "
    "fix_caption_tokens(15); from cdir.cli import main; sys.exit(main(sys.argv[1:]))"
)


def synthetic_store(root: Path, n: int, model_dir: Path) -> None:
    """A ``default`` collection of ``n`` items whose files do not exist (table and matrices only),
    its caption key that of the models in ``model_dir`` (as an ingest with them writes it)."""
    import pandas as pd

    from cdir.models.lazy import LazyModels
    from cdir.store.collection import Store

    store = Store.create(root, "default", LazyModels("default", model_dir).caption_key, DIM)
    domains = np.array(["photo", "sketch", "painting", "clipart", "render3d"])
    store.items = pd.DataFrame(
        {
            "id": np.arange(n),
            "path": [f"/nonexistent/{i}.jpg" for i in range(n)],
            "rel_path": [f"{i}.jpg" for i in range(n)],
            "sha256": [f"{i:064x}" for i in range(n)],
            "pixel_sha256": [f"{i:064x}" for i in range(n)],
            "width": 640,
            "height": 480,
            "domain": domains[np.arange(n) % 5],
            "class": [f"c{i % 300}" for i in range(n)],
            "caption": [f"a picture of a c{i % 300}" for i in range(n)],  # 300 texts to embed
            "caption_source": "model",
            "status": "ok",
        }
    )
    store.image_emb = clustered(n, 0, max(16, n // 1000))
    store.caption_emb = clustered(n, 1, max(16, n // 1000))
    store.write()


def run_once(argv: list[str], repo: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the child) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--items", type=int, default=10_000)
    p.add_argument("--runs", type=int, default=5, help="runs of each command (after 1 warm-up)")
    p.add_argument("--baseline", type=Path, help="another checkout to run the same commands from")
    p.add_argument("--model-dir", type=Path, help="saved random default models (else made)")
    p.add_argument("--quick", action="store_true", help="1,000 items, 2 runs")
    args = p.parse_args()
    if args.quick:
        args.items, args.runs = 1_000, 2
    work = Path(tempfile.mkdtemp(prefix="cdir-bench-cold-"))
    try:
        model_dir = args.model_dir
        if model_dir is None:
            from bench_caption import save_random_default_models

            log("saving random default models ...")
            save_random_default_models(work / "models")
            model_dir = work / "models"
        log(f"a synthetic {args.items}-item collection ...")
        synthetic_store(work / "store", args.items, model_dir)
        rng = np.random.default_rng(5)
        from PIL import Image

        # a new image for every run, checkout and mode: no caption or embedding is cached
        queries: dict[tuple[str, str], list[Path]] = {}
        for mode in ("cm", "image", "fusion"):
            for label in ("this", "baseline"):
                files = queries.setdefault((mode, label), [])
                for i in range(args.runs + 1):
                    files.append(work / f"q-{mode}-{label}{i}.jpg")
                    Image.fromarray(photo_like(rng)).save(files[-1], quality=90)
        store, models = str(work / "store"), ["--model-dir", str(model_dir)]
        cdir = [sys.executable, "-m", "cdir"]
        commands = {  # (run, checkout) -> argv; texts and images new to every run (no cache)
            "python -c pass": lambda i, label: [sys.executable, "-c", "pass"],
            "info": lambda i, label: [*cdir, "info", store, "--json"],
            "search --text": lambda i, label: [
                *[*cdir, "search", store, "--text", f"a red boat {label} {i}", *models]
            ],
            "search --image (CM)": lambda i, label: [
                *[sys.executable, "-c", FIXED_TOKENS, "search", store, "--image"],
                *[str(queries["cm", label][i]), *models],
            ],
            "search --image --mode image": lambda i, label: [
                *[*cdir, "search", store, "--image", str(queries["image", label][i])],
                *["--mode", "image", *models],
            ],
            "search --image --mode fusion": lambda i, label: [
                *[sys.executable, "-c", FIXED_TOKENS, "search", store, "--image"],
                *[str(queries["fusion", label][i]), "--mode", "fusion", *models],
            ],
        }
        repos = {"this": REPO, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
        env = {**os.environ, "CDIR_DEVICE": "cpu", "CDIR_CACHE_DIR": str(work / "cache")}
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for name, argv in commands.items():
            for i in range(args.runs + 1):
                order = list(repos.items()) if i % 2 == 0 else list(repos.items())[::-1]
                for label, repo in order:
                    wall, cpu = run_once(argv(i, label), repo, env)
                    log(f"  {label} {name} run {i}: {wall:.2f} s wall, {cpu:.2f} s CPU")
                    if i:  # run 0 warms the page cache
                        times.setdefault((label, name), []).append((wall, cpu))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    targets = {
        "search --text": 3.0,
        "search --image (CM)": 5.0,
        "search --image --mode image": 5.0,
        "search --image --mode fusion": 5.0,
    }
    rows, results = [], {"items": args.items, "runs": args.runs}
    for name in commands:
        this = times[("this", name)]
        wall, cpu = median([w for w, _ in this]), median([c for _, c in this])
        row = [name, f"{wall:.2f}", f"{cpu:.2f}"]
        if args.baseline:
            base = times[("baseline", name)]
            ratio = median([b[0] / t[0] for t, b in zip(this, base, strict=True)])
            row += [
                f"{median([w for w, _ in base]):.2f}",
                f"{median([c for _, c in base]):.2f}",
                f"{ratio:.2f}x",
            ]
        target = targets.get(name)
        row += [f"< {target:.0f} s" if target else "", _verdict(wall, target)]
        rows.append(row)
        results[name] = {"wall_s": wall, "cpu_s": cpu, "walls": [w for w, _ in this]}
    headers = ["fresh process", "wall s (median)", "CPU s"]
    if args.baseline:
        headers += ["baseline wall s", "baseline CPU s", "speed-up (paired)"]
    report(f"cold commands, {args.items} items", [*headers, "target", ""], rows, results)
    print(json.dumps({"load_avg": os.getloadavg()}))


def _verdict(wall: float, target: float | None) -> str:
    if target is None:
        return ""
    return "met" if wall < target else "missed"


if __name__ == "__main__":
    main()
