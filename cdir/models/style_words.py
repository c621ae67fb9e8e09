"""Style-word neutralisation: remove the words a captioner uses to say HOW an image is drawn.

"a pencil sketch of a cat" and "a photo of a cat" describe the same content; embedding them after
removing the style words ("a cat") makes caption matching compare content, not domain. Phrases are
matched case-insensitively as whole words (hyphenated compounds such as "sketch-like" are left
alone), longer phrases first, and the articles and prepositions a removal leaves dangling are
tidied: "a watercolor painting of a bird" → "a bird", "an anime girl" → "a girl".
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_STYLE_WORDS: tuple[str, ...] = (
    # leading phrases, removed whole with their article and "of"
    "a sketch of",
    "a drawing of",
    "a painting of",
    "an illustration of",
    "a photo of",
    "a photograph of",
    "a picture of",
    "an image of",
    "a close up of",
    "a black and white photo of",
    "a cartoon of",
    "a clipart of",
    "a 3d render of",
    "a rendering of",
    "a digital painting of",
    # media and techniques
    "sketch",
    "drawing",
    "hand drawn",
    "pencil",
    "charcoal",
    "painting",
    "painted",
    "oil painting",
    "watercolor",
    "watercolour",
    "illustration",
    "cartoon",
    "clipart",
    "clip art",
    "vector",
    "3d render",
    "3d",
    "render",
    "rendering",
    "digital art",
    "artwork",
    "photo",
    "photograph",
    "black and white",
    "line art",
    "doodle",
    "icon",
    "anime",
    "close up",
    "stock photo",
    "silhouette",
    "mosaic",
)

ARTICLES = frozenset({"a", "an", "the"})
PREPOSITIONS = frozenset({"of", "in", "on", "with", "by", "as", "at", "from", "for", "to"})
CONNECTORS = frozenset({"and", "or", ","})
_FUNCTION_WORDS = ARTICLES | PREPOSITIONS | CONNECTORS
_MARK = "\x00"
_KEY_VERSION = "1"  # bump when the removal rules change, so cached embeddings are recomputed


def _normalise_word(word: str) -> str:
    return " ".join(word.lower().split())


@lru_cache(maxsize=32)
def _pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """One alternation of all phrases, longest first, words separated by spaces or hyphens."""
    if not words:
        return None
    phrases = sorted(words, key=lambda w: (-len(w.split()), -len(w), w))
    bodies = [r"[\s-]+".join(re.escape(token) for token in p.split()) for p in phrases]
    return re.compile(r"(?<![\w-])(?:" + "|".join(bodies) + r")(?![\w-])", re.IGNORECASE)


@dataclass(frozen=True)
class Neutraliser:
    """Removes style words from captions; a configurable, hashable word list."""

    words: tuple[str, ...] = DEFAULT_STYLE_WORDS

    def __post_init__(self) -> None:
        cleaned = dict.fromkeys(w for w in map(_normalise_word, self.words) if w)
        object.__setattr__(self, "words", tuple(cleaned))

    @classmethod
    def from_text(cls, text: str) -> Neutraliser:
        """Parse a user-edited list: one phrase per line or comma-separated; ``#`` comments."""
        lines = (line.split("#", 1)[0] for line in text.splitlines())
        return cls(tuple(part for line in lines for part in line.split(",")))

    def to_text(self) -> str:
        """The word list, one phrase per line (the format ``from_text`` reads)."""
        return "\n".join(self.words)

    def key(self) -> str:
        """A short stable hash of the word list (order-independent), for caching embeddings."""
        payload = "\n".join([_KEY_VERSION, *sorted(self.words)])
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    def __call__(self, caption: str) -> str:
        """``caption`` without style words; the original if removing them would leave nothing."""
        original = " ".join(caption.split())
        pattern = _pattern(self.words)
        if pattern is None:
            return original
        marked = pattern.sub(f" {_MARK} ", original)
        if _MARK not in marked:
            return original
        result = _join(_tidy(marked.split()))
        return result if re.search(r"\w", result) else original


def _tidy(tokens: list[str]) -> list[str]:
    """Drop removal marks and the function words they leave dangling."""
    tokens = _merge_marks(tokens)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] != _MARK:
            out.append(tokens[i])
            i += 1
            continue
        i = _close_gap(out, tokens, i + 1)
    return _strip_ends(out)


def _merge_marks(tokens: list[str]) -> list[str]:
    """Collapse "MARK and MARK" / "MARK , MARK" runs into one mark."""
    out: list[str] = []
    for token in tokens:
        if token == _MARK and out and out[-1] == _MARK:
            continue
        if token == _MARK and len(out) >= 2 and out[-2] == _MARK and out[-1].lower() in CONNECTORS:
            out.pop()
            continue
        out.append(token)
    return out


def _close_gap(out: list[str], tokens: list[str], i: int) -> int:
    """Tidy around a removed span: ``out`` holds what came before, ``tokens[i:]`` what follows.

    "a MARK of a dog" → "a dog"; "a MARK a dog" → "a dog"; "an MARK girl" → "a girl".
    Returns the index of the next token to read.
    """
    before = out[-1].lower() if out else None
    after = tokens[i].lower() if i < len(tokens) else None
    if after == "of":
        if before in ARTICLES:
            out.pop()
        return i + 1
    if before in ARTICLES and after in ARTICLES:
        out.pop()
    elif before in ARTICLES and after is not None and after not in _FUNCTION_WORDS:
        out[-1] = _agree(out[-1], tokens[i])
    return i


def _agree(article: str, word: str) -> str:
    """Fix "a"/"an" for the word that now follows; ambiguous initials (u, h) are left alone."""
    first = word[:1].lower()
    if article.lower() == "an" and first.isalnum() and first not in "aeiouh8":
        return article[0]
    if article.lower() == "a" and first in "aeio":
        return article + "n"
    return article


def _strip_ends(tokens: list[str]) -> list[str]:
    """Drop leading/trailing connectors, prepositions and articles a removal exposed."""
    dangling = ARTICLES | PREPOSITIONS | CONNECTORS | {"-", ":", ";"}
    while tokens and tokens[0].lower() in (dangling - ARTICLES):
        tokens.pop(0)
    while tokens and tokens[-1].lower() in dangling:
        tokens.pop()
    return tokens


def _join(tokens: list[str]) -> str:
    """Join tokens with spaces, keeping punctuation against the word before it."""
    text = " ".join(tokens)
    return re.sub(r"\s+([,.;:!?])", r"\1", text).strip(" ,;:")
