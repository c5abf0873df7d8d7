"""`labelloop dashboard`: a project's pace, waits, forecast, drift and alerts in the terminal."""

from __future__ import annotations

import json
from typing import Any

from labelloop.store.db import Database
from labelloop.workflow import review, tasks
from tests.conftest import Lab, make_rows


def test_the_dashboard_in_the_terminal_and_as_json(cli: Any) -> None:
    cli("init")
    lab = Lab(Database(cli.db_url))
    ctx = lab.project("p", review_policy="all", backlog_alert_min=1)
    lab.import_rows(ctx, make_rows(40))
    lab.train(ctx)
    lab.label_next(ctx, n=10, active_ms=2500)
    reviewer = lab.member("p", "rita", "reviewer")
    for _ in range(1):
        task = review.next_review(lab.db, reviewer)
        review.review_annotation(lab.db, reviewer, task["annotation"]["id"], verdict="accept")
    said = " ".join(cli("dashboard", "p", "--days", "7").stdout.split())
    assert "│ Review │ 9 annotations │" in said and "│ Labeling │ 30 items │" in said
    assert "Review sentiment: the last 7 days" in said
    assert "resolved labels" in said and "review verdicts" in said
    assert "Active time per annotation: median 2.5 s" in said
    assert "Review holds the work: 9 annotations wait" in said
    assert "Another annotator" not in said  # overlap 1: items in review wait for no one else
    assert "The pool: At 1 label a day (the last day), the 39 left take about 39 days" in said
    assert "this project has one pool import so far" in said
    assert "Needs attention" in said
    body = json.loads(cli("dashboard", "p", "--json").stdout)
    assert body["window_days"] == 30 and body["throughput"]["annotations"][-1] == 10
    assert [a["kind"] for a in body["alerts"]] == ["backlog"]
    assert "no project 'nope'" in cli("dashboard", "nope", code=1).output
    cli("dashboard", "p", "--days", "0", code=2)


def test_alerts_are_acknowledged_and_taken_back_from_the_terminal(cli: Any) -> None:
    cli("init")
    lab = Lab(Database(cli.db_url))
    ctx = lab.project("p", review_policy="all", backlog_alert_min=1)
    lab.import_rows(ctx, make_rows(30))
    lab.train(ctx)
    lab.label_next(ctx, n=6)  # review falls behind: a backlog (no learner ran to store it)
    said = " ".join(cli("alerts", "list", "p").stdout.split())
    assert said.startswith("Needs attention - backlog: Review: 6 annotations wait")
    assert "Acknowledged" not in said

    acked = cli("alerts", "ack", "p", "backlog", "--note", "retraining on Monday").stdout
    assert acked.strip() == (
        "backlog: acknowledged by the local operator just now: retraining on Monday"
    )
    said = " ".join(cli("alerts", "list", "p").stdout.split())
    assert said.startswith("Nothing else needs attention. Acknowledged - backlog: Review: 6")
    assert said.endswith("(acknowledged by the local operator just now: retraining on Monday)")
    assert "Acknowledged - backlog" in " ".join(cli("dashboard", "p").stdout.split())
    (shown,) = json.loads(cli("alerts", "list", "p", "--json").stdout)
    assert shown["acknowledged_note"] == "retraining on Monday"
    again = cli("alerts", "ack", "p", "backlog", code=1).stderr
    assert "error: the backlog alert of project 'p' was acknowledged already, by the local " in (
        " ".join(again.split())
    )

    back = json.loads(cli("alerts", "unack", "p", "backlog", "--json").stdout)
    assert back["kind"] == "backlog" and back["acknowledged_at"] is None
    assert cli("alerts", "list", "p").stdout.startswith("Needs attention")
    bad = cli("alerts", "ack", "p", "backlog", "--note", "on it\nreally", code=1).stderr
    assert "the note cannot hold control or formatting characters (found U+000A)" in bad
    assert "'panic' is no alert kind" in cli("alerts", "ack", "p", "panic", code=1).stderr
    assert "no project 'nope'" in cli("alerts", "unack", "nope", "idle", code=1).stderr


