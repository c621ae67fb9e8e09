"""Names printed safely: control and bidi characters escaped, ordinary names unchanged."""

from __future__ import annotations

import pytest

from cdir.textsafe import escape_name


@pytest.mark.parametrize(("name", "shown"), [
    ("holiday (1).jpg", "holiday (1).jpg"),
    ("写真/猫.png", "写真/猫.png"),
    ("a\nb.png", "a\\nb.png"),
    ("\x1b[2Jclear.png", "\\x1b[2Jclear.png"),
    ("invoice\u202egnp.exe", "invoice\\u202egnp.exe"),
    ("back\\slash\t.png", "back\\\\slash\\t.png"),
])
def test_escape_name(name: str, shown: str) -> None:
    assert escape_name(name) == shown
