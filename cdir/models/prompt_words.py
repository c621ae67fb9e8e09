"""The words of a prompt without its syntax: :func:`prompt_words`.

The stored prompt keeps the syntax as written; search, grouping and prompt agreement read this
view. Syntax removed (AUTOMATIC1111 wiki "Features": attention/emphasis, alternating words,
prompt editing, BREAK, extra networks; ComfyUI's ``(word:1.2)`` and ``embedding:name``;
NovelAI's ``{word}`` / ``[word]`` emphasis and V4 ``1.5::word::`` weights; Dynamic Prompts'
``{a|b}`` variants):

* ``(word:1.2)``, ``((word))``, ``[word]``, ``{word}`` -> ``word``;
* ``[a|b]`` / ``{a|b}`` (alternation, variants) and ``[from:to:0.5]`` (prompt editing) -> both
  sides' words;
* ``BREAK`` and ``AND`` (composable diffusion) -> a comma, ``AND``'s ``:1.2`` weight dropped;
* ``<lora:name:0.8>``, ``<lyco:...>``, ``<hypernet:...>`` and any ``<...:...>`` tag -> removed;
* ``\\(`` / ``\\)`` (escaped literal parentheses) -> ``(`` / ``)``.
"""

from __future__ import annotations

import re

_TAG = re.compile(r"<[A-Za-z_][\w-]*:[^<>]*>")  # <lora:x:0.8>, <hypernet:y:1>
_ESCAPED = re.compile(r"\\([()\[\]{}\\])")
_WEIGHT = re.compile(r":\s*-?\d+(?:\.\d*)?\s*(?=[)\]}])")  # (word:1.2) / [from:to:0.5]
_EDIT_STEP = re.compile(r":\s*-?\d+(?:\.\d*)?\s*$")
_NAI_WEIGHT = re.compile(r"-?\d+(?:\.\d*)?::|::")  # NovelAI V4: 1.5::word::
_KEYWORDS = re.compile(r"\s*\b(?:BREAK|AND)\b(?:\s*:\s*-?\d+(?:\.\d*)?)?\s*")
_EMBEDDING = re.compile(r"\bembedding:([\w.-]+)")
_SPACES = re.compile(r"[ \t]+")
_COMMAS = re.compile(r"\s*,(?:\s*,)*\s*")
_OPEN, _CLOSE = "([{", ")]}"
# private-use characters stand for escaped brackets while the syntax is removed
_PROTECT = {c: chr(0xE000 + i) for i, c in enumerate("()[]{}\\")}


def prompt_words(prompt: str | None) -> str | None:
    """``prompt`` without weight, emphasis, alternation, editing, BREAK/AND and extra-network
    syntax (see the module docstring); None for None or a prompt of syntax only."""
    if not isinstance(prompt, str):
        return None
    text = _ESCAPED.sub(lambda m: _PROTECT[m.group(1)], prompt)
    text = _TAG.sub(" ", text)
    text = _EMBEDDING.sub(r"\1", text)
    text = _NAI_WEIGHT.sub(" ", text)
    if re.search(r"\bAND\b", text):  # composable diffusion: "a AND b :1.2", weights per part
        text = " AND ".join(_EDIT_STEP.sub("", part) for part in re.split(r"\bAND\b", text))
    text = _KEYWORDS.sub(", ", text)
    text = _groups(text)
    for char, stand_in in _PROTECT.items():
        text = text.replace(stand_in, "" if char == "\\" else char)
    lines = [_COMMAS.sub(", ", _SPACES.sub(" ", line)).strip(" ,") for line in text.splitlines()]
    words = "\n".join(line for line in lines if line)
    return words or None


def _groups(text: str) -> str:
    """Brackets removed inside out: a group's weight or editing step dropped, its ``|`` and
    editing ``:`` become spaces. Unbalanced brackets are dropped as they are."""
    out: list[list[str]] = [[]]
    for char in text:
        if char in _OPEN:
            out.append([])
        elif char in _CLOSE and len(out) > 1:
            inner = "".join(out.pop())
            inner = _EDIT_STEP.sub("", _WEIGHT.sub("", inner + ")")[:-1])
            out[-1].append(" " + re.sub(r"\s*[|:]\s*", " ", inner) + " ")
        elif char in _CLOSE:
            out[-1].append(" ")
        else:
            out[-1].append(char)
    while len(out) > 1:  # unclosed groups: their text stays
        inner = "".join(out.pop())
        out[-1].append(" " + inner)
    return "".join(out[0])
