"""`labelloop dashboard`: a project's pace, waits, forecast, drift and alerts in the terminal."""

from __future__ import annotations

import json
from typing import Any

from labelloop.store.db import Database
from labelloop.workflow import review
from tests.conftest import Lab, make_rows


def test_the_dashboard_in_the_terminal_and_as_json(cli: Any) -> None:
    cli("init")
    lab = Lab(Database(cli.db_url))
    ctx = lab.project("p", review_policy="all")
    lab.import_rows(ctx, make_rows(40))
    lab.train(ctx)
    lab.label_next(ctx, n=10, active_ms=2500)
    reviewer = lab.member("p", "rita", "reviewer")
    for _ in range(1):
        task = review.next_review(lab.db, reviewer)
        review.review_annotation(lab.db, reviewer, task["annotation"]["id"], verdict="accept")
    said = " ".join(cli("dashboard", "p", "--days", "7").stdout.split())
    assert "Review sentiment: the last 7 days" in said
    assert "resolved labels" in said and "review verdicts" in said
    assert "Active time per annotation: median 2.5 s" in said
    assert "Review holds the work: 9 annotations wait" in said
    assert "Another annotator" not in said  # overlap 1: items in review wait for no one else
    assert "The pool: At 1 label a day (the last day), the 39 left take about 39 days" in said
    assert "this project has one import so far" in said
    assert "Needs attention" in said
    body = json.loads(cli("dashboard", "p", "--json").stdout)
    assert body["window_days"] == 30 and body["throughput"]["annotations"][-1] == 10
    assert [a["kind"] for a in body["alerts"]] == ["backlog"]
    assert "no project 'nope'" in cli("dashboard", "nope", code=1).output
    cli("dashboard", "p", "--days", "0", code=2)


def test_sparkline_heights() -> None:
    from labelloop.cli.dashboard import sparkline

    assert sparkline([0, 1, 8, 4]) == " ▁█▄"
    assert sparkline([0, 0]) == "  "


def test_coverage_in_the_terminal_and_as_json(cli: Any) -> None:
    cli("init")
    lab = Lab(Database(cli.db_url))
    ctx = lab.project("p")
    lab.import_rows(ctx, make_rows(30, labeled=True), labeled=True)
    lab.import_rows(ctx, make_rows(40, start=100), filename="more.jsonl")
    said = cli("coverage", "p").stdout
    assert "trained on 30 labels; 40 unlabeled items, 0 labeled eval items" in " ".join(
        said.split()
    )
    assert "Sure at least" in said and "99%" in said
    assert "No labeled eval items: how often the model is right cannot be measured" in " ".join(
        said.split()
    )
    found = json.loads(cli("coverage", "p", "--json").stdout)
    assert found["n_unlabeled"] == 40 and found["rows"][0]["precision"] is None
    assert "error: no project 'nope'" in cli("coverage", "nope", code=1).output
