"""The item columns the keep rule and the family marks read, as plain arrays built once per
run (a pandas ``.at`` per member and field costs more than the whole rule at 20,000 items)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from cdir.store.collection import Store

TEXT_COLUMNS = (
    "rel_path",
    "prompt",
    "negative_prompt",
    "generator",
    "generation_settings",
    "pixel_sha256",
    "sha256",
    "path",
    "caption",
)


@dataclass
class Columns:
    """Arrays indexed by row (= item id): sizes, tile numbers and text fields (None if absent)."""

    width: np.ndarray
    height: np.ndarray
    file_size: np.ndarray
    tile: np.ndarray
    text: dict[str, list[str | None]]
    root: Path = Path(".")
    parent: np.ndarray | None = None  # a tile's grid row, else -1

    @classmethod
    def of(cls, store: Store) -> Columns:
        import pandas as pd

        items = store.items
        n = len(items)

        def ints(name: str, default: int) -> np.ndarray:
            if name not in items:
                return np.full(n, default, np.int64)
            return items[name].fillna(default).astype("int64").to_numpy()

        text: dict[str, list[str | None]] = {}
        for name in TEXT_COLUMNS:
            if name in items:
                text[name] = [
                    None if pd.isna(v) or str(v) == "" else str(v) for v in items[name].to_numpy()
                ]
            else:
                text[name] = [None] * n
        return cls(
            ints("width", 0),
            ints("height", 0),
            ints("file_size", -1),
            ints("tile", -1),
            text,
            Path(store.root),
            ints("parent_id", -1),
        )

    def get(self, name: str, row: int) -> str | None:
        return self.text[name][row]

    def file(self, row: int) -> Path | None:
        """The item's file (uploads and zip members are kept relative to the store)."""
        path = self.get("path", row)
        if path is None:
            return None
        return Path(path) if Path(path).is_absolute() else self.root / path
