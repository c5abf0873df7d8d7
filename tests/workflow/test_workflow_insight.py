"""The dashboard as a manager reads it: labels per day, time per label, where work waits, when
the pool is done, whether the newest import drifts, and what needs attention."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from labelloop.errors import PermissionDenied
from labelloop.store.tables import annotation, item, item_label
from labelloop.store.users import now
from labelloop.workflow import insight, review, tasks
from tests.conftest import Lab, make_rows


def _move_back(lab: Lab, item_ids: list[int], days: int) -> None:
    """Pretend these items were labeled ``days`` days ago."""
    back = now() - timedelta(days=days)
    with lab.db.write() as conn:
        conn.execute(
            update(annotation).where(annotation.c.item_id.in_(item_ids)).values(created_at=back)
        )
        conn.execute(
            update(item_label).where(item_label.c.item_id.in_(item_ids)).values(decided_at=back)
        )


def test_labels_per_day_time_per_label_and_the_forecast(lab: Lab) -> None:
    ctx = lab.project("p")
    lab.import_rows(ctx, make_rows(60))
    lab.train(ctx)
    served = lab.label_next(ctx, n=12, active_ms=2000)
    _move_back(lab, [t["item"]["id"] for t in served[:4]], days=2)
    found = insight.report(lab.db, ctx, days=7)
    t = found["throughput"]
    assert len(t["days"]) == 7 and t["days"][-1] == now().date().isoformat()
    assert t["resolved"] == [0, 0, 0, 0, 4, 0, 8]
    assert t["annotations"] == [0, 0, 0, 0, 4, 0, 8]
    assert found["time"]["active"]["median_s"] == 2.0
    assert found["time"]["active"]["labels_per_hour"] == 1800
    (me,) = found["annotators"]
    assert me["username"] == "admin" and me["annotations"] == 12 and me["last_7_days"] == 12
    assert me["per_day"] == [0, 0, 0, 0, 4, 0, 8]
    pool = found["forecast"]["pool"]
    # Labeling began three days ago: 12 labels over those 3 days, 48 items left.
    assert pool["state"] == "forecast" and pool["based_on_days"] == 3
    assert pool["per_day"] == 4.0 and pool["days"] == 12.0
    assert found["counts"]["remaining"] == 48
    mix = found["label_mix"]
    assert mix["labels"] == ["negative", "neutral", "positive"]
    assert sum(w["total"] for w in mix["weeks"]) == 12
    assert mix["weeks"][-1]["partial"]  # this week is not over


def test_a_budget_gets_its_own_forecast(lab: Lab) -> None:
    ctx = lab.project("b", budget=20)
    lab.import_rows(ctx, make_rows(60))
    lab.train(ctx)
    lab.label_next(ctx, n=10)
    found = insight.report(lab.db, ctx, days=7)
    assert found["forecast"]["budget"]["remaining"] == 10
    assert found["forecast"]["pool"]["remaining"] == 50


def test_review_that_does_not_keep_up_is_the_bottleneck_until_it_clears(lab: Lab) -> None:
    ctx = lab.project("r", review_policy="all")
    lab.import_rows(ctx, make_rows(30))
    lab.train(ctx)
    served = lab.label_next(ctx, n=6)
    found = insight.report(lab.db, ctx, days=7)
    # Six answers a moment old with no verdict yet are a moment's work: labeling holds it.
    assert found["bottleneck"]["key"] == "label"
    _move_back(lab, [t["item"]["id"] for t in served], days=3)
    found = insight.report(lab.db, ctx, days=7)
    stages = {s["key"]: s for s in found["stages"]}
    assert stages["review"]["waiting"] == 6 and stages["review"]["arrived"] == 6
    assert stages["review"]["cleared"] == 0
    assert stages["label"]["waiting"] == 24 and stages["label"]["cleared"] == 6
    # Labeling began 3 days ago: 24 items at 6 in 4 days take 16 days; 6 answers with no
    # verdict for 3 days, at one in those 3 days at most, take 18.
    assert stages["label"]["days_to_clear"] == 16.0
    neck = found["bottleneck"]
    assert neck["key"] == "review" and neck["growing"]
    assert "6 annotations wait, the oldest for 3 days" in neck["sentence"]
    # Six in review are the everyday flow, not yet a backlog to alert on (backlog_alert_min 10).
    assert found["alerts"] == []
    lab.label_next(ctx, n=4)
    found = insight.report(lab.db, ctx, days=7)
    assert [a["kind"] for a in found["alerts"]] == ["backlog"]
    assert "Review: 10 annotations wait" in found["alerts"][0]["message"]
    assert found["bottleneck"]["key"] == "review"
    # A reviewer accepts all ten: review no longer holds anything.
    reviewer = lab.member("r", "rita", "reviewer")
    for _ in range(10):
        task = review.next_review(lab.db, reviewer)
        review.review_annotation(lab.db, reviewer, task["annotation"]["id"], verdict="accept")
    found = insight.report(lab.db, ctx, days=7)
    stages = {s["key"]: s for s in found["stages"]}
    assert stages["review"]["waiting"] == 0 and stages["review"]["cleared"] == 10
    assert found["bottleneck"]["key"] == "label"
    assert found["throughput"]["reviews"][-1] == 10
    assert "backlog" not in [a["kind"] for a in found["alerts"]]


def _reviewed(lab: Lab, slug: str, *, answers: int) -> tuple[Any, Any, dict[str, Any]]:
    """A project of 30 items reviewing every answer, ``answers`` given, and reviewer rita
    holding the first on her page: the project, rita and what her page shows."""
    ctx = lab.project(slug, review_policy="all")
    lab.import_rows(ctx, make_rows(30))
    lab.train(ctx)
    lab.label_next(ctx, n=answers)
    rita = lab.member(slug, "rita", "reviewer")
    held = review.next_review(lab.db, rita)
    assert held is not None
    return ctx, rita, held


def test_one_item_sent_back_is_not_the_bottleneck_over_answers_waiting_for_review(
    lab: Lab,
) -> None:
    """One answer rejected a moment ago, none redone yet, beside seven waiting for a verdict:
    review holds the work (7 at the 1 verdict a day given), not rework, which was named while
    a stage that cleared nothing ranked first."""
    ctx, reviewer, task = _reviewed(lab, "rj", answers=8)
    review.review_annotation(
        lab.db, reviewer, task["annotation"]["id"], verdict="reject", comment="no"
    )
    found = insight.report(lab.db, ctx, days=7)
    stages = {s["key"]: s for s in found["stages"]}
    assert (stages["rework"]["waiting"], stages["rework"]["cleared"]) == (1, 0)
    assert (stages["review"]["waiting"], stages["review"]["cleared"]) == (7, 1)
    assert (stages["label"]["waiting"], stages["label"]["cleared"]) == (22, 8)
    neck = found["bottleneck"]
    assert neck["key"] == "review" and neck["days_to_clear"] == 7.0
    assert neck["sentence"].startswith("Review holds the work: 7 annotations wait")


def test_a_new_import_unlike_the_labeled_items_is_reported_with_its_words(lab: Lab) -> None:
    ctx = lab.project("d")
    lab.import_rows(ctx, make_rows(90, labeled=True), labeled=True, filename="first.jsonl")
    found = insight.report(lab.db, ctx, days=7)
    assert found["drift"]["state"] == "one_import"
    # A held-out eval import is a second import on the Imports list, not one drift compares:
    # the sentence says which imports it counts, so it does not read as a miscount.
    lab.import_rows(ctx, make_rows(30, start=900, labeled=True), labeled=True, split="eval")
    found = insight.report(lab.db, ctx, days=7)
    assert found["drift"]["state"] == "one_import"
    assert found["drift"]["sentence"].endswith(
        "(eval imports are not); this project has one pool import so far."
    )
    lab.import_rows(ctx, make_rows(60, start=500), filename="like.jsonl")
    found = insight.report(lab.db, ctx, days=7)
    assert found["drift"]["state"] == "similar", found["drift"]
    assert found["drift"]["batch"]["filename"] == "like.jsonl"
    assert "drift" not in [a["kind"] for a in found["alerts"]]
    shifted = [
        {"id": f"x-{i}", "text": f"refund for the invoice charged twice to order {i}"}
        for i in range(60)
    ]
    lab.import_rows(ctx, shifted, filename="billing.jsonl")
    found = insight.report(lab.db, ctx, days=7)
    d = found["drift"]
    assert d["state"] == "shifted" and d["batch"]["filename"] == "billing.jsonl"
    assert {"refund", "invoice"} <= set(d["markers"])
    assert not {"for", "the", "to"} & set(d["markers"])  # words a lead can act on
    assert d["sentence"].endswith(f"they stand out by: {', '.join(d['markers'])}).")
    assert [a["kind"] for a in found["alerts"]] == ["drift"]


def test_too_few_labeled_items_to_compare(lab: Lab) -> None:
    ctx = lab.project("f")
    lab.import_rows(ctx, make_rows(40), filename="a.jsonl")
    lab.import_rows(ctx, make_rows(40, start=100), filename="b.jsonl")
    d = insight.report(lab.db, ctx, days=7)["drift"]
    assert d["state"] == "too_few" and "0 labeled before it and 40 in it" in d["sentence"]


def test_annotators_do_not_read_the_dashboard(lab: Lab) -> None:
    lab.project("p")
    annotator = lab.member("p", "ann", "annotator")
    with pytest.raises(PermissionDenied):
        insight.report(lab.db, annotator)
    reviewer = lab.member("p", "rev", "reviewer")
    assert insight.report(lab.db, reviewer)["project"]["slug"] == "p"


@pytest.mark.parametrize("days", [1, 400])
def test_the_window_is_bounded(lab: Lab, days: int) -> None:
    ctx = lab.project("w")
    found = insight.report(lab.db, ctx, days=days)
    assert found["window_days"] == min(days, insight.MAX_DAYS)
    assert len(found["throughput"]["days"]) == found["window_days"]


def test_an_idle_project_says_so(lab: Lab) -> None:
    ctx = lab.project("i")
    lab.import_rows(ctx, make_rows(30))
    lab.train(ctx)
    served = lab.label_next(ctx, n=5)
    _move_back(lab, [t["item"]["id"] for t in served], days=5)
    found = insight.report(lab.db, ctx, days=30)
    idle = [a for a in found["alerts"] if a["kind"] == "idle"]
    assert idle and "25 items remain" in idle[0]["message"]
    lab.label_next(ctx, n=1)
    assert "idle" not in [a["kind"] for a in insight.report(lab.db, ctx, days=30)["alerts"]]


def test_annotators_who_disagree_are_reported(lab: Lab) -> None:
    ctx = lab.project("o", overlap=2)
    lab.import_rows(ctx, make_rows(24))
    lab.train(ctx)
    careful = lab.member("o", "ann", "annotator")
    careless = lab.member("o", "bob", "annotator")
    _label_as(lab, careful, 24)
    _label_as(lab, careless, 24, answer=lambda truth: "neutral")
    found = insight.report(lab.db, ctx, days=7)
    assert found["agreement"]["n_items"] == 24
    assert found["agreement"]["alpha"] < insight.LOW_ALPHA
    (alert,) = [a for a in found["alerts"] if a["kind"] == "agreement"]
    assert "on the 24 items labeled twice or more" in alert["message"]
    stages = {s["key"]: s for s in found["stages"]}
    assert stages["overlap"]["waiting"] == 0 and stages["overlap"]["cleared"] == 24


def test_the_agreement_alert_says_how_many_of_its_items_are_gold_checks(lab: Lab) -> None:
    # As the dashboard's agreement card does: a manager who reads the stored alert on the
    # projects list learns that gold checks are among the compared items.
    from labelloop.store.tables import alert
    from labelloop.workflow import quality

    ctx = lab.project("og", overlap=2)
    lab.import_rows(ctx, make_rows(24))
    lab.train(ctx)
    _label_as(lab, lab.member("og", "ann", "annotator"), 24)
    _label_as(lab, lab.member("og", "bob", "annotator"), 24, answer=lambda truth: "neutral")
    with lab.db.read() as conn:
        first = conn.execute(select(item.c.id).order_by(item.c.id).limit(2)).scalars().all()
    for i in first:
        quality.set_gold(lab.db, ctx, {"sentiment": "negative"}, item_id=i)
    found = insight.report(lab.db, ctx, days=7)
    assert found["agreement"]["items"] == "24 items labeled twice or more, 2 of them gold checks"
    assert "agreement" in insight.refresh_alerts(lab.db, ctx)["raised"]
    with lab.db.read() as conn:
        (stored,) = conn.execute(select(alert.c.message).where(alert.c.kind == "agreement"))
    assert "on the 24 items labeled twice or more in the last 7 days, 2 of them gold checks " in (
        stored.message
    )


def test_annotators_who_agree_raise_nothing(lab: Lab) -> None:
    ctx = lab.project("o", overlap=2)
    lab.import_rows(ctx, make_rows(24))
    lab.train(ctx)
    _label_as(lab, lab.member("o", "ann", "annotator"), 24)
    _label_as(lab, lab.member("o", "bob", "annotator"), 21)
    found = insight.report(lab.db, ctx, days=7)
    assert found["agreement"] == {
        "n_items": 21,
        "n_gold": 0,
        "items": "21 items labeled twice or more",
        "alpha": 1.0,
    }
    assert "agreement" not in [a["kind"] for a in found["alerts"]]
    stages = {s["key"]: s for s in found["stages"]}
    assert stages["overlap"]["waiting"] == 3 and stages["overlap"]["arrived"] == 24


def test_items_waiting_for_another_annotator_are_labeling_not_a_backlog(lab: Lab) -> None:
    # With overlap 2 every first answer leaves its item waiting for a second: labeling's own
    # work in progress, served from the same queue. The stages table shows it, however long it
    # grows; only review, the expert tier and rework raise the backlog alert.
    ctx = lab.project("ov", overlap=2)
    lab.import_rows(ctx, make_rows(40))
    lab.train(ctx)
    ann = lab.member("ov", "ann", "annotator")
    _label_as(lab, ann, 4)
    found = insight.report(lab.db, ctx, days=7)
    assert _stages(found)["overlap"] == (4, 4, 0)
    assert "backlog" not in _kinds(found), found["alerts"]
    _label_as(lab, ann, 16)
    _label_as(lab, lab.member("ov", "bob", "annotator"), 2)
    found = insight.report(lab.db, ctx, days=7)
    assert _stages(found)["overlap"] == (18, 20, 2)
    assert "backlog" not in _kinds(found), found["alerts"]
    assert insight.refresh_alerts(lab.db, ctx)["raised"] == []


WRONG = {"negative": "positive", "positive": "neutral", "neutral": "negative"}.__getitem__
"""An answer that is never right."""


def _label_as(
    lab: Lab, who: Any, n: int, *, answer: Callable[[str], str] = lambda truth: truth
) -> None:
    """``who`` takes and answers ``n`` served items: ``answer`` of each item's true class."""
    for _ in range(n):
        task = tasks.next_task(lab.db, who)
        value = {"sentiment": answer(lab.truth(task["item"]["data"]["text"]))}
        tasks.submit(lab.db, who, task["assignment_id"], value, active_ms=1500)


