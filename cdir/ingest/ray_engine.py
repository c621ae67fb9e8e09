"""Ingest on Ray Data: the local engine's reading worker and models, on as many machines as Ray has.

The driver does exactly what the local ingest does around the models (scan the sources, number the
new rows, hash the files, so ids are the same), then sends one record per distinct content key still
to compute through ``Dataset.map_batches`` to a pool of :class:`IngestWorker` actors. Each actor
loads the preset's models once, and turns each batch into a worker shard (``cdir.ingest.shards``):
it decodes with :func:`cdir.ingest.reader.read_one` (writing the thumbnails into the store), embeds,
captions when asked, embeds the captions, and splits 2x2 grid images into their tiles as the local
engine does. The driver merges every shard into the store's cache as it arrives, then runs the local
engine's own steps, which find every result in the cache: nothing is embedded twice, and a later
local ingest of the same files computes nothing.

Shared-filesystem assumption: the workers read the source files at the driver's paths and write
thumbnails and shards into the store directory, so the sources and the store must be on a
filesystem every node mounts at the same path (NFS, a cloud file share, a FUSE-mounted bucket).
docs/distributed.md says what to change for a cluster without one.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cdir.imaging.decode import DecodeLimits
from cdir.ingest.captioning import caption_all, predict_domains
from cdir.ingest.grids import add_tile_items, tile_sha
from cdir.ingest.ingest_summary import failures, metadata_summary
from cdir.ingest.pipeline import (
    CAPTION_MODES,
    IngestConfig,
    IngestReport,
    Progress,
    embed_images,
    mark_failed,
    prepare_rows,
)
from cdir.ingest.ray_cluster import RayPlan, start_ray
from cdir.ingest.reader import ReadResult, read_batches, read_one
from cdir.ingest.shards import (
    SHARDS_DIR,
    MergeStats,
    Shard,
    list_shards,
    merge_shard_into_cache,
    remove_unfinished,
    write_shard,
)
from cdir.ingest.sources import check_sources
from cdir.models.loaded import Models, load_models
from cdir.models.presets import Preset, get_preset
from cdir.models.text_embeddings import embed_captions, embed_key
from cdir.store.cache import Cache
from cdir.store.collection import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerTask:
    """Everything an actor needs, sent to it once (pickled) when it starts."""

    preset: Preset
    model_root: str | None
    store_root: str
    captions: bool
    split_grids: bool
    batch_size: int = 32
    caption_batch_size: int = 8
    read_threads: int = 2
    decode_limits: DecodeLimits = field(default_factory=DecodeLimits)
    device: str = "cpu"
    quantize: str = "none"


# ------------------------------------------------------------------------------------ the actor
class IngestWorker:
    """A Ray Data actor: the preset's models, loaded once; each call turns records into a shard.

    A record is ``{key, row, path, tile, caption, text}``: the content key (file sha256, or the
    tile key), the store row (-1 for tiles found here), the file, the tile number (-1: the whole
    file), whether to generate a caption, and a caption already known (manifest) to embed.
    """

    def __init__(self, task: WorkerTask) -> None:
        self.task = task
        self.models = load_models(task.preset, task.model_root, task.device, task.quantize)
        self.store = Store(Path(task.store_root))  # paths only: thumbnails, shards
        self.meta = {
            "preset": self.models.preset.name,
            "embed_key": embed_key(self.models),
            "caption_key": self.models.caption_key,
            "dim": self.models.embedder.dim,
        }

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        records = [
            dict(zip(batch, values, strict=True)) for values in zip(*batch.values(), strict=True)
        ]
        start, shard = time.perf_counter(), Shard(dict(self.meta))
        grids = self._process(records, shard)
        if self.task.split_grids and grids:
            self._process(tile_records(grids, self.task.captions), shard)
        shard.meta["seconds"] = round(time.perf_counter() - start, 3)  # this worker's busy time
        path = write_shard(self.store.root / SHARDS_DIR, shard)
        return {"shard": np.array([str(path)]), "n": np.array([len(records)])}

    def _process(self, records: list[dict[str, Any]], shard: Shard) -> list[tuple[dict, int]]:
        """Add ``records`` to ``shard``; returns (record, number of tiles) of the grid images."""
        grids = []
        for chunk in read_batches(
            self._jobs(records), self.task.batch_size, self.task.read_threads
        ):
            self._add_chunk([records[r.row] for r in chunk], chunk, shard)
            grids += [
                (records[r.row], len(r.info.grid))
                for r in chunk
                if r.info is not None and r.info.grid and int(records[r.row]["tile"]) < 1
            ]
        return grids

    def _jobs(self, records: list[dict[str, Any]]) -> Iterator[Any]:
        preprocess = self.models.embedder.preprocess
        for n, rec in enumerate(records):
            yield partial(
                read_one,
                n,
                Path(str(rec["path"])),
                self.store.thumb_path(rec["key"]),
                preprocess,
                self.task.decode_limits,
                bool(rec["caption"]),
                tile=int(rec["tile"]),
            )

    def _add_chunk(
        self, records: list[dict[str, Any]], chunk: list[ReadResult], shard: Shard
    ) -> None:
        good = [n for n, r in enumerate(chunk) if r.error is None]
        images = self._embed_images([chunk[n] for n in good])
        captions = self._captions(records, chunk, good)
        texts = {n: captions.get(n) or str(records[n]["text"] or "") for n in good}
        texts = {n: t for n, t in texts.items() if t}
        text_emb = dict(zip(texts, self._embed_texts(list(texts.values())), strict=True))
        image_emb = dict(zip(good, images, strict=True))
        for n, (rec, result) in enumerate(zip(records, chunk, strict=True)):
            info = None if result.info is None else _info_json(result)
            shard.add(
                str(rec["key"]),
                int(rec["row"]),
                result.error,
                info,
                captions.get(n),
                texts.get(n),
                image_emb.get(n),
                text_emb.get(n),
            )
            result.image = result.tensor = None  # free the pixels now

    def _embed_images(self, results: list[ReadResult]) -> np.ndarray:
        import torch

        if not results:
            return np.zeros((0, self.models.embedder.dim), np.float32)
        return self.models.embedder.encode_image_tensors(torch.stack([r.tensor for r in results]))

    def _embed_texts(self, texts: list[str]) -> np.ndarray:
        return self.models.embedder.encode_texts(texts) if texts else np.zeros((0, 0), np.float32)

    def _captions(
        self, records: list[dict[str, Any]], chunk: list[ReadResult], good: list[int]
    ) -> dict[int, str]:
        wanted = [n for n in good if bool(records[n]["caption"])]
        step, captions = self.task.caption_batch_size, {}
        for start in range(0, len(wanted), step):
            part = wanted[start : start + step]
            made = self.models.captioner.caption([chunk[n].image for n in part])
            captions.update(zip(part, made, strict=True))
        return captions


def _info_json(result: ReadResult) -> str:
    return json.dumps(result.info.to_dict())


def tile_records(grids: list[tuple[dict[str, Any], int]], captions: bool) -> list[dict[str, Any]]:
    """Records for the tiles of grid images (as ``cdir.ingest.grids.tile_rows`` makes items)."""
    return [
        {
            "key": tile_sha(str(rec["key"]), n),
            "row": -1,
            "path": rec["path"],
            "tile": n,
            "caption": captions,
            "text": "",
        }
        for rec, count in grids
        for n in range(1, count + 1)
    ]


# ------------------------------------------------------------------------------ the actor pool
def run_workers(
    records: list[dict[str, Any]], task: WorkerTask, plan: RayPlan
) -> Iterator[tuple[Path, int]]:
    """Send ``records`` through the actor pool; yields (shard directory, records) as they come."""
    import ray.data

    size = max(1, min(plan.shard_size, -(-len(records) // plan.num_workers)))
    ds = ray.data.from_items(records, override_num_blocks=-(-len(records) // size))
    out = ds.map_batches(
        IngestWorker,
        batch_size=size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=plan.num_workers),
        fn_constructor_args=(task,),
        num_cpus=plan.num_cpus,
        num_gpus=plan.num_gpus or None,
    )
    for row in out.iter_rows():
        yield Path(str(row["shard"])), int(row["n"])


# ---------------------------------------------------------------------------------- the driver
class RayStage:
    """The driver's side of the Ray stage for one store: what to send, and merging what comes."""

    def __init__(
        self,
        store: Store,
        cache: Cache,
        models: Models,
        task: WorkerTask,
        plan: RayPlan,
        progress: Progress,
    ) -> None:
        self.store, self.cache, self.models = store, cache, models
        self.task, self.plan, self.progress = task, plan, progress
        self.keys = (embed_key(models), models.caption_key)
        self.stats = MergeStats()

    def run(self, rows: np.ndarray) -> int:
        """Compute on the workers what ``rows`` lack; returns how many images they embedded."""
        before = self.stats.embedded
        self.merge_leftovers()
        self.apply_failures()
        rows = rows[self.store.items["status"].to_numpy()[rows] != "failed"]
        records = pending_records(self.store, self.cache, self.models, rows, self.task.captions)
        done = 0
        for path, n in run_workers(records, self.task, self.plan) if records else ():
            self.stats.update(merge_shard_into_cache(path, self.cache, *self.keys))
            done += n
            self.progress(done, len(records), "embedding on ray workers")
        self.apply_failures()
        return self.stats.embedded - before

    def merge_leftovers(self) -> None:
        """Merge the shards an interrupted run left behind (their work is not lost)."""
        root = self.store.root / SHARDS_DIR
        remove_unfinished(root)
        for path in list_shards(root):
            self.stats.update(merge_shard_into_cache(path, self.cache, *self.keys))

    def apply_failures(self) -> None:
        items = self.store.items
        failed = self.stats.failed
        rows = np.flatnonzero(
            items["sha256"].isin(list(failed)).to_numpy() & (items["status"] != "failed").to_numpy()
        )
        mark_failed(items, {int(r): failed[items.at[r, "sha256"]] for r in rows})


