"""Many visitors at once: 20 clients searching for 2 minutes while one visitor builds 200 images.

    python bench/bench_load.py [--clients 20] [--seconds 120] [--build 200] [--preset tiny]

The app runs as users run it (``app.py``, its own process, a fresh workspace holding a collection
of the bundled examples). Two runs side by side, in one process: the same search load with
**1 client**, then with **``--clients``** clients, each while one more client builds a new
collection of ``--build`` photo-like JPEGs through ``/build_collection``. Each search client
loops: a text query through ``/search_text`` (a new text each time, so nothing is cached),
until the time is up. Reported per run: searches answered, errors (any exception: refused,
queue full, timed out), p50 and p95 seconds of a search, the build's seconds and whether every
row of the build is present afterwards (images in the collection = files sent).
Target (docs/security.md): 0 errors, every row present; p95 with many clients next to p95 with
one. ``--quick``: 4 clients, 20 s, 20 images.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from bench_search import connect, example_workspace
from common import REPO, log, median, percentile, photo_like, report


def searcher(
    url: str,
    collection: str,
    owner: str,
    stop: float,
    seed: int,
    times: list[float],
    errors: list[str],
) -> None:
    """Search until ``stop`` (monotonic seconds): a new text query each time."""
    client = connect(url)
    words = ["red", "blue", "boat", "house", "tree", "car", "sketch", "painting", "fish", "cat"]
    rng = np.random.default_rng(seed)
    while time.monotonic() < stop:
        text = " ".join(rng.choice(words, 3)) + f" {rng.integers(1_000_000)}"
        start = time.perf_counter()
        try:
            client.predict(collection, text, "caption", 12, [], owner, api_name="/search_text")
            times.append(time.perf_counter() - start)
        except Exception as exc:  # every failure counts, whatever it is
            errors.append(f"{type(exc).__name__}: {exc}"[:200])


def builder(url: str, files: list[Path], result: dict) -> None:
    from gradio_client import handle_file

    client = connect(url)
    start = time.perf_counter()
    try:
        built = client.predict(
            [handle_file(str(p)) for p in files],
            "load",
            "",
            "lazy",
            "",
            "new",
            api_name="/build_collection",
        )
        result.update(
            seconds=time.perf_counter() - start,
            images=built["images"],
            owner=built["owner"],
            collection=built["collection"],
        )
    except Exception as exc:
        result.update(seconds=time.perf_counter() - start, error=f"{type(exc).__name__}: {exc}")


def one_run(url: str, clients: int, seconds: float, files: list[Path]) -> dict:
    times: list[float] = []
    errors: list[str] = []
    built: dict = {}
    stop = time.monotonic() + seconds
    threads = [
        threading.Thread(target=searcher, args=(url, "examples", "", stop, n, times, errors))
        for n in range(clients)
    ]
    threads.append(threading.Thread(target=builder, args=(url, files, built)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    present = None
    if "collection" in built:
        record = connect(url).predict(
            built["collection"], built["owner"], api_name="/open_collection"
        )
        present = record["images"] == len(files)
    return {
        "clients": clients,
        "searches": len(times),
        "errors": len(errors),
        "first_errors": errors[:3],
        "p50_s": median(times) if times else None,
        "p95_s": percentile(times, 95) if times else None,
        "build_s": built.get("seconds"),
        "build_error": built.get("error"),
        "rows_present": present,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seconds", type=float, default=120)
    p.add_argument("--build", type=int, default=200, help="images in the concurrent build")
    p.add_argument("--preset", default="tiny")
    p.add_argument("--port", type=int, default=7911)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.quick:
        args.clients, args.seconds, args.build = 4, 20, 20
    work = Path(tempfile.mkdtemp(prefix="cdir-load-"))
    example_workspace(work, ["--preset", args.preset], 0, 0, (64, 64))
    rng = np.random.default_rng(7)
    from PIL import Image

    runs = []
    env = {**os.environ, "CDIR_SHARED_WORKSPACE": "0", "GRADIO_ANALYTICS_ENABLED": "False"}
    app_log = work / "app.log"
    app = subprocess.Popen(
        [
            sys.executable,
            "app.py",
            "--store",
            str(work / "ws"),
            "--port",
            str(args.port),
            "--preset",
            args.preset,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=app_log.open("wb"),
    )
    try:
        url = f"http://127.0.0.1:{args.port}/"
        connect(url)
        for n_clients in (1, args.clients):
            files = []
            for i in range(args.build):
                files.append(work / f"build{n_clients}" / f"img{i:04d}.jpg")
                files[-1].parent.mkdir(exist_ok=True)
                Image.fromarray(photo_like(rng, 320, 240)).save(files[-1], quality=85)
            log(
                f"{n_clients} searching client(s) for {args.seconds:.0f} s, one build of "
                f"{args.build} images"
            )
            runs.append(one_run(url, n_clients, args.seconds, files))
            log(f"  {runs[-1]}")
    finally:
        app.terminate()
        app.wait(30)
    rows = [
        [
            r["clients"],
            r["searches"],
            r["errors"],
            r["p50_s"],
            r["p95_s"],
            r["build_s"],
            r["rows_present"],
        ]
        for r in runs
    ]
    report(
        "load",
        ["search clients", "searches", "errors", "p50 s", "p95 s", "build s", "every row present"],
        rows,
        {"preset": args.preset, "seconds": args.seconds, "build": args.build, "runs": runs},
    )


if __name__ == "__main__":
    main()
