"""Names printed safely on a terminal: control and bidirectional-override characters escaped,
as ``ls`` does, so a file name cannot move the cursor, hide text or reverse a line."""

from __future__ import annotations

import unicodedata

# bidi embeddings, overrides and isolates, and the invisible marks (LRM, RLM, ALM)
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def escape_name(name: str) -> str:
    """``name`` with every control, format (bidi) and separator-other character written as an
    escape (``\\n``, ``\\x1b``, ``\\u202e``); a backslash is doubled only when something was
    escaped, so ordinary names print unchanged."""
    text = str(name)
    if not any(_unsafe(c) for c in text):
        return text
    return "".join(_escape(c) for c in text)


def _unsafe(char: str) -> bool:
    return char in _BIDI or unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def _escape(char: str) -> str:
    if char == "\\":
        return "\\\\"
    if not _unsafe(char):
        return char
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if char in named:
        return named[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
