"""Optional test dependencies (Chromium for the browser tests, Ray for the distributed ones):
skipped on a developer's machine without them, a failure under CI (``CI`` set, as ``.ci/run``
does), so a CI image that lost one can never pass by skipping its tests."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

FALSE = {"", "0", "false", "no", "off"}


def in_ci() -> bool:
    """Whether the tests run under CI (the ``CI`` variable set to anything but a false value)."""
    return os.environ.get("CI", "").strip().lower() not in FALSE


def missing(what: str, how: str, module_level: bool = False) -> NoReturn:
    """Fail under CI, skip elsewhere; ``how`` says how to install ``what``."""
    if in_ci():
        pytest.fail(f"{what} is missing under CI: {how}", pytrace=False)
    pytest.skip(f"{what} not installed ({how})", allow_module_level=module_level)
