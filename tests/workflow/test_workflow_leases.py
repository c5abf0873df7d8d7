"""Serving work: the ranked queue, leases that never double-book an item, and their expiry."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select, update

from labelloop.domain import Selection
from labelloop.errors import Conflict, NotFound
from labelloop.learn import STRATEGIES
from labelloop.learn.strategies import candidate_rows
from labelloop.store.tables import annotation, assignment, audit_event, item_label
from labelloop.store.users import now
from labelloop.workflow import status, tasks
from tests.conftest import make_rows


def _expire(db: Any, assignment_id: int) -> None:
    """Travel past the lease's end (as if lease_minutes had passed)."""
    with db.write() as conn:
        conn.execute(
            update(assignment)
            .where(assignment.c.id == assignment_id)
            .values(lease_expires_at=now() - timedelta(seconds=1))
        )


def _count(db: Any, table: Any) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_cold_start_queue_exists_and_is_not_file_order(lab: Any, ready: Any) -> None:
    info = status.status(lab.db, ready)
    assert info["model"]["version"] == 1
    assert info["model"]["cold_start"] is True
    ann = lab.member("sent", "ann", "annotator")
    served = [t["item"]["id"] for t in lab.label_next(ann, n=10)]
    assert len(set(served)) == 10
    assert served != list(range(1, 11))
    assert served != sorted(served)


def test_cold_start_task_explains_itself(lab: Any, ready: Any) -> None:
    task = tasks.next_task(lab.db, lab.member("sent", "ann", "annotator"))
    assert task["selection"]["strategy"] == "diversity"
    assert task["selection"]["model_version"] == 1
    assert task["selection"]["reason"]
    assert task["suggestion"] is None


def test_no_queue_before_the_first_round(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, [{"id": "a", "text": "hello"}])
    assert tasks.next_task(lab.db, ctx) is None


def test_two_users_never_receive_the_same_item(lab: Any, ready: Any) -> None:
    a = lab.member("sent", "a", "annotator")
    b = lab.member("sent", "b", "annotator")
    held: dict[str, list[int]] = {"a": [], "b": []}
    items: dict[str, list[int]] = {"a": [], "b": []}
    for _ in range(5):
        for name, who in (("a", a), ("b", b)):
            task = tasks.next_task(lab.db, who, held=held[name])
            held[name].append(task["assignment_id"])
            items[name].append(task["item"]["id"])
    assert len(set(items["a"])) == len(set(items["b"])) == 5
    assert not set(items["a"]) & set(items["b"])


def test_asking_again_returns_the_same_live_lease(lab: Any, ready: Any) -> None:
    ann = lab.member("sent", "ann", "annotator")
    first = tasks.next_task(lab.db, ann)
    again = tasks.next_task(lab.db, ann, held=[])
    assert again["assignment_id"] == first["assignment_id"]
    assert again["item"] == first["item"]
    assert _count(lab.db, assignment) == 1


def test_prefetch_with_held_returns_a_different_item(lab: Any, ready: Any) -> None:
    ann = lab.member("sent", "ann", "annotator")
    first = tasks.next_task(lab.db, ann)
    second = tasks.next_task(lab.db, ann, held=[first["assignment_id"]])
    assert second["item"]["id"] != first["item"]["id"]
    assert second["selection"]["rank"] > first["selection"]["rank"]
    # after submitting the first, the live prefetched one comes back rather than a third
    tasks.submit(lab.db, ann, first["assignment_id"], {"sentiment": "neutral"}, active_ms=5)
    assert tasks.next_task(lab.db, ann)["assignment_id"] == second["assignment_id"]


