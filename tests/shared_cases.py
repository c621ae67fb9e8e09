"""The real-world cases handed to the project (``../shared/cases/NN-*/input``, see its README):
each case's right value is asserted by a test. Where the cases folder or a case is absent, the
test is skipped on a developer's machine and FAILS under CI (``CI`` set, as ``.ci/run`` does), so
a CI run without the cases can never pass by skipping them. ``CDIR_CASES`` names the folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.required import in_ci

REPO = Path(__file__).resolve().parents[1]
# CDIR_CASES, else ../shared/cases beside the checkout (or beside the folder of worktrees)
CASES = Path(
    os.environ.get("CDIR_CASES")
    or next(
        (
            p
            for p in (REPO.parent / "shared" / "cases", REPO.parent.parent / "shared" / "cases")
            if p.is_dir()
        ),
        REPO.parent / "shared" / "cases",
    )
)


def absent(why: str) -> None:
    """Fail under CI, skip elsewhere."""
    if in_ci():
        pytest.fail(f"{why} under CI (set CDIR_CASES to the cases folder)", pytrace=False)
    pytest.skip(f"{why} (set CDIR_CASES to it)")


def case_input(number: str) -> Path:
    """The ``input`` folder of case ``number`` ("06"); skips the test when the cases are absent
    (fails under CI)."""
    if not CASES.is_dir():
        absent(f"the real-world cases folder {CASES} is absent")
    found = sorted(CASES.glob(f"{number}-*/input"))
    if not found:
        absent(f"case {number} is absent from {CASES}")
    return found[0]
