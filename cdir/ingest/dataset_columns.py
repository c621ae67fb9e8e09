"""Which columns of a 🤗 dataset (or Parquet table, or imagefolder metadata) hold the image, the
domain, the class, the caption and the prompt; and how a cell becomes a label.

Columns are found by name (``style`` is a domain, ``label`` a class, ``text`` a caption, ...);
``--columns domain=style,class=label`` names them explicitly. Integer ``ClassLabel`` cells become
their names. Feature descriptions use the JSON form 🤗 datasets writes (``Features.to_dict()``,
the ``huggingface`` key of a Parquet schema's metadata).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cdir.ingest.source_files import SourceError

# role -> column names tried in order (case-insensitive)
DEFAULT_NAMES: dict[str, tuple[str, ...]] = {
    "image": ("image", "img", "picture", "photo", "jpg", "png", "webp"),
    "file_name": ("file_name", "filename", "file", "name"),
    "domain": ("domain", "style", "domain_name", "medium"),
    "class": ("class", "label", "labels", "category", "class_name", "label_name"),
    "caption": ("caption", "captions", "text", "blip_caption", "description"),
    "prompt": ("prompt", "positive_prompt"),
    "negative_prompt": ("negative_prompt", "neg_prompt"),
}
ROLES: tuple[str, ...] = tuple(DEFAULT_NAMES)


def parse_column_overrides(text: str | None) -> dict[str, str]:
    """``"domain=style,class=label"`` -> ``{"domain": "style", "class": "label"}``; an empty
    column name (``caption=``) means "do not read this role". Raises :class:`SourceError` for a
    role that is not one of :data:`ROLES` or a part without ``=``."""
    overrides: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        role, sep, column = part.partition("=")
        role = role.strip().lower()
        if not sep or role not in ROLES:
            raise SourceError(
                f"--columns takes role=column pairs with roles {', '.join(ROLES)}, "
                f"e.g. domain=style,class=label; not {part.strip()!r}"
            )
        overrides[role] = column.strip()
    return overrides


@dataclass(frozen=True)
class ColumnMap:
    """role -> column of one table; a role absent from ``columns`` is not read."""

    columns: Mapping[str, str] = field(default_factory=dict)
    class_names: Mapping[str, Sequence[str]] = field(default_factory=dict)  # ClassLabel columns

    def get(self, row: Mapping[str, Any], role: str) -> str | None:
        """The cell of ``role`` in ``row`` as text (ClassLabel ids as names; lists: the first
        item), or None when absent or empty."""
        column = self.columns.get(role)
        if column is None:
            return None
        return cell_text(row.get(column), self.class_names.get(column))


def resolve_columns(
    available: Sequence[str],
    features: Mapping[str, Any] | None,
    overrides: Mapping[str, str],
    source: str,
) -> ColumnMap:
    """Match the roles to the ``available`` columns: the overrides first (a missing one raises
    :class:`SourceError` listing the columns there are), then an ``Image`` feature for the
    image, then :data:`DEFAULT_NAMES`."""
    by_lower = {name.lower(): name for name in available}
    features = features or {}
    columns: dict[str, str] = {}
    for role, column in overrides.items():
        if not column:
            continue
        if column not in available:
            found = by_lower.get(column.lower())
            if found is None:
                raise SourceError(
                    f"{source} has no column {column!r} (for {role}); its columns "
                    f"are {', '.join(available)}: fix --columns"
                )
            column = found
        columns[role] = column
    taken = set(columns.values())
    if "image" not in columns and "image" not in overrides:
        image = next((n for n in available if _feature_type(features.get(n)) == "Image"), None)
        if image is not None:
            columns["image"], taken = image, taken | {image}
    for role, names in DEFAULT_NAMES.items():
        if role in columns or role in overrides:
            continue
        found = next(
            (by_lower[n] for n in names if n in by_lower and by_lower[n] not in taken), None
        )
        if found is not None:
            columns[role] = found
            taken.add(found)
    class_names = {
        name: list(spec["names"])
        for name, spec in features.items()
        if _feature_type(spec) == "ClassLabel" and spec.get("names")
    }
    return ColumnMap(columns, class_names)


def _feature_type(spec: Any) -> str | None:
    return spec.get("_type") if isinstance(spec, dict) else None


def features_from_schema_metadata(metadata: Mapping[bytes, bytes] | None) -> dict[str, Any]:
    """The ``{column: feature dict}`` 🤗 datasets stores in a Parquet/Arrow schema's metadata
    (key ``huggingface``), or ``{}``."""
    raw = (metadata or {}).get(b"huggingface")
    if not raw:
        return {}
    try:
        info = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {}
    features = (info.get("info") or {}).get("features") if isinstance(info, dict) else None
    return features if isinstance(features, dict) else {}


def cell_text(value: Any, class_names: Sequence[str] | None = None) -> str | None:
    """A table cell as a stripped label string, or None (None, NaN, empty, -1 ClassLabel)."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if class_names is not None and isinstance(value, int) and not isinstance(value, bool):
        return class_names[value] if 0 <= value < len(class_names) else None
    text = str(value).strip()
    return text or None
