"""Undoing a large import while the team works: the items are withdrawn at once and removed a
slice at a time, so answers and fetches get through between slices; an answer on one of its
items is refused, never recorded on an item about to go; an undo that stops is finished later."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, update

from labelloop.errors import Conflict
from labelloop.store.tables import annotation, audit_event, import_batch, item
from labelloop.store.users import now
from labelloop.workflow import auditing, batches, quality, status, tasks
from tests.conftest import Lab, make_rows

SLICE = 7


@pytest.fixture(autouse=True)
def _small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batches, "SLICE", SLICE)
    monkeypatch.setattr(batches, "PAUSE_S", 0.0)


def _team(lab: Lab) -> tuple[Any, Any, Any, set[int]]:
    """A project with 30 items and a late import of 40 both ranked in the queue; returns
    (manager ctx, annotator ctx, the late import's report, its item ids)."""
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(30))
    late = lab.import_rows(ctx, make_rows(40, start=500, prefix="late"), filename="late.jsonl")
    lab.train(ctx)
    who = lab.member("sent", "ann", "annotator")
    with lab.db.read() as conn:
        q = select(item.c.id).where(item.c.import_batch_id == late.batch_id)
        ids = set(conn.execute(q).scalars())
    return ctx, who, late, ids


def _answer(lab: Lab, who: Any, task: dict[str, Any]) -> dict[str, Any]:
    value = {"sentiment": lab.truth(task["item"]["data"]["text"])}
    return tasks.submit(lab.db, who, task["assignment_id"], value, active_ms=800)


def _undo_paused(
    lab: Lab, ctx: Any, batch_id: int, meanwhile: Callable[[int, int], None]
) -> tuple[threading.Thread, list[Any]]:
    """Run the undo in a thread that calls ``meanwhile(removed, total)`` after its first
    slice, between two slices (no lock held); returns the thread and its outcome."""
    outcome: list[Any] = []

    def progress(done: int, total: int) -> None:
        if done == SLICE:
            meanwhile(done, total)

    def run() -> None:
        try:
            outcome.append(batches.undo(lab.db, ctx, batch_id, progress=progress))
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _in_thread(work: Callable[[], Any]) -> Any:
    """Run ``work`` in another thread and wait for it (bounded): what a second server process
    would do while the undo's thread waits."""
    found: list[Any] = []

    def run() -> None:
        try:
            found.append(work())
        except Exception as exc:
            found.append(exc)

    other = threading.Thread(target=run)
    other.start()
    other.join(60)
    assert found, "the other request did not get through while the undo was under way"
    if isinstance(found[0], Exception):
        raise found[0]
    return found[0]


def test_an_annotator_answers_and_fetches_between_slices_of_an_undo(lab: Lab) -> None:
    """Annotators' answers and fetches waited for the whole undo of a large import: now they
    get through while it is under way (the listing says so), and none serves its items."""
    ctx, who, late, late_ids = _team(lab)
    seen: dict[str, Any] = {}

    def meanwhile(done: int, total: int) -> None:
        task = _in_thread(lambda: tasks.next_task(lab.db, who))
        seen["served"] = task["item"]["id"]
        seen["answer"] = _in_thread(lambda: _answer(lab, who, task))
        seen["listed"] = {b["id"]: b for b in batches.imports(lab.db, ctx)}[late.batch_id]

    thread, outcome = _undo_paused(lab, ctx, late.batch_id, meanwhile)
    thread.join(120)
    assert outcome and not isinstance(outcome[0], Exception), outcome
    assert seen["served"] not in late_ids
    assert seen["answer"]["annotation_id"] > 0
    listed = seen["listed"]
    assert listed["undoing"] is True
    assert listed["items_now"] == 40 - SLICE
    assert outcome[0]["items"] == 40
    assert [b["id"] for b in batches.imports(lab.db, ctx)] == [late.batch_id - 1]
    assert status.status(lab.db, ctx)["counts"]["annotations"] == 1
    assert auditing.verify(lab.db, ctx)["intact"]


