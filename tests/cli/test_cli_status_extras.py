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


def _project(cli: Any, tmp_path: Path) -> None:
    """A fresh data dir holding the single-choice project 'sent'."""
    cli("init")
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA))
    cli("projects", "create", "sent", "--schema", str(tmp_path / "schema.json"))


def _import(cli: Any, tmp_path: Path, rows: list[dict[str, Any]], *, labeled: bool) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    extra = ("--label-field", "label") if labeled else ()
    cli("import", "sent", str(path), "--id-field", "id", *extra)


def test_status_says_how_many_labels_would_change_the_model(cli: Any, tmp_path: Path) -> None:
    _project(cli, tmp_path)
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
    more = model["more_labels"]
    plural = "label" if more == 1 else "labels"
    assert f"About {more:,} more {plural} would change 1% of the model's predictions." in out
    assert info["open_label_issues"] == model["relabel_suggestions"] >= 3  # no other flags yet
    assert f"{info['open_label_issues']} labels the model contradicts, flagged" in out
    # The page's "Keep labeling." verdict, which the terminal and the API did not give.
    verdict = info["stop_verdict"]
    assert verdict["sentence"] == "The model is still learning from new labels."
    said = " ".join(out.replace("│", " ").split())
    assert f"stop? Keep labeling. {verdict['sentence']}" in said
    # each rule's row names the rule, as the project page does; it gave the reason alone
    for d in model["stopping"]:
        assert f"{d['criterion']}: {d['reason']}" in said


def test_status_leads_with_the_stop_verdict_the_project_page_and_api_give(
    cli: Any, tmp_path: Path
) -> None:
    # The page and the API said "The label budget is spent, though by its other rules the
    # model is still learning."; the terminal listed the rules' rows without that verdict.
    _project(cli, tmp_path)
    cli("projects", "set", "sent", "budget=6")
    _import(cli, tmp_path, make_rows(60), labeled=False)
    _train("sent")
    _import(cli, tmp_path, make_rows(8, start=1000, prefix="lab", labeled=True), labeled=True)
    _train("sent")
    model = json.loads(cli("status", "sent", "--json").stdout)["model"]
    assert model["stop_sentence"] == (
        "The label budget is spent, though by its other rules the model is still learning."
    )
    said = " ".join(cli("status", "sent").stdout.replace("│", " ").split())
    assert f"STOP recommended {model['stop_sentence']}" in said
    assert "label budget of 6 reached (8 labels)" in said


def _planted(n: int, *, start: int) -> list[dict[str, Any]]:
    """``n`` labeled rows, every eighth (from the sixth) filed under a wrong class."""
    rows = make_rows(n, start=start, prefix="lab", labeled=True)
    for r in rows[5::8]:
        r["label"] = "neutral" if r["label"] != "neutral" else "positive"
    return rows


def test_status_counts_every_open_label_issue_as_the_quality_report_does(
    cli: Any, tmp_path: Path
) -> None:
    # The round flags its own re-label list; wrong labels that arrive after it are flagged
    # only by the scan. Status said the round's number while the Quality page said the total.
    _project(cli, tmp_path)
    _import(cli, tmp_path, make_rows(60), labeled=False)
    _import(cli, tmp_path, _planted(48, start=1000), labeled=True)
    _train("sent")
    _import(cli, tmp_path, _planted(48, start=2000), labeled=True)
    scan = json.loads(cli("quality", "sent", "--scan", "--json").stdout)["scan"]
    assert scan["flagged"] > 0

    info = json.loads(cli("status", "sent", "--json").stdout)
    report = json.loads(cli("quality", "sent", "--json").stdout)
    issues = report["flags"]["open_by_kind"]["label_issue"]
    assert info["open_label_issues"] == issues
    # The scan's flags count too; the round's the scan's model now agrees with closed.
    assert info["model"]["relabel_suggestions"] > 0
    assert issues == info["model"]["relabel_suggestions"] + scan["flagged"] - scan["closed"]
    said = " ".join(cli("status", "sent").stdout.replace("│", " ").split())
    assert f"{issues} labels the model contradicts, flagged" in said
    # ...and names the command that lists them (`labelloop quality` only counts them)
    assert "(`labelloop items sent --status flagged` lists them" in said
    listed = json.loads(cli("items", "sent", "--status", "flagged", "--json").stdout)
    assert listed["total"] >= issues