def test_an_expired_lease_goes_to_someone_else_and_its_submit_conflicts(
    lab: Any, ready: Any
) -> None:
    a = lab.member("sent", "a", "annotator")
    b = lab.member("sent", "b", "annotator")
    stale = tasks.next_task(lab.db, a)
    _expire(lab.db, stale["assignment_id"])
    taken = tasks.next_task(lab.db, b)
    assert taken["item"]["id"] == stale["item"]["id"]
    before = (_count(lab.db, annotation), _count(lab.db, item_label), _count(lab.db, audit_event))
    with pytest.raises(Conflict, match="ran out and another annotator has the item now"):
        tasks.submit(lab.db, a, stale["assignment_id"], {"sentiment": "positive"}, active_ms=9)
    assert (
        _count(lab.db, annotation),
        _count(lab.db, item_label),
        _count(lab.db, audit_event),
    ) == before
    # the new holder's submit counts
    tasks.submit(lab.db, b, taken["assignment_id"], {"sentiment": "negative"}, active_ms=9)
    with lab.db.read() as conn:
        label = conn.execute(
            select(item_label.c.label).where(item_label.c.item_id == stale["item"]["id"])
        ).scalar_one()
    assert label == "negative"


def test_an_answer_on_an_expired_lease_nobody_took_is_recorded(lab: Any, ready: Any) -> None:
    """A page left open past its lease used to lose the answer, though the item was still
    free; the lease is taken again and the answer counts."""
    a = lab.member("sent", "a", "annotator")
    stale = tasks.next_task(lab.db, a)
    _expire(lab.db, stale["assignment_id"])
    done = tasks.submit(lab.db, a, stale["assignment_id"], {"sentiment": "positive"}, active_ms=9)
    assert done["item_id"] == stale["item"]["id"]
    assert _count(lab.db, annotation) == 1
    assert status.status(lab.db, ready)["counts"]["labeled"] == 1
    assert tasks.next_task(lab.db, a)["item"]["id"] != stale["item"]["id"]


def test_an_expired_lease_served_again_is_answered_once(lab: Any, ready: Any) -> None:
    """The page asked for work while its lease had run out and got the same item again: the
    late answer counts and the second lease ends, so the item is not answered twice."""
    a = lab.member("sent", "a", "annotator")
    stale = tasks.next_task(lab.db, a)
    _expire(lab.db, stale["assignment_id"])
    again = tasks.next_task(lab.db, a)
    assert again["item"]["id"] == stale["item"]["id"]
    tasks.submit(lab.db, a, stale["assignment_id"], {"sentiment": "positive"}, active_ms=9)
    with pytest.raises(Conflict, match="no longer leased to you"):
        tasks.submit(lab.db, a, again["assignment_id"], {"sentiment": "neutral"}, active_ms=9)
    assert _count(lab.db, annotation) == 1
    assert tasks.next_task(lab.db, a)["item"]["id"] != stale["item"]["id"]


def test_renew_keeps_a_lease_and_takes_a_free_one_again(lab: Any, ready: Any) -> None:
    a = lab.member("sent", "a", "annotator")
    b = lab.member("sent", "b", "annotator")
    task = tasks.next_task(lab.db, a)
    _expire(lab.db, task["assignment_id"])
    renewed = tasks.renew(lab.db, a, task["assignment_id"])
    until = datetime.fromisoformat(renewed["lease_expires_at"])
    assert until > now() + timedelta(minutes=ready.settings.lease_minutes - 1)
    assert tasks.next_task(lab.db, b)["item"]["id"] != task["item"]["id"]  # a's again

    _expire(lab.db, task["assignment_id"])
    assert tasks.next_task(lab.db, b, held=[])["item"]["id"] != task["item"]["id"]  # b's own
    taken = tasks.next_task(lab.db, b, held=[t["assignment_id"] for t in _leases(lab, b)])
    assert taken["item"]["id"] == task["item"]["id"]
    with pytest.raises(Conflict, match="another annotator has the item now"):
        tasks.renew(lab.db, a, task["assignment_id"])


