"""The app's start-up warm-up loads the query models and captions once, before any visitor."""

from __future__ import annotations

import pytest

from cdir.app import warm_up


def test_warm_up_loads_the_shared_models_and_their_query_captioner(monkeypatch) -> None:  # noqa: ANN001
    from cdir import api

    monkeypatch.setattr("cdir.maps.projection.warm_up_umap", lambda: 0.0)
    warm_up.warm_up("tiny")
    models = api.get_models("tiny")
    # loaded, not waiting for the first query: the captioner queries use (int8 on the CPU)
    loaded = models._query_captioner if models.query_captions_int8 else models._captioner  # noqa: SLF001
    assert loaded is not None


def test_a_failing_warm_up_is_logged_not_raised(monkeypatch, caplog) -> None:  # noqa: ANN001
    def broken(*_: object) -> None:
        raise OSError("no weights here")

    monkeypatch.setattr(warm_up, "warm_up_models", broken)
    monkeypatch.setattr("cdir.maps.projection.warm_up_umap", lambda: 0.0)
    with caplog.at_level("WARNING"):
        warm_up.warm_up("tiny")
    assert "model warm-up failed" in caplog.text


@pytest.mark.parametrize("preset", [None])
def test_without_a_preset_only_umap_is_warmed(monkeypatch, preset) -> None:  # noqa: ANN001
    called: list[str] = []
    monkeypatch.setattr(warm_up, "warm_up_models", lambda *_: called.append("models"))
    monkeypatch.setattr("cdir.maps.projection.warm_up_umap", lambda: called.append("umap") or 0.0)
    warm_up.warm_up(preset)
    assert called == ["umap"]
