"""What the learner's writes cost on PostgreSQL: a training round's statements and server CPU.

One command:  python bench/pg_round.py [--items 20000] [--rounds 3] [--baseline DIR]
                                       [--database-url postgresql+psycopg://...] [--no-sqlite]

In a fresh worker process per round and backend: a project of N tweet-sized synthetic texts
(the first ``--labeled`` imported with their labels), its first training round, then an
annotator's ``retrain_every`` answers taken from the queue. Measured after that, each phase
on its own (``labelloop.workflow.learning.train`` with the project's default queue of 500;
again after ``queue_size`` is set to N, so the whole pool is ranked and written; then
``seeding.send_to_queue`` with 200 items, the most one request sends):

- ``round``, ``round_whole_pool``, ``seeds``: the phase's wall seconds, the worker's CPU
  seconds, the PostgreSQL server's CPU seconds (the postmaster's children, reaped and live)
  and the statements that reached it (``pg_stat_statements``, top-level: all, INSERTs,
  DELETEs; the throwaway cluster loads it), and the rows of the newest queue.

On a throwaway PostgreSQL cluster (``initdb`` on PATH; or the server at ``--database-url``,
which must run on this machine and let the role create databases) and on a SQLite file. With
``--baseline DIR`` (a labelloop source tree, e.g. ``git archive`` of an older commit) every
round runs that code too, alternating with this tree's, so both meet the same machine load.
The last stdout line is one JSON object of medians over the rounds, per backend, phase, code
and figure.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    SCHEMA,
    backend_postmaster,
    counting_postgres,
    emit,
    label_of,
    log,
    make_texts,
    measured,
    medians,
    run_worker,
    shown,
    sqlite_file,
)

HEAD = Path(__file__).resolve().parents[1]
DBNAME = "labelloop_pg_round"
PHASES = ("round", "round_whole_pool", "seeds")
FIGURES = (
    "wall_s",
    "client_cpu_s",
    "server_cpu_s",
    "statements",
    "insert_statements",
    "delete_statements",
    "queue_rows",
)


def _import(db: Any, ctx: Any, texts: list[str], *, labeled: bool) -> None:
    from labelloop.workflow import imports

    lines = "".join(json.dumps({"text": t, "label": label_of(t)}) + "\n" for t in texts)
    label = {"label_field": "label"} if labeled else {}
    imports.import_items(
        db, ctx, io.BytesIO(lines.encode()), fmt="jsonl", filename="items.jsonl", **label
    )


def _measured(db: Any, postmaster: int | None, phase: Callable[[], None]) -> dict[str, Any]:
    """Run ``phase``; its figures (the server's only on PostgreSQL), and the newest queue's
    length."""
    from sqlalchemy import func, select

    from labelloop.store.learning import latest
    from labelloop.store.tables import queue_entry

    with measured(db, postmaster, top=6) as got:
        phase()
    with db.read() as conn:
        newest = latest(conn, _project_id(conn))
        q = select(func.count()).where(queue_entry.c.model_version_id == newest["id"])
        got["queue_rows"] = int(conn.execute(q).scalar_one())
    return got


def _project_id(conn: Any) -> int:
    from sqlalchemy import select

    from labelloop.store.tables import project

    return int(conn.execute(select(project.c.id).where(project.c.slug == "bench")).scalar_one())


def worker(url: str, n_items: int, n_labeled: int) -> dict[str, Any]:
    """Build the project in the (empty) database at ``url`` and measure each phase."""
    from labelloop.govern.permissions import Permission
    from labelloop.store.db import Database
    from labelloop.store.migrate import upgrade
    from labelloop.workflow import accounts, learning, projects, seeding, tasks
    from labelloop.workflow.features import FeatureCache

    db = Database(url)
    upgrade(db)
    admin = accounts.create_user(db, "admin", None, is_admin=True)
    projects.create_project(db, "bench", SCHEMA, actor=admin)
    ctx = projects.access(db, "bench", admin, Permission.VIEW_PROJECT)
    texts = make_texts(n_items, min_words=6, max_words=30)
    _import(db, ctx, texts[:n_labeled], labeled=True)
    _import(db, ctx, texts[n_labeled:], labeled=False)
    cache = FeatureCache()
    learning.train(db, ctx, cache=cache)
    for _ in range(ctx.settings.retrain_every):  # what makes the next round due
        task = tasks.next_task(db, ctx)
        assert task is not None
        value = {"sentiment": label_of(task["item"]["data"]["text"])}
        tasks.submit(db, ctx, task["assignment_id"], value, active_ms=1500)
    postmaster = None
    if not db.is_sqlite:
        with db.engine.connect() as conn:
            postmaster = backend_postmaster(conn)
    found: dict[str, Any] = {}
    found["round"] = _measured(db, postmaster, lambda: learning.train(db, ctx, cache=cache))
    projects.change_settings(db, ctx, {"queue_size": n_items})
    ctx = projects.access(db, "bench", admin, Permission.VIEW_PROJECT)
    found["round_whole_pool"] = _measured(
        db, postmaster, lambda: learning.train(db, ctx, cache=cache)
    )
    with db.read() as conn:  # unlabeled items at the back of the queue
        newest = conn.exec_driver_sql(
            "SELECT item_id FROM queue_entry WHERE model_version_id = "
            "(SELECT max(model_version_id) FROM queue_entry) ORDER BY rank DESC LIMIT 200"
        )
        picks = [int(i) for i in newest.scalars()]
    found["seeds"] = _measured(
        db, postmaster, lambda: seeding.send_to_queue(db, ctx, picks, query="bench")
    )
    db.dispose()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--labeled", type=int, default=200, help="items imported with a label")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="an older labelloop tree to compare with")
    parser.add_argument("--database-url", help="a PostgreSQL server on this machine")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.items, args.labeled)))
        return

    codes = {"head": HEAD, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    tmp = Path(tempfile.mkdtemp(prefix="llbench-round-"))
    try:
        runs = _rounds(args, codes, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    figures: dict[str, Any] = {
        "items": args.items,
        "labeled": args.labeled,
        "rounds": args.rounds,
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
    figures.update(medians(runs, FIGURES))
    emit(figures)


def _rounds(
    args: argparse.Namespace, codes: dict[str, Path], tmp: Path
) -> dict[str, list[dict[str, Any]]]:
    """Every round's phases, per backend, phase and code."""
    runs: dict[str, list[dict[str, Any]]] = {}
    sizes = ["--items", str(args.items), "--labeled", str(args.labeled)]

    def note(r: int, backend: str, name: str, got: dict[str, Any]) -> None:
        for phase, figures in got.items():
            runs.setdefault(f"{backend}_{phase}_{name}", []).append(figures)
            top = figures.pop("top", None)
            log(f"round {r + 1} {backend} {phase} {name}: {shown(figures)}")
            if top and r == 0:
                log("  most called: " + "; ".join(f"{n}× {q}" for n, q in top))

    with counting_postgres(args.database_url) as fresh:
        for r in range(args.rounds):
            for name, code in codes.items():
                with fresh(DBNAME) as url:
                    note(r, "postgres", name, run_worker(__file__, code, ["--worker", url, *sizes]))
                if args.no_sqlite:
                    continue
                with sqlite_file(tmp, name) as url:
                    note(r, "sqlite", name, run_worker(__file__, code, ["--worker", url, *sizes]))
    return runs


if __name__ == "__main__":
    main()
