"""The evaluation protocol on collections: a labelled store, or a ``<root>/<domain>/<class>/<file>``
folder tree (the Office-Home and DomainNet layout) ingested into a store first.

:mod:`cdir.evaluation.protocol` works on arrays; this module turns a store into those arrays (its
readable images with a domain and a class, their caption embeddings and the neutralised ones) and,
for a folder tree, picks the files to evaluate *before* ingesting them, so that ``--max-per-class
5`` embeds and captions only those images. Everything an ingest computes is cached by content hash
and the store is reused, so a second run over the same tree computes nothing new.
"""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import numpy as np

from cdir.evaluation.protocol import EvalConfig, EvalData, EvalReport, evaluate
from cdir.ingest.pipeline import IngestConfig, IngestReport, ingest
from cdir.ingest.source_files import SourceError, SourceFile
from cdir.ingest.sources import scan_sources
from cdir.models.loaded import Models, get_models
from cdir.models.style_words import Neutraliser
from cdir.models.text_embeddings import neutral_caption_matrix
from cdir.retrieval.scoring import FusionWeights, required_query_kinds
from cdir.store.cache import Cache
from cdir.store.collection import Store, StoreError

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
EVAL_STAGE = "evaluating"
STORES_DIR = Path("stores")
DEFAULT_PRESET = "default"


class LabelError(ValueError):
    """A collection or folder that lacks the domain and class labels the protocol needs."""


LABEL_HELP = (
    "evaluation needs images labelled with a domain and a class: a folder tree "
    "<root>/<domain>/<class>/<file> (the Office-Home and DomainNet layout), or a collection "
    "ingested from one or with a manifest CSV path,domain,class"
)


# ------------------------------------------------------------------------------ a labelled store
def labelled_rows(store: Store, rows: np.ndarray | None = None) -> np.ndarray:
    """Indices of the readable images with a given (not predicted) domain and a class, within
    the boolean mask ``rows`` when given; the tiles of grid images are not dataset images and are
    left out. Raises :class:`LabelError` when there are none."""
    items = store.items
    given = (items["label_source"] != "predicted").to_numpy(dtype=bool)
    labelled = items["domain"].notna().to_numpy() & items["class"].notna().to_numpy()
    mask = store.ok_mask() & labelled & given & (items["parent_id"] < 0).to_numpy(dtype=bool)
    if rows is not None:
        mask &= np.asarray(rows, dtype=bool)
    if not mask.any():
        raise LabelError(f"{store.root} has no image with a domain and a class label; {LABEL_HELP}")
    return np.flatnonzero(mask)


def _caption_rows(store: Store, rows: np.ndarray) -> np.ndarray | None:
    """The caption embeddings of ``rows``, or None when none of them has a caption yet."""
    if store.caption_emb is None or not store.caption_mask()[rows].any():
        return None
    return store.caption_emb[rows]


def _neutral_rows(
    store: Store, models: Models, neutraliser: Neutraliser, rows: np.ndarray
) -> np.ndarray | None:
    """Neutralised caption embeddings of ``rows`` (cached in the store's ``derived/``)."""
    if store.caption_emb is None or not store.caption_mask()[rows].any():
        return None
    cache = Cache.for_store(store.root)
    try:
        matrix = neutral_caption_matrix(store, models, cache, neutraliser)
    finally:
        cache.close()
    return None if matrix is None else matrix[rows]


def eval_data(
    store: Store, models: Models, config: EvalConfig, neutraliser: Neutraliser, rows: np.ndarray
) -> EvalData:
    """The arrays :func:`cdir.evaluation.protocol.evaluate` reads, for the items ``rows`` of
    ``store``."""
    if store.image_emb is None:
        raise StoreError(f"{store.root} has no image embeddings yet: run `python -m cdir ingest`")
    neutral = _neutral_rows(store, models, neutraliser, rows) if True in config.neutralise else None
    items = store.items.iloc[rows]
    return EvalData(
        image=store.image_emb[rows],
        caption=_caption_rows(store, rows),
        caption_neutral=neutral,
        domains=items["domain"].astype(str).to_numpy(),
        classes=items["class"].astype(str).to_numpy(),
    )


