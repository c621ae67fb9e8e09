"""NovelAI's text chunks, read whichever of them is there (each kills mutants of
cdir/ingest/metadata/novelai.py that survived the earlier tests)."""

from __future__ import annotations

import json

import pytest

from cdir.ingest.metadata.novelai import parse
from cdir.ingest.metadata.result import RawMetadata


def raw(**texts: str) -> RawMetadata:
    found = RawMetadata()
    for key, text in texts.items():
        found.add(key.replace("__", ":"), text)
    return found


COMMENT = json.dumps({"prompt": "a fox", "uc": "blurry", "steps": 28})


@pytest.mark.parametrize("software_key", ["Software", "exif__Software"])
@pytest.mark.parametrize("software", ["NovelAI", "novelai", "NOVELAI web"])
def test_recognised_by_its_software_alone(software_key: str, software: str) -> None:
    meta = parse(raw(**{software_key: software, "Description": "a fox in snow"}))
    assert meta is not None and meta.generator == "NovelAI"
    assert meta.prompt == "a fox in snow" and meta.source == "Description"


@pytest.mark.parametrize("comment_key", ["Comment", "exif__UserComment"])
def test_recognised_by_its_comment_alone(comment_key: str) -> None:
    meta = parse(raw(**{comment_key: COMMENT}))
    assert meta is not None and (meta.prompt, meta.negative_prompt) == ("a fox", "blurry")
    assert meta.source == "Comment" and meta.settings == {"steps": 28}


def test_other_software_is_not_novelai() -> None:
    assert parse(raw(Software="GIMP 2.10", Comment='{"prompt": "x"}')) is None


def test_damaged_comment_json_is_one_reason_and_the_description_is_the_prompt() -> None:
    found = raw(Software="NovelAI", Description="a fox", Comment='{"uc": broken')
    meta = parse(found)
    assert meta is not None and meta.prompt == "a fox" and meta.source == "Description"
    assert found.issues == ["NovelAI Comment: damaged JSON (not read)"]


def test_a_comment_that_is_not_an_object_is_ignored() -> None:
    meta = parse(raw(Software="NovelAI", Description="a fox", Comment='  ["uc"]'))
    assert meta is not None and meta.prompt == "a fox" and meta.settings == {}


def test_an_indented_comment_object_is_read() -> None:
    meta = parse(raw(Software="NovelAI", Comment="  " + COMMENT))
    assert meta is not None and meta.prompt == "a fox" and meta.source == "Comment"


def test_values_that_are_not_text_are_not_prompts() -> None:
    meta = parse(raw(Software="NovelAI", Comment=json.dumps({"prompt": 5, "uc": ["x"]})))
    assert meta is not None and meta.prompt is None and meta.negative_prompt is None


def test_an_empty_v4_caption_falls_back_to_the_prompt() -> None:
    comment = {
        "prompt": "a fox",
        "v4_prompt": {"caption": {"base_caption": "  "}},
        "v4_negative_prompt": {"caption": {"base_caption": 3}},
        "uc": "blurry",
    }
    meta = parse(raw(Software="NovelAI", Comment=json.dumps(comment)))
    assert meta is not None and (meta.prompt, meta.negative_prompt) == ("a fox", "blurry")
