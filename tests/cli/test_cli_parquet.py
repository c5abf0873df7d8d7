"""`labelloop import SLUG FILE.parquet` into a text project, as a pandas or datasets user makes
the file: texts, ids and labels come in; a bad row names itself and nothing is written."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import small_project

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach the Hub
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")


def _items(cli: Any, slug: str = "s") -> list[dict[str, Any]]:
    return json.loads(cli("items", slug, "--json").stdout)["items"]


def test_a_pandas_parquet_file_of_texts_imports_with_ids_and_labels(
    cli: Any, tmp_path: Path
) -> None:
    small_project(cli, tmp_path)
    frame = pd.DataFrame(
        {
            "id": ["r1", "r2", "r3", "r4"],
            "text": [
                "Broke after two days",
                "Works as promised",
                "Not tried yet",
                "works AS promised",
            ],
            "label": ["a", "b", None, "b"],
            "stars": [1.0, 5.0, float("nan"), 5.0],
        }
    )
    frame.to_parquet(tmp_path / "reviews.parquet")
    done = cli("import", "s", str(tmp_path / "reviews.parquet"), "--id-field", "id",
               "--label-field", "label")  # fmt: skip
    assert "Traceback" not in done.output
    assert "imported 3 items into s (pool), 2 with labels, 1 duplicate skipped" in done.stdout
    assert "duplicate text at row 4 " in done.stdout
    shown = {i["external_id"]: i for i in _items(cli)}
    assert set(shown) == {"r1", "r2", "r3"}
    assert (shown["r1"]["label"], shown["r3"]["label"]) == ("a", None)
    assert shown["r1"]["text"] == "Broke after two days"


def test_a_bad_parquet_row_names_itself_and_nothing_comes_in(cli: Any, tmp_path: Path) -> None:
    small_project(cli, tmp_path)
    frame = pd.DataFrame({"text": ["fine", "also fine", "odd one"], "label": ["a", "b", "c"]})
    frame.to_parquet(tmp_path / "bad.parquet")
    failed = cli("import", "s", str(tmp_path / "bad.parquet"), "--label-field", "label", code=1)
    assert "Traceback" not in failed.output
    # A Parquet file has rows, not lines: the import's own check of a label says so too.
    assert failed.stderr.strip() == "error: row 3, field 'label': c: 'c' is not one of a, b"
    # ... and so does one naming another row: the one whose id it repeats.
    frame = pd.DataFrame({"id": ["x", "y", "x"], "text": ["fine", "also fine", "odd one"]})
    frame.to_parquet(tmp_path / "twice.parquet")
    failed = cli("import", "s", str(tmp_path / "twice.parquet"), "--id-field", "id", code=1)
    assert failed.stderr.strip() == (
        "error: row 3, field 'id': id 'x' is also the id of row 1, with other content; an id "
        "names one item"
    )
    (tmp_path / "notes.parquet").write_bytes(b"id,text\n1,hello\n")
    failed = cli("import", "s", str(tmp_path / "notes.parquet"), code=1)
    assert failed.stderr.startswith("error: not a Parquet file")
    assert _items(cli) == []


def test_a_datasets_parquet_file_names_its_class_ids(cli: Any, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    small_project(cli, tmp_path)
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["a", "b"])}
    )
    data = {"text": ["first", "second", "third"], "label": [1, 0, -1]}
    datasets.Dataset.from_dict(data, features=features).to_parquet(str(tmp_path / "d.parquet"))
    done = cli("import", "s", str(tmp_path / "d.parquet"), "--label-field", "label")
    assert "imported 3 items into s (pool), 2 with labels" in done.stdout
    assert {i["text"]: i["label"] for i in _items(cli)} == {
        "first": "b",
        "second": "a",
        "third": None,
    }


def test_simulate_replays_a_parquet_file_of_texts(cli: Any, tmp_path: Path) -> None:
    from tests.cli.test_cli_simulate import two_topics

    rows = two_topics(200)
    pd.DataFrame(
        {"text": [r["text"] for r in rows], "label": [r["label"] for r in rows]}
    ).to_parquet(tmp_path / "topics.parquet")
    out = tmp_path / "sim"
    args = ("--strategies", "random", "--seeds", "1", "--budget", "40", "--out", str(out))
    done = cli("simulate", str(tmp_path / "topics.parquet"), "--label-field", "label", *args)
    assert "200 labeled records" in done.stdout
    assert json.loads((out / "results.json").read_text())["classes"] == ["cooking", "sports"]
