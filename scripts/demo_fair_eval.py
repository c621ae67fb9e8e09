"""Measure the ``demo`` model on fair held-out drawings: caption accuracy per style, cross-domain
P@1 / mAP of every retrieval mode and re-ranking variant, and a border-colour matcher that must
score near chance on a fair set. Several disjoint draws (seeds) give 95 % confidence intervals.

    python scripts/make_training_set.py --out build/fair-902 --per-cell 8 --seed 902 \\
        --domains photo,sketch,painting,clipart,render3d,silhouette,generated,mosaic
    python scripts/demo_fair_eval.py build/fair-902 build/fair-903 ... --out build/fair.json

A pair (A, B) takes every image of style A as a query and the images of style B as the gallery
(the same class is relevant); a group's figure is the mean over its ordered pairs, and the CI is
over the per-seed figures (mean +- t * sd / sqrt(n)). "trained" pairs have both styles in the
training set; "unseen" pairs have at least one held-out style.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from make_training_set import HELD_OUT_DOMAINS, STYLE, SYNONYMS, load_rows  # noqa: E402

log = logging.getLogger("demo_fair_eval")
BORDER = 8  # px of the 128 px image's edge that the border-colour matcher reads
T975 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26}


def border_colour(image) -> np.ndarray:  # noqa: ANN001  (a PIL image)
    """The mean RGB of the image's outer ``BORDER`` px: all the baseline matcher reads."""
    arr = np.asarray(image.convert("RGB"), np.float32)
    band = np.concatenate(
        [
            arr[:BORDER].reshape(-1, 3),
            arr[-BORDER:].reshape(-1, 3),
            arr[:, :BORDER].reshape(-1, 3),
            arr[:, -BORDER:].reshape(-1, 3),
        ]
    )
    return band.mean(0)


def border_p1(
    queries: np.ndarray, gallery: np.ndarray, q_labels: np.ndarray, g_labels: np.ndarray
) -> float:
    """P@1 (%) of the border-colour matcher: nearest gallery border colour (Euclidean)."""
    d = ((queries[:, None, :] - gallery[None, :, :]) ** 2).sum(-1)
    return 100 * float(np.mean(g_labels[np.argmin(d, axis=1)] == q_labels))


def model_fingerprint(model_root: str | None) -> str:
    """A short hash of the demo preset's embedder and captioner weights (cdir.models.fingerprint)
    that names the cached vectors of a set."""
    from cdir.models.fingerprint import captioner_fingerprint, embedder_fingerprint
    from cdir.models.presets import get_preset

    preset = get_preset("demo")
    root = Path(model_root) if model_root else None
    parts = f"{embedder_fingerprint(preset, root)}|{captioner_fingerprint(preset, root)}"
    return hashlib.sha256(parts.encode()).hexdigest()[:12]


def embed_set(root: Path, model_root: str | None, cache: Path | None) -> dict:
    """Image vectors, captions, caption vectors (raw and style-neutral) and border colours."""
    if cache is not None and cache.is_file():
        data = dict(np.load(cache, allow_pickle=False))
        data["captions"] = [str(c) for c in data["captions"]]
        return data
    from PIL import Image

    from cdir.models.loaded import load_models
    from cdir.models.style_words import Neutraliser

    rows = load_rows(root)
    models = load_models("demo", model_root, device="cpu")
    images, borders = [], []
    for row in rows:
        with Image.open(root / row["path"]) as im:
            rgb = im.convert("RGB")
        images.append(rgb)
        borders.append(border_colour(rgb))
    image = np.vstack(
        [models.embedder.encode_images(images[i : i + 64]) for i in range(0, len(images), 64)]
    )
    captions = []
    for i in range(0, len(images), 32):
        captions += models.captioner.caption(images[i : i + 32])
    neutral = Neutraliser()
    data = {
        "image": image.astype(np.float32),
        "caption": models.embedder.encode_texts(captions).astype(np.float32),
        "neutral": models.embedder.encode_texts([neutral(c) for c in captions]).astype(np.float32),
        "border": np.array(borders, np.float32),
        "captions": captions,
        "domain": np.array([r["domain"] for r in rows]),
        "label": np.array([r["class"] for r in rows]),
    }
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **{k: np.asarray(v) for k, v in data.items()})
    return data


