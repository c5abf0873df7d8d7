"""Where work waits, as the dashboard counts it on SQLite and on PostgreSQL: the items to label,
those waiting for another annotator and those back with their annotator, each with the time the
oldest one began to wait, and beside them those being worked on now."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from labelloop.store import insight as store_insight
from labelloop.store.tables import annotation, assignment, import_batch, item, review
from labelloop.store.users import now
from labelloop.workflow import quality, tasks
from tests.conftest import Lab, make_rows

LEASE = timedelta(minutes=10)


def test_items_to_label_and_waiting_for_another_are_counted_apart(lab: Lab) -> None:
    ctx = lab.project("w", overlap=2)
    lab.import_rows(ctx, make_rows(30))
    lab.import_rows(ctx, make_rows(10, start=100), filename="later.jsonl")
    lab.train(ctx)
    with lab.db.read() as conn:
        first_ids = [i for (i,) in conn.execute(select(item.c.id).order_by(item.c.id).limit(2))]
    for i in first_ids:  # gold checks wait in no stage
        quality.set_gold(lab.db, ctx, {"sentiment": "negative"}, item_id=i)
    ann = lab.member("w", "ann", "annotator")
    bob = lab.member("w", "bob", "annotator")
    answered, resolved = [], []
    for who, n, into in ((ann, 6, answered), (bob, 2, resolved)):
        for _ in range(n):  # ann's answers wait for a second one, which bob gives two of
            task = tasks.next_task(lab.db, who)
            into.append(task["item"]["id"])
            value = {"sentiment": lab.truth(task["item"]["data"]["text"])}
            tasks.submit(lab.db, who, task["assignment_id"], value, active_ms=1500)
    # six more hold a lease each (one at a time), on items answered or not
    leasers = [lab.member("w", f"u{k}", "annotator") for k in range(6)]
    leased = [tasks.next_task(lab.db, who)["item"]["id"] for who in leasers]
    expired = next(i for i in leased if i not in answered)
    # and one more is at work on an item nobody answered yet: it is being labeled now
    taken = tasks.next_task(lab.db, lab.member("w", "sol", "annotator"))["item"]["id"]
    assert set(resolved) <= set(answered)
    in_review = answered[-1]
    # one answered item's lease ran out too: it waits for another annotator again, the oldest
    oldest = next(i for i in leased if i in answered and i not in {*resolved, in_review})
    live = set(leased) - {expired, oldest} | {taken}
    oldest_answer = now() - timedelta(hours=5)
    with lab.db.write() as conn:
        # two leases ran out: their items wait to be labeled, or for another annotator, again
        conn.execute(
            update(assignment)
            .where(assignment.c.item_id.in_([expired, oldest]), assignment.c.state == "leased")
            .values(lease_expires_at=now() - timedelta(minutes=1))
        )
        # one answer went to review: the item waits there, not for another annotator
        conn.execute(
            update(annotation).where(annotation.c.item_id == in_review).values(status="in_review")
        )
        conn.execute(
            update(annotation)
            .where(annotation.c.item_id == oldest)
            .values(created_at=oldest_answer)
        )
    with lab.db.read() as conn:
        waiting = store_insight.waiting(conn, ctx.id, at=now())
        imported = conn.execute(select(func.min(import_batch.c.created_at))).scalar_one()
        pool = {i for (i,) in conn.execute(select(item.c.id))}
    to_label = pool - set(first_ids) - set(answered) - live
    assert len(to_label) >= 25 and expired in to_label
    # a live lease on an item nobody answered yet: being labeled now, counted beside
    being_labeled = live - set(answered)
    assert being_labeled
    assert waiting["label"] == {
        "waiting": len(to_label),
        "since": imported,
        "in_progress": len(being_labeled),
    }
    # an answered item another annotator holds is being labeled for the second time now
    overlap = set(answered) - set(resolved) - {in_review}
    assert oldest in overlap and overlap & live
    assert waiting["overlap"] == {
        "waiting": len(overlap - live),
        "since": oldest_answer,
        "in_progress": len(overlap & live),
    }
    assert waiting["review"]["waiting"] == 1


def _rework(lab: Lab, project_id: int, *, at: datetime) -> dict[str, Any]:
    with lab.db.read() as conn:
        found = store_insight.waiting(conn, project_id, at=at)
    return found["rework"]


def test_a_rejected_item_is_being_redone_while_its_annotator_has_it_up(lab: Lab) -> None:
    ctx = lab.project("rw", review_policy="all")
    lab.import_rows(ctx, make_rows(20))
    lab.train(ctx)
    ann = lab.member("rw", "ann", "annotator")
    for _ in range(2):
        task = tasks.next_task(lab.db, ann)
        tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": "neutral"}, active_ms=1500)
    lab.reject_next(lab.member("rw", "rita", "reviewer"), n=2)
    with lab.db.read() as conn:
        first, second = [
            at for (at,) in conn.execute(select(review.c.created_at).order_by(review.c.id))
        ]
    assert _rework(lab, ctx.id, at=now()) == {"waiting": 2, "since": first, "in_progress": 0}
    # ann's page shows the first one again: it is being redone, and no longer waits
    redo = tasks.next_task(lab.db, ann)
    assert redo["selection"]["strategy"] == "rework"
    at = now()
    assert _rework(lab, ctx.id, at=at) == {"waiting": 1, "since": second, "in_progress": 1}
    with lab.db.read() as conn:
        label = store_insight.waiting(conn, ctx.id, at=at)["label"]
    assert (label["waiting"], label["in_progress"]) == (18, 0)  # nobody's labeling
    # a page left alone a lease's length ago holds nothing: the item waits since it was rejected
    later = now() + LEASE + timedelta(seconds=1)
    assert _rework(lab, ctx.id, at=later) == {"waiting": 2, "since": first, "in_progress": 0}
    tasks.renew(lab.db, ann, redo["assignment_id"])  # the page in use keeps it being redone
    assert _rework(lab, ctx.id, at=now())["in_progress"] == 1
    # the rework goes back to review: one item is left to redo
    tasks.submit(lab.db, ann, redo["assignment_id"], {"sentiment": "positive"}, active_ms=900)
    assert _rework(lab, ctx.id, at=now()) == {"waiting": 1, "since": second, "in_progress": 0}


def test_a_rejected_item_given_back_waits_for_its_annotator_again_at_once(lab: Lab) -> None:
    """Leaving the labeling page (its give-back) ends "being redone" then, not a lease's length
    later; the item stays its annotator's, served to them and to nobody else."""
    ctx = lab.project("rw", review_policy="all")
    lab.import_rows(ctx, make_rows(4))
    lab.train(ctx)
    ann, bob = (lab.member("rw", name, "annotator") for name in ("ann", "bob"))
    task = tasks.next_task(lab.db, ann)
    tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": "neutral"}, active_ms=1500)
    lab.reject_next(lab.member("rw", "rita", "reviewer"), n=1)
    with lab.db.read() as conn:
        rejected = conn.execute(select(review.c.created_at)).scalar_one()
    redo = tasks.next_task(lab.db, ann)
    assert redo["selection"]["strategy"] == "rework"
    assert _rework(lab, ctx.id, at=now())["in_progress"] == 1

    ends = datetime.fromisoformat(redo["lease_expires_at"])
    assert tasks.release(lab.db, ann, {redo["assignment_id"]: ends}) == {"released": []}
    assert _rework(lab, ctx.id, at=now()) == {"waiting": 1, "since": rejected, "in_progress": 0}
    # still ann's: bob is served the other three items, and then nothing
    served = []
    while (given := tasks.next_task(lab.db, bob)) is not None and len(served) < 4:
        tasks.submit(lab.db, bob, given["assignment_id"], {"sentiment": "neutral"}, active_ms=9)
        served.append(given["item"]["id"])
    assert len(served) == 3 and redo["item"]["id"] not in served
    # ann back on the page (a renew, as the page shown again sends): being redone again
    tasks.renew(lab.db, ann, redo["assignment_id"])
    assert _rework(lab, ctx.id, at=now())["in_progress"] == 1
    tasks.release(lab.db, ann, {redo["assignment_id"]: ends})
    assert tasks.next_task(lab.db, ann)["assignment_id"] == redo["assignment_id"]
    assert _rework(lab, ctx.id, at=now()) == {"waiting": 0, "since": None, "in_progress": 1}
    # a skip lets the item go: back with nobody, it is no longer redone nor waits there
    tasks.skip(lab.db, ann, redo["assignment_id"])
    assert _rework(lab, ctx.id, at=now()) == {"waiting": 0, "since": None, "in_progress": 0}
