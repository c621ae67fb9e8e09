"""The real-world cases handed to the project (``../shared/cases/NN-*/input``, see its README):
each case's right value is asserted by a test, skipped only when the cases folder is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CASES = Path(os.environ.get("CDIR_CASES", REPO.parent / "shared" / "cases"))


def case_input(number: str) -> Path:
    """The ``input`` folder of case ``number`` ("06"); skips the test when the cases are absent."""
    if not CASES.is_dir():
        pytest.skip(f"the real-world cases folder {CASES} is absent (set CDIR_CASES to it)")
    found = sorted(CASES.glob(f"{number}-*/input"))
    if not found:
        pytest.skip(f"case {number} is absent from {CASES}")
    return found[0]
