"""Changing an earlier answer: a verdict applies to the value the reviewer saw, a change that
makes the answers disagree (or agree again) moves the item's label with it, a changed value is
judged as a submit of it would be, and a gold check keeps scoring the first answer."""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.errors import AnswerChanged
from labelloop.store import review as store_review
from labelloop.workflow import quality, review, tasks
from tests.workflow.test_workflow_my_answers import _answer, _other


def _label_of(lab: Any, item_id: int) -> Any:
    with lab.db.read() as conn:
        return store_review.item_label_of(conn, item_id)


def _statuses(lab: Any, item_id: int) -> list[str]:
    with lab.db.read() as conn:
        return [a["status"] for a in store_review.item_annotations(conn, item_id)]


def _open_flags(lab: Any, item_id: int) -> set[str]:
    with lab.db.read() as conn:
        return {f["kind"] for f in store_review.flags_of(conn, item_id) if f["resolved_at"] is None}


# ------------------------------------------------------------------ a verdict on what was seen


def test_a_verdict_on_an_answer_changed_since_the_reviewer_saw_it_is_not_recorded(lab: Any) -> None:
    ctx = lab.project(review_policy="all")
    lab.import_rows(ctx, lab.rows(6))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    rev = lab.member("sent", "rev", "reviewer")
    done = _answer(lab, ann)
    shown = review.next_review(lab.db, rev)
    assert shown is not None and shown["annotation"]["id"] == done["annotation_id"]
    changed = {"sentiment": _other(done["answer"])}
    tasks.edit(lab.db, ann, done["annotation_id"], changed)  # while the reviewer looks

    with pytest.raises(AnswerChanged) as err:
        review.review_annotation(
            lab.db, rev, done["annotation_id"], verdict="accept", seen=shown["annotation"]["value"]
        )
    assert err.value.status == 409
    assert "changed this answer since you opened it" in err.value.message
    assert _statuses(lab, done["item_id"]) == ["in_review"]  # nothing was accepted unseen
    assert _label_of(lab, done["item_id"]) is None

    again = review.item_detail(lab.db, rev, done["item_id"])["annotations"][0]
    assert again["value"] == changed  # what the page shows again
    review.review_annotation(
        lab.db, rev, done["annotation_id"], verdict="accept", seen=again["value"]
    )
    label = _label_of(lab, done["item_id"])
    assert (label["resolution"], label["value"]) == ("reviewed", changed)


# ------------------------------------------------------------------ disagreement and label


@pytest.mark.parametrize(
    ("settings", "waiting"),
    [
        ({"resolution": "adjudication"}, "escalated"),
        ({"review_policy": "disagreements"}, "in_review"),
    ],
    ids=["expert_tier", "review"],
)
def test_a_change_that_makes_answers_disagree_takes_the_label_away_and_agreeing_gives_it_back(
    lab: Any, settings: dict[str, Any], waiting: str
) -> None:
    ctx = lab.project(overlap=2, **settings)
    lab.import_rows(ctx, lab.rows(6))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    bob = lab.member("sent", "bob", "annotator")
    a = _answer(lab, ann)
    b = _answer(lab, bob)
    item = a["item_id"]
    assert item == b["item_id"] and b["resolution"] == "consensus"

    tasks.edit(lab.db, ann, a["annotation_id"], {"sentiment": _other(a["answer"])})
    assert _statuses(lab, item) == [waiting, waiting]
    assert _label_of(lab, item) is None  # not trained on, exported or counted as labeled
    assert "disagreement" in _open_flags(lab, item)

    back = tasks.edit(lab.db, ann, a["annotation_id"], {"sentiment": a["answer"]})
    assert back["resolution"] == "consensus"
    assert _statuses(lab, item) == ["submitted", "submitted"]  # nothing waits for a reviewer
    assert _label_of(lab, item)["value"] == {"sentiment": a["answer"]}
    assert "disagreement" not in _open_flags(lab, item)

    tasks.edit(lab.db, ann, a["annotation_id"], {"sentiment": _other(a["answer"])})
    assert _statuses(lab, item) == [waiting, waiting]  # disagreeing again waits again
    assert _label_of(lab, item) is None