def test_an_item_whose_writers_are_at_work_is_not_leased_to_another(lab: Any, ready: Any) -> None:
    """PostgreSQL: while a's expired lease is being taken back (the renew holds the item's
    lock and has not committed), b's next passes that item instead of leasing it too, and
    does not wait for it; one item never ends with two holders."""
    from labelloop.store import tasks as store_tasks

    if lab.db.is_sqlite:
        pytest.skip("SQLite has one writer at a time: nothing runs beside a renew")
    a = lab.member("sent", "a", "annotator")
    b = lab.member("sent", "b", "annotator")
    task = tasks.next_task(lab.db, a)
    _expire(lab.db, task["assignment_id"])
    with lab.db.write() as conn:  # a's renew, mid-transaction
        store_tasks.lock_item(lab.db, conn, task["item"]["id"])
        other = tasks.next_task(lab.db, b)
    assert other is not None and other["item"]["id"] != task["item"]["id"]
    tasks.renew(lab.db, a, task["assignment_id"])
    held = [t["assignment_id"] for t in _leases(lab, b)]
    assert tasks.next_task(lab.db, b, held=held)["item"]["id"] != task["item"]["id"]


def _leases(lab: Any, who: Any) -> list[Any]:
    with lab.db.read() as conn:
        q = select(assignment.c.id.label("assignment_id")).where(
            assignment.c.user_id == who.user.id, assignment.c.state == "leased"
        )
        return list(conn.execute(q).mappings())


def test_submitting_on_another_users_lease_conflicts(lab: Any, ready: Any) -> None:
    a = lab.member("sent", "a", "annotator")
    b = lab.member("sent", "b", "annotator")
    task = tasks.next_task(lab.db, a)
    with pytest.raises(Conflict, match="another annotator"):
        tasks.submit(lab.db, b, task["assignment_id"], {"sentiment": "positive"}, active_ms=1)
    assert _count(lab.db, annotation) == 0
    tasks.submit(lab.db, a, task["assignment_id"], {"sentiment": "positive"}, active_ms=1)
    assert _count(lab.db, annotation) == 1


def test_a_task_is_submitted_once(lab: Any, ready: Any) -> None:
    ann = lab.member("sent", "ann", "annotator")
    task = tasks.next_task(lab.db, ann)
    tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": "positive"}, active_ms=1)
    with pytest.raises(Conflict, match="already submitted"):
        tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": "negative"}, active_ms=1)
    assert _count(lab.db, annotation) == 1


def test_a_task_of_another_project_is_not_found(lab: Any, ready: Any) -> None:
    other = lab.project("other")
    task = tasks.next_task(lab.db, ready)
    with pytest.raises(NotFound):
        tasks.submit(lab.db, other, task["assignment_id"], {"sentiment": "positive"}, active_ms=1)


def test_a_skipped_item_is_not_served_to_the_same_user_again(lab: Any, ready: Any) -> None:
    a = lab.member("sent", "a", "annotator")
    b = lab.member("sent", "b", "annotator")
    skipped = tasks.next_task(lab.db, a)
    tasks.skip(lab.db, a, skipped["assignment_id"])
    assert tasks.next_task(lab.db, a)["item"]["id"] != skipped["item"]["id"]
    assert tasks.next_task(lab.db, b)["item"]["id"] == skipped["item"]["id"]


def test_overlap_two_serves_each_item_to_two_people_then_resolves(lab: Any) -> None:
    ctx = lab.project(overlap=2)
    lab.import_rows(ctx, [{"id": "only", "text": "the single item"}])
    lab.train(ctx)
    a, b, c = (lab.member("sent", n, "annotator") for n in "abc")
    ta, tb = tasks.next_task(lab.db, a), tasks.next_task(lab.db, b)
    assert ta["item"]["id"] == tb["item"]["id"]
    assert tasks.next_task(lab.db, c) is None
    first = tasks.submit(lab.db, a, ta["assignment_id"], {"sentiment": "positive"}, active_ms=1)
    assert first["resolution"] is None
    second = tasks.submit(lab.db, b, tb["assignment_id"], {"sentiment": "positive"}, active_ms=1)
    assert second["resolution"] == "consensus"
    assert status.status(lab.db, ctx)["counts"]["labeled"] == 1


