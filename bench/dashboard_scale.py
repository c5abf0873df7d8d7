"""The operations dashboard at scale: how long a manager waits for it on a large project.

One command:  python bench/dashboard_scale.py [--sizes 10000,100000] [--labeled 0.4]
                                              [--annotators 8] [--days 30] [--review 0.2]

For each size N it builds a project on SQLite: N synthetic texts imported through the real JSONL
importer in four batches (so the drift check has a newest import and labeled items before it),
then the history of a labeling team written straight into the tables (``--labeled`` of the
items labeled by ``--annotators`` people over the last ``--days`` days, each with a lease, an
annotation with its active time and a resolved label; ``--review`` of them still waiting in
review instead). It then times ``labelloop.workflow.insight.report`` over 30 days: the first
call (the drift check fits) and the next ones (the drift check memoized, every other figure
derived again), the median of ``--repeat``.
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
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SCHEMA, emit, label_of, log, make_texts  # noqa: E402

BATCHES = 4


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


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000", help="item counts (comma-separated)")
    p.add_argument("--labeled", type=float, default=0.4, help="share of items labeled")
    p.add_argument("--annotators", type=int, default=8)
    p.add_argument("--days", type=int, default=30, help="days the labels are spread over")
    p.add_argument("--review", type=float, default=0.2, help="share still waiting in review")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)

    from labelloop.store.db import Database
    from labelloop.store.migrate import upgrade
    from labelloop.workflow import insight

    rows = []
    for n in (int(s) for s in a.sizes.split(",")):
        with tempfile.TemporaryDirectory() as home:
            db = Database(f"sqlite:///{home}/dash.db")
            upgrade(db)
            log(f"{n:,} items: building")
            t0 = time.perf_counter()
            ctx = build(db, n, a)
            log(f"{n:,} items: built in {time.perf_counter() - t0:.1f} s")
            t0 = time.perf_counter()
            first = insight.report(db, ctx, days=30)
            cold = time.perf_counter() - t0
            warm = []
            for _ in range(a.repeat):
                t0 = time.perf_counter()
                insight.report(db, ctx, days=30)
                warm.append(time.perf_counter() - t0)
            row = {
                "items": n,
                "annotations": first["counts"]["annotations"],
                "first_s": round(cold, 3),
                "next_s": round(statistics.median(warm), 3),
                "drift": first["drift"]["state"],
                "drift_auc": first["drift"].get("auc"),
                "bottleneck": (first["bottleneck"] or {}).get("key"),
                "per_day": first["throughput"]["rate"]["per_day"],
            }
            log(json.dumps(row))
            rows.append(row)
    log("items      annotations  first call  next calls")
    for r in rows:
        first, later = f"{r['first_s']:>8.2f} s", f"{r['next_s']:>8.2f} s"
        log(f"{r['items']:>9,}  {r['annotations']:>11,}  {first}  {later}")
    emit({"bench": "dashboard_scale", "rows": rows})


if __name__ == "__main__":
    main()
