"""Fingerprints of a preset's weights: caches are keyed by what the weights are, not by the
preset's name, so retrained or swapped weights under one name never reuse old vectors or captions.

Where a component's weights come from decides how it is fingerprinted (cheaply):

* a local folder (``--model-dir``, the bundled ``cdir/assets/models``, a preset file's ``weights``):
  the SHA-256 of every file in it, memoised by (path, size, mtime) in this process and in
  ``$CDIR_CACHE_DIR/fingerprints.json``, so a 600 MB checkpoint is hashed once;
* the Hugging Face hub cache: the snapshot's blob names, which ARE the files' hashes (SHA-256
  for LFS files, git SHA-1 otherwise): nothing is read;
* a config built with random weights (``tiny``): the config and the seed;
* weights not on this machine yet: None (the caller loads them first, then asks again).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

from cdir.models.availability import hub_cache_dir, open_clip_repo
from cdir.models.captioner_kinds import captioner_kind
from cdir.models.presets import Preset
from cdir.models.weights import local_component

log = logging.getLogger(__name__)

MEMO_FILE = "fingerprints.json"
_memo: dict[str, str] = {}
_lock = threading.Lock()


def _memo_path() -> Path | None:
    """The on-disk memo, beside the shared cache (``$CDIR_CACHE_DIR``; None when it is off)."""
    value = os.environ.get("CDIR_CACHE_DIR", str(Path.home() / ".cache" / "cdir"))
    return None if value.lower() in ("", "off", "none", "0") else Path(value) / MEMO_FILE


def file_digest(path: Path) -> str:
    """SHA-256 of one file, memoised by (resolved path, size, mtime_ns)."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    with _lock:
        if key in _memo:
            return _memo[key]
        disk = _load_memo()
        if key in disk:
            _memo[key] = disk[key]
            return disk[key]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    with _lock:
        _memo[key] = value
        _save_memo(key, value)
    return value


def _load_memo() -> dict[str, str]:
    path = _memo_path()
    try:
        return dict(json.loads(path.read_text(encoding="utf-8"))) if path else {}
    except (OSError, ValueError):
        return {}


def _save_memo(key: str, value: str) -> None:
    path = _memo_path()
    if path is None:
        return
    try:
        memo = _load_memo()
        memo[key] = value
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:  # a read-only home: the in-process memo still serves
        log.debug("cannot write %s: %s", path, exc)


def folder_fingerprint(folder: Path) -> str:
    """The hash of every file's name and content hash under ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(folder).as_posix()}={file_digest(path)}\n".encode())
    return digest.hexdigest()[:16]


def hub_snapshot(repo_id: str) -> Path | None:
    """The hub cache's snapshot folder of ``repo_id``: the revision ``refs/main`` names, else the
    newest snapshot; None when none is cached (huggingface_hub's cache layout)."""
    base = hub_cache_dir() / f"models--{repo_id.strip('/').replace('/', '--')}"
    snapshots = base / "snapshots"
    if not snapshots.is_dir():
        return None
    ref = base / "refs" / "main"
    folder = snapshots / ref.read_text().strip() if ref.is_file() else None
    if folder is None or not folder.is_dir():
        found = sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime)
        if not found:
            return None
        folder = found[-1]
    return folder


def hub_fingerprint(repo_id: str) -> str | None:
    """The hash of the file names and blob names (the files' own hashes) of ``repo_id``'s
    :func:`hub_snapshot`; None when none is cached."""
    folder = hub_snapshot(repo_id)
    if folder is None:
        return None
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink()):
        blob = Path(os.readlink(path)).name if path.is_symlink() else file_digest(path)
        digest.update(f"{path.relative_to(folder).as_posix()}={blob}\n".encode())
    return digest.hexdigest()[:16]


def _config_fingerprint(config: dict, seed: int) -> str:
    text = json.dumps(config, sort_keys=True) + f"|seed={seed}"
    return "cfg-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def embedder_fingerprint(preset: Preset, root: Path | None) -> str | None:
    """The fingerprint of the weights the embedder loads (see the module docstring)."""
    spec = preset.embedder
    local = local_component(root, preset.name, "embedder")
    if local is None and spec.weights and Path(spec.weights).expanduser().is_dir():
        local = Path(spec.weights).expanduser()
    if local is not None:
        return folder_fingerprint(local)
    if spec.config is not None:
        return _config_fingerprint(spec.config, preset.seed)
    repo = open_clip_repo(spec.arch, spec.pretrained)
    return hub_fingerprint(repo) if repo else None


def captioner_fingerprint(preset: Preset, root: Path | None) -> str | None:
    """The fingerprint of the captioner's weights (a CoCa without a checkpoint of its own is
    the embedder: its fingerprint)."""
    spec = preset.captioner
    kind = captioner_kind(spec.kind)
    if not kind.captions:
        return "none"
    if kind.from_embedder and not spec.pretrained:
        return embedder_fingerprint(preset, root)
    local = local_component(root, preset.name, "captioner")
    if local is None and spec.hub_id and Path(spec.hub_id).expanduser().is_dir():
        local = Path(spec.hub_id).expanduser()
    if local is not None:
        return folder_fingerprint(local)
    if spec.config is not None:
        return _config_fingerprint(spec.config, preset.seed)
    if kind.from_embedder:
        repo = open_clip_repo(spec.arch or preset.embedder.arch, spec.pretrained)
        return hub_fingerprint(repo) if repo else None
    return hub_fingerprint(spec.hub_id) if spec.hub_id else None


def embed_key(preset: Preset, root: Path | None) -> str | None:
    """The cache key of the embedder's vectors: preset, architecture, tag and the weights'
    fingerprint (None while the weights are not on this machine)."""
    found = embedder_fingerprint(preset, root)
    if found is None:
        return None
    spec = preset.embedder
    return f"{preset.name}|{spec.arch}|{spec.pretrained}|w:{found}"


def caption_key(preset: Preset, root: Path | None, int8: bool = False) -> str | None:
    """The cache key of captions: preset, caption settings and the captioner weights'
    fingerprint (+ ``|int8``); None while the weights are not on this machine."""
    found = captioner_fingerprint(preset, root)
    if found is None:
        return None
    key = f"{preset.name}|{preset.captioner.settings_key()}|w:{found}"
    return key + "|int8" if int8 else key
