"""Many annotators at once on one store: no item served twice, no acknowledged label lost."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from labelloop.store.tables import annotation, assignment, item_label
from labelloop.workflow import status, tasks

THREADS = 16
LOOPS = 6


def _label_in_parallel(lab: Any, people: list[Any]) -> list[tuple[int, int, int]]:
    """Every person runs LOOPS next/submit rounds at once; returns the acknowledged submits."""
    acked: list[tuple[int, int, int]] = []  # (annotation id, item id, user id)
    errors: list[BaseException] = []
    start = threading.Barrier(len(people))
    lock = threading.Lock()

    def work(who: Any) -> None:
        try:
            start.wait()
            for _ in range(LOOPS):
                task = tasks.next_task(lab.db, who)
                assert task is not None, "queue ran dry"
                value = {"sentiment": lab.truth(task["item"]["data"]["text"])}
                done = tasks.submit(lab.db, who, task["assignment_id"], value, active_ms=10)
                with lock:
                    acked.append((done["annotation_id"], done["item_id"], who.user.id))
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    return acked


@pytest.mark.parametrize("overlap", [1, 2])
def test_sixteen_annotators_in_parallel(lab: Any, overlap: int) -> None:
    ctx = lab.project(overlap=overlap)
    lab.import_rows(ctx, lab.rows(THREADS * LOOPS + 40))
    lab.train(ctx)
    people = [lab.member("sent", f"u{i}", "annotator") for i in range(THREADS)]
    acked = _label_in_parallel(lab, people)
    assert len(acked) == THREADS * LOOPS

    with lab.db.read() as conn:
        stored = {
            r["id"]: (r["item_id"], r["user_id"])
            for r in conn.execute(select(annotation)).mappings()
        }
        leases = Counter(conn.execute(select(assignment.c.item_id)).scalars())
        labels = set(conn.execute(select(item_label.c.item_id)).scalars())
    assert {a: (i, u) for a, i, u in acked} == stored  # nothing lost, nothing extra
    per_item = Counter(i for _, i, _ in acked)
    assert max(per_item.values()) == overlap, "an item was labeled by too many people"
    assert max(leases.values()) == overlap, "an item was leased to too many people"
    assert len({(i, u) for _, i, u in acked}) == len(acked), "someone labeled an item twice"
    full = {i for i, n in per_item.items() if n == overlap}
    assert labels == full, "an item with enough labels was left unresolved (or the reverse)"
    assert status.status(lab.db, ctx)["counts"]["labeled"] == len(full)
