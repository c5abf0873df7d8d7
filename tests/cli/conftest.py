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


def flag_label(
    cli: Any,
    external_id: str,
    note: str,
    *,
    guess: tuple[str, float] | None = None,
    slug: str = "sent",
) -> None:
    """Flag the label of item ``external_id`` as a likely error, with ``note`` and the label the
    model says instead with its probability (``guess``), as a round or a scan would (the
    label's probability 0.3), not sending it to review."""
    from labelloop.store import review as store_review
    from labelloop.workflow import projects

    db = Database(cli.db_url)
    try:
        ctx = projects.system_context(db, slug)
        with db.write() as conn:
            (row,) = store_review.items_by_external(
                conn, project_id=ctx.id, external_id=external_id
            )
            found = {
                "item_id": row["id"],
                "annotation_id": None,
                "user_id": None,
                "note": note,
                "score": 0.3,
                "suggestion": guess[0] if guess else None,
                "suggestion_confidence": guess[1] if guess else None,
            }
            store_review.add_label_issues(conn, ctx.id, [found], to_review=False)
    finally:
        db.dispose()
