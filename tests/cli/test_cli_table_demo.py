"""`labelloop demo --dataset wine` and `labelloop import` of table rows (CSV, Parquet)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labelloop.cli import serving
from labelloop.config import Settings
from labelloop.govern.permissions import Permission
from labelloop.store.db import Database
from labelloop.workflow import accounts, projects, tasks
from labelloop.workflow.learning import Learner

SCHEMA = {
    "name": "Flowers",
    "data": {"type": "table", "field": "row", "columns": ["petal_length", "colour"]},
    "controls": [{"name": "kind", "type": "choice", "labels": ["iris", "rose"], "target": True}],
}


def test_wine_demo_builds_a_table_project_with_an_eval_split(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[list[dict[str, Any]]] = []

    def first_page(settings: Settings, on_ready: Any = None) -> None:
        """What the labeling page, opened as the server starts, is served: ten asks at once."""
        db = Database(settings.db_url)
        try:
            admin = accounts.user_by_name(db, "admin")
            assert admin is not None
            ctx = projects.access(db, "wine", admin, Permission.ANNOTATE)
            tasks_now: list[dict[str, Any]] = []
            for _ in range(10):
                task = tasks.next_task(db, ctx, held=[t["assignment_id"] for t in tasks_now])
                if task is not None:
                    tasks_now.append(task)
            served.append(tasks_now)
        finally:
            db.dispose()

    monkeypatch.setattr(serving, "_serve", first_page)
    out = cli("demo", "--dataset", "wine", "--no-browser").output
    assert "demo project 'wine': 128 wines to label, 50 held out" in out
    # The first round ran before serving: a full queue, each pick with the cold start's reason.
    [first] = served
    assert len({t["item"]["id"] for t in first}) == 10
    assert all(t["selection"]["reason"].startswith("typical of a group") for t in first)
    status = json.loads(cli("status", "wine", "--json").output)
    assert status["counts"]["pool"] == 128
    assert (status["model"]["version"], status["model"]["cold_start"]) == (1, True)
    # The server's learner finds that round done: nothing due, no second round.
    db = Database(cli.db_url)
    try:
        assert Learner(db).run_once() == 0
    finally:
        db.dispose()
    assert json.loads(cli("status", "wine", "--json").output)["model"]["version"] == 1
    again = cli("demo", "--dataset", "wine", "--no-browser").output
    assert "already exists" in again
    assert len(served) == 2  # served as it was: no round of its own
    assert json.loads(cli("status", "wine", "--json").output)["model"]["version"] == 1


def test_the_demo_takes_a_featurizer_the_data_can_use_and_leaves_nothing_otherwise(
    cli: Any,
) -> None:
    refused = cli("demo", "--dataset", "wine", "--featurizer", "tfidf", "--no-browser", code=1)
    assert "'tfidf' reads text or html items; this project's data is table" in refused.output
    assert cli.served == []  # nothing served, no account or project made
    made = cli("demo", "--dataset", "wine", "--featurizer", "table", "--no-browser").output
    assert "sign in as admin with password" in made  # the first run's account, shown once
    assert json.loads(cli("status", "wine", "--json").output)["featurizer"] == "table"
    again = cli("demo", "--dataset", "wine", "--featurizer", "pixels", "--no-browser").output
    assert "it keeps the featurizer it was made with, table" in again


def test_an_unknown_demo_dataset_lists_the_known_ones(cli: Any) -> None:
    out = cli("demo", "--dataset", "titanic", "--no-browser", code=1).output
    assert "wine" in out and "digits" in out


def test_import_csv_and_parquet_rows_into_a_table_project(cli: Any, tmp_path: Path) -> None:
    schema = tmp_path / "flowers.json"
    schema.write_text(json.dumps(SCHEMA))
    cli("init")
    cli("projects", "create", "flowers", "--schema", str(schema))
    rows = tmp_path / "flowers.csv"
    rows.write_text("id,petal_length,colour,kind\n1,4.5,blue,iris\n2,6.1,red,\n3,4.4,blue,\n")
    done = json.loads(
        cli(
            "import", "flowers", str(rows), "--id-field", "id", "--label-field", "kind", "--json"
        ).output
    )
    assert (done["items"], done["labeled"]) == (3, 1)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,petal_length\n9,4.0\n")
    refused = cli("import", "flowers", str(bad), code=1).output
    assert "line 1" in refused and "colour" in refused
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    parquet = tmp_path / "more.parquet"
    pq.write_table(pa.table({"petal_length": [5.0, 5.2], "colour": ["white", None]}), parquet)
    done = json.loads(cli("import", "flowers", str(parquet), "--json").output)
    assert done["items"] == 2
