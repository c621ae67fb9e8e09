"""A1111-family infotext edge cases (each kills mutants of cdir/ingest/metadata/a1111.py that
survived before), and the "prompt words" view of a prompt's syntax."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdir.ingest.metadata.a1111 import (
    generator_of,
    is_settings_line,
    looks_like_infotext,
    parse,
    parse_infotext,
    parse_settings,
)
from cdir.ingest.metadata.extract import parse_raw
from cdir.ingest.metadata.result import RawMetadata
from cdir.models.prompt_words import prompt_words

SETTINGS = "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512"


def raw(key: str, text: str) -> RawMetadata:
    found = RawMetadata()
    found.add(key, text)
    return found


@pytest.mark.parametrize("key", ["parameters", "exif:UserComment", "Description"])
def test_no_settings_line(key: str) -> None:
    meta = parse_raw(raw(key, "a cat on a roof\nNegative prompt: ugly, blurry"))
    assert (meta.prompt, meta.negative_prompt) == ("a cat on a roof", "ugly, blurry")
    assert meta.generator == "A1111" and meta.settings == {} and meta.source == key


def test_a_bare_prompt_in_parameters_is_the_prompt() -> None:
    meta = parse_raw(raw("parameters", "  a cat on a roof, (night:1.2)  "))
    assert meta.prompt == "a cat on a roof, (night:1.2)" and meta.negative_prompt is None
    assert meta.generator == "A1111" and meta.source == "parameters"


def test_a_bare_text_elsewhere_is_not_infotext() -> None:
    assert parse(raw("exif:UserComment", "holiday at the lake")) is None
    assert parse(raw("parameters", '{"prompt": "json"}')) is None


def test_multi_line_prompt_and_negative() -> None:
    meta = parse_infotext(
        f"line one\nline two\nNegative prompt: bad\nworse\n{SETTINGS}\n"
        "Template: x\nNegative Template: y"
    )
    assert meta.prompt == "line one\nline two" and meta.negative_prompt == "bad\nworse"
    assert meta.settings["Seed"] == "42" and meta.settings["Size"] == "512x512"
    assert meta.settings["extra"] == "Template: x\nNegative Template: y"


def test_an_empty_prompt_before_the_negative() -> None:
    meta = parse_infotext(f"Negative prompt: bad\n{SETTINGS}")
    assert meta.prompt is None and meta.negative_prompt == "bad"


@pytest.mark.parametrize(
    "settings,generator",
    [
        ("Version: v1.10.1", "A1111"),
        ("Version: f2.0.1v1.10.1-previous-313-g8a042934", "Forge"),
        ("Version: f0.0.17v1.8.0rc-latest-276-g29be1da7", "Forge"),
        ("Version: neoforge-v1.0", "Forge"),
        ("Version: classic-Forge 1.0", "Forge"),
        ("App: SD.Next, Version: 82973c4", "SD.Next"),
        ("Version: SD.Next 2024-10", "SD.Next"),
        ("Version: Fooocus v2.5.5", "Fooocus"),
        ("Model: x", "A1111"),
    ],
)
def test_generator_from_version_and_app(settings: str, generator: str) -> None:
    meta = parse_raw(raw("parameters", f"a cat\n{SETTINGS}, {settings}"))
    assert meta.generator == generator and meta.prompt == "a cat"
    assert generator_of(parse_settings(f"{SETTINGS}, {settings}")) == generator


def test_quoted_settings() -> None:
    settings = parse_settings(
        'Steps: 20, Hires prompt: "a \\(cat\\), on a \\"roof\\" \\\\ x", '
        'Lora hashes: "a: 1, b: 2", Seed: 7, Empty: "", Note: "x'
    )
    assert settings["Hires prompt"] == 'a \\(cat\\), on a "roof" \\ x'
    assert settings["Lora hashes"] == "a: 1, b: 2"
    assert settings["Seed"] == "7" and settings["Steps"] == "20"


def test_valid_json_quotes_are_json() -> None:
    assert (
        parse_settings('Steps: 2, Hires prompt: "a\\nb \\u00e9", Seed: 1')["Hires prompt"]
        == "a\nb é"
    )


def test_settings_line_rules() -> None:
    assert is_settings_line(SETTINGS)
    assert not is_settings_line("Steps: 20, Sampler: Euler")  # two pairs only
    assert not is_settings_line("Prompt: a, Steps: 20, Seed: 1, Size: 1x1")  # not a known start
    assert not is_settings_line("Steps: 1, Seed: 2, Size: 3, " + "x" * 20_000)
    assert looks_like_infotext("x\nNegative prompt: y") and looks_like_infotext(f"x\n{SETTINGS}")
    assert not looks_like_infotext("a prompt that mentions Steps: 20 in passing")


def test_weights_and_lora_tags_stay_in_the_stored_prompt() -> None:
    text = "(red cat:1.2), [dog|fox] BREAK <lora:style:0.8> sitting"
    meta = parse_raw(raw("parameters", f"{text}\n{SETTINGS}"))
    assert meta.prompt == text


@pytest.mark.parametrize(
    "prompt,words",
    [
        ("(red cat:1.2), [dog|fox] BREAK <lora:style_x:0.8> sitting", "red cat, dog fox, sitting"),
        (
            "((masterpiece)), [from:to:0.5], \\(artist\\), {a|b}",
            "masterpiece, from to, (artist), a b",
        ),
        ("a cat:1.2 AND a dog", "a cat, a dog"),
        ("1.5::silver hair::, {{best quality}}, [[blurry]]", "silver hair, best quality, blurry"),
        ("embedding:easynegative, hi <hypernet:h:1>", "easynegative, hi"),
        ("at 10:30 (x:1.2", "at 10:30 x:1.2"),
        ("(word:-0.5) [x:0.5] y", "word x y"),
        ("<lora:x:1>", None),
        ("plain words stay", "plain words stay"),
        ("line one\nline two", "line one\nline two"),
    ],
)
def test_prompt_words(prompt: str, words: str | None) -> None:
    assert prompt_words(prompt) == words


def test_prompt_words_of_nothing() -> None:
    assert prompt_words(None) is None and prompt_words("  ") is None


def test_grouping_reads_the_prompt_words() -> None:
    from cdir.maps.clusters import item_texts

    assert item_texts(["a cat"], ["((red:1.3)) <lora:x:1> hat"]) == ["a cat red hat"]
    assert item_texts([None], [None]) == [""]


def test_indented_lines_are_read_as_their_section() -> None:
    meta = parse_infotext(f"a cat\n   Negative prompt: bad\n  {SETTINGS}")
    assert (meta.prompt, meta.negative_prompt) == ("a cat", "bad")
    assert meta.settings["Seed"] == "42"
    assert looks_like_infotext("x\n   Negative prompt: y")
    assert parse(raw("exif:UserComment", "x\n  Negative prompt: y")) is not None
    assert parse(raw("parameters", '   {"prompt": "json"}')) is None


def test_settings_line_length_bound_is_inclusive() -> None:
    from cdir.ingest.metadata.a1111 import MAX_SETTINGS_LINE

    line = SETTINGS + ", Note: " + "x" * (MAX_SETTINGS_LINE - len(SETTINGS) - 8)
    assert len(line) == MAX_SETTINGS_LINE and is_settings_line(line)
    assert not is_settings_line(line + "x")


def test_an_empty_quoted_value_is_empty() -> None:
    assert parse_settings('Steps: 2, Empty: "", Seed: 1')["Empty"] == ""
    assert parse_settings('Steps: 2, One: "a", Seed: 1')["One"] == "a"


def test_browse_text_filter_finds_a_weighted_word(tmp_path: Path) -> None:
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd

    from cdir.browse.grid import Browser

    items = pd.DataFrame(
        {
            "id": [0, 1],
            "rel_path": ["a.png", "b.png"],
            "caption": [None, "x"],
            "prompt": ["(red fox:1.3), <lora:z:1> BREAK snow", None],
        }
    )
    store = SimpleNamespace(items=items, ok_mask=lambda: np.ones(2, bool), root=tmp_path)
    browser = Browser(store)
    assert "red fox, snow" in browser._text[0] and "(red fox:1.3)" in browser._text[0]