class NewestFirst:
    """Ranks the newest unlabeled items first: a round that no longer ranks the earlier picks."""

    name = "newest_first"
    cold_start = True

    def query(self, pool: Any, proba: Any, batch_size: int, rng: Any) -> Selection:
        rows = candidate_rows(pool)[::-1][:batch_size]
        return Selection(
            indices=rows.astype(np.intp),
            scores=np.ones(rows.shape[0]),
            reasons=("newest first",) * rows.shape[0],
        )


def test_an_item_answered_once_reaches_another_annotator_after_a_new_round(
    lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under overlap 2, an item one annotator answered (or still held) before a round was left
    # out of the new queue when the model no longer ranked it among its picks: it waited at one
    # answer for good while the team labeled new items (a walk of 36,000 tweets: 8 items at one
    # answer for 10 minutes as 250 others were labeled).
    monkeypatch.setitem(STRATEGIES._classes, NewestFirst.name, NewestFirst)
    ctx = lab.project(overlap=2, queue_size=3, strategy=NewestFirst.name)
    lab.import_rows(ctx, make_rows(10))
    lab.train(ctx)
    a, b = (lab.member("sent", n, "annotator") for n in "ab")
    answered = tasks.next_task(lab.db, a)
    held = tasks.next_task(lab.db, a, held=[answered["assignment_id"]])
    tasks.submit(lab.db, a, answered["assignment_id"], {"sentiment": "positive"}, active_ms=1500)
    lab.import_rows(ctx, make_rows(5, start=100), filename="more.jsonl")
    lab.train(ctx)  # ranks only the new items

    first = tasks.next_task(lab.db, b)
    second = tasks.next_task(lab.db, b, held=[first["assignment_id"]])
    third = tasks.next_task(lab.db, b, held=[first["assignment_id"], second["assignment_id"]])
    assert [t["item"]["external_id"] for t in (first, second, third)] == [
        answered["item"]["external_id"],
        held["item"]["external_id"],
        "doc-104",
    ]
    assert first["selection"]["model_version"] == 2
    assert [t["selection"]["rank"] for t in (first, second, third)] == [0, 1, 2]
    done = tasks.submit(lab.db, b, first["assignment_id"], {"sentiment": "positive"}, active_ms=1)
    assert done["resolution"] == "consensus"


def test_idle_says_why_the_queue_has_nothing_for_the_caller(lab: Any) -> None:
    # The labeling page said "the model is preparing more" even when the remaining items were
    # only leased to other annotators.
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(3))
    lab.train(ctx)
    a = lab.member("sent", "a", "annotator")
    b = lab.member("sent", "b", "annotator")
    held: list[int] = []
    for _ in range(2):
        held.append(tasks.next_task(lab.db, a, held=held)["assignment_id"])
    last = tasks.next_task(lab.db, b)
    tasks.skip(lab.db, b, last["assignment_id"])
    assert tasks.next_task(lab.db, b) is None
    assert tasks.idle(lab.db, b) == {"state": "waiting", "remaining": 3, "leased_to_others": 2}

    held.append(tasks.next_task(lab.db, a, held=held)["assignment_id"])  # b's skipped item
    assert tasks.next_task(lab.db, b) is None
    assert tasks.idle(lab.db, b) == {"state": "leased", "remaining": 3, "leased_to_others": 3}

    for assignment_id in held:
        tasks.submit(lab.db, a, assignment_id, {"sentiment": "neutral"}, active_ms=900)
    assert tasks.idle(lab.db, b) == {"state": "done", "remaining": 0, "leased_to_others": 0}

    lab.import_rows(ctx, make_rows(2, start=100))  # not queued until the next round
    assert tasks.next_task(lab.db, b) is None
    assert tasks.idle(lab.db, b) == {
        "state": "open",
        "remaining": 2,
        "leased_to_others": 0,
        "learner": False,
        "first": False,
        "blocked": None,
    }
    lab.train(ctx)
    assert tasks.next_task(lab.db, b) is not None