def test_status_says_where_the_eval_metric_will_come_from(cli: Any, tmp_path: Path) -> None:
    _project(cli, tmp_path)
    _import(cli, tmp_path, make_rows(40), labeled=False)
    _train("sent")  # cold start, no eval items
    assert "no labeled eval items (import some with --split eval)" in cli("status", "sent").stdout

    path = tmp_path / "eval.jsonl"
    rows = make_rows(12, start=500, prefix="ev", labeled=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cli(
        "import", "sent", str(path), "--id-field", "id", "--label-field", "label", "--split", "eval"
    )
    _train("sent")  # still a cold start: no labels in the pool
    out = cli("status", "sent").stdout
    assert "12 labeled items; measured from the first model trained on labels" in out
    assert "no labeled eval items" not in out
    assert "eval items     │ 12 " in out and "without a label" not in out
    unlabeled = tmp_path / "eval-open.jsonl"
    unlabeled.write_text(
        "".join(json.dumps(r) + "\n" for r in make_rows(3, start=900, prefix="eo"))
    )
    cli("import", "sent", str(unlabeled), "--id-field", "id", "--split", "eval")
    assert "15  (3 without a label)" in cli("status", "sent").stdout


def test_status_shows_the_eval_by_cohort_worst_first(cli: Any, tmp_path: Path) -> None:
    # eval items tagged {"cohort": ...}: "airline" labeled as their words say, "[bank]" (a name
    # rich would read as markup) labeled with the next class, so the model misses every one
    _project(cli, tmp_path)
    _import(cli, tmp_path, make_rows(60, labeled=True), labeled=True)
    classes = SCHEMA["controls"][0]["labels"]
    good = [{**r, "cohort": "airline"} for r in make_rows(12, start=500, prefix="a", labeled=True)]
    bad = [
        {**r, "label": classes[(classes.index(r["label"]) + 1) % 3], "cohort": "[bank]"}
        for r in make_rows(12, start=600, prefix="b", labeled=True)
    ]
    path = tmp_path / "eval.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in good + bad))
    cli(
        "import", "sent", str(path), "--id-field", "id", "--label-field", "label", "--split", "eval"
    )
    out = cli("status", "sent").stdout
    assert "Eval by cohort" not in out  # no model yet
    _train("sent")
    out = cli("status", "sent").stdout
    assert "Eval by cohort (model v1), worst first" in out
    lines = [" ".join(line.replace("│", " ").split()) for line in out.splitlines()]
    rows = [line for line in lines if line.startswith(("[bank]", "airline"))]
    assert rows == [
        "[bank] 12 0.000 0.000–0.242 0.000 -0.500 below overall",
        "airline 12 1.000 0.757–1.000 1.000 +0.500",
    ]
    model = json.loads(cli("status", "sent", "--json").stdout)["model"]
    assert model["metrics"]["accuracy"] == 0.5
    assert [c["cohort"] for c in model["cohorts"]["cohorts"]] == ["[bank]", "airline"]
    assert model["cohorts"]["note"] is None  # every eval item is in a row


def test_status_of_a_boxes_project_says_only_its_budget_can_stop_it(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It said "settled_predictions needs a trained round" after every round, forever.
    from PIL import Image

    media = tmp_path / "media"
    media.mkdir()
    for i in range(3):
        Image.new("L", (16, 16), 40 * i).save(media / f"img{i}.png")
    monkeypatch.setenv("LABELLOOP_MEDIA_ROOTS", str(media))
    schema = tmp_path / "pets.json"
    schema.write_text(
        json.dumps(
            {
                "name": "Pets",
                "data": {"type": "image", "field": "image"},
                "controls": [{"name": "objects", "type": "boxes", "labels": ["cat", "dog"]}],
            }
        )
    )
    rows = tmp_path / "images.jsonl"
    rows.write_text(
        "".join(json.dumps({"id": f"i{i}", "image": f"img{i}.png"}) + "\n" for i in range(3))
    )
    cli("init")
    cli("projects", "create", "pets", "--schema", str(schema))
    cli("import", "pets", str(rows), "--id-field", "id")
    _train("pets")
    out = " ".join(cli("status", "pets").output.split())
    assert "needs a trained round" not in out
    assert "only the label budget can recommend stopping, and none is set" in out