def _stage(progress: Progress | None) -> Callable[[int, int], None] | None:
    """Adapt a ``(done, total, stage)`` callback to evaluate's ``(done, total)``."""
    if progress is None:
        return None
    return lambda done, total: progress(done, total, EVAL_STAGE)


def _predicted_note(store: Store) -> list[str]:
    ok = store.items[store.ok_mask()]
    n = int((ok["label_source"] == "predicted").sum())
    if not n:
        return []
    return [f"{n} images with a predicted (not given) domain were left out of the evaluation"]


def evaluate_collection(
    store: Store,
    models: Models,
    config: EvalConfig,
    neutraliser: Neutraliser | None = None,
    progress: Progress | None = None,
    *,
    rows: np.ndarray | None = None,
) -> EvalReport:
    """Evaluate every configured variant on the labelled items of ``store``.

    ``rows`` (a boolean mask over the store's items) restricts the evaluation, e.g. to the files a
    folder-tree run selected. ``progress(done, total, stage)`` is called as pairs finish. Raises
    :class:`LabelError` when the collection has no domain and class labels.
    """
    chosen = labelled_rows(store, rows)
    data = eval_data(store, models, config, neutraliser or Neutraliser(), chosen)
    log.info("evaluating %d labelled images of %s", len(chosen), store.root)
    report = evaluate(data, config, _stage(progress))
    report.notes += _predicted_note(store)
    return report


# ---------------------------------------------------------------------------- a folder tree
@dataclass(frozen=True)
class TreeSelection:
    """What a folder-tree run evaluates: the chosen files, and the labelled ones left aside."""

    root: Path
    files: list[SourceFile]
    unlabelled: int

    @property
    def rel_paths(self) -> frozenset[str]:
        return frozenset(f.rel_path for f in self.files)


def _check_subset(wanted: Sequence[str] | None, present: Iterable[str], what: str) -> None:
    known = set(present)
    unknown = sorted(set(wanted or ()) - known)
    if unknown:
        raise LabelError(f"unknown {what} {unknown}; the tree has: {', '.join(sorted(known))}")


def _first_per_class(files: list[SourceFile], limit: int | None) -> list[SourceFile]:
    """The first ``limit`` files of each (domain, class) by sorted file name (then path)."""
    groups: dict[tuple[str, str], list[SourceFile]] = defaultdict(list)
    for f in sorted(files, key=lambda f: (PurePosixPath(f.rel_path).name, f.rel_path)):
        groups[(str(f.domain), str(f.label))].append(f)
    kept = [f for group in groups.values() for f in group[:limit]]
    return sorted(kept, key=lambda f: f.rel_path)


def select_files(
    files: Sequence[SourceFile],
    domains: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    max_per_class: int | None = None,
) -> list[SourceFile]:
    """The labelled files inside the domain and class subsets, at most ``max_per_class`` of each
    (domain, class), chosen deterministically. Unknown subset names raise :class:`LabelError`."""
    if max_per_class is not None and max_per_class < 1:
        raise ValueError(f"--max-per-class must be at least 1, got {max_per_class}")
    labelled = [f for f in files if f.domain and f.label]
    _check_subset(domains, (f.domain for f in labelled), "domains")
    _check_subset(classes, (f.label for f in labelled), "classes")
    kept = [
        f
        for f in labelled
        if (not domains or f.domain in domains) and (not classes or f.label in classes)
    ]
    return _first_per_class(kept, max_per_class)


def _outside(files: list[SourceFile], folder: Path | None) -> list[SourceFile]:
    """Files not inside ``folder`` (a store kept inside the tree must not evaluate itself)."""
    if folder is None:
        return files
    inside = folder.resolve()
    return [f for f in files if not f.path.resolve().is_relative_to(inside)]


def scan_tree(
    root: Path,
    domains: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    max_per_class: int | None = None,
    exclude: Path | None = None,
) -> TreeSelection:
    """List ``root``'s images and pick the ones to evaluate (nothing is read or embedded)."""
    root = Path(root)
    if not root.is_dir():
        raise SourceError(
            f"{root} is not a folder: give a <root>/<domain>/<class>/<file> tree "
            "or a collection directory"
        )
    files = _outside(scan_sources([root], root).files, exclude)
    chosen = select_files(files, domains, classes, max_per_class)
    if not chosen:
        raise LabelError(f"{root} has no image inside <domain>/<class>/ folders; {LABEL_HELP}")
    unlabelled = sum(1 for f in files if not (f.domain and f.label))
    if unlabelled:
        log.warning(
            "%d images of %s are not in a <domain>/<class>/ folder: left out", unlabelled, root
        )
    return TreeSelection(root, chosen, unlabelled)