def pending_records(
    store: Store, cache: Cache, models: Models, rows: np.ndarray, captions: bool
) -> list[dict[str, Any]]:
    """One record per distinct content key among ``rows`` whose work is not all cached."""
    items = store.items
    shas = [str(items.at[r, "sha256"]) for r in rows]
    done = _cached_keys(cache, models, shas, captions)
    paths = _absolute_paths(store, rows)
    records, seen = [], set()
    for r, sha, path in zip(rows, shas, paths, strict=True):
        caption = items.at[r, "caption"]
        wants_caption = captions and pd.isna(caption) and sha not in done["caption"]
        if sha in seen or (sha in done["image"] and not wants_caption):
            continue
        seen.add(sha)
        records.append(
            {
                "key": sha,
                "row": int(r),
                "path": path,
                "tile": _tile(items, r),
                "caption": bool(wants_caption),
                "text": "" if pd.isna(caption) else str(caption),
            }
        )
    return records


def _cached_keys(
    cache: Cache, models: Models, shas: list[str], captions: bool
) -> dict[str, set[str]]:
    vectors = cache.get("image_emb", embed_key(models), shas)
    infos = cache.get("image_info", "v1", shas)
    made = cache.get("caption", models.caption_key, shas) if captions else {}
    return {"image": set(vectors) & set(infos), "caption": set(made)}


