"""Test-wide guards (no network, no hub, a private cache directory) and the shared fixtures: the
``tiny`` models and the folder for screenshots."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from cdir.models.loaded import Models

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and (host in ("localhost", "::1") or host.startswith("127.")):
        return _real_connect(self, address)
    if self.family == socket.AF_UNIX:
        return _real_connect(self, address)
    raise RuntimeError(f"tests must not touch the network (tried to connect to {address!r})")


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own cross-collection cache so tests never share state."""
    monkeypatch.setenv("CDIR_CACHE_DIR", str(tmp_path_factory.mktemp("cdir-cache")))


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where browser tests save screenshots: ``$CDIR_SCREENSHOT_DIR`` (the README's are taken
    into ``assets/screenshots``), else a temporary folder."""
    target = os.environ.get("CDIR_SCREENSHOT_DIR")
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def tiny() -> Models:
    """The ``tiny`` preset's models (random weights, a few MB), loaded for this module alone."""
    from cdir.models.loaded import load_models

    return load_models("tiny", device="cpu")


@pytest.fixture(scope="module")
def tiny_shared() -> Models:
    """The process's shared ``tiny`` models: the very pair ``api``, the app and the evaluation
    load by name, for tests that watch or patch what those paths use."""
    from cdir.models.loaded import get_models

    return get_models("tiny")
