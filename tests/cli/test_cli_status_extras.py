"""`labelloop status` in words: how many labels more would change the model, and how many labels
the model wants re-checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from labelloop.cli import app
from tests.conftest import SCHEMA, make_rows


@pytest.fixture
def cli(tmp_path: Path, no_labelloop_env: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    env = {"LABELLOOP_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)  # so the test's own train() opens the same store

    def run(*args: str) -> Any:
        result = CliRunner().invoke(app, list(args), env=env)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result

    return run


def _train(slug: str) -> None:
    from labelloop.cli.common import _open
    from labelloop.workflow import learning, projects

    _, db = _open()
    try:
        learning.train(db, projects.system_context(db, slug))
    finally:
        db.dispose()


def _import(cli: Any, tmp_path: Path, rows: list[dict[str, Any]], *, labeled: bool) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    extra = ("--label-field", "label") if labeled else ()
    cli("import", "sent", str(path), "--id-field", "id", *extra)


def test_status_says_how_many_labels_would_change_the_model(cli: Any, tmp_path: Path) -> None:
    cli("init")
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA))
    cli("projects", "create", "sent", "--schema", str(tmp_path / "schema.json"))
    _import(cli, tmp_path, make_rows(120), labeled=False)
    _train("sent")
    start = 1000
    for n in (3, 3, 3, 36):
        rows = make_rows(n, start=start, prefix="lab", labeled=True)
        if n > 3:  # plant wrong labels among the last batch
            for r in rows[5::8]:
                r["label"] = "neutral" if r["label"] != "neutral" else "positive"
        _import(cli, tmp_path, rows, labeled=True)
        _train("sent")
        start += n
    info = json.loads(cli("status", "sent", "--json").stdout)
    model = info["model"]
    out = cli("status", "sent").stdout
    assert model["more_labels"] is not None  # the model still moved over the last rounds
    assert f"~{model['more_labels']:,} more labels would change the model" in out
    assert model["relabel_suggestions"] >= 3
    assert f"{model['relabel_suggestions']} labels the model contradicts, flagged" in out
