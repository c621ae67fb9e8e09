"""A Midjourney-like archive for bench_mj_families.py: jobs of 2x2 grids, U tiles cut from them
(as since v5), 2x upscales of a tile (a job of their own), Vary (Subtle) grids of close siblings,
re-downloads named ``... (1).png``, and other jobs whose prompts share words ("a red house in a
valley" / "a red house by a lake": different pictures). File names as Discord writes them,
``<user>_<prompt words>_<job uuid>[_<grid index>].png``; half the files also carry a PNG
``Description`` (``<prompt> --ar 1:1 --v 6 Job ID: <uuid>``) and an ``Author``.

``truth.json``: every file (and every grid's tile region, ``<grid>#tile<n>``) with the picture it
shows (``picture``), what it is (``kind``) and, for a variation's tiles, the picture it varies.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo

TILE = 288
SUBJECTS = [
    "a red house",
    "a blue boat",
    "an old lighthouse",
    "a small fox",
    "a paper crane",
    "a glass teapot",
    "a green tractor",
    "a white horse",
]
PLACES = ["in a valley", "by a lake", "at dusk", "in the snow", "on a hill", "in the rain"]
USERS = ["kai", "mira", "o.tan"]


def scene(rng: np.random.Generator) -> dict:
    """Parameters of one picture: background and 3-6 shapes."""
    shapes = [
        {
            "kind": rng.choice(["ellipse", "rect", "tri"]),
            "box": sorted(rng.integers(0, TILE, 2).tolist())
            + sorted(rng.integers(0, TILE, 2).tolist()),
            "fill": rng.integers(0, 255, 3).tolist(),
        }
        for _ in range(rng.integers(3, 7))
    ]
    return {
        "bg": rng.integers(0, 255, 3).tolist(),
        "bg2": rng.integers(0, 255, 3).tolist(),
        "noise": int(rng.integers(1 << 30)),
        "shapes": shapes,
    }


def jitter(params: dict, rng: np.random.Generator, amount: int) -> dict:
    """A Vary (Subtle) sibling: shapes moved and recoloured a little."""
    out = {
        "bg": np.clip(np.array(params["bg"]) + rng.integers(-amount, amount, 3), 0, 255).tolist(),
        "bg2": np.clip(np.array(params["bg2"]) + rng.integers(-amount, amount, 3), 0, 255).tolist(),
        "noise": int(rng.integers(1 << 30)),
        "shapes": [],
    }
    for s in params["shapes"]:
        x0, x1, y0, y1 = s["box"]
        d = rng.integers(-amount // 2, amount // 2, 2)
        out["shapes"].append(
            {
                "kind": s["kind"],
                "box": [x0 + d[0], x1 + d[0], y0 + d[1], y1 + d[1]],
                "fill": np.clip(
                    np.array(s["fill"]) + rng.integers(-amount, amount, 3), 0, 255
                ).tolist(),
            }
        )
    return out


def draw(params: dict) -> Image.Image:
    """The picture: a noisy diagonal gradient, shapes with black outlines."""
    t = np.linspace(0, 1, TILE, dtype=np.float32)
    ramp = (t[:, None] + t[None, :])[..., None] / 2
    base = np.array(params["bg"], np.float32) * (1 - ramp) + np.array(params["bg2"]) * ramp
    noise = np.random.default_rng(params["noise"]).normal(0, 9, (TILE, TILE, 3))
    img = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    for s in params["shapes"]:
        x0, x1, y0, y1 = s["box"]
        box = [min(x0, x1), min(y0, y1), max(x0, x1) + 4, max(y0, y1) + 4]
        fill = tuple(int(v) for v in s["fill"])
        if s["kind"] == "ellipse":
            d.ellipse(box, fill=fill, outline=(0, 0, 0), width=3)
        elif s["kind"] == "rect":
            d.rectangle(box, fill=fill, outline=(0, 0, 0), width=3)
        else:
            d.polygon(
                [(box[0], box[3]), ((box[0] + box[2]) // 2, box[1]), (box[2], box[3])],
                fill=fill,
                outline=(0, 0, 0),
            )
    return img


def grid(tiles: list[Image.Image]) -> Image.Image:
    out = Image.new("RGB", (2 * TILE, 2 * TILE))
    for n, tile in enumerate(tiles):
        out.paste(tile, ((n % 2) * TILE, (n // 2) * TILE))
    return out


def make(out: Path, n_jobs: int = 420, seed: int = 0) -> dict[str, dict]:
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    truth: dict[str, dict] = {}

    def save(
        image: Image.Image, name: str, prompt: str, job: str, web: bool, **fact: object
    ) -> str:
        info = PngInfo()
        if web:
            info.add_text("Description", f"{prompt} --ar 1:1 --v 6 Job ID: {job}")
            info.add_text("Author", "kai")
        image.save(out / name, pnginfo=info)
        truth[name] = fact
        return name

    for j in range(n_jobs):
        prompt = f"{SUBJECTS[rng.integers(len(SUBJECTS))]} {PLACES[rng.integers(len(PLACES))]}"
        user, words = USERS[j % len(USERS)], prompt.replace(" ", "_")
        job = str(uuid.UUID(int=int(rng.integers(2**62)) << 40 | j))
        params = [scene(rng) for _ in range(4)]
        tiles = [draw(p) for p in params]
        pictures = [f"job{j}.{n}" for n in range(1, 5)]
        web = bool(j % 2)
        gname = save(
            grid(tiles),
            f"{user}_{words}_{job}.png",
            prompt,
            job,
            web,
            kind="grid",
            picture=f"job{j}.grid",
        )
        for n in range(1, 5):
            truth[f"{gname}#tile{n}"] = {"kind": "grid region", "picture": pictures[n - 1]}
        picked = rng.choice(4, size=2, replace=False) + 1
        for n in picked:
            tname = save(
                tiles[n - 1],
                f"{user}_{words}_{job}_{n - 1}.png",
                prompt,
                job,
                web,
                kind="tile",
                picture=pictures[n - 1],
            )
            if rng.random() < 0.2:
                (out / tname.replace(".png", " (1).png")).write_bytes((out / tname).read_bytes())
                truth[tname.replace(".png", " (1).png")] = {
                    "kind": "re-download",
                    "picture": pictures[n - 1],
                }
        up = int(picked[0])
        ujob = str(uuid.uuid4())
        save(
            tiles[up - 1].resize((2 * TILE, 2 * TILE), Image.Resampling.LANCZOS),
            f"{user}_{words}_{ujob}.png",
            prompt,
            ujob,
            web,
            kind="upscale",
            picture=pictures[up - 1],
        )
        if j % 3 == 0:  # Vary (Subtle) of the upscaled tile: a new job, four close siblings
            vjob = str(uuid.uuid4())
            siblings = [draw(jitter(params[up - 1], rng, 24)) for _ in range(4)]
            vname = save(
                grid(siblings),
                f"{user}_{words}_{vjob}.png",
                prompt,
                vjob,
                web,
                kind="variation grid",
                picture=f"var{j}.grid",
                varies=pictures[up - 1],
            )
            for n in range(1, 5):
                truth[f"{vname}#tile{n}"] = {
                    "kind": "variation region",
                    "picture": f"var{j}.{n}",
                    "varies": pictures[up - 1],
                }
            save(
                siblings[1],
                f"{user}_{words}_{vjob}_1.png",
                prompt,
                vjob,
                web,
                kind="variation tile",
                picture=f"var{j}.2",
                varies=pictures[up - 1],
            )
    (out / "truth.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")
    return truth
