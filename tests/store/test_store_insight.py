"""Where work waits, as the dashboard counts it on SQLite and on PostgreSQL: the items to label
and those waiting for another annotator, each with the time the oldest one began to wait."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from labelloop.store import insight as store_insight
from labelloop.store.tables import annotation, assignment, import_batch, item
from labelloop.store.users import now
from labelloop.workflow import quality, tasks
from tests.conftest import Lab, make_rows


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
