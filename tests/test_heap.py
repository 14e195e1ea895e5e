"""tokensmith serve freezes what start-up left alive; an embedding application keeps its GC."""

from __future__ import annotations

import gc
from typing import Any

from click.testing import CliRunner
from starlette.testclient import TestClient

import tokensmith.cli
from tokensmith.app import create_app


def test_a_frozen_app_exempts_the_startup_heap_while_it_serves(make_settings):
    app = create_app(make_settings(), freeze_heap=True)
    assert gc.get_freeze_count() == 0
    with TestClient(app) as client:
        assert gc.get_freeze_count() > 10_000  # modules, settings, statements, caches
        assert client.get("/healthz").status_code == 200
    assert gc.get_freeze_count() == 0  # given back at shutdown


def test_an_embedded_app_leaves_the_collector_alone(make_settings):
    with TestClient(create_app(make_settings())) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() == 0


def test_serve_builds_a_frozen_app(monkeypatch, tmp_path):
    built: list[dict[str, Any]] = []
    real_create_app = tokensmith.cli.create_app

    def recording_create_app(*args: Any, **kwargs: Any) -> Any:
        built.append(kwargs)
        return real_create_app(*args, **kwargs)

    monkeypatch.setattr(tokensmith.cli, "create_app", recording_create_app)
    monkeypatch.setattr(tokensmith.cli.uvicorn, "run", lambda app, **options: None)
    config = tmp_path / "tokensmith.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    result = CliRunner().invoke(tokensmith.cli.main, ["serve", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert built == [{"freeze_heap": True}]
