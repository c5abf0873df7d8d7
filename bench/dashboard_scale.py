"""The operations dashboard at scale: how long a manager waits for it on a large project.

One command:  python bench/dashboard_scale.py [--sizes 10000,100000] [--labeled 0.4]
                                              [--annotators 8] [--days 30] [--review 0.2]
                                              [--postgres [--database-url URL]] [--top 5]

For each size N it builds a project on SQLite: N synthetic texts imported through the real JSONL
importer in four batches (so the drift check has a newest import and labeled items before it),
then the history of a labeling team written straight into the tables (``--labeled`` of the
items labeled by ``--annotators`` people over the last ``--days`` days, each with a lease, an
annotation with its active time and a resolved label; ``--review`` of them still waiting in
review instead). It then times ``labelloop.workflow.insight.report`` over 30 days: the first
call (the drift check fits) and the next ones (the drift check memoized, every other figure
derived again), the median of ``--repeat``, and on its own the read of what waits in each stage
(``waiting_ms``, the median of 15 calls), which looks at every item of the pool.
With ``--postgres`` the project is built on PostgreSQL instead (a throwaway cluster that loads
``pg_stat_statements``, ``initdb`` on PATH; or the server at ``--database-url``), analyzed as
autovacuum would, and one more call counts the statements a report sends
(``statements_per_report``) and lists the ``--top`` that took the server longest, each with
its mean milliseconds.
Progress and the table go to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    SCHEMA,
    count_from_now,
    counting_postgres,
    emit,
    label_of,
    log,
    make_texts,
    sqlite_file,
)

BATCHES = 4
WAITING_CALLS = 15
"""Calls of the waiting-stage counts timed on their own (``waiting_ms``, their median)."""


def build(db: object, n: int, a: argparse.Namespace) -> object:
    """A project of ``n`` items and its team's history; returns the admin's context."""
    from labelloop.govern.permissions import Permission
    from labelloop.store.tables import annotation, assignment, item, item_label
    from labelloop.store.users import now
    from labelloop.workflow import accounts, imports, projects

    admin = accounts.create_user(db, "admin", None, is_admin=True)
    projects.create_project(db, "p", SCHEMA, actor=admin)
    ctx = projects.access(db, "p", admin, Permission.VIEW_PROJECT)
    texts = make_texts(n, seed=a.seed)
    for b, part in enumerate(np.array_split(np.arange(n), BATCHES)):
        body = "\n".join(json.dumps({"id": f"t{i}", "text": texts[i]}) for i in part) + "\n"
        imports.import_items(
            db, ctx, io.BytesIO(body.encode()), fmt="jsonl", filename=f"batch-{b}.jsonl",
            id_field="id", label_field=None, split="pool",
        )  # fmt: skip
    people = [accounts.create_user(db, f"ann{k}", None).id for k in range(a.annotators)]
    rng = np.random.default_rng(a.seed)
    with db.read() as conn:
        ids = [
            r
            for (r,) in conn.execute(item.select().with_only_columns(item.c.id).order_by(item.c.id))
        ]
    text_of = dict(zip(ids, texts, strict=True))  # imported in order
    picked = rng.choice(np.array(ids), size=int(a.labeled * n), replace=False)
    end = now()
    ages = np.sort(rng.uniform(0, a.days * 86400, size=len(picked)))[::-1]
    leases, notes, labels = [], [], []
    for k, (item_id, age) in enumerate(zip(picked.tolist(), ages.tolist(), strict=True)):
        at = end - timedelta(seconds=age)
        user_id = people[k % len(people)]
        active = int(rng.lognormal(np.log(4000), 0.5))
        in_review = rng.random() < a.review
        label = label_of(text_of[item_id])
        leases.append(
            {"id": k + 1, "project_id": ctx.id, "item_id": item_id, "user_id": user_id,
             "state": "submitted", "leased_at": at - timedelta(milliseconds=active),
             "lease_expires_at": at + timedelta(hours=1), "strategy": "margin"}
        )  # fmt: skip
        notes.append(
            {"id": k + 1, "project_id": ctx.id, "item_id": item_id, "user_id": user_id,
             "assignment_id": k + 1, "value": {"sentiment": label},
             "status": "in_review" if in_review else "submitted", "schema_version": 1,
             "guideline_version": 1, "active_ms": active, "created_at": at, "updated_at": at}
        )  # fmt: skip
        if not in_review:
            labels.append(
                {"item_id": item_id, "project_id": ctx.id, "value": {"sentiment": label},
                 "label": label, "resolution": "single", "annotation_id": k + 1,
                 "decided_by": user_id, "decided_at": at}
            )  # fmt: skip
    with db.write() as conn:
        for table, rows in ((assignment, leases), (annotation, notes), (item_label, labels)):
            for start in range(0, len(rows), 5000):
                conn.execute(table.insert(), rows[start : start + 5000])
    return ctx


def slowest(conn: Any, top: int) -> tuple[int, list[list[Any]]]:
    """The statements run since :func:`count_from_now` and the ``top`` that took the server
    longest, as [calls, mean ms, the statement's first 90 characters]."""
    mine = "dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
    total = conn.exec_driver_sql(
        f"SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE {mine}"
        " AND position('pg_stat_statements' in query) = 0"
    ).scalar_one()
    rows = conn.exec_driver_sql(
        "SELECT calls, total_exec_time / calls, left(query, 90) FROM pg_stat_statements"
        f" WHERE {mine} AND position('pg_stat_statements' in query) = 0"
        f" ORDER BY total_exec_time DESC LIMIT {int(top)}"
    ).all()
    return int(total), [[int(c), round(float(ms), 1), " ".join(q.split())] for c, ms, q in rows]


def measure(url: str, n: int, a: argparse.Namespace, *, postgres: bool) -> dict[str, Any]:
    """Build the project at ``url`` and time its report; one row of the table."""
    from labelloop.store import insight as store_insight
    from labelloop.store.db import Database
    from labelloop.store.migrate import upgrade
    from labelloop.store.users import now
    from labelloop.workflow import insight

    db = Database(url)
    try:
        upgrade(db)
        log(f"{n:,} items: building")
        t0 = time.perf_counter()
        ctx = build(db, n, a)
        log(f"{n:,} items: built in {time.perf_counter() - t0:.1f} s")
        if postgres:  # as autovacuum would soon after an import
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        t0 = time.perf_counter()
        first = insight.report(db, ctx, days=30)
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            insight.report(db, ctx, days=30)
            warm.append(time.perf_counter() - t0)
        row = {
            "backend": "postgresql" if postgres else "sqlite",
            "items": n,
            "annotations": first["counts"]["annotations"],
            "first_s": round(cold, 3),
            "next_s": round(statistics.median(warm), 3),
            "drift": first["drift"]["state"],
            "drift_auc": first["drift"].get("auc"),
            "bottleneck": (first["bottleneck"] or {}).get("key"),
            "per_day": first["throughput"]["rate"]["per_day"],
        }
        # Where work waits: the stages' counts, which look at every item of the pool.
        stages = []
        with db.read() as conn:
            for _ in range(WAITING_CALLS):
                t0 = time.perf_counter()
                store_insight.waiting(conn, ctx.id, at=now())
                stages.append(time.perf_counter() - t0)
        row["waiting_ms"] = round(1000 * statistics.median(stages), 1)
        if postgres:
            with db.engine.connect() as conn:
                if count_from_now(conn):
                    insight.report(db, ctx, days=30)
                    row["statements_per_report"], row["top"] = slowest(conn, a.top)
        return row
    finally:
        db.dispose()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000", help="item counts (comma-separated)")
    p.add_argument("--labeled", type=float, default=0.4, help="share of items labeled")
    p.add_argument("--annotators", type=int, default=8)
    p.add_argument("--days", type=int, default=30, help="days the labels are spread over")
    p.add_argument("--review", type=float, default=0.2, help="share still waiting in review")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--postgres", action="store_true", help="on PostgreSQL instead of SQLite")
    p.add_argument("--database-url", default=None, help="with --postgres: this server")
    p.add_argument("--top", type=int, default=5, help="with --postgres: slowest statements")
    a = p.parse_args(argv)

    rows = []
    with ExitStack() as stack:
        if a.postgres:
            fresh = stack.enter_context(counting_postgres(a.database_url))
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        for n in (int(s) for s in a.sizes.split(",")):
            place = fresh(f"dash{n}") if a.postgres else sqlite_file(folder, f"dash{n}")
            with place as url:
                row = measure(url, n, a, postgres=a.postgres)
            log(json.dumps(row))
            rows.append(row)
    log("items      annotations  first call  next calls  waiting   statements")
    for r in rows:
        first, later = f"{r['first_s']:>8.2f} s", f"{r['next_s']:>8.2f} s"
        log(f"{r['items']:>9,}  {r['annotations']:>11,}  {first}  {later}  "
            f"{r['waiting_ms']:>6.1f} ms  {r.get('statements_per_report', '')}")  # fmt: skip
        for calls, ms, q in r.get("top", []):
            log(f"    {ms:>7.1f} ms x{calls}  {q}")
    emit({"bench": "dashboard_scale", "rows": rows})


if __name__ == "__main__":
    main()