def test_a_reviewers_escalation_stands_when_the_answers_come_to_agree(lab: Any) -> None:
    ctx = lab.project(overlap=2, review_policy="disagreements")
    lab.import_rows(ctx, lab.rows(6))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    bob = lab.member("sent", "bob", "annotator")
    rev = lab.member("sent", "rev", "reviewer")
    a = _answer(lab, ann, "negative")
    b = _answer(lab, bob, "positive")
    assert _statuses(lab, a["item_id"]) == ["in_review", "in_review"]
    review.review_annotation(lab.db, rev, b["annotation_id"], verdict="escalate")
    tasks.edit(lab.db, ann, a["annotation_id"], {"sentiment": "positive"})
    assert _statuses(lab, a["item_id"]) == ["submitted", "escalated"]
    assert _label_of(lab, a["item_id"]) is None  # the expert tier decides


# ------------------------------------------------------------------ checks on a changed value


def _confident_task(lab: Any, who: Any) -> dict[str, Any]:
    """Serve ``who`` items until one comes with a suggestion the model is fairly sure of."""
    for _ in range(12):
        task = tasks.next_task(lab.db, who)
        assert task is not None, "the queue ran dry"
        s = task.get("suggestion") or {}
        if s.get("label") and (s.get("confidence") or 0) >= 0.6:
            return task
        tasks.skip(lab.db, who, task["assignment_id"])
    raise AssertionError("no confident suggestion served")


def test_a_change_gets_the_review_a_submit_of_its_value_would_get(lab: Any) -> None:
    ctx = lab.project(review_policy="low_model_agreement", contradiction_threshold=0.5)
    lab.import_rows(ctx, lab.rows(60, start=100, prefix="seed", labeled=True), labeled=True)
    lab.import_rows(ctx, lab.rows(12))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    task = _confident_task(lab, ann)
    sure = task["suggestion"]["label"]
    done = tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": sure}, active_ms=5000)
    assert done["resolution"] == "single"  # agreed with the model: not reviewed
    item = done["item_id"]

    changed = tasks.edit(lab.db, ann, done["annotation_id"], {"sentiment": _other(sure)})
    assert changed["resolution"] is None
    assert _statuses(lab, item) == ["in_review"]
    assert _open_flags(lab, item) == {"model_contradicts"}
    assert _label_of(lab, item) is None  # the label nobody reviewed is gone

    tasks.edit(lab.db, ann, done["annotation_id"], {"sentiment": sure})
    assert _open_flags(lab, item) == set()  # the contradiction no longer holds
    assert _statuses(lab, item) == ["in_review"]  # the reviewer still sees the change


# ------------------------------------------------------------------ gold checks


@pytest.mark.parametrize("first_right", [False, True], ids=["wrong_then_right", "right_then_wrong"])
def test_a_gold_check_scores_the_first_answer_and_its_flag_agrees(
    lab: Any, first_right: bool
) -> None:
    ctx = lab.project(gold_rate=0.5)
    lab.import_rows(ctx, lab.rows(8))
    check = lab.rows(1, start=500, prefix="chk")[0]
    truth = lab.truth(check["text"])
    lab.import_rows(ctx, [check], filename="checks.jsonl")
    gold = quality.set_gold(lab.db, ctx, {"sentiment": truth}, external_id=check["id"])
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    first, then = (truth, _other(truth)) if first_right else (_other(truth), truth)
    done = None
    for _ in range(6):
        task = tasks.next_task(lab.db, ann)
        is_gold = task is not None and task["item"]["id"] == gold["item_id"]
        tasks.submit(
            lab.db,
            ann,
            task["assignment_id"],
            {"sentiment": first if is_gold else lab.truth(task["item"]["data"]["text"])},
            active_ms=2500,
        )
        if is_gold:
            done = task
            break
    assert done is not None, "the gold check was not served"
    with lab.db.read() as conn:
        (mine,) = store_review.item_annotations(conn, gold["item_id"])
    tasks.edit(lab.db, ann, mine["id"], {"sentiment": then})

    table = {r["username"]: r for r in quality.report(lab.db, ctx, n_boot=0)["annotators"]}
    assert table["ann"]["gold_accuracy"] == (1.0 if first_right else 0.0)
    assert ("gold_wrong" in _open_flags(lab, gold["item_id"])) is not first_right
