"""A user's own preset in a TOML or JSON file: accepted by --preset (CLI), the API and the app,
validated with one-line errors; local weights (open_clip local-dir layout) and a captioner's task
prompt work with random weights saved in the real layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdir import api
from cdir.models.preset_file import PresetFileError, load_preset_file
from cdir.models.presets import get_preset
from cdir.store.collection import Store


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny preset's random weights saved as a user would bring them: embedder in open_clip's
    local-dir layout, captioner with save_pretrained."""
    from cdir.models.loaded import load_models, save_models

    root = tmp_path_factory.mktemp("weights")
    save_models(load_models("tiny", device="cpu"), root)
    return root / "tiny"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_toml_preset_with_local_weights_and_a_task_prompt_ingests(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from cdir.cli import main

    path = write(
        tmp_path,
        "mine.toml",
        f'''
name = "mine"
description = "my own weights"
licence = "MIT"
[embedder]
arch = "cdir-tiny-clip"
weights = "{saved / "embedder"}"
[captioner]
kind = "blip"
hub_id = "{saved / "captioner"}"
task_prompt = "a picture of"
max_new_tokens = 5
''',
    )
    preset = load_preset_file(path)
    assert preset.name == "mine" and preset.captioner.task_prompt == "a picture of"
    assert preset.captioner.max_new_tokens == 5 and preset.source_file == str(path.resolve())
    src = tmp_path / "src" / "photo" / "red"
    src.mkdir(parents=True)
    from PIL import Image

    for i in range(2):
        Image.new("RGB", (48, 48), (200, 20 * i, 20)).save(src / f"{i}.png")
    assert (
        main(
            [
                "ingest",
                str(tmp_path / "src"),
                "--store",
                str(tmp_path / "s"),
                "--preset",
                str(path),
                "--json",
                "-q",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["preset"] == "mine" and report["counts"]["n_captioned"] == 2
    meta = Store.read_meta(tmp_path / "s")
    assert meta["preset"] == "mine" and meta["preset_file"] == str(path.resolve())
    assert "a picture of" in meta["caption_key"]
    session = api.open_collection(tmp_path / "s")
    assert session.models.preset.name == "mine"
    assert all(not str(c).startswith("a picture of") for c in session.store.items["caption"])


def test_json_works_too(saved: Path, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "j.json",
        json.dumps(
            {
                "name": "mine-json",
                "embedder": {"arch": "ViT-B-32", "pretrained": "laion2b_s34b_b79k"},
                "captioner": {
                    "kind": "florence2",
                    "hub_id": "microsoft/Florence-2-base",
                    "task_prompt": "<CAPTION>",
                    "max_new_tokens": 20,
                },
            }
        ),
    )
    preset = get_preset(str(path))
    assert preset.name == "mine-json" and get_preset("mine-json") is preset
    assert preset.captioner.kind == "florence2" and preset.quality is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\n', r"\[embedder\] must be a table"),
        ('name = "bad name!"\n[embedder]\narch = "ViT-B-32"\npretrained = "openai"\n', r"'name'"),
        (
            'name = "x"\n[embedder]\narch = "ViT-Q-99"\npretrained = "openai"\n',
            r"not an open_clip architecture",
        ),
        (
            'name = "x"\n[embedder]\narch = "ViT-B-32"\npretrained = "nope"\n',
            r"'nope' is not a tag of ViT-B-32 \(its tags: .*laion2b_s34b_b79k",
        ),
        ('name = "x"\n[embedder]\narch = "ViT-B-32"\n', r"exactly one of embedder.pretrained"),
        (
            'name = "x"\n[embedder]\narch = "ViT-B-32"\nweights = "nowhere"\n',
            r"no folder 'nowhere'",
        ),
        (
            'name = "x"\ncolour = 1\n[embedder]\narch = "ViT-B-32"\npretrained = "openai"\n',
            r"unknown key colour",
        ),
        (
            'name = "x"\n[embedder]\narch = "ViT-B-32"\npretrained = "openai"\n[captioner]\n'
            'kind = "florence2"\nhub_id = "microsoft/Florence-2-base"\n',
            r"needs captioner.task_prompt",
        ),
        (
            'name = "x"\n[embedder]\narch = "ViT-B-32"\npretrained = "openai"\n[captioner]\n'
            'kind = "blip"\nhub_id = "Salesforce/blip-image-captioning-base"\nmax_new_tokens = 0\n',
            r"max_new_tokens must be a whole number from 1 to 512",
        ),
        (
            'name = "x"\n[embedder]\narch = "ViT-B-32"\npretrained = "openai"\n[captioner]\n'
            'kind = "gpt"\n',
            r"captioner.kind must be one of",
        ),
        ('name = "default"\n[embedder]\narch = "ViT-B-32"\npretrained = "openai"\n', r"is taken"),
        ('name = "x\n', r"is not valid TOML"),
    ],
)
def test_mistakes_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "p.toml", text)
    with pytest.raises(PresetFileError, match=message) as caught:
        get_preset(str(path))
    assert "\n" not in str(caught.value) and "p.toml" in str(caught.value)


def test_a_missing_file_is_one_line_and_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(PresetFileError, match="cannot read preset file") as caught:
        get_preset(str(tmp_path / "none.toml"))
    assert isinstance(caught.value, api.user_errors())


def test_the_app_accepts_a_preset_file(saved: Path, tmp_path: Path) -> None:
    from cdir.app.first_run import startup_preset

    path = write(
        tmp_path,
        "app.toml",
        f'''
name = "mine-app"
[embedder]
arch = "cdir-tiny-clip"
weights = "{saved / "embedder"}"
''',
    )
    from cdir.models.presets import list_presets

    assert startup_preset(str(path)) == ("mine-app", "")
    assert "mine-app" in list_presets()  # the app's preset menu lists it