def test_a_lease_on_an_item_being_undone_is_refused_and_nothing_is_lost(lab: Lab) -> None:
    """An annotator holding an item of the import when its undo began is told on submit that
    it is no longer leased, before its item goes: no answer lands on a removed item, and the
    answers given meanwhile on other items stay."""
    ctx, who, late, late_ids = _team(lab)
    held: list[int] = []
    while True:  # the annotator has an item of the late import on screen
        task = tasks.next_task(lab.db, who, held=held)
        assert task is not None
        held.append(task["assignment_id"])
        if task["item"]["id"] in late_ids:
            break
    refused: list[str] = []

    def meanwhile(done: int, total: int) -> None:
        try:
            _in_thread(lambda: _answer(lab, who, task))
        except Conflict as exc:
            refused.append(exc.message)
        # a round trained now neither learns from nor queues the withdrawn items
        lab.train(ctx)
        for _ in range(5):
            other = _in_thread(lambda: tasks.next_task(lab.db, who, held=held))
            assert other["item"]["id"] not in late_ids
            held.append(other["assignment_id"])
            _answer(lab, who, other)

    thread, outcome = _undo_paused(lab, ctx, late.batch_id, meanwhile)
    thread.join(120)
    assert outcome and not isinstance(outcome[0], Exception), outcome
    assert refused and "no longer leased to you" in refused[0]
    assert "nothing was recorded" in refused[0]
    with lab.db.read() as conn:
        on_late = conn.execute(
            select(func.count()).where(annotation.c.item_id.in_(late_ids))
        ).scalar_one()
        left = conn.execute(select(func.count()).where(item.c.id.in_(late_ids))).scalar_one()
    assert (on_late, left) == (0, 0)
    assert status.status(lab.db, ctx)["counts"]["annotations"] == 5
    assert auditing.verify(lab.db, ctx)["intact"]


def test_an_undo_that_stopped_is_listed_as_being_undone_and_finishes_when_asked_again(
    lab: Lab,
) -> None:
    """A server that went down half way (here: the progress callback fails) leaves the import
    listed as being undone with the items not yet removed, served to nobody; undoing it again
    removes the rest and the import, audited once."""
    ctx, who, late, late_ids = _team(lab)

    def crash(done: int, total: int) -> None:
        raise KeyboardInterrupt

    def progress(done: int, total: int) -> None:
        if done == 2 * SLICE:
            crash(done, total)

    with pytest.raises(KeyboardInterrupt):
        batches.undo(lab.db, ctx, late.batch_id, progress=progress)
    listed = {b["id"]: b for b in batches.imports(lab.db, ctx)}[late.batch_id]
    assert (listed["undoing"], listed["items_now"], listed["items"]) == (True, 40 - 2 * SLICE, 40)
    served = [t["item"]["id"] for t in lab.label_next(who, n=10)]
    assert not set(served) & late_ids

    done = batches.undo(lab.db, ctx, late.batch_id)
    assert done["items"] == 40 - 2 * SLICE
    assert [b["id"] for b in batches.imports(lab.db, ctx)] == [late.batch_id - 1]
    with lab.db.read() as conn:
        events = conn.execute(
            select(audit_event.c.payload).where(audit_event.c.action == "import.undo")
        ).all()
    assert [e.payload["resumed"] for e in events] == [True]


def test_an_item_made_gold_during_an_undo_stops_it_and_keeps_the_rest(lab: Lab) -> None:
    """A manager who makes an item of the import gold while its undo runs stops the undo:
    the gold item and the items not removed yet stay (listed as being undone), and the undo
    finishes once the gold answer is gone."""
    ctx, who, late, late_ids = _team(lab)
    last = max(late_ids)

    def meanwhile(done: int, total: int) -> None:
        gold = {"sentiment": "positive"}
        _in_thread(lambda: quality.set_gold(lab.db, ctx, gold, item_id=last))

    thread, outcome = _undo_paused(lab, ctx, late.batch_id, meanwhile)
    thread.join(120)
    assert outcome and isinstance(outcome[0], Conflict), outcome
    assert "cannot go on" in outcome[0].message
    assert "1 is a gold item" in outcome[0].message
    listed = {b["id"]: b for b in batches.imports(lab.db, ctx)}[late.batch_id]
    assert listed["undoing"] is True
    assert 0 < listed["items_now"] < 40
    with pytest.raises(Conflict, match="cannot go on"):
        batches.undo(lab.db, ctx, late.batch_id)
    quality.remove_gold(lab.db, ctx, item_id=last)
    assert batches.undo(lab.db, ctx, late.batch_id)["items"] == listed["items_now"]