def _stages(found: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    return {s["key"]: (s["waiting"], s["arrived"], s["cleared"]) for s in found["stages"]}


def test_gold_checks_wait_in_no_stage(lab: Lab) -> None:
    from labelloop.workflow import quality

    ctx = lab.project("g", gold_rate=0.5)
    lab.import_rows(ctx, make_rows(30))
    lab.train(ctx)
    with lab.db.read() as conn:
        ids = [i for (i,) in conn.execute(select(item.c.id).order_by(item.c.id).limit(3))]
    for i in ids:
        quality.set_gold(lab.db, ctx, {"sentiment": "negative"}, item_id=i)
    assert _stages(insight.report(lab.db, ctx, days=7)) == {"label": (27, 27, 0)}
    _label_as(lab, lab.member("g", "ann", "annotator"), 8)
    _label_as(lab, lab.member("g", "bob", "annotator"), 8)
    found = insight.report(lab.db, ctx, days=7)
    assert _stages(found) == {"label": (17, 27, 10)}  # 16 answers: 6 to gold checks
    assert found["alerts"] == []


def test_the_expert_tier_counts_items_sent_up_and_decided(lab: Lab) -> None:
    ctx = lab.project("adj", overlap=2, resolution="adjudication", backlog_alert_min=4)
    lab.import_rows(ctx, make_rows(30))
    lab.train(ctx)
    _label_as(lab, lab.member("adj", "ann", "annotator"), 4)
    _label_as(lab, lab.member("adj", "bob", "annotator"), 4, answer=WRONG)
    found = insight.report(lab.db, ctx, days=7)
    assert _stages(found)["escalated"] == (4, 4, 0)
    assert [a["kind"] for a in found["alerts"]] == ["backlog"]
    with lab.db.read() as conn:
        sent_up = sorted({i for (i,) in conn.execute(select(annotation.c.item_id).distinct())})
    review.adjudicate(lab.db, ctx, sent_up[0], {"sentiment": "neutral"})
    review.adjudicate(lab.db, ctx, sent_up[1], {"sentiment": "neutral"})
    found = insight.report(lab.db, ctx, days=7)
    assert _stages(found)["escalated"] == (2, 4, 2)
    # the second answers cleared the stage of another annotator: the items went up, as a
    # disagreement goes on to review under a review policy
    assert _stages(found)["overlap"] == (0, 4, 4)


def _in_flight(found: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {s["key"]: (s["waiting"], s["in_progress"]) for s in found["stages"]}


def test_answers_a_reviewer_holds_are_in_progress_and_a_rework_is_no_one_s_labeling(
    lab: Lab,
) -> None:
    """Only labeling counted the work held now: an answer on a reviewer's page read as waiting
    for review, and an item sent back to its annotator as "being labeled now" too."""
    ctx, rita, held = _reviewed(lab, "ip", answers=4)
    assert _in_flight(insight.report(lab.db, ctx, days=7))["review"] == (3, 1)
    review.review_annotation(lab.db, rita, held["annotation"]["id"], verdict="reject", comment="x")
    review.next_review(lab.db, rita)  # the next answer is on her page
    assert tasks.next_task(lab.db, lab.member("ip", "ann", "annotator")) is not None
    found = insight.report(lab.db, ctx, days=7)
    # 30 items: 4 answered (one sent back), 1 on ann's page, 25 to label
    assert _in_flight(found) == {
        "label": (25, 1),
        "review": (2, 1),
        "escalated": (0, 0),
        "rework": (1, 0),
    }
    stages = {s["key"]: s for s in found["stages"]}
    assert stages["review"]["waiting_text"] == "2 annotations, 1 more being reviewed now"
    assert stages["label"]["waiting_text"] == "25 items, 1 more being labeled now"


def test_items_another_annotator_or_an_expert_holds_are_in_progress(lab: Lab) -> None:
    ctx = lab.project("ipx", overlap=2, resolution="adjudication")
    lab.import_rows(ctx, make_rows(30))
    lab.train(ctx)
    ann = lab.member("ipx", "ann", "annotator")
    _label_as(lab, ann, 4)
    _label_as(lab, lab.member("ipx", "bob", "annotator"), 4, answer=WRONG)
    _label_as(lab, ann, 2)  # two wait for a second answer
    found = insight.report(lab.db, ctx, days=7)
    assert _in_flight(found)["overlap"] == (2, 0) and _in_flight(found)["escalated"] == (4, 0)
    assert review.next_adjudication(lab.db, ctx) is not None  # the admin, a manager, holds one
    second = tasks.next_task(lab.db, lab.member("ipx", "cy", "annotator"))
    with lab.db.read() as conn:
        answered = {i for (i,) in conn.execute(select(annotation.c.item_id))}
    assert second is not None and second["item"]["id"] in answered  # ann's, for a second
    found = insight.report(lab.db, ctx, days=7)
    # 30 items: 4 at the expert tier, 2 answered once, 24 to label
    assert _in_flight(found) == {"label": (24, 0), "overlap": (1, 1), "escalated": (3, 1)}
    stages = {s["key"]: s for s in found["stages"]}
    assert stages["overlap"]["waiting_text"] == "1 item, 1 more being labeled now"
    assert stages["escalated"]["waiting_text"] == "3 items, 1 more being decided now"


def test_items_whose_second_answer_went_to_review_cleared_the_second_annotator(
    lab: Lab,
) -> None:
    # Every item got both its answers; they wait in review, not for another annotator, so the
    # stage says they were cleared and no backlog of it grows.
    ctx = lab.project("rv", overlap=2, review_policy="all")
    lab.import_rows(ctx, make_rows(20))
    lab.train(ctx)
    _label_as(lab, lab.member("rv", "ann", "annotator"), 4)
    _label_as(lab, lab.member("rv", "bob", "annotator"), 4)
    found = insight.report(lab.db, ctx, days=7)
    stages = _stages(found)
    assert stages["overlap"] == (0, 4, 4)
    assert stages["review"][:2] == (8, 8)
    backlogs = [a["message"] for a in found["alerts"] if a["kind"] == "backlog"]
    assert not any("Another annotator" in m for m in backlogs), backlogs


def test_rejected_items_wait_back_with_their_annotator(lab: Lab) -> None:
    ctx = lab.project("rj", review_policy="all")
    lab.import_rows(ctx, make_rows(30))
    lab.train(ctx)
    annotator = lab.member("rj", "ann", "annotator")
    _label_as(lab, annotator, 4)
    reviewer = lab.member("rj", "rita", "reviewer")
    for verdict in ("reject", "reject", "accept", "accept"):
        task = review.next_review(lab.db, reviewer)
        review.review_annotation(
            lab.db, reviewer, task["annotation"]["id"], verdict=verdict, comment="redo"
        )
    found = insight.report(lab.db, ctx, days=7)
    assert _stages(found)["rework"] == (2, 2, 0)
    assert sum(s["waiting"] for s in found["stages"]) == found["counts"]["remaining"] == 28
    assert tasks.next_task(lab.db, annotator)["selection"]["strategy"] == "rework"
    found = insight.report(lab.db, ctx, days=7)  # one is on ann's page: being redone
    assert _in_flight(found)["rework"] == (1, 1)
    stages = {s["key"]: s for s in found["stages"]}
    assert stages["rework"]["waiting_text"] == "1 item, 1 more being redone now"
    _label_as(lab, annotator, 1)  # a rework lease comes first
    assert _stages(insight.report(lab.db, ctx, days=7))["rework"] == (1, 2, 1)


def test_items_imported_with_labels_never_wait_to_be_labeled(lab: Lab) -> None:
    ctx = lab.project("il")
    lab.import_rows(ctx, make_rows(30, labeled=True), labeled=True)
    lab.import_rows(ctx, make_rows(20, start=100))
    assert _stages(insight.report(lab.db, ctx, days=7)) == {"label": (20, 20, 0)}


def test_the_forecast_and_idle_alert_do_not_depend_on_the_days_shown(lab: Lab) -> None:
    ctx = lab.project("f")
    lab.import_rows(ctx, make_rows(60))
    lab.train(ctx)
    served = lab.label_next(ctx, n=20)
    _move_back(lab, [t["item"]["id"] for t in served], days=9)
    seen = set()
    for days in (1, 7, 30, 90):
        found = insight.report(lab.db, ctx, days=days)
        seen.add((found["forecast"]["pool"]["sentence"], tuple(_kinds(found))))
    ((sentence, kinds),) = seen
    assert sentence.startswith("At 2 labels a day (the last 10 days), the 40 left take about 20")
    assert kinds == ("idle",)


def test_an_import_of_duplicates_only_does_not_hide_the_drift(lab: Lab) -> None:
    ctx = lab.project("dup")
    lab.import_rows(ctx, make_rows(90, labeled=True), labeled=True)
    billing = [
        {"id": f"x-{i}", "text": f"refund invoice charged twice order {i}"} for i in range(60)
    ]
    lab.import_rows(ctx, billing, filename="billing.jsonl")
    lab.import_rows(ctx, billing, filename="billing-again.jsonl")
    d = insight.report(lab.db, ctx, days=7)["drift"]
    assert d["state"] == "shifted" and d["batch"]["filename"] == "billing.jsonl"


def test_the_drift_sample_spreads_over_every_labeled_item(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(insight, "DRIFT_ROWS", 40)
    ctx = lab.project("par")
    rows = make_rows(120)
    lab.import_rows(ctx, [{**r, "label": "negative"} if i % 2 else r for i, r in enumerate(rows)],
                    labeled=True)  # fmt: skip
    lab.import_rows(ctx, make_rows(40, start=500))
    d = insight.report(lab.db, ctx, days=7)["drift"]
    assert (d["n_ref"], d["n_new"]) == (40, 40)


def test_items_without_text_leave_the_drift_unmeasured_not_the_page_broken(lab: Lab) -> None:
    from labelloop.workflow import projects
    from tests.conftest import SCHEMA

    schema = {**SCHEMA, "data": {"type": "html", "field": "text"}}
    projects.create_project(lab.db, "h", schema, actor=lab.admin)
    ctx = lab.ctx("h", lab.admin)
    pictures = [
        {"id": f"i{i}", "text": f'<img src="https://example.com/{i}.png">', "label": "neutral"}
        for i in range(80)
    ]
    lab.import_rows(ctx, pictures[:40], labeled=True)
    lab.import_rows(ctx, pictures[40:])
    d = insight.report(lab.db, ctx, days=7)["drift"]
    assert d["state"] == "cannot_compare" and "is empty in every one of 80" in d["sentence"]


def test_one_item_left_and_no_import_read_right(lab: Lab) -> None:
    ctx = lab.project("w1")
    assert "this project has no pool import yet" in insight.report(lab.db, ctx)["drift"]["sentence"]
    lab.import_rows(ctx, make_rows(6))
    lab.train(ctx)
    served = lab.label_next(ctx, n=5)
    _move_back(lab, [t["item"]["id"] for t in served], days=4)
    (idle,) = [a for a in insight.report(lab.db, ctx)["alerts"] if a["kind"] == "idle"]
    assert idle["message"].endswith("; 1 item remains.")


def _kinds(found: dict[str, Any]) -> list[str]:
    return [a["kind"] for a in found["alerts"]]


def test_what_the_window_labels_bought_the_model(lab: Lab) -> None:
    ctx = lab.project("m", retrain_every=5)
    lab.import_rows(ctx, make_rows(90))
    lab.import_rows(
        ctx, make_rows(30, start=1000, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    lab.train(ctx)
    cold = insight.report(lab.db, ctx, days=7)["model"]  # one model, in cold start
    assert cold["state"] == "unmeasured" and "(0 since the last)" in cold["sentence"]
    for _ in range(4):
        lab.label_next(ctx, n=5)
        lab.train(ctx)
    got = insight.report(lab.db, ctx, days=7)["model"]
    assert got is not None and got["metric"] == "accuracy"
    assert got["labels"] == 20 - 5 and got["to_version"] == 5  # from the first measured model
    assert got["sentence"].startswith(f"The model went from v{got['from_version']} (")


def test_the_learner_stores_alerts_and_resolves_them(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.store.tables import alert
    from labelloop.workflow.learning import Learner

    ctx = lab.project("st", review_policy="all", backlog_alert_min=1)
    lab.import_rows(ctx, make_rows(30))
    learner = Learner(lab.db)
    learner.run_once()  # the first round; nothing waits yet
    assert insight.open_alerts(lab.db, lab.admin, [{"id": ctx.id, "role": None}]) == {}
    lab.label_next(ctx, n=6)
    learner.run_once()  # no round is due (nothing resolved) and the last check is recent
    assert insight.open_alerts(lab.db, lab.admin, [{"id": ctx.id, "role": None}]) == {}
    monkeypatch.setattr(insight, "ALERTS_EVERY_S", 0.0)  # the check every few minutes, now
    learner.run_once()
    rows = [{"id": ctx.id, "role": None}]
    ((stored,),) = insight.open_alerts(lab.db, lab.admin, rows).values()
    assert stored["kind"] == "backlog" and stored["acknowledged_at"] is None
    annotator = lab.member("st", "ann", "annotator")
    assert insight.open_alerts(lab.db, annotator.user, [{"id": ctx.id, "role": "annotator"}]) == {}
    reviewer = lab.member("st", "rita", "reviewer")
    for _ in range(6):
        task = review.next_review(lab.db, reviewer)
        review.review_annotation(lab.db, reviewer, task["annotation"]["id"], verdict="accept")
    assert insight.refresh_alerts(lab.db, ctx) == {"raised": [], "resolved": ["backlog"]}
    assert insight.open_alerts(lab.db, lab.admin, rows) == {}
    (stored,) = insight.report(lab.db, ctx)["alert_history"]
    assert stored["kind"] == "backlog" and stored["resolved_at"] is not None
    with lab.db.read() as conn:
        assert len(conn.execute(select(alert.c.id)).all()) == 1


def test_alerts_read_the_last_7_days_whatever_window_is_shown(lab: Lab) -> None:
    ctx = lab.project("aw", overlap=2)
    lab.import_rows(ctx, make_rows(200))
    lab.train(ctx)
    ann, bob = lab.member("aw", "ann", "annotator"), lab.member("aw", "bob", "annotator")
    for who in (ann, bob):
        _label_as(lab, who, 150)
    with lab.db.read() as conn:
        early = [i for (i,) in conn.execute(select(annotation.c.item_id).distinct())]
    _move_back(lab, early, days=20)  # they agreed on 150 items three weeks ago
    _label_as(lab, ann, 25)  # and disagree on the 25 of this week
    _label_as(lab, bob, 25, answer=lambda truth: "positive" if truth == "neutral" else "neutral")
    for days in (7, 30, 90):
        found = insight.report(lab.db, ctx, days=days)
        assert "agreement" in _kinds(found), days
    assert found["agreement"]["alpha"] > insight.LOW_ALPHA  # the 90 days as a whole agree


def test_an_empty_project_has_nothing_to_forecast(lab: Lab) -> None:
    ctx = lab.project("e")
    pool = insight.report(lab.db, ctx)["forecast"]["pool"]
    assert pool["state"] == "empty" and pool["sentence"].startswith("Nothing to label yet")


def test_a_boxes_project_is_told_its_rounds_measure_no_score(lab: Lab) -> None:
    from labelloop.workflow import projects
    from tests.conftest import SCHEMA

    schema = {
        **SCHEMA,
        "data": {"type": "image", "field": "image"},
        "controls": [{"name": "objects", "type": "boxes", "labels": ["car"], "target": True}],
    }
    projects.create_project(lab.db, "bx", schema, actor=lab.admin)
    got = insight.report(lab.db, lab.ctx("bx", lab.admin))["model"]
    assert (
        got["sentence"]
        == "Nothing to compare: the rounds of a boxes project measure no eval score."
    )


def test_a_growing_review_backlog_alerts_while_labeling_is_the_bottleneck(lab: Lab) -> None:
    ctx = lab.project("gb", review_policy="all")
    lab.import_rows(ctx, make_rows(100))
    lab.train(ctx)
    lab.label_next(ctx, n=20)
    reviewer = lab.member("gb", "rita", "reviewer")
    for _ in range(5):
        task = review.next_review(lab.db, reviewer)
        review.review_annotation(lab.db, reviewer, task["annotation"]["id"], verdict="accept")
    found = insight.report(lab.db, ctx, days=7)
    assert found["bottleneck"]["key"] == "label"  # 80 items at 20 a day: 4 days
    (alert,) = [a for a in found["alerts"] if a["kind"] == "backlog"]
    assert alert["message"] == (
        "Review: 15 annotations wait, the oldest for less than a minute; in the last day 20 "
        "arrived and 5 were cleared."
    )


def test_a_shifted_import_stays_reported_after_an_ordinary_one(lab: Lab) -> None:
    ctx = lab.project("sh")
    lab.import_rows(ctx, make_rows(90, labeled=True), labeled=True)
    billing = [
        {"id": f"x-{i}", "text": f"refund invoice charged twice order {i}"} for i in range(60)
    ]
    lab.import_rows(ctx, billing, filename="billing.jsonl")
    lab.import_rows(ctx, make_rows(60, start=500), filename="ordinary.jsonl")
    found = insight.report(lab.db, ctx, days=7)
    assert found["drift"]["state"] == "shifted"
    assert found["drift"]["batch"]["filename"] == "billing.jsonl"
    assert "drift" in _kinds(found)


def test_the_annotator_who_disagrees_with_the_others_is_named(lab: Lab) -> None:

    ctx = lab.project("n3", overlap=3)
    lab.import_rows(ctx, make_rows(24))
    lab.train(ctx)
    _label_as(lab, lab.member("n3", "ann", "annotator"), 24)
    _label_as(lab, lab.member("n3", "bob", "annotator"), 24)
    _label_as(lab, lab.member("n3", "carl", "annotator"), 24, answer=lambda truth: "neutral")
    found = insight.report(lab.db, ctx, days=7)
    rates = {a["username"]: a["agrees_with_others"] for a in found["annotators"]}
    assert rates == {"ann": 0.667, "bob": 0.667, "carl": 0.333}
    (alert,) = [a for a in found["alerts"] if a["kind"] == "agreement"]
    assert "least of all carl (33% of their answers match the others')" in alert["message"]


def test_unanswered_ambiguity_flags_alert_until_the_guideline_answers_them(lab: Lab) -> None:
    from labelloop.workflow import flags, guidelines, tasks

    ctx = lab.project("amb")
    lab.import_rows(ctx, make_rows(30))
    lab.train(ctx)
    ann = lab.member("amb", "ann", "annotator")
    flagged = []
    for n in range(5):
        task = tasks.next_task(lab.db, ann)
        flags.flag_task(lab.db, ann, task["assignment_id"], note=f"which label? {n}")
        tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": "neutral"}, active_ms=900)
        flagged.append(task["item"]["id"])
    (alert,) = [
        a for a in insight.report(lab.db, ctx, days=7)["alerts"] if a["kind"] == "ambiguous"
    ]
    assert alert["message"].startswith("5 flags from annotators who found an item ambiguous")
    guidelines.pin_example(lab.db, ctx, item_id=flagged[0], note="a date is neutral")
    assert "ambiguous" not in _kinds(insight.report(lab.db, ctx, days=7))  # 4: everyday flow


def test_the_label_mix_of_a_spans_project_counts_its_entities(lab: Lab) -> None:
    from labelloop.workflow import projects, tasks

    schema = {
        "name": "People and places",
        "data": {"type": "text", "field": "text"},
        "controls": [{"name": "ents", "type": "spans", "labels": ["person", "city"]}],
    }
    projects.create_project(lab.db, "ner", schema, actor=lab.admin)
    ctx = lab.ctx("ner", lab.admin)
    rows = [{"id": f"t{i}", "text": f"Ann and Bo {i} flew to Oslo"} for i in range(3)]
    lab.import_rows(ctx, rows)
    lab.train(ctx)
    while (task := tasks.next_task(lab.db, ctx)) is not None:
        text = task["item"]["data"]["text"]
        spans = [
            {"start": 0, "end": 3, "label": "person"},
            {"start": 8, "end": 10, "label": "person"},
        ]
        if text.endswith("0 flew to Oslo"):
            spans.append({"start": text.index("Oslo"), "end": len(text), "label": "city"})
        tasks.submit(lab.db, ctx, task["assignment_id"], {"ents": spans}, active_ms=3000)
    mix = insight.report(lab.db, ctx, days=7)["label_mix"]
    assert mix["labels"] == ["person", "city"]  # the entity labels, no digest of each answer
    (week,) = mix["weeks"]
    assert (week["counts"], week["total"]) == ({"person": 6, "city": 1}, 7)


def test_a_model_not_yet_measured_is_told_when_the_next_round_trains(lab: Lab) -> None:
    # Six labels of all three classes are in, but a round trains every 50: the dashboard must
    # not say the rounds wait for labels of two classes.
    ctx = lab.project("m", retrain_every=50)
    lab.import_rows(ctx, make_rows(30))
    lab.import_rows(
        ctx, make_rows(9, start=900, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    lab.train(ctx)  # the cold start: no label, no score
    lab.label_next(ctx, n=6)
    model = insight.report(lab.db, ctx, days=7)["model"]
    assert model["state"] == "unmeasured"
    assert model["sentence"] == (
        "Nothing to compare: no model has been measured yet: a round trains after every 50 new "
        "labels (6 since the last) and is measured once its labels hold two classes."
    )
