"""Undoing an import: its items and what only they had go; records people made keep them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from labelloop.errors import Conflict, NotFound, PermissionDenied
from labelloop.store import items as store_items
from labelloop.store.tables import (
    assignment,
    audit_event,
    import_batch,
    item,
    item_label,
    queue_entry,
)
from labelloop.workflow import (
    autolabel,
    batches,
    flags,
    guidelines,
    learning,
    quality,
    seeding,
    tasks,
)
from labelloop.workflow.features import FeatureCache, FeatureFiles
from tests.conftest import Lab, auto_project, make_rows


def _rows(lab: Lab, table: Any, *where: Any) -> int:
    with lab.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def _ids_of(lab: Lab, batch_id: int) -> set[int]:
    with lab.db.read() as conn:
        q = select(item.c.id).where(item.c.import_batch_id == batch_id)
        return set(conn.execute(q).scalars())


def _wrong_file(lab: Lab) -> tuple[Any, Any, Any]:
    """A project with a good import and, after a round, a wrong one (labeled, with
    pre-annotations) that a second round queued; returns (ctx, good, wrong)."""
    ctx = lab.project()
    good = lab.import_rows(ctx, make_rows(30))
    lab.import_rows(
        ctx, make_rows(9, start=1000, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    lab.train(ctx)
    rows = make_rows(12, start=500, prefix="wrong", labeled=True)
    rows = [{**r, "predictions": {"sentiment": r["label"]}} for r in rows[:6]] + rows[6:]
    rows += make_rows(8, start=600, prefix="wrong")  # unlabeled: the queue ranks them
    from labelloop.workflow import imports

    wrong = imports.import_items(
        lab.db,
        ctx,
        lab.jsonl(rows),
        fmt="jsonl",
        filename="test-split.jsonl",
        id_field="id",
        label_field="label",
        prediction_field="predictions",
    )
    lab.train(ctx)
    return ctx, good, wrong


def test_undo_removes_the_import_its_queue_entries_leases_and_labels(lab: Lab) -> None:
    ctx, good, wrong = _wrong_file(lab)
    removed = _ids_of(lab, wrong.batch_id)
    assert len(removed) == 20
    with lab.db.read() as conn:
        before = store_items.counts(conn, ctx.id)
    assert _rows(lab, queue_entry, queue_entry.c.item_id.in_(removed)) > 0

    # An annotator is served one of the wrong items and has it on screen, unanswered.
    annotator = lab.member("sent", "ann", "annotator")
    held: list[int] = []
    while True:
        task = tasks.next_task(lab.db, annotator, held=held)
        assert task is not None
        held.append(task["assignment_id"])
        if task["item"]["id"] in removed:
            break

    listed = {b["id"]: b for b in batches.imports(lab.db, ctx)}
    assert listed[wrong.batch_id] | {"at": None} == {
        "id": wrong.batch_id,
        "filename": "test-split.jsonl",
        "format": "jsonl",
        "split": "pool",
        "by": "admin",
        "at": None,
        "items": 20,
        "labeled": 12,
        "duplicates": 0,
        "items_now": 20,
        "eval_now": 0,
        "touched": 0,
        "held": 0,
        "leased": 1,
        "undoable": True,
        "upload_folder": None,
        "undoing": False,
    }

    done = batches.undo(lab.db, ctx, wrong.batch_id)
    assert done == {
        "batch_id": wrong.batch_id,
        "filename": "test-split.jsonl",
        "split": "pool",
        "items": 20,
        "labels": 12,
        "predictions": 6,
        "leases": 1,
        "files": 0,
    }
    with lab.db.read() as conn:
        after = store_items.counts(conn, ctx.id)
    assert after["pool"] == before["pool"] - 20
    assert after["labeled"] == before["labeled"] - 12
    assert _rows(lab, item, item.c.id.in_(removed)) == 0
    assert _rows(lab, item_label, item_label.c.item_id.in_(removed)) == 0
    assert _rows(lab, queue_entry, queue_entry.c.item_id.in_(removed)) == 0
    assert _rows(lab, assignment, assignment.c.item_id.in_(removed)) == 0
    assert _rows(lab, import_batch, import_batch.c.id == wrong.batch_id) == 0
    assert [b["id"] for b in batches.imports(lab.db, ctx)] == [good.batch_id + 1, good.batch_id]

    # The page still showing the removed item is told it is no longer leased, and nothing is
    # recorded; the other items go on being served, never a removed one.
    with pytest.raises(Conflict, match="no longer leased to you"):
        tasks.submit(lab.db, annotator, held[-1], {"sentiment": "neutral"}, active_ms=900)
    with pytest.raises(Conflict, match="no longer leased to you"):
        tasks.renew(lab.db, annotator, held[-1])
    served = [t["item"]["id"] for t in lab.label_next(annotator, n=5)]
    assert not set(served) & removed

    with lab.db.read() as conn:
        event = conn.execute(
            select(audit_event.c.subject, audit_event.c.payload)
            .where(audit_event.c.action == "import.undo")
            .order_by(audit_event.c.id.desc())
        ).first()
    assert event is not None
    assert event.subject == f"import_batch:{wrong.batch_id}"
    assert event.payload["filename"] == "test-split.jsonl"
    assert event.payload["items"] == 20 and event.payload["labels"] == 12


def test_the_learner_rounds_after_an_undo_and_never_scores_removed_items(lab: Lab) -> None:
    ctx, _, wrong = _wrong_file(lab)
    removed = _ids_of(lab, wrong.batch_id)
    assert not learning.due(lab.db, ctx.id, ahead=True)
    batches.undo(lab.db, ctx, wrong.batch_id)
    assert learning.due(lab.db, ctx.id, ahead=True)  # the pool changed
    lab.train(ctx)
    assert not learning.due(lab.db, ctx.id, ahead=True)
    assert _rows(lab, queue_entry, queue_entry.c.item_id.in_(removed)) == 0
    # A file of the same size imported after an undo (before any round) changes no count the
    # learner used to watch: its items still get their round.
    again = lab.import_rows(ctx, make_rows(20, start=700, prefix="wrong-again"))
    lab.train(ctx)
    batches.undo(lab.db, ctx, again.batch_id)
    lab.import_rows(ctx, make_rows(20, start=800, prefix="right"))
    assert learning.due(lab.db, ctx.id, ahead=True)


def test_an_import_people_worked_on_is_refused_naming_what_holds_it(lab: Lab) -> None:
    ctx, _, wrong = _wrong_file(lab)
    annotator = lab.member("sent", "ann", "annotator")
    removed = _ids_of(lab, wrong.batch_id)
    answered = 0
    while answered < 2:  # people answer two of the wrong file's items
        task = tasks.next_task(lab.db, annotator)
        assert task is not None
        if task["item"]["id"] in removed:
            answered += 1
            tasks.submit(
                lab.db, annotator, task["assignment_id"], {"sentiment": "neutral"}, active_ms=800
            )
        else:
            tasks.skip(lab.db, annotator, task["assignment_id"])
    unlabeled = sorted(i for i in removed if _rows(lab, item_label, item_label.c.item_id == i) == 0)
    quality.set_gold(lab.db, ctx, {"sentiment": "positive"}, item_id=unlabeled[0])
    with lab.db.read() as conn:
        before = store_items.counts(conn, ctx.id)
    with pytest.raises(Conflict) as refused:
        batches.undo(lab.db, ctx, wrong.batch_id)
    assert refused.value.status == 409
    assert refused.value.message == (
        f"import {wrong.batch_id} ('test-split.jsonl') cannot be undone: 2 of its 20 items have "
        "answers or labels from people; 1 is a gold item. Those records stay traceable; "
        "nothing was removed"
    )
    with lab.db.read() as conn:
        assert store_items.counts(conn, ctx.id) == before
    assert _ids_of(lab, wrong.batch_id) == removed
    assert _rows(lab, queue_entry, queue_entry.c.item_id.in_(removed)) > 0  # rolled back
    listed = {b["id"]: b for b in batches.imports(lab.db, ctx)}[wrong.batch_id]
    assert (listed["touched"], listed["held"], listed["undoable"]) == (3, 3, False)


@pytest.mark.parametrize("hold", ["example", "flag", "seed"])
def test_a_pinned_flagged_or_seeded_item_holds_its_import(lab: Lab, hold: str) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(10))
    lab.train(ctx)
    batch = lab.import_rows(ctx, make_rows(4, start=50, prefix="late"), filename="late.jsonl")
    lab.train(ctx)
    late = sorted(_ids_of(lab, batch.batch_id))
    if hold == "example":
        guidelines.pin_example(lab.db, ctx, item_id=late[0], value={"sentiment": "neutral"})
        said = "1 of its 4 items is pinned as a guideline example"
    elif hold == "seed":
        seeding.send_to_queue(lab.db, ctx, [late[0]], query="late")
        said = "1 of its 4 items was picked as a seed"
    else:
        annotator = lab.member("sent", "ann", "annotator")
        task = tasks.next_task(lab.db, annotator)
        while task is not None and task["item"]["id"] not in late:
            tasks.skip(lab.db, annotator, task["assignment_id"])
            task = tasks.next_task(lab.db, annotator)
        assert task is not None
        flags.flag_task(lab.db, annotator, task["assignment_id"], note="unclear")
        said = "1 of its 4 items is flagged"
    with pytest.raises(Conflict, match=said):
        batches.undo(lab.db, ctx, batch.batch_id)
    assert len(_ids_of(lab, batch.batch_id)) == 4


def test_an_item_an_auto_label_run_labeled_holds_its_import(lab: Lab) -> None:
    ctx = auto_project(lab, "auto")
    with lab.db.read() as conn:
        more = conn.execute(
            select(import_batch.c.id).where(import_batch.c.filename == "more.jsonl")
        ).scalar_one()
    lab.train(ctx)
    run = autolabel.apply(lab.db, ctx, cache=FeatureCache(), confidence=0.78, min_accuracy=0.9)
    assert run["n_labeled"] > 0
    with pytest.raises(Conflict, match="were labeled by an auto-label run"):
        batches.undo(lab.db, ctx, more)
    autolabel.undo(lab.db, ctx, run["run_id"])  # the run's labels go; its items are free again
    assert batches.undo(lab.db, ctx, more)["items"] == 50


def test_only_managers_list_or_undo_and_only_their_projects_imports(lab: Lab) -> None:
    ctx = lab.project()
    batch = lab.import_rows(ctx, make_rows(3))
    other = lab.project("other")
    theirs = lab.import_rows(other, make_rows(3, prefix="theirs"))
    for role in ("annotator", "reviewer"):
        member = lab.member("sent", role, role)
        with pytest.raises(PermissionDenied):
            batches.imports(lab.db, member)
        with pytest.raises(PermissionDenied):
            batches.undo(lab.db, member, batch.batch_id)
    with pytest.raises(NotFound, match=f"project 'sent' has no import {theirs.batch_id}"):
        batches.undo(lab.db, ctx, theirs.batch_id)
    assert len(_ids_of(lab, theirs.batch_id)) == 3
    batches.undo(lab.db, ctx, batch.batch_id)
    with pytest.raises(NotFound):  # undone already
        batches.undo(lab.db, ctx, batch.batch_id)


def test_ids_of_removed_items_are_never_given_again_nor_their_features(sqlite_lab: Lab) -> None:
    """SQLite gives a new row the highest id + 1: removing the newest items would hand their
    ids to the next import, and a cache keyed by item id would serve it the old content."""
    lab = sqlite_lab
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(12))
    cache = FeatureCache()
    learning.train(lab.db, ctx, cache=cache)
    wrong = lab.import_rows(ctx, [{"id": "w", "text": "great wrong text from the test file"}])
    learning.train(lab.db, ctx, cache=cache)
    (old_id,) = _ids_of(lab, wrong.batch_id)
    annotator = lab.member("sent", "ann", "annotator")
    held: list[int] = []
    lease: dict[str, Any] | None = None
    while lease is None or lease["item"]["id"] != old_id:  # the newest lease: the item to go
        lease = tasks.next_task(lab.db, annotator, held=held)
        assert lease is not None
        held.append(lease["assignment_id"])

    # Undone from the CLI: the server's cache (``cache``) is not told.
    batches.undo(lab.db, ctx, wrong.batch_id)
    right = lab.import_rows(ctx, [{"id": "r", "text": "awful right text from the real file"}])
    (new_id,) = _ids_of(lab, right.batch_id)
    # The round reads the new item's own text, not the removed one's kept for its id.
    rows = learning.round_rows(lab.db, ctx, cache).rows
    texts = {r["id"]: r["payload"]["text"] for r in rows}
    assert texts[new_id] == "awful right text from the real file"
    assert old_id not in texts
    assert new_id > old_id and right.batch_id > wrong.batch_id
    nxt = tasks.next_task(lab.db, annotator, held=held)
    assert nxt is not None and nxt["assignment_id"] > lease["assignment_id"]
    with pytest.raises(Conflict, match="no longer leased"):  # the old page: not the new lease
        tasks.submit(
            lab.db, annotator, lease["assignment_id"], {"sentiment": "neutral"}, active_ms=9
        )

    learning.train(lab.db, ctx, cache=cache)
    with lab.db.read() as conn:
        queued = set(conn.execute(select(queue_entry.c.item_id)).scalars())
    assert new_id in queued and old_id not in queued


def test_forgotten_items_leave_the_stored_features(tmp_path: Any) -> None:
    files = FeatureFiles(tmp_path / "1" / "v")
    files.append(np.array([1, 2, 3]), np.eye(3, dtype=np.float32))
    files.append(np.array([4]), np.ones((1, 3), dtype=np.float32))
    cache = FeatureCache(tmp_path)
    cache.forget(1, [2, 4])
    ids, X = files.load()
    assert ids.tolist() == [1, 3] and files.count() == 2
    assert X is not None and X.tolist() == [[1, 0, 0], [0, 0, 1]]
    memory = FeatureFiles(None)
    memory.append(np.array([5, 6]), np.eye(2))
    assert memory.drop(np.array([6])) == 1 and memory.ids().tolist() == [5]


def test_an_undo_racing_another_workers_merge_forgets_the_rows_all_the_same(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "1" / "v"
    files = FeatureFiles(folder)
    for i in (1, 2, 3):
        files.append(np.array([i]), np.full((1, 2), float(i), dtype=np.float32))
    listed = FeatureFiles._names
    merged: list[bool] = []

    def list_then_merge(self: FeatureFiles) -> list[str]:
        names = listed(self)
        if not merged:  # another worker merges right after the undo listed the parts
            merged.append(True)
            other = FeatureFiles(folder)
            parts = [
                (np.load(folder / f"{n}.ids.npy"), np.load(folder / f"{n}.X.npy")) for n in names
            ]
            other._rewrite(names, parts)
        return names

    monkeypatch.setattr(FeatureFiles, "_names", list_then_merge)
    FeatureCache(tmp_path).forget(1, [2])
    monkeypatch.undo()
    assert merged, "the merge did not run between listing and reading"
    ids, X = files.load()
    assert ids.tolist() == [1, 3] and files.count() == 2
    assert X is not None and X[:, 0].tolist() == [1.0, 3.0]