def test_a_lease_that_slipped_in_as_the_undo_began_is_never_answered(lab: Lab) -> None:
    """On PostgreSQL a fetch that picked an item just before the undo withdrew it can commit
    its lease just after the undo released the others. That lease is refused on submit, skip
    and renew (nothing recorded), its item is served to nobody, and the undo removes it."""
    ctx, who, late, late_ids = _team(lab)
    held: list[int] = []
    while True:
        task = tasks.next_task(lab.db, who, held=held)
        assert task is not None
        held.append(task["assignment_id"])
        if task["item"]["id"] in late_ids:
            break
    with lab.db.write() as conn:  # the race's outcome: withdrawn, the lease still there
        withdrawn = import_batch.c.id == late.batch_id
        conn.execute(update(import_batch).where(withdrawn).values(undoing_at=now()))
    for act in (
        lambda: _answer(lab, who, task),
        lambda: tasks.skip(lab.db, who, task["assignment_id"]),
        lambda: tasks.renew(lab.db, who, task["assignment_id"]),
    ):
        with pytest.raises(Conflict, match=r"being removed with its import\); nothing was"):
            act()
    again = tasks.next_task(lab.db, who)  # the live leases first, but never this one
    assert again is not None and again["assignment_id"] != task["assignment_id"]
    served = [t["item"]["id"] for t in lab.label_next(who, n=8)]
    assert not set(served) & late_ids
    assert batches.undo(lab.db, ctx, late.batch_id)["leases"] == 1
    with pytest.raises(Conflict, match="removed with its import"):
        _answer(lab, who, task)
    with lab.db.read() as conn:
        on_late = select(func.count()).where(annotation.c.item_id.in_(late_ids))
        assert conn.execute(on_late).scalar_one() == 0


@pytest.mark.parametrize("finish", [False, True])
def test_a_round_that_ranked_an_import_undone_meanwhile_queues_none_of_its_items(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, finish: bool
) -> None:
    """A round reads the pool, trains, then writes its queue; an undo that began meanwhile
    withdrew the import's items (or removed them all): the queue leaves them out, where the
    round failed on an item gone (a FOREIGN KEY error) and no new model came."""
    from labelloop.store import batches as store_batches
    from labelloop.store.tables import model_version, queue_entry
    from labelloop.workflow import label_issues, learning

    ctx, _, late, ids = _team(lab)
    stale = label_issues.stale

    def undone_then_stale(*args: Any, **kwargs: Any) -> Any:
        if finish:
            batches.undo(lab.db, ctx, late.batch_id)
        else:  # the undo's first transaction: its items withdrawn, none removed yet
            with lab.db.write(project_id=ctx.id) as conn:
                store_batches.unqueue(conn, late.batch_id)
                store_batches.withdraw(conn, late.batch_id, at=now())
        return stale(*args, **kwargs)

    monkeypatch.setattr(label_issues, "stale", undone_then_stale)
    monkeypatch.setattr(learning, "QUEUE_SLICE", 5)  # the rest goes in appended slices
    monkeypatch.setattr(learning, "APPEND_SLICE", 5)
    version = lab.train(ctx)
    with lab.db.read() as conn:
        newest = conn.execute(select(func.max(model_version.c.version))).scalar_one()
        queued = set(conn.execute(select(queue_entry.c.item_id)).scalars())
    assert version == newest == 2
    assert queued and not queued & ids
    monkeypatch.setattr(label_issues, "stale", stale)
    if not finish:
        assert batches.undo(lab.db, ctx, late.batch_id)["items"] == len(ids)