def ranked_metrics(
    scores: np.ndarray, tie: np.ndarray, relevant: np.ndarray
) -> tuple[float, float]:
    """P@1 and mAP (both %) of a (Q, N) score matrix; ties broken by ``tie`` (Q, N), larger
    first, then by column."""
    p1, aps = [], []
    cols = np.arange(scores.shape[1])
    for s, t, rel in zip(scores, tie, relevant, strict=True):
        order = np.lexsort((cols, -t, -s))
        hits = rel[order]
        p1.append(float(hits[0]))
        if hits.any():
            ranks = np.flatnonzero(hits) + 1
            aps.append(float(np.mean(np.arange(1, len(ranks) + 1) / ranks)))
    return 100 * float(np.mean(p1)), 100 * float(np.mean(aps))


def variants(q: dict, g: dict, qd: np.ndarray, gd: np.ndarray, data: dict) -> dict:
    """Score matrices (and tie keys) of every mode and variant for queries q against gallery g."""
    from cdir.retrieval.ranking import tie_break_key
    from cdir.retrieval.rerank import RerankConfig, domain_centred, rerank
    from cdir.retrieval.scoring import standardise

    content = tie_break_key(g["image"], None, "image")[None, :].repeat(len(q["image"]), 0)
    image_key = q["image"] @ g["image"].T
    zero = np.zeros_like(image_key)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    diff = q["border"][:, None, :] - g["border"][None, :, :]
    out["border colour (baseline)"] = (-np.sqrt((diff**2).sum(-1)), content)
    out["image"] = (image_key, content)
    cm = q["caption"] @ g["image"].T
    out["CM"] = (cm, image_key)
    cmn = q["neutral"] @ g["image"].T
    out["CM + neutral"] = (cmn, image_key)
    ccn = q["neutral"] @ g["neutral"].T
    out["caption-caption + neutral, ties: file order"] = (ccn, zero)
    out["caption-caption + neutral, ties: content"] = (ccn, content)
    out["caption-caption + neutral, ties: image"] = (ccn, image_key)
    fusion = standardise(image_key) * 0.5 + standardise(cmn) + 0.5 * standardise(ccn)
    out["fusion + neutral"] = (fusion, image_key)
    # per-domain priors: centre caption vectors per query domain, image vectors per domain
    all_neutral = domain_centred(data["neutral"], data["domain"])
    all_image = domain_centred(data["image"], data["domain"])
    qn, gi = all_neutral[qd], all_image[gd]
    out["CM + neutral + domain prior"] = (qn @ gi.T, image_key)
    for k in (3, 5, 10):
        for beta in (0.25, 0.5, 1.0):
            cfg = RerankConfig("gallery_expansion", k=k, beta=beta)
            out[f"CM + neutral + gallery expansion k={k} beta={beta}"] = (
                rerank(cmn, g["image"], cfg),
                image_key,
            )
        for lam in (0.2, 0.4):
            cfg = RerankConfig("k_reciprocal", k=k, lam=lam)
            out[f"CM + neutral + k-reciprocal k={k} lam={lam}"] = (
                rerank(cmn, g["image"], cfg),
                image_key,
            )
    return out


def evaluate_set(data: dict, trained: set[str]) -> dict:
    """{variant: {group: (P@1, mAP)}} for the groups trained / unseen, plus per-pair figures."""
    domains = sorted(set(data["domain"].tolist()))
    rows_of = {d: np.flatnonzero(data["domain"] == d) for d in domains}
    per_pair: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for a in domains:
        for b in domains:
            if a == b:
                continue
            qa, gb = rows_of[a], rows_of[b]
            q = {k: data[k][qa] for k in ("image", "caption", "neutral", "border")}
            g = {k: data[k][gb] for k in ("image", "caption", "neutral", "border")}
            rel = data["label"][qa][:, None] == data["label"][gb][None, :]
            group = "trained" if a in trained and b in trained else "unseen"
            for name, (scores, tie) in variants(q, g, qa, gb, data).items():
                per_pair[name][group].append(ranked_metrics(scores, tie, rel))
                per_pair[name][f"{a}->{b}"].append(ranked_metrics(scores, tie, rel))
    return {
        name: {
            grp: [float(np.mean([m[0] for m in ms])), float(np.mean([m[1] for m in ms]))]
            for grp, ms in groups.items()
        }
        for name, groups in per_pair.items()
    }


