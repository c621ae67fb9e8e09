"""Content credentials read as they are written: real signed C2PA manifests in PNG, JPEG and
WebP (c2pa-python); generated only when the manifest's digital source type says so, with the
acting tool as generator; a camera's or an editor's manifest names no generator."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL.PngImagePlugin import PngInfo

from cdir.ingest.metadata.c2pa import generator_name, manifest_facts, source_type_name
from cdir.ingest.metadata.extract import extract_metadata
from tests.c2pa_files import IPTC, manifest, signed
from tests.required import missing

try:
    import c2pa  # noqa: F401
except ImportError:
    missing("c2pa-python", "pip install -r requirements.txt", module_level=True)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


CREATED_AI = {"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia"}


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_generated_by_an_unseen_tool_in_every_container(tmp_path: Path, fmt: str) -> None:
    data = signed(
        manifest(
            "Dream Tool",
            [{**CREATED_AI, "softwareAgent": {"name": "Dream Tool Diffusion", "version": "2.1"}}],
        ),
        fmt,
    )
    meta = extract_metadata(write(tmp_path, f"x.{fmt.lower()}", data))
    assert meta.generator == "Dream Tool Diffusion 2.1"
    assert meta.settings["c2pa_source_type"] == "trainedAlgorithmicMedia"
    assert meta.settings["c2pa_claim_generator"] == "Dream Tool 1.0"
    assert meta.settings["content_credentials"] == "c2pa" and meta.prompt is None


def test_chatgpt_image_with_a_description(tmp_path: Path) -> None:
    info = PngInfo()
    info.add_itxt("Description", "an avocado armchair")
    data = signed(manifest("ChatGPT", [{**CREATED_AI, "softwareAgent": "GPT-4o"}]), pnginfo=info)
    meta = extract_metadata(write(tmp_path, "dalle.png", data))
    assert meta.generator == "GPT-4o" and meta.prompt == "an avocado armchair"
    assert meta.settings["c2pa_claim_generator"] == "ChatGPT 1.0"


def test_firefly_composite_in_jpeg(tmp_path: Path) -> None:
    data = signed(
        manifest(
            "Adobe Photoshop",
            [
                {
                    "action": "c2pa.edited",
                    "softwareAgent": "Adobe Firefly",
                    "digitalSourceType": IPTC + "compositeWithTrainedAlgorithmicMedia",
                }
            ],
            claim_version=1,
        ),
        "JPEG",
    )
    meta = extract_metadata(write(tmp_path, "fill.jpg", data))
    assert meta.generator == "Adobe Firefly"
    assert meta.settings["c2pa_source_type"] == "compositeWithTrainedAlgorithmicMedia"


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_a_camera_capture_is_not_generated(tmp_path: Path, fmt: str) -> None:
    data = signed(
        manifest(
            "Leica M11-P",
            [{"action": "c2pa.created", "digitalSourceType": IPTC + "digitalCapture"}],
        ),
        fmt,
    )
    meta = extract_metadata(write(tmp_path, f"photo.{fmt.lower()}", data))
    assert meta.generator is None
    assert meta.settings["c2pa_source_type"] == "digitalCapture"
    assert meta.settings["c2pa_claim_generator"] == "Leica M11-P 1.0"
    assert "Generated" not in str(meta.fields())


def test_a_colour_edit_in_an_editor_is_not_generated(tmp_path: Path) -> None:
    data = signed(
        manifest(
            "Adobe Photoshop",
            [{"action": "c2pa.color_adjustments", "softwareAgent": "Adobe Photoshop 25.0"}],
            claim_version=1,
        )
    )
    meta = extract_metadata(write(tmp_path, "edit.png", data))
    assert meta.generator is None
    assert meta.settings["c2pa_tool"] == "Adobe Photoshop 25.0"
    assert meta.settings["c2pa_actions"] == ["c2pa.color_adjustments"]
    assert "c2pa_source_type" not in meta.settings


def test_an_edit_of_a_generated_image_keeps_its_source(tmp_path: Path) -> None:
    parent = signed(
        manifest("Image Maker", [{**CREATED_AI, "softwareAgent": "Image Maker"}], claim_version=1)
    )
    data = signed(
        manifest(
            "Adobe Photoshop",
            [{"action": "c2pa.opened"}, {"action": "c2pa.cropped"}],
            claim_version=1,
        ),
        parent=parent,
    )
    meta = extract_metadata(write(tmp_path, "cropped.png", data))
    assert meta.generator == "Image Maker"
    assert meta.settings["c2pa_source_type"] == "trainedAlgorithmicMedia"


def test_a_damaged_manifest_is_one_reason_and_no_label(tmp_path: Path) -> None:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, "PNG")
    data = buf.getvalue()
    body = b"\x00\x00\x00\x20jumb\x00\x00\x00\x18jumdc2pa\x00claim_generator: ChatGPT DALL"
    chunk = (
        struct.pack(">I", len(body))
        + b"caBX"
        + body
        + struct.pack(">I", zlib.crc32(b"caBX" + body))
    )
    at = data.rindex(b"IEND") - 4
    meta = extract_metadata(write(tmp_path, "bad.png", data[:at] + chunk + data[at:]))
    assert meta.generator is None
    assert meta.settings == {"content_credentials": "c2pa (not read)"}
    issue = meta.fields()["metadata_issue"]
    assert issue and issue.startswith("C2PA manifest: not readable") and "\n" not in issue


def test_without_the_library_the_manifest_is_reported_not_guessed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    data = signed(manifest("ChatGPT", [CREATED_AI]))
    monkeypatch.setitem(sys.modules, "c2pa", None)
    meta = extract_metadata(write(tmp_path, "x.png", data))
    assert meta.generator is None
    assert "c2pa-python is not installed" in str(meta.fields()["metadata_issue"])


# ---------------------------------------------------------------- the manifest store's JSON
def store(active: dict[str, Any], **others: dict[str, Any]) -> dict[str, Any]:
    return {"active_manifest": "a", "manifests": {"a": active, **others}}


def test_facts_of_a_v1_manifest() -> None:
    facts = manifest_facts(
        store(
            {
                "claim_generator": "Adobe_Illustrator/28.0 adobe_c2pa/0.7.6 c2pa-rs/0.25.2",
                "assertions": [
                    {
                        "label": "c2pa.actions",
                        "data": {
                            "actions": [
                                {
                                    "action": "c2pa.created",
                                    "softwareAgent": "Adobe Firefly",
                                    "digitalSourceType": IPTC + "trainedAlgorithmicMedia",
                                }
                            ]
                        },
                    }
                ],
            }
        )
    )
    assert facts == {
        "claim_generator": "Adobe_Illustrator/28.0 adobe_c2pa/0.7.6 c2pa-rs/0.25.2",
        "actions": ["c2pa.created"],
        "source_type": "trainedAlgorithmicMedia",
        "tool": "Adobe Firefly",
        "generator": "Adobe Firefly",
    }


def test_facts_without_a_tool_name_the_claim_generator() -> None:
    facts = manifest_facts(
        store(
            {
                "claim_generator_info": [{"name": "Bing Image Creator"}],
                "assertions": [
                    {
                        "label": "c2pa.actions.v2",
                        "data": {
                            "actions": [
                                {
                                    "action": "c2pa.created",
                                    "digitalSourceType": IPTC + "algorithmicMedia",
                                }
                            ]
                        },
                    }
                ],
            }
        )
    )
    assert facts["generator"] == "Bing Image Creator" and facts["tool"] == "Bing Image Creator"


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"manifests": []},
        {"active_manifest": "x", "manifests": {"a": {}}},
        store({"assertions": "no"}),
        store({"assertions": [{"label": "c2pa.actions", "data": {"actions": [3]}}]}),
    ],
)
def test_odd_stores_give_no_facts_and_no_error(broken: dict[str, Any]) -> None:
    assert "generator" not in manifest_facts(broken)


def test_names() -> None:
    assert source_type_name(IPTC + "digitalCapture/") == "digitalCapture"
    assert source_type_name("  ") is None and source_type_name(3) is None
    assert generator_name("DALL·E 3") == "DALL-E" and generator_name("Foo 1") == "Foo 1"


def test_parse_of_raw_texts() -> None:
    import json

    from cdir.ingest.metadata.c2pa import MANIFEST_KEY, parse
    from cdir.ingest.metadata.result import RawMetadata

    assert parse(RawMetadata()) is None
    marker_only = RawMetadata(markers={"c2pa": b"jumb"})
    meta = parse(marker_only)
    assert meta is not None and meta.settings == {"content_credentials": "c2pa (not read)"}
    found = RawMetadata(markers={"c2pa": b"x"})
    found.add("Title", "a title")
    found.add("xmp:description", "an owl")
    found.add(MANIFEST_KEY, json.dumps(store({"claim_generator": "Cam 1", "assertions": []})))
    meta = parse(found)
    assert meta is not None and meta.prompt == "an owl" and meta.source == "xmp:description"
    assert meta.generator is None and meta.settings == {
        "content_credentials": "c2pa",
        "c2pa_claim_generator": "Cam 1",
    }
    damaged = RawMetadata()
    damaged.add(MANIFEST_KEY, "{not json")
    assert parse(damaged).settings == {"content_credentials": "c2pa (not read)"}
    assert damaged.issues == [f"C2PA {MANIFEST_KEY}: damaged JSON (not read)"]


def test_facts_fall_back_to_the_claim_generator_then_to_c2pa() -> None:
    created = {"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia"}
    actions = [{"label": "c2pa.actions", "data": {"actions": [created]}}]
    assert (
        manifest_facts(store({"claim_generator": "Gen/1.0", "assertions": actions}))["generator"]
        == "Gen/1.0"
    )
    assert manifest_facts(store({"assertions": actions}))["generator"] == "C2PA"


def test_every_actions_assertion_counts() -> None:
    facts = manifest_facts(
        store(
            {
                "claim_generator_info": [{"name": " ", "version": "1"}],
                "claim_generator": "Old Tool 2",
                "assertions": [
                    "not an assertion",
                    {"label": "c2pa.hash.data", "data": {}},
                    {"label": "c2pa.actions", "data": {"actions": [{"action": "c2pa.opened"}]}},
                    {
                        "label": "c2pa.actions__1",
                        "data": {
                            "actions": [
                                {"action": "c2pa.edited", "softwareAgent": {"name": "Brush"}},
                                {"action": "c2pa.placed", "softwareAgent": {"name": 3}},
                            ]
                        },
                    },
                ],
            }
        )
    )
    assert facts["actions"] == ["c2pa.opened", "c2pa.edited", "c2pa.placed"]
    assert facts["tool"] == "Brush" and facts["claim_generator"] == "Old Tool 2"
    assert (
        manifest_facts(store({"claim_generator_info": [], "claim_generator": "T"}))[
            "claim_generator"
        ]
        == "T"
    )


def test_only_the_parent_ingredient_is_followed() -> None:
    made = {
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": IPTC + "trainedAlgorithmicMedia",
                            "softwareAgent": "Maker",
                        }
                    ]
                },
            }
        ]
    }
    edit = {
        "assertions": [],
        "ingredients": [{"relationship": "componentOf", "active_manifest": "m"}],
    }
    assert "source_type" not in manifest_facts(store(edit, m=made))
    edit["ingredients"].append({"relationship": "parentOf", "active_manifest": 7})
    assert "source_type" not in manifest_facts(store(edit, m=made))
    edit["ingredients"][-1]["active_manifest"] = "m"
    assert manifest_facts(store(edit, m=made))["generator"] == "Maker"


def test_source_type_without_a_namespace() -> None:
    assert source_type_name("digitalCapture") == "digitalCapture"
    assert source_type_name("http://x/y/trainedAlgorithmicMedia") == "trainedAlgorithmicMedia"
