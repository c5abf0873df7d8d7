"""A CLI runner on a fresh data dir whose `serve` step is recorded instead of started."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from labelloop.cli import app, serving


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