def test_how_long_ago() -> None:
    from datetime import UTC, datetime, timedelta

    from labelloop.cli.dashboard import ago

    at = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    for back, said in [
        (timedelta(seconds=30), "just now"),
        (timedelta(minutes=5), "5 min ago"),
        (timedelta(hours=2, minutes=59), "2 h ago"),
        (timedelta(days=1, hours=3), "1 day ago"),
        (timedelta(days=3), "3 days ago"),
    ]:
        assert ago((at - back).isoformat(), now=at) == said


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
    # Before anyone runs `labelloop autolabel apply`, the coverage says it would be refused, why.
    assert (
        "labelloop autolabel apply p: not yet: project 'p' has no labeled eval items; showing it "
        "right at least 95.0% of the time at a confidence from 99% to 50% needs 292 it is at "
        "least that sure of"
    ) in " ".join(said.split())
    found = json.loads(cli("coverage", "p", "--json").stdout)
    assert found["n_unlabeled"] == 40 and found["rows"][0]["precision"] is None
    assert (found["autolabel"]["ready"], found["autolabel"]["need"]) == (False, 292)
    assert "error: no project 'nope'" in cli("coverage", "nope", code=1).output


def test_coverage_names_the_confidence_an_autolabel_run_would_take(cli: Any) -> None:
    from tests.conftest import N_CLEAR, auto_project

    cli("init")
    auto_project(Lab(Database(cli.db_url)), "a", auto_label_min_accuracy=0.7)
    found = json.loads(cli("coverage", "a", "--json").stdout)["autolabel"]
    assert found["ready"] and found["chosen"] and found["covered"] >= N_CLEAR
    said = " ".join(cli("coverage", "a").stdout.split())
    assert (
        f"labelloop autolabel apply a: at least {found['confidence']:.0%} sure, the lowest the "
        f"eval items vouch for: a run labels {found['covered']} items"
    ) in said
    done = json.loads(cli("autolabel", "apply", "a", "--dry-run", "--json").stdout)
    assert (done["confidence"], done["n_labeled"]) == (found["confidence"], found["covered"])


def test_one_waiting_item_is_named_in_the_singular(cli: Any) -> None:
    cli("init")
    lab = Lab(Database(cli.db_url))
    ctx = lab.project("p", review_policy="all")
    lab.import_rows(ctx, make_rows(3))
    lab.train(ctx)
    lab.label_next(ctx, n=2)
    said = " ".join(cli("dashboard", "p").stdout.split())
    assert "│ Labeling │ 1 item │" in said and "│ Review │ 2 annotations │" in said
    # both sent back, and the first on the admin's page again: being redone, not waiting
    lab.reject_next(lab.member("p", "rita", "reviewer"), n=2)
    assert tasks.next_task(lab.db, ctx) is not None
    said = " ".join(cli("dashboard", "p").stdout.split())
    assert "│ Back with the annotator │ 1 item, 1 more being redone now │" in said


def test_the_terminal_says_which_labels_its_pace_leaves_out(cli: Any) -> None:
    cli("init")
    lab = Lab(Database(cli.db_url))
    ctx = lab.project("p")
    lab.import_rows(ctx, make_rows(20))
    lab.import_rows(ctx, make_rows(3, labeled=True, start=100), labeled=True, filename="b.jsonl")
    lab.train(ctx)
    lab.label_next(ctx, n=2)
    said = " ".join(cli("dashboard", "p").stdout.split())
    assert "Not counted here: 3 labels that came with imported items" in said


def test_the_terminal_says_how_many_compared_items_are_gold_checks(cli: Any) -> None:
    from labelloop.workflow import quality

    cli("init")
    lab = Lab(Database(cli.db_url))
    admin = lab.project("p", overlap=2)
    lab.import_rows(admin, make_rows(20))
    lab.train(admin)
    served = []
    for name in ("ann", "bob"):
        served += lab.label_next(lab.member("p", name, "annotator"), n=3)
    item = min(t["item"]["id"] for t in served)
    quality.set_gold(lab.db, admin, {"sentiment": "neutral"}, item_id=item)
    said = " ".join(cli("dashboard", "p").stdout.split())
    assert "on the 3 items labeled twice or more, 1 of them a gold check." in said
    said = " ".join(cli("quality", "p", "--n-boot", "10").stdout.split())
    assert "3 (2 annotators, 1 of the items a gold check)" in said


def test_the_terminal_reads_seconds_from_serving_to_label_as_under_a_minute(cli: Any) -> None:
    cli("init")
    lab = Lab(Database(cli.db_url))
    ctx = lab.project("p")
    lab.import_rows(ctx, make_rows(10))
    lab.train(ctx)
    lab.label_next(ctx, n=2)
    said = " ".join(cli("dashboard", "p").stdout.split())
    assert "From first served to resolved: median under 1 min, 90% within 1 min." in said
