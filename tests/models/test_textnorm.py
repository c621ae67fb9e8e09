"""Style-word neutralisation of captions."""

from __future__ import annotations

import pytest

from cdir.models.style_words import DEFAULT_STYLE_WORDS, Neutraliser

neutral = Neutraliser()


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("a sketch of a cat", "a cat"),
        ("a black and white photo of a bicycle", "a bicycle"),
        ("a pencil drawing of a dog", "a dog"),  # "a <gap> of a dog" tidied to "a dog"
        ("a watercolor painting of a bird", "a bird"),
        ("an oil painting of the eiffel tower", "the eiffel tower"),
        ("a photo of an old man", "an old man"),
        ("a cartoon dog on a skateboard", "a dog on a skateboard"),
        ("a cartoon illustration of an elephant", "an elephant"),
        ("a 3d render of a chair", "a chair"),
        ("a close up of a flower", "a flower"),
        ("a close-up of a flower", "a flower"),
        ("a black-and-white photo of a bike", "a bike"),
        ("a sketch and a painting of a dog", "a dog"),
        ("sketch of a horse", "a horse"),
        ("a cat in a drawing", "a cat"),
        ("a dog, sketch", "a dog"),
        ("an anime girl with long hair", "a girl with long hair"),  # article agreement
        ("a clipart apple", "an apple"),
    ],
)
def test_style_words_removed(caption: str, expected: str) -> None:
    assert neutral(caption) == expected


def test_case_insensitive_whole_words_only() -> None:
    assert neutral("A Sketch Of A Cat") == "A Cat"
    assert neutral("a 3D RENDER of a car") == "a car"
    assert neutral("a surrender flag") == "a surrender flag"  # "render" inside a word
    assert neutral("a pink iconic photos wall") == "a pink iconic photos wall"
    assert neutral("a sketch-like cat") == "a sketch-like cat"  # hyphenated compound kept


def test_multi_word_phrases_win_over_their_words() -> None:
    words = Neutraliser(("white", "photo", "black and white"))
    assert words("a black and white photo of a bicycle") == "a bicycle"
    assert neutral("an anime and a sketch of a dog") == "a dog"
    assert Neutraliser(("black", "black and white"))("a black and white cat") == "a cat"


def test_never_empty() -> None:
    for caption in ("sketch", "an illustration", "a photo of", "  drawing  ", ", sketch ,"):
        assert neutral(caption).strip(), caption
    assert neutral("an illustration") == "an illustration"
    assert neutral("") == ""


def test_unchanged_caption_only_has_whitespace_collapsed() -> None:
    assert neutral("  two   dogs\tplaying  ") == "two dogs playing"
    assert Neutraliser(())("a sketch of a cat") == "a sketch of a cat"


def test_custom_word_list() -> None:
    custom = Neutraliser(("blueprint", "a schematic of"))
    assert custom("a schematic of a house") == "a house"
    assert custom("a blueprint of a house") == "a house"
    assert custom("a sketch of a house") == "a sketch of a house"


def test_from_text_reads_lines_commas_and_comments() -> None:
    text = "# my style words\nSketch,  Pencil   Drawing\n\n painting # oils too\n,,\nsketch\n"
    parsed = Neutraliser.from_text(text)
    assert parsed.words == ("sketch", "pencil drawing", "painting")
    assert Neutraliser.from_text(parsed.to_text()) == parsed
    assert parsed("a pencil drawing of a fox") == "a fox"


def test_key_is_short_stable_and_tracks_the_list() -> None:
    key = neutral.key()
    assert key == Neutraliser().key() == Neutraliser(DEFAULT_STYLE_WORDS).key()
    assert len(key) == 12 and int(key, 16) >= 0
    assert Neutraliser(DEFAULT_STYLE_WORDS[:-1]).key() != key
    assert Neutraliser((*DEFAULT_STYLE_WORDS, "blueprint")).key() != key
    assert Neutraliser(("a", "b")).key() == Neutraliser(("B", "a")).key()  # order and case free


def test_default_list_is_curated() -> None:
    assert 35 <= len(DEFAULT_STYLE_WORDS) <= 60
    assert len(set(DEFAULT_STYLE_WORDS)) == len(DEFAULT_STYLE_WORDS)
    for phrase in ("a sketch of", "clipart", "3d render", "illustration", "drawing", "painting"):
        assert phrase in DEFAULT_STYLE_WORDS
    assert hash(neutral) == hash(Neutraliser())  # frozen: usable as a cache key


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("the cartoon dog", "the dog"),  # "the" is never changed by a/an agreement
        ("an anime owl", "an owl"),  # "an" kept before a vowel
        ("an anime elephant", "an elephant"),
        ("a dog and sketch", "a dog"),  # a connector left dangling at the end
        ("a dog - sketch", "a dog"),  # a dash left dangling
        ("sketch with a horse", "a horse"),  # a preposition left dangling at the start
        ("a dog sketch , on grass", "a dog, on grass"),  # punctuation joins the word before
        ("a sketch of X", "X"),  # a capital X is a word like any other
        ("sketch: and a dog", "a dog"),  # a colon, a semicolon or a dash, then a connector
        ("sketch; and a dog", "a dog"),
        ("sketch - and a dog", "a dog"),
    ],
)
def test_what_a_removal_leaves_dangling_is_tidied(caption: str, expected: str) -> None:
    assert neutral(caption) == expected


def test_only_the_first_hash_starts_a_comment() -> None:
    assert Neutraliser.from_text("pencil # a note # with two hashes\nsketch").words == (
        "pencil",
        "sketch",
    )


def test_the_key_of_a_list_is_pinned() -> None:
    """Cached neutralised embeddings are stored under this key: it changes only on purpose
    (bump ``_KEY_VERSION`` with the rules, and update this value)."""
    assert Neutraliser(("sketch",)).key() == "3ead198dfb4f"
