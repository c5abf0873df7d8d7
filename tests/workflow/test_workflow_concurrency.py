"""Many annotators at once on one store: no item served twice, no acknowledged label lost."""

from __future__ import annotations

import io
import json
import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from labelloop.store.tables import annotation, assignment, item_label
from labelloop.workflow import auditing, imports, status, tasks

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


class _Gated(io.RawIOBase):
    """An upload that stops after ``head`` until ``go`` is set (``reached`` set meanwhile):
    an import still reading its file."""

    def __init__(self, head: bytes, tail: bytes) -> None:
        self.parts = [head, tail]
        self.reached = threading.Event()
        self.go = threading.Event()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if len(self.parts) == 1 and not self.go.is_set():
            self.reached.set()
            self.go.wait(30)
        while self.parts and not self.parts[0]:
            self.parts.pop(0)
            if len(self.parts) == 1 and not self.go.is_set():
                self.reached.set()
                self.go.wait(30)
        if not self.parts:
            return 0
        n = min(len(buffer), len(self.parts[0]))
        buffer[:n] = self.parts[0][:n]
        self.parts[0] = self.parts[0][n:]
        return n


def test_annotators_answer_while_an_import_reads_its_file(lab: Any) -> None:
    """A team's annotators kept answering while a manager imported a large file into their
    project through another server: their answers waited for the whole import before."""
    if lab.db.is_sqlite:
        pytest.skip("SQLite has one writer at a time by design")
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(30))
    lab.train(ctx)
    who = lab.member("sent", "ann", "annotator")
    rows = [json.dumps(r).encode() + b"\n" for r in lab.rows(40, start=500, prefix="late")]
    upload = _Gated(b"".join(rows[:20]), b"".join(rows[20:]))
    imported: list[Any] = []

    def run_import() -> None:
        source = io.BufferedReader(upload, buffer_size=256)
        imported.append(
            imports.import_items(lab.db, ctx, source, fmt="jsonl", filename="late.jsonl")
        )

    importing = threading.Thread(target=run_import)
    importing.start()
    try:
        assert upload.reached.wait(30)
        task = tasks.next_task(lab.db, who)
        assert task is not None
        answered: list[dict[str, Any]] = []
        value = {"sentiment": lab.truth(task["item"]["data"]["text"])}
        submitting = threading.Thread(
            target=lambda: answered.append(
                tasks.submit(lab.db, who, task["assignment_id"], value, active_ms=10)
            )
        )
        submitting.start()
        submitting.join(timeout=30)  # the import goes on only once this test lets it
        assert answered, "the answer waited for the import to end"
    finally:
        upload.go.set()
        importing.join(timeout=60)
    assert imported[0].n_items == 40
    assert status.status(lab.db, ctx)["counts"]["annotations"] == 1
    assert auditing.verify(lab.db, ctx)["intact"]


def test_eight_reviewers_at_once_are_served_eight_different_answers(lab: Any) -> None:
    from labelloop.workflow import review

    ctx = lab.project(review_policy="all")
    lab.import_rows(ctx, lab.rows(30))
    lab.train(ctx)
    lab.label_next(lab.member("sent", "ann", "annotator"), n=12)
    reviewers = [lab.member("sent", f"r{i}", "reviewer") for i in range(8)]
    shown: dict[str, int] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(reviewers))

    def work(who: Any) -> None:
        try:
            start.wait()
            view = review.next_review(lab.db, who)
            assert view is not None
            shown[who.user.username] = view["item"]["id"]
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(r,)) for r in reviewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(shown) == 8 and len(set(shown.values())) == 8


def test_a_reloaded_review_page_keeps_its_answer_when_the_old_page_gives_it_back_meanwhile(
    lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old review page's give-back arriving while the reloaded page is being served the
    same answer again: on PostgreSQL it deleted the lease the reload was moving, and the
    reload answered with an error (no lease left to name)."""
    from datetime import datetime

    from labelloop.store import review_leases as store_leases
    from labelloop.workflow import review, review_leases

    ctx = lab.project(review_policy="all")
    lab.import_rows(ctx, lab.rows(30))
    lab.train(ctx)
    lab.label_next(lab.member("sent", "ann", "annotator"), n=1)
    rita = lab.member("sent", "rita", "reviewer")
    shown = review.next_review(lab.db, rita)
    assert shown is not None
    item_id, told = shown["item"]["id"], datetime.fromisoformat(shown["lease_expires_at"])
    gave_back: list[dict[str, Any]] = []
    release_all = store_leases.release_all

    def old_page_leaves(*args: Any, **kwargs: Any) -> None:  # while the reload is served
        left = threading.Thread(
            target=lambda: gave_back.append(review_leases.release(lab.db, rita, item_id, ends=told))
        )
        left.start()
        left.join(timeout=1)  # it waits for the reload, or is done (the race)
        release_all(*args, **kwargs)

    monkeypatch.setattr(store_leases, "release_all", old_page_leaves)
    again = review.next_review(lab.db, rita)
    monkeypatch.setattr(store_leases, "release_all", release_all)
    assert again is not None and again["item"]["id"] == item_id
    for _ in range(100):
        if gave_back:
            break
        threading.Event().wait(0.1)
    assert gave_back == [{"item_id": item_id, "released": False}]
    remy = lab.member("sent", "remy", "reviewer")
    assert review.next_review(lab.db, remy) is None  # the answer is on rita's reloaded page
