"""`labelloop demo --dataset wine` and `labelloop import` of table rows (CSV, Parquet)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SCHEMA = {
    "name": "Flowers",
    "data": {"type": "table", "field": "row", "columns": ["petal_length", "colour"]},
    "controls": [{"name": "kind", "type": "choice", "labels": ["iris", "rose"], "target": True}],
}


def test_wine_demo_builds_a_table_project_with_an_eval_split(cli: Any) -> None:
    out = cli("demo", "--dataset", "wine", "--no-browser").output
    assert "demo project 'wine': 128 wines to label, 50 held out" in out
    assert cli.served == [1]
    status = json.loads(cli("status", "wine", "--json").output)
    assert status["counts"]["pool"] == 128
    again = cli("demo", "--dataset", "wine", "--no-browser").output
    assert "already exists" in again


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