def _absolute_paths(store: Store, rows: np.ndarray) -> list[str]:
    root = store.root.resolve()
    column = store.items["path"]
    return [p if Path(p).is_absolute() else str(root / p) for p in map(str, column.iloc[rows])]


def _tile(items: pd.DataFrame, row: int) -> int:
    return int(items.at[row, "tile"]) if "tile" in items else -1


# ---------------------------------------------------------------------------------- the runner
def ingest_ray(
    sources: Sequence[str | Path],
    store_dir: str | Path,
    preset: str | Preset = "default",
    config: IngestConfig | None = None,
    address: str | None = None,
    num_workers: int = 2,
    model_root: str | Path | None = None,
    progress: Progress | None = None,
    *,
    num_gpus: float = 0.0,
    num_cpus: float = 1.0,
    shard_size: int = 256,
) -> IngestReport:
    """Add ``sources`` to the collection at ``store_dir`` with the models running on Ray.

    The result is the collection ``cdir.ingest.pipeline.ingest`` makes (same ids, captions,
    embeddings within float tolerance). ``address`` is a Ray cluster (``auto``,
    ``ray://head:10001``); None
    uses the Ray running in this process (or ``$RAY_ADDRESS``) or starts a local one with
    ``num_workers`` x ``num_cpus`` CPUs. ``num_gpus`` and ``num_cpus`` are per worker (a GPU
    worker wants several CPUs: decoding and preprocessing run on them). With ``--captions all``
    the collection becomes searchable when the workers are done (they caption as they embed),
    not before captioning as locally. See docs/distributed.md.
    """
    config = config or IngestConfig()
    if config.captions not in CAPTION_MODES:
        raise ValueError(f"captions must be one of {', '.join(CAPTION_MODES)}")
    progress = progress or _noop
    plan = RayPlan(address, num_workers, num_cpus, num_gpus, shard_size)
    clock = time.monotonic()
    check_sources(sources)
    # the text side only; int8 captioning is for CPU workers (the caption cache key tells)
    models = load_models(
        _preset_of(store_dir, preset), model_root, "cpu", "none" if num_gpus > 0 else None
    )
    store, report = prepare_rows(sources, store_dir, models, config, progress)
    cache = Cache.for_store(store.root, config.shared_cache)
    ray_clock = time.monotonic()
    started = start_ray(plan)
    report.seconds["ray_start"] = round(time.monotonic() - ray_clock, 2)
    try:
        stage = RayStage(
            store, cache, models, _task(models, store, config, plan, model_root), plan, progress
        )
        report.embedded = _embed(stage, config)
        report.seconds["embedding"] = round(time.monotonic() - clock, 2)
        report.seconds["workers_busy"] = round(stage.stats.worker_seconds, 2)
        _finish(store, models, cache, config, progress, report, stage)
        report.seconds["total"] = round(time.monotonic() - clock, 2)
    finally:
        cache.close()
        if started:
            import ray

            ray.shutdown()
    report.failed, report.counts = failures(store), store.counts()
    report.metadata = metadata_summary(store)
    return report