def needs_captions(config: EvalConfig) -> bool:
    """Whether any configured variant reads captions (else the slow captioner is skipped)."""
    fusions = [None, *config.fusion_grid] if "fusion" in config.modes else list(config.fusion_grid)
    modes = [(m, None) for m in config.modes if m != "fusion"]
    modes += [("fusion", f or FusionWeights.parse(None)) for f in fusions]
    return any("caption" in required_query_kinds(m, f) for m, f in modes)


def dataset_name(root: Path) -> str:
    """A folder-name-safe name for the dataset at ``root``."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(root).resolve().name).strip("-.")
    return name or "dataset"


def default_store_dir(root: Path, preset: str, out: Path | None = None) -> Path:
    """``<out>/store`` with an output folder, else ``./stores/eval-<dataset>-<preset>``."""
    if out is not None:
        return Path(out) / "store"
    return STORES_DIR / f"eval-{dataset_name(root)}-{preset}"


def ingest_selection(
    selection: TreeSelection,
    store_dir: Path,
    models: Models,
    config: EvalConfig,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest the selected files into ``store_dir`` (created or reused: only new work is done)."""
    ingest_config = IngestConfig(
        captions="all" if needs_captions(config) else "none",
        only=selection.rel_paths,
        predict_domains=False,
        split_grids=False,  # dataset images are single images, whatever their layout
    )
    report = ingest([selection.root], store_dir, models, ingest_config, progress)
    log.info(
        "ingest: %d new, %d embedded and %d captioned now, %d failed",
        report.added,
        report.embedded,
        report.captioned,
        len(report.failed),
    )
    return report


def selected_mask(store: Store, selection: TreeSelection) -> np.ndarray:
    """Which items of ``store`` are the selected files (a reused store may hold more)."""
    wanted = {str(f.path.resolve()) for f in selection.files}
    paths = (store.image_path({"path": p}).resolve() for p in store.items["path"].astype(str))
    return np.fromiter((str(p) in wanted for p in paths), dtype=bool, count=len(store.items))


# ------------------------------------------------------------------------------------ header
def utc_now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def _neutral_text(config: EvalConfig) -> str:
    flags = set(config.neutralise)
    if not needs_captions(config):
        return "not used"
    return (
        "raw and neutralised captions"
        if flags == {False, True}
        else ("neutralised captions" if flags == {True} else "raw captions")
    )


def eval_header(
    models: Models, dataset: str, source: Path, store: Path, config: EvalConfig
) -> dict[str, str]:
    """The facts a report starts with (the report adds image counts, domains, classes, k)."""
    preset = models.preset
    header = {
        "preset": preset.name
        if preset.trained
        else f"{preset.name} (random weights: the numbers are meaningless)",
        "dataset": f"{dataset} ({source})",
        "store": str(store),
        "date": utc_now(),
        "modes": ", ".join(config.modes),
        "captions": _neutral_text(config),
    }
    if config.fusion_grid:
        header["fusion grid"] = "; ".join(
            ",".join(f"{m}={w:g}" for m, w in f.active().items()) for f in config.fusion_grid
        )
    return header


def _subset_header(
    config: EvalConfig, max_per_class: int | None = None, unlabelled: int = 0
) -> dict[str, str]:
    header = {}
    if config.domains:
        header["domain subset"] = ", ".join(config.domains)
    if config.classes:
        header["class subset"] = ", ".join(config.classes)
    if max_per_class is not None:
        header["max per class"] = str(max_per_class)
    if unlabelled:
        header["left out"] = f"{unlabelled} images outside <domain>/<class>/ folders"
    return header


def _ingest_header(report: IngestReport) -> dict[str, str]:
    text = (
        f"{report.added} new images; computed now: {report.embedded} image embeddings, "
        f"{report.captioned} captions; {len(report.failed)} unreadable"
    )
    return {"ingest": text}


# ------------------------------------------------------------------------------ entry points
def _models(preset: str, model_root: str | Path | None, models: Models | None) -> Models:
    if models is not None:
        return models
    return get_models(preset, model_root)


def evaluate_tree(
    root: Path,
    store_dir: Path | None = None,
    preset: str = DEFAULT_PRESET,
    config: EvalConfig | None = None,
    max_per_class: int | None = None,
    domains: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    model_root: str | Path | None = None,
    progress: Progress | None = None,
    *,
    neutraliser: Neutraliser | None = None,
    models: Models | None = None,
) -> tuple[EvalReport, dict[str, str]]:
    """Evaluate a ``<root>/<domain>/<class>/<file>`` tree: pick the files, ingest them into
    ``store_dir`` (default :func:`default_store_dir`; reused when present), evaluate.

    ``domains`` / ``classes`` override the subsets of ``config``. Returns the report and the
    header to render it with (``render_markdown(report, header)``).
    """
    root = Path(root)
    config = _with_subsets(config or EvalConfig(), domains, classes)
    store_dir = Path(store_dir) if store_dir is not None else default_store_dir(root, preset)
    selection = scan_tree(root, config.domains, config.classes, max_per_class, store_dir)
    models = _models(preset, model_root, models)
    ingested = ingest_selection(selection, store_dir, models, config, progress)
    store = Store.load(store_dir)
    report = evaluate_collection(
        store, models, config, neutraliser, progress, rows=selected_mask(store, selection)
    )
    header = eval_header(models, dataset_name(root), root.resolve(), store.root.resolve(), config)
    header |= _subset_header(config, max_per_class, selection.unlabelled)
    return report, header | _ingest_header(ingested)


def _with_subsets(
    config: EvalConfig, domains: Sequence[str] | None, classes: Sequence[str] | None
) -> EvalConfig:
    return replace(
        config,
        domains=tuple(domains) if domains else config.domains,
        classes=tuple(classes) if classes else config.classes,
    )


def evaluate_store_dir(
    store_dir: Path,
    config: EvalConfig | None = None,
    model_root: str | Path | None = None,
    progress: Progress | None = None,
    *,
    neutraliser: Neutraliser | None = None,
    models: Models | None = None,
) -> tuple[EvalReport, dict[str, str]]:
    """Evaluate an existing labelled collection with the models of its own preset."""
    config = config or EvalConfig()
    store = Store.load(store_dir)
    labelled_rows(store)  # a clear error before any model is loaded
    models = _models(store.preset, model_root, models)
    report = evaluate_collection(store, models, config, neutraliser, progress)
    root = store.root.resolve()
    header = eval_header(models, root.name, root, root, config)
    return report, header | _subset_header(config)


def evaluate_path(
    root: Path,
    store_dir: Path | None = None,
    preset: str | None = None,
    config: EvalConfig | None = None,
    max_per_class: int | None = None,
    model_root: str | Path | None = None,
    progress: Progress | None = None,
) -> tuple[EvalReport, dict[str, str]]:
    """:func:`evaluate_store_dir` when ``root`` is a collection, else :func:`evaluate_tree`
    (``preset`` defaults to ``default`` there; a collection keeps its own)."""
    if not Store.exists(Path(root)):
        return evaluate_tree(
            root,
            store_dir,
            preset or DEFAULT_PRESET,
            config,
            max_per_class,
            model_root=model_root,
            progress=progress,
        )
    _check_collection_options(Path(root), preset, max_per_class)
    return evaluate_store_dir(Path(root), config, model_root, progress)


def _check_collection_options(root: Path, preset: str | None, max_per_class: int | None) -> None:
    if max_per_class is not None:
        raise ValueError(
            "--max-per-class applies to a folder tree, not to a collection: "
            "evaluate the tree itself, or use --domains / --classes"
        )
    built_with = Store.read_meta(root).get("preset")
    if preset is not None and preset != built_with:
        raise ValueError(
            f"{root} was built with preset {built_with!r}, not {preset!r}: "
            "drop --preset (a collection is evaluated with its own models)"
        )
