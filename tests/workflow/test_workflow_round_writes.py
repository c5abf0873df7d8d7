"""What the learner writes (a round's queue, seed picks, a spot check's taken-back labels) is
stored row for row as computed, on either store, and reaches PostgreSQL in a few statements."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select

from labelloop.store import db as store_db
from labelloop.store import learning as store_learning
from labelloop.store.db import Database
from labelloop.store.tables import auto_label_check, item_label, queue_entry, seed_pick
from labelloop.workflow import autolabel, learning, seeding, tasks
from labelloop.workflow.features import FeatureCache
from tests.conftest import Lab, auto_project


@contextmanager
def inserts_sent(db: Database) -> Iterator[Counter[str]]:
    """The INSERT statements the store sends, by table. psycopg runs a statement with many
    sets of parameters (an executemany) as one statement per set, so each set counts."""
    sent: Counter[str] = Counter()

    def note(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if statement.startswith("INSERT INTO "):
            sent[statement.split()[2].strip('"')] += len(params) if many else 1

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


QUEUE_COLUMNS = ("rank", "item_id", "score", "reason", "suggestion", "suggestion_confidence")


def _stored_queue(db: Database) -> tuple[list[int], list[dict[str, Any]]]:
    """The model versions that have queue entries, and the newest one's entries by rank."""
    with db.read() as conn:
        versions = sorted(
            {int(v) for v in conn.execute(select(queue_entry.c.model_version_id)).scalars()}
        )
        q = (
            select(*(queue_entry.c[c] for c in QUEUE_COLUMNS))
            .where(queue_entry.c.model_version_id == versions[-1])
            .order_by(queue_entry.c.rank)
        )
        return versions, [dict(r) for r in conn.execute(q).mappings()]


def test_a_rounds_queue_is_stored_entry_for_entry_as_the_round_ranked_it(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written in slices (and several statements a slice on PostgreSQL), every entry keeps its
    rank, item, score, reason and suggestion; the next round's queue replaces it whole."""
    monkeypatch.setattr(learning, "QUEUE_SLICE", 7)
    monkeypatch.setattr(learning, "APPEND_SLICE", 5)
    monkeypatch.setattr(learning, "WRITE_PAUSE_S", 0.0)
    monkeypatch.setattr(store_db, "MANY_ROWS", 3)
    computed: list[dict[str, Any]] = []
    for name, rows_arg in (("save_round", "queue"), ("append_queue", "rows")):
        real = getattr(store_learning, name)

        def spy(*args: Any, _real: Any = real, _arg: str = rows_arg, **kw: Any) -> Any:
            computed.extend(dict(r) for r in kw[_arg])
            return _real(*args, **kw)

        monkeypatch.setattr(store_learning, name, spy)
    ctx = lab.project(queue_size=40)
    lab.import_rows(ctx, lab.rows(12, labeled=True), labeled=True)
    lab.import_rows(ctx, lab.rows(60, start=100), filename="more.jsonl")
    lab.train(ctx)
    lab.label_next(ctx, n=3)
    computed.clear()
    lab.train(ctx)
    versions, stored = _stored_queue(lab.db)
    assert len(versions) == 1, "the old queue is gone"
    assert [e["rank"] for e in stored] == list(range(40))
    assert stored == [{c: e[c] for c in QUEUE_COLUMNS} for e in computed]
    assert len({e["reason"] for e in stored}) > 1 and all(e["suggestion"] for e in stored)


def test_a_rounds_queue_reaches_postgresql_as_one_insert_per_slice(lab: Lab) -> None:
    """The product's queue of 500 is written in three transactions of up to 200 entries: on
    PostgreSQL three INSERT statements, where it was 500 (one per entry)."""
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(12, labeled=True), labeled=True)
    lab.import_rows(ctx, lab.rows(520, start=100), filename="more.jsonl")
    with inserts_sent(lab.db) as sent:
        lab.train(ctx)
    _, stored = _stored_queue(lab.db)
    assert len(stored) == 500 and [e["rank"] for e in stored] == list(range(500))
    if not lab.db.is_sqlite:
        assert sent["queue_entry"] == 3


def test_seed_picks_are_stored_and_served_in_the_order_sent(lab: Lab) -> None:
    """Picks sent in no particular order come first in that order, each with the sentence saying
    who found it how (quotes and accents as typed); on PostgreSQL in one INSERT."""
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(12, labeled=True), labeled=True)
    lab.import_rows(ctx, lab.rows(30, start=100), filename="more.jsonl")
    lab.train(ctx)
    with lab.db.read() as conn:
        pool = conn.execute(
            select(queue_entry.c.item_id).order_by(queue_entry.c.rank.desc())
        ).scalars()
        picks = [int(i) for i in pool][:9]
    picks = picks[1::2] + picks[::2]
    query = 'café\'s "refund" ; DROP'
    with inserts_sent(lab.db) as sent:
        done = seeding.send_to_queue(lab.db, ctx, picks, query=query)
    assert done["added"] == picks
    with lab.db.read() as conn:
        q = select(seed_pick.c.item_id, seed_pick.c.reason, seed_pick.c.created_by)
        stored = [tuple(r) for r in conn.execute(q.order_by(seed_pick.c.id))]
    reason = f"searched by admin for '{query}'"
    assert stored == [(i, reason, lab.admin.id) for i in picks]
    served: list[dict[str, Any]] = []
    for _ in picks:
        held = [t["assignment_id"] for t in served]
        served.append(tasks.next_task(lab.db, ctx, held=held) or {})
    assert [int(t["item"]["id"]) for t in served] == picks
    assert {t["selection"]["reason"] for t in served} == {reason}
    if not lab.db.is_sqlite:
        assert sent["seed_pick"] == 1


def test_a_spot_check_keeps_each_taken_back_label_and_its_confidence(
    lab: Lab, tmp_path: Any
) -> None:
    """The labels a spot check takes back are kept as the model gave them (label, confidence),
    in the order drawn, and come first for people in that order; on PostgreSQL the checks and
    their seed picks are one INSERT each."""
    ctx = auto_project(lab, "sent")
    lab.train(ctx)
    cache = FeatureCache(tmp_path / "features")
    done = autolabel.apply(lab.db, ctx, cache=cache, confidence=0.78, min_accuracy=0.9)
    with lab.db.read() as conn:
        q = select(item_label.c.item_id, item_label.c.label, item_label.c.confidence)
        by_model = q.where(item_label.c.auto_run_id == done["run_id"])
        given = {int(i): (label, p) for i, label, p in conn.execute(by_model)}
    with inserts_sent(lab.db) as sent:
        checked = autolabel.spot_check(lab.db, ctx, done["run_id"], 9)
    drawn = checked["item_ids"]
    assert len(drawn) == 9
    with lab.db.read() as conn:
        q = select(auto_label_check).order_by(auto_label_check.c.id)
        stored = [dict(r) for r in conn.execute(q).mappings()]
        picked = conn.execute(select(seed_pick.c.item_id).order_by(seed_pick.c.id)).scalars()
        picked = [int(i) for i in picked]
    assert [r["item_id"] for r in stored] == drawn == picked
    assert [(r["label"], r["confidence"]) for r in stored] == [given[i] for i in drawn]
    assert {(r["run_id"], r["created_by"]) for r in stored} == {(done["run_id"], lab.admin.id)}
    if not lab.db.is_sqlite:
        assert (sent["auto_label_check"], sent["seed_pick"]) == (1, 1)
