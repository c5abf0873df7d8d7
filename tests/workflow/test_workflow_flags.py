"""Flag as ambiguous: a row in the flag table and an audit event in one transaction; the task
stays with its annotator; only one's own tasks and annotations can be flagged."""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.errors import LabelloopError, NotFound
from labelloop.govern.audit import verify_chain
from labelloop.store.audit import chain_rows
from labelloop.workflow import flags, quality, review, tasks


def _setup(lab: Any) -> tuple[Any, Any, Any]:
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(9))
    lab.train(ctx)
    return ctx, lab.member("sent", "ann", "annotator"), lab.member("sent", "bob", "annotator")


def test_flag_writes_a_row_and_an_audit_event_and_keeps_the_task(lab: Any) -> None:
    ctx, ann, _ = _setup(lab)
    task = tasks.next_task(lab.db, ann)
    assert task is not None

    out = flags.flag_task(lab.db, ann, task["assignment_id"], note="  sarcasm or praise?  ")

    assert out["kind"] == "ambiguous" and out["note"] == "sarcasm or praise?" and out["new"]
    shown = review.flags(lab.db, ctx, kind="ambiguous")
    assert [(f["item_id"], f["user"], f["note"], f["annotation_id"]) for f in shown] == [
        (task["item"]["id"], "ann", "sarcasm or praise?", None)
    ]
    with lab.db.read() as conn:
        events = chain_rows(conn, ctx.id)
    assert verify_chain(events) is None
    last = events[-1]
    assert last["action"] == "flag.raise"
    assert last["subject"] == f"item:{task['item']['id']}"
    assert last["payload"]["note"] == "sarcasm or praise?"
    assert last["payload"]["assignment_id"] == task["assignment_id"]

    # The item stays with the annotator: the next call serves the same lease, and it submits.
    again = tasks.next_task(lab.db, ann)
    assert again is not None and again["assignment_id"] == task["assignment_id"]
    tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": "neutral"}, active_ms=2000)

    # The quality report counts it where flags are shown.
    report = quality.report(lab.db, ctx)
    assert report["flags"]["by_kind"].get("ambiguous") == 1
    ann_row = next(u for u in report["annotators"] if u["username"] == "ann")
    assert ann_row["flags"] == {"ambiguous": 1}


def test_flagging_again_changes_the_note_instead_of_adding_a_flag(lab: Any) -> None:
    ctx, ann, _ = _setup(lab)
    task = tasks.next_task(lab.db, ann)
    assert task is not None
    first = flags.flag_task(lab.db, ann, task["assignment_id"], note="unclear")
    second = flags.flag_task(lab.db, ann, task["assignment_id"], note="two products mixed")

    assert second["flag_id"] == first["flag_id"] and not second["new"]
    assert [f["note"] for f in review.flags(lab.db, ctx)] == ["two products mixed"]
    with lab.db.read() as conn:
        actions = [e["action"] for e in chain_rows(conn, ctx.id)]
    assert actions[-2:] == ["flag.raise", "flag.note"]


def test_only_ones_own_task_or_annotation_can_be_flagged(lab: Any) -> None:
    ctx, ann, bob = _setup(lab)
    task = tasks.next_task(lab.db, ann)
    assert task is not None
    with pytest.raises(NotFound):
        flags.flag_task(lab.db, bob, task["assignment_id"], note="not mine")
    with pytest.raises(NotFound):
        flags.flag_task(lab.db, ann, 999_999, note="no such task")
    assert review.flags(lab.db, ctx) == []

    done = tasks.submit(
        lab.db, ann, task["assignment_id"], {"sentiment": "neutral"}, active_ms=3000
    )
    with pytest.raises(NotFound):
        flags.flag_annotation(lab.db, bob, done["annotation_id"], note="not mine")
    out = flags.flag_annotation(lab.db, ann, done["annotation_id"], note="on reflection, unclear")
    assert out["item_id"] == task["item"]["id"]
    [shown] = review.flags(lab.db, ctx, kind="ambiguous")
    assert shown["annotation_id"] == done["annotation_id"]


def test_notes_over_the_limit_are_refused(lab: Any) -> None:
    ctx, ann, _ = _setup(lab)
    task = tasks.next_task(lab.db, ann)
    assert task is not None
    with pytest.raises(LabelloopError, match="limit"):
        flags.flag_task(lab.db, ann, task["assignment_id"], note="x" * 2001)
    assert review.flags(lab.db, ctx) == []


def test_a_review_verdict_answers_the_flag_its_annotator_raised_while_labeling(lab: Any) -> None:
    ctx = lab.project("rv", review_policy="all", overlap=2)
    lab.import_rows(ctx, lab.rows(12))
    lab.train(ctx)
    ann = lab.member("rv", "ann", "annotator")
    bob = lab.member("rv", "bob", "annotator")
    rita = lab.member("rv", "rita", "reviewer")
    task = tasks.next_task(lab.db, ann)
    item_id = task["item"]["id"]
    flags.flag_task(lab.db, ann, task["assignment_id"], note="refund or complaint?")
    tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": "negative"}, active_ms=900)
    theirs = tasks.next_task(lab.db, bob)
    assert theirs["item"]["id"] == item_id  # overlap 2: bob gets the same item
    flags.flag_task(lab.db, bob, theirs["assignment_id"], note="sarcasm?")

    def open_flags() -> list[str]:
        with lab.db.read() as conn:
            rows = conn.exec_driver_sql(
                'SELECT u.username FROM flag f JOIN "user" u ON u.id = f.user_id '
                f"WHERE f.item_id = {item_id} AND f.resolved_at IS NULL ORDER BY u.username"
            ).all()
        return [name for (name,) in rows]

    assert open_flags() == ["ann", "bob"]
    view = review.next_review(lab.db, rita)
    assert view["item"]["id"] == item_id and view["annotation"]["user"] == "ann"
    review.review_annotation(lab.db, rita, view["annotation"]["id"], verdict="accept")
    assert open_flags() == ["bob"]  # ann's question is answered; bob's annotation is not reviewed