def test_a_search_during_an_undo_finds_none_of_its_items_and_none_is_sent_to_the_queue(
    lab: Lab,
) -> None:
    """An annotator's search of the pool leaves out the items of an import being undone, and
    sending one to the queue is refused: a seed pick, which nobody removes, held the items for
    good, so the undo stopped and could never finish."""
    from labelloop.errors import NotFound
    from labelloop.store import batches as store_batches
    from labelloop.workflow import seeding

    ctx, who, late, ids = _team(lab)
    assert seeding.search(lab.db, who, q="late")["total"] == len(ids)
    with lab.db.write(project_id=ctx.id) as conn:  # an undo's first step; it then stopped
        store_batches.unqueue(conn, late.batch_id)
        store_batches.withdraw(conn, late.batch_id, at=now())
    found = seeding.search(lab.db, who, q="late")
    assert (found["total"], found["items"]) == (0, [])
    assert seeding.search(lab.db, who, q="number")["total"] == 30
    one = min(ids)
    with pytest.raises(NotFound, match=f"no pool item {one} "):
        seeding.send_to_queue(lab.db, who, [one], query="late")
    assert batches.undo(lab.db, ctx, late.batch_id)["items"] == len(ids)


def test_items_being_undone_count_neither_in_the_pool_nor_as_work_left(lab: Lab) -> None:
    """While an undo is under way (here: stopped half way) its withdrawn items were counted in
    the pool and as remaining, so the labeling page said "waiting" once the rest was labeled
    and the project page showed work nobody can do. They count in neither now."""
    ctx, who, late, late_ids = _team(lab)
    lab.import_rows(
        ctx, make_rows(3, start=900, prefix="kept", labeled=True), labeled=True, filename="k.jsonl"
    )
    labeled_late = lab.import_rows(
        ctx,
        make_rows(4, start=950, prefix="gone", labeled=True),
        labeled=True,
        filename="gone.jsonl",
    )

    def stop(done: int, total: int) -> None:
        if done == SLICE:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        batches.undo(lab.db, ctx, late.batch_id, progress=stop)
    with pytest.raises(KeyboardInterrupt):  # its items carry imported labels
        batches.undo(lab.db, ctx, labeled_late.batch_id, progress=lambda d, t: stop(SLICE, t))
    counts = status.status(lab.db, ctx)["counts"]
    assert (counts["pool"], counts["labeled"], counts["remaining"]) == (33, 3, 30)
    lab.label_next(who, n=30)
    assert tasks.next_task(lab.db, who) is None
    idle = tasks.idle(lab.db, who)
    assert (idle["state"], idle["remaining"]) == ("done", 0)
    counts = status.status(lab.db, ctx)["counts"]
    assert (counts["pool"], counts["labeled"], counts["remaining"]) == (33, 33, 0)


def test_a_second_undo_while_one_runs_says_an_undo_is_under_way(lab: Lab) -> None:
    """Undo pressed again (another tab's "Finish undo", the CLI) while the undo ran was refused
    saying an import was still running: it says the import is being undone right now and
    removes nothing more; another import's undo, refused before, runs beside it."""
    ctx, who, late, late_ids = _team(lab)
    other = lab.import_rows(ctx, make_rows(5, start=800, prefix="other"), filename="o.jsonl")
    seen: dict[str, Any] = {}

    def meanwhile(done: int, total: int) -> None:
        try:
            _in_thread(lambda: batches.undo(lab.db, ctx, late.batch_id))
        except Conflict as exc:
            seen["same"] = exc.message
        seen["other"] = _in_thread(lambda: batches.undo(lab.db, ctx, other.batch_id))

    thread, outcome = _undo_paused(lab, ctx, late.batch_id, meanwhile)
    thread.join(120)
    assert outcome and outcome[0]["items"] == 40, outcome
    assert seen["same"] == (
        f"import {late.batch_id} ('late.jsonl') is being undone right now: its items are being "
        "removed; wait for that undo to end (the imports list shows how many are left)"
    )
    assert seen["other"]["items"] == 5
    assert [b["filename"] for b in batches.imports(lab.db, ctx)] == ["items.jsonl"]


def _stopped_half_way(lab: Lab, ctx: Any, batch_id: int) -> None:
    """Undo the import and stop the process after its first slice: the import is left listed
    as being undone, its other items withdrawn."""

    def stop(done: int, total: int) -> None:
        if done == SLICE:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        batches.undo(lab.db, ctx, batch_id, progress=stop)


def _held_undo(
    lab: Lab, ctx: Any, batch_id: int
) -> tuple[threading.Thread, list[Any], threading.Event, threading.Event]:
    """Run the undo in a thread held after its first slice until ``go`` is set; ``there`` is
    set once it is held (waited for while the thread runs). Returns the thread, its outcome,
    ``there`` and ``go``."""
    there, go = threading.Event(), threading.Event()

    def meanwhile(done: int, total: int) -> None:
        there.set()
        assert go.wait(60)

    thread, outcome = _undo_paused(lab, ctx, batch_id, meanwhile)
    while not there.wait(0.05) and thread.is_alive():
        pass
    return thread, outcome, there, go


def test_an_undo_stopped_half_way_is_finished_while_another_import_is_undone(lab: Lab) -> None:
    """An undo that stopped half way, undone again while the undo of another import of the
    project ran, was refused saying that it was being undone right now, which it was not: it
    now finishes beside the other, whose own second undo is still refused; an import started
    meanwhile waits until both have ended, and an undo asked while it waits is refused."""
    ctx, who, late, late_ids = _team(lab)
    other = lab.import_rows(ctx, make_rows(10, start=800, prefix="other"), filename="o.jsonl")
    _stopped_half_way(lab, ctx, late.batch_id)
    undoing_other, other_out, other_there, other_go = _held_undo(lab, ctx, other.batch_id)
    assert other_there.is_set(), other_out
    finishing, late_out, late_there, late_go = _held_undo(lab, ctx, late.batch_id)
    assert late_there.is_set(), late_out
    with pytest.raises(Conflict) as same:
        _in_thread(lambda: batches.undo(lab.db, ctx, other.batch_id))
    assert same.value.message == (
        f"import {other.batch_id} ('o.jsonl') is being undone right now: its items are being "
        "removed; wait for that undo to end (the imports list shows how many are left)"
    )
    imported: list[Any] = []
    importing = threading.Thread(
        target=lambda: imported.append(
            lab.import_rows(ctx, make_rows(3, start=900, prefix="new"), filename="n.jsonl")
        )
    )
    importing.start()
    importing.join(0.5)
    assert imported == []  # both undos run: the import waits
    first = late.batch_id - 1
    with pytest.raises(Conflict) as behind:  # refused at once, never waiting behind it
        _in_thread(lambda: batches.undo(lab.db, ctx, first))
    assert behind.value.message == (
        f"import {first} cannot be undone while an import into project 'sent' is still "
        "running: nothing was removed; undo it once that import has finished"
    )
    other_go.set()
    undoing_other.join(60)
    assert other_out and other_out[0]["items"] == 10, other_out
    importing.join(0.5)
    assert imported == []  # one undo still runs
    late_go.set()
    finishing.join(60)
    assert late_out and late_out[0]["items"] == 40 - SLICE, late_out
    importing.join(60)
    assert imported and imported[0].n_items == 3
    listed = [b["filename"] for b in batches.imports(lab.db, ctx)]
    assert listed == ["n.jsonl", "items.jsonl"]
    assert auditing.verify(lab.db, ctx)["intact"]


def test_random_controls_are_never_drawn_from_an_import_being_undone(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project serving random control items (``random_share``) draws them from its pool but
    never from an import being undone (here: stopped half way), down to its last open item."""
    from labelloop.workflow import seeding

    monkeypatch.setattr(seeding._coin, "random", lambda: 0.0)  # every pick a random control
    ctx = lab.project(random_share=0.5)
    lab.import_rows(ctx, make_rows(10))
    late = lab.import_rows(ctx, make_rows(20, start=500, prefix="late"), filename="late.jsonl")
    who = lab.member("sent", "ann", "annotator")
    _stopped_half_way(lab, ctx, late.batch_id)
    with lab.db.read() as conn:
        q = select(item.c.id).where(item.c.import_batch_id == late.batch_id)
        withdrawn = set(conn.execute(q).scalars())
    assert len(withdrawn) == 20 - SLICE
    lab.train(ctx)  # controls take the places of queue picks: the queue comes first
    served = []
    while (task := tasks.next_task(lab.db, who)) is not None:
        served.append(task["item"]["id"])
        _answer(lab, who, task)
    assert len(served) == 10 and not withdrawn & set(served)
    assert tasks.idle(lab.db, who)["state"] == "done"