def _noop(done: int, total: int, stage: str) -> None:
    return None


def _preset_of(store_dir: str | Path, preset: str | Preset) -> str | Preset:
    """An existing collection keeps its own preset (as ``cdir.api.ingest`` does)."""
    if isinstance(preset, str) and Store.exists(Path(store_dir)):
        return Store.load(store_dir).preset or preset
    return preset


def _task(
    models: Models, store: Store, config: IngestConfig, plan: RayPlan, model_root: str | Path | None
) -> WorkerTask:
    threads = max(config.workers, int(plan.num_cpus))
    return WorkerTask(
        get_preset(models.preset),
        str(model_root) if model_root else None,
        str(store.root.resolve()),
        config.captions == "all",
        config.split_grids,
        config.batch_size,
        config.caption_batch_size,
        threads,
        config.decode_limits,
        "cuda" if plan.num_gpus > 0 else "cpu",
        models.quantize,
    )


def _embed(stage: RayStage, config: IngestConfig) -> int:
    """Workers first, then the local engine's step (which finds their work in the cache)."""
    store = stage.store
    computed = _embed_pass(stage, config)
    if config.split_grids and add_tile_items(store, stage.cache, config.decode_limits):
        computed += _embed_pass(stage, config)
    return computed


def _embed_pass(stage: RayStage, config: IngestConfig) -> int:
    rows = np.flatnonzero(stage.store.items["status"].to_numpy() != "failed")
    remote = stage.run(rows)
    return remote + embed_images(stage.store, stage.models, stage.cache, config, stage.progress)


def _finish(
    store: Store,
    models: Models,
    cache: Cache,
    config: IngestConfig,
    progress: Progress,
    report: IngestReport,
    stage: RayStage,
) -> None:
    """Domains, caption embeddings and captions, as the local engine does (all from the cache)."""
    if config.predict_domains:
        predict_domains(store, models, cache)
    embed_captions(store, models, cache, progress)
    store.write()
    if config.captions == "all":
        local = caption_all(store, models, cache, config, progress)
        report.captioned = stage.stats.captioned + local
    _remove_empty(store.root / SHARDS_DIR)


def _remove_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass
