"""The audit trail: one event per state change, chained by hashes that show any edit."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import select, update

from labelloop.govern.audit import verify_chain
from labelloop.store.audit import chain_rows
from labelloop.store.db import Database
from labelloop.store.tables import audit_event
from labelloop.workflow import export, tasks


def _actions(db: Database, project_id: int | None) -> list[tuple[str, int | None]]:
    with db.read() as conn:
        return [(r["action"], r["actor_id"]) for r in chain_rows(conn, project_id)]


def _act(lab: Any, ready: Any) -> dict[str, Any]:
    """A day in a project: members, labels, a skip, a change of mind, an export."""
    db = lab.db
    ann = lab.member("sent", "ann", "annotator")
    done = lab.label_next(ann, n=2)
    skipped = tasks.next_task(db, ann)
    tasks.skip(db, ann, skipped["assignment_id"])
    latest = tasks.previous(db, ann)
    tasks.edit(db, ann, latest["annotation_id"], {"sentiment": "neutral"})
    export.export(db, ready, io.BytesIO(), fmt="jsonl")
    return {"ann": ann, "done": done}


def test_every_state_change_writes_one_event(lab: Any, ready: Any) -> None:
    before = _actions(lab.db, ready.id)
    acted = _act(lab, ready)
    after = _actions(lab.db, ready.id)[len(before) :]
    ann_id, admin_id = acted["ann"].user.id, lab.admin.id
    assert after == [
        ("member.set", admin_id),
        ("annotation.submit", ann_id),
        ("annotation.submit", ann_id),
        ("assignment.skip", ann_id),
        ("annotation.edit", ann_id),
        ("export", admin_id),
    ]
    # the fixture trained once: a model version is a state change too, made by no one
    assert [a for a, _ in before] == ["project.create", "import", "import", "model.train"]
    assert before[-1][1] is None
    site = [a for a, _ in _actions(lab.db, None)]
    assert site == ["user.create", "user.create"]  # admin, then ann


def test_edit_event_records_old_and_new_value(lab: Any, ready: Any) -> None:
    _act(lab, ready)
    with lab.db.read() as conn:
        edit = [r for r in chain_rows(conn, ready.id) if r["action"] == "annotation.edit"][0]
    assert edit["payload"]["new"] == {"sentiment": "neutral"}
    assert edit["payload"]["old"] != edit["payload"]["new"]


def test_chain_is_intact_after_a_day_of_work(lab: Any, ready: Any) -> None:
    _act(lab, ready)
    second = lab.project("second").id
    with lab.db.read() as conn:
        assert len(chain_rows(conn, ready.id)) >= 9
        assert verify_chain(chain_rows(conn, ready.id)) is None
        assert verify_chain(chain_rows(conn, None)) is None
        assert verify_chain(chain_rows(conn, second)) is None


def test_editing_a_stored_payload_breaks_the_chain_at_that_row(lab: Any, ready: Any) -> None:
    _act(lab, ready)
    with lab.db.read() as conn:
        rows = chain_rows(conn, ready.id)
    victim = next(i for i, r in enumerate(rows) if r["action"] == "annotation.submit")
    forged = dict(rows[victim]["payload"], value={"sentiment": "positive"})
    if forged == rows[victim]["payload"]:
        forged["value"] = {"sentiment": "negative"}
    with lab.db.write() as conn:
        conn.execute(
            update(audit_event).where(audit_event.c.id == rows[victim]["id"]).values(payload=forged)
        )
    with lab.db.read() as conn:
        assert verify_chain(chain_rows(conn, ready.id)) == victim


def test_deleting_an_event_breaks_the_chain_after_it(lab: Any, ready: Any) -> None:
    _act(lab, ready)
    with lab.db.read() as conn:
        ids = list(
            conn.execute(
                select(audit_event.c.id)
                .where(audit_event.c.project_id == ready.id)
                .order_by(audit_event.c.id)
            ).scalars()
        )
    with lab.db.write() as conn:
        conn.execute(audit_event.delete().where(audit_event.c.id == ids[3]))
    with lab.db.read() as conn:
        assert verify_chain(chain_rows(conn, ready.id)) == 3


def test_chain_holds_when_one_submit_writes_two_events(lab: Any, ready: Any) -> None:
    """A too-fast answer raises a flag and records the submit in the same transaction: both
    events are chained, each to the one before, and the next submit continues the chain."""
    ann = lab.member("sent", "ann", "annotator")
    for active_ms in (50, 5000):  # the first is implausibly fast for its text
        task = tasks.next_task(lab.db, ann)
        value = {"sentiment": lab.truth(task["item"]["data"]["text"])}
        tasks.submit(lab.db, ann, task["assignment_id"], value, active_ms=active_ms)
    with lab.db.read() as conn:
        rows = chain_rows(conn, ready.id)
    assert [r["action"] for r in rows[-3:]] == [
        "flag.raise",
        "annotation.submit",
        "annotation.submit",
    ]
    assert verify_chain(rows) is None
    assert rows[-2]["prev_hash"] == rows[-3]["hash"]
