"""What an ingest report says about a collection once written: the files that failed, with
their reasons, and what the files' generation metadata gave."""

from __future__ import annotations

from typing import Any

from cdir.store.collection import Store


def metadata_summary(store: Store) -> dict[str, Any]:
    """What the files' generation metadata gave: how many readable items have a prompt and a
    negative prompt, items per generator, and the files whose metadata text could not be
    decoded (with the reason)."""
    items = store.items[store.ok_mask()]
    generators = items["generator"].dropna().value_counts().sort_index()
    issues = items[items["metadata_issue"].notna()]
    return {
        "with_prompt": int(items["prompt"].notna().sum()),
        "with_negative_prompt": int(items["negative_prompt"].notna().sum()),
        "generators": {str(k): int(v) for k, v in generators.items()},
        "issues": [
            {"file": str(r.rel_path), "reason": str(r.metadata_issue)} for r in issues.itertuples()
        ],
    }


def failures(store: Store) -> list[dict[str, str]]:
    """The items that could not be used: id, file (inside the collection) and reason."""
    bad = store.items[store.items["status"] == "failed"]
    return [
        {"id": int(r.id), "file": str(r.rel_path), "reason": str(r.error)} for r in bad.itertuples()
    ]