def caption_accuracy(data: dict) -> dict[str, float]:
    out = {}
    for d in sorted(set(data["domain"].tolist())):
        idx = np.flatnonzero(data["domain"] == d)
        ok = [
            any(w in data["captions"][i].split() for w in SYNONYMS[data["label"][i]]) for i in idx
        ]
        out[d] = 100 * float(np.mean(ok))
    return out


def mean_ci(values: list[float]) -> tuple[float, float]:
    n = len(values)
    m = float(np.mean(values))
    if n < 2:
        return m, float("nan")
    return m, T975.get(n - 1, 1.96) * float(np.std(values, ddof=1)) / math.sqrt(n)


def summarise(per_seed: list[dict], accuracy: list[dict]) -> dict:
    names = list(per_seed[0])
    table = {}
    for name in names:
        table[name] = {}
        for grp in ("trained", "unseen"):
            p1 = [s[name][grp][0] for s in per_seed]
            ap = [s[name][grp][1] for s in per_seed]
            table[name][grp] = {
                "p1": mean_ci(p1),
                "map": mean_ci(ap),
                "p1_seeds": p1,
                "map_seeds": ap,
            }
    acc = {d: mean_ci([a[d] for a in accuracy]) for d in accuracy[0]}
    return {"table": table, "caption_accuracy": acc}


def markdown(summary: dict, seeds: list[str]) -> str:
    lines = [
        f"Seeds (disjoint draws): {', '.join(seeds)}; 95 % CI over seeds.",
        "",
        "| style | class named in caption % |",
        "|---|---:|",
    ]
    for d, (m, ci) in summary["caption_accuracy"].items():
        tag = " (held out)" if d in HELD_OUT_DOMAINS else ""
        lines.append(f"| {d}{tag} | {m:.1f} ± {ci:.1f} |")
    lines += [
        "",
        "| mode / variant | trained P@1 | trained mAP | unseen P@1 | unseen mAP |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, groups in summary["table"].items():
        cells = [
            f"{groups[g][k][0]:.1f} ± {groups[g][k][1]:.1f}"
            for g in ("trained", "unseen")
            for k in ("p1", "map")
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sets", type=Path, nargs="+", help="folders from make_training_set.py")
    parser.add_argument("--model-root", help="a model directory (default: the bundled demo)")
    parser.add_argument("--cache", type=Path, help="folder for per-set embeddings")
    parser.add_argument("--out", type=Path, required=True, help="JSON file; .md written beside")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    per_seed, accuracy = [], []
    weights = model_fingerprint(args.model_root)
    for root in args.sets:
        # keyed by the weights too: a retrained model never reads the old model's vectors
        cache = args.cache / f"{root.name}-{weights}.npz" if args.cache else None
        data = embed_set(root, args.model_root, cache)
        trained = set(STYLE) - set(HELD_OUT_DOMAINS)
        per_seed.append(evaluate_set(data, trained))
        accuracy.append(caption_accuracy(data))
        log.info(
            "%s: CM + neutral trained P@1 %.1f, captions %s",
            root,
            per_seed[-1]["CM + neutral"]["trained"][0],
            {d: round(v) for d, v in accuracy[-1].items()},
        )
    summary = summarise(per_seed, accuracy)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"sets": [str(s) for s in args.sets], **summary, "per_seed": per_seed}, indent=1)
    )
    md = markdown(summary, [s.name for s in args.sets])
    args.out.with_suffix(".md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
