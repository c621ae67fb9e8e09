"""Names (file names, folder labels, domains) shown as text: :func:`shown_name`.

A file name may hold any character but ``/`` and NUL: a newline or carriage return would split a
listing line or forge one, a tab would shift its columns, an escape sequence would drive the
terminal, and a bidirectional control (U+202E RIGHT-TO-LEFT OVERRIDE, the "Trojan Source"
characters of CVE-2021-42574 and Unicode TR #9) would show ``cat‮gpj.exe`` as ``catexe.jpg``.
Every place that prints a name as text (CLI listings, Markdown and text reports, comments of the
removal script) shows it through :func:`shown_name`, which writes those characters as Python
escapes (``\\n``, ``\\t``, ``\\x1b``, ``\\u202e``); everything else, letters of any script and
emoji included, is kept. JSON output keeps names as they are (JSON escapes them itself).
"""

from __future__ import annotations

import re

# Unicode bidi controls (TR #9: embeddings, overrides, isolates, marks) and other invisible
# format characters that change how the text around them is read
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_SEPARATORS = "\u2028\u2029\u0085\ufeff"
_UNSAFE = re.compile(f"[\\x00-\\x1f\\x7f-\\x9f{_BIDI}{_SEPARATORS}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shown_name(name: object) -> str:
    """``name`` as text safe to print on one line: control, bidi and line-separator characters
    written as escapes (``a\\nb`` for a newline, ``\\u202e`` for RLO); None as ``""``."""
    if name is None:
        return ""
    return _UNSAFE.sub(_escape, str(name))


def has_unsafe(name: object) -> bool:
    """Whether :func:`shown_name` changes ``name``."""
    return name is not None and _UNSAFE.search(str(name)) is not None


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(exc: BaseException) -> str:
    """``Type: message`` of an exception on one line (for a report), names in it escaped."""
    text = shown_name(" ".join(str(exc).split()))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
