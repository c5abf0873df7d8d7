"""A CLI runner on a fresh data dir whose `serve` step is recorded instead of started."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from labelloop.cli import app, serving
from labelloop.store.db import Database
from tests.conftest import Lab, make_rows


@pytest.fixture
def cli(tmp_path: Path, no_labelloop_env: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``cli(*args, code=0)`` runs labelloop and checks its exit code; demos do not serve."""
    env = {"LABELLOOP_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    served: list[Any] = []
    monkeypatch.setattr(serving, "_serve", lambda settings, on_ready=None: served.append(1))

    def run(*args: str, code: int = 0) -> Any:
        result = CliRunner().invoke(app, list(args), env=env)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    run.served = served  # type: ignore[attr-defined]
    run.db_url = f"sqlite:///{tmp_path / 'home' / 'labelloop.db'}"  # type: ignore[attr-defined]
    return run


def small_project(cli: Any, tmp_path: Path, slug: str = "s") -> None:
    """A fresh data dir with one two-label text project ``slug`` and nothing in it."""
    schema = tmp_path / "s.json"
    schema.write_text(
        json.dumps(
            {
                "name": "S",
                "data": {"type": "text", "field": "text"},
                "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"], "target": True}],
            }
        )
    )
    cli("init")
    cli("projects", "create", slug, "--schema", str(schema))


def trained_project(cli: Any, **settings: Any) -> tuple[Lab, Any, Any]:
    """A fresh data dir with a project "p" of ten items with a model, and its annotator ann:
    the lab, the admin's context and ann's."""
    cli("init")
    lab = Lab(Database(cli.db_url))
    ctx = lab.project("p", **settings)
    lab.import_rows(ctx, make_rows(10))
    lab.train(ctx)
    return lab, ctx, lab.member("p", "ann", "annotator")
