"""Undoing a large import while the team labels (BENCH.md section 3): undo time, the slowest
answer and task fetch meanwhile, peak memory.

One command:  python bench/undo_scale.py [--sizes 10000,100000] [--postgres]

For each size N, in a fresh worker process: a project with 2,000 items and their cold-start
queue, one annotator, then an import of N more short texts; the import is undone
(labelloop.workflow.batches.undo, what `labelloop imports undo` and the Imports page call)
while a second thread, the annotator, fetches and answers items of the first part in a loop
(tasks.next_task then tasks.submit). Figures: the undo's seconds, the slowest submit and next
while it ran (and how many answers got through meanwhile), and the worker's peak RSS during
the undo (VmHWM reset before it). Progress goes to stderr; the last stdout line is one JSON
object.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    SCHEMA,
    emit,
    fresh_env,
    label_of,
    log,
    make_texts,
    pct,
    postgres_cluster,
    proc_status_mb,
)

BASE = 2000  # the part of the project the annotator labels during the undo
PACE_S = 0.01  # between one answer and the next fetch: the queue lasts the undo


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000", help="comma-separated import sizes")
    p.add_argument("--repeat", type=int, default=1, help="runs of each size")
    p.add_argument("--database-url", default=None, help="run on this database, not SQLite")
    p.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL cluster")
    p.add_argument(
        "--without-search-index",
        action="store_true",
        help="also run each size with the search index (migration 0017) dropped, alternating",
    )
    p.add_argument("--keep", action="store_true", help="keep the temp dir (path on stderr)")
    p.add_argument("--_worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _jsonl(texts: list[str], prefix: str) -> io.BytesIO:
    lines = (json.dumps({"id": f"{prefix}{i}", "text": t}) for i, t in enumerate(texts))
    return io.BytesIO(("\n".join(lines) + "\n").encode())


def _drop_search_index(db: Any) -> None:
    """Drop migration 0017's search index: the undo as it was before it."""
    with db.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            for name in ("item_words_insert", "item_words_delete", "item_words_update"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
            conn.exec_driver_sql("DROP TABLE IF EXISTS item_words")
        else:
            for name in ("ix_item_words_text", "ix_item_words_image", "ix_item_words_audio"):
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")


def worker(argv: list[str]) -> None:
    """``N [indexed|unindexed]``: one measured undo of an N-item import; one JSON line."""
    from labelloop.config import get_settings
    from labelloop.govern.permissions import Permission
    from labelloop.store.db import Database
    from labelloop.store.migrate import upgrade
    from labelloop.workflow import accounts, batches, imports, learning, projects, tasks

    n = int(argv[0])
    settings = get_settings()
    if settings.database_url is None:
        settings.ensure_home()
    db = Database(settings.db_url)
    upgrade(db)
    indexed = argv[1:] != ["unindexed"]
    if not indexed:
        _drop_search_index(db)
    admin = accounts.create_user(db, "admin", None, is_admin=True)
    learning_settings = {"retrain_every": 10**6, "random_share": 0.0, "queue_size": BASE}
    schema = {**SCHEMA, "settings": learning_settings}
    projects.create_project(db, "undo", schema, actor=admin)
    ctx = projects.access(db, "undo", admin, Permission.VIEW_PROJECT)
    texts = make_texts(BASE + n, seed=3)
    imports.import_items(db, ctx, _jsonl(texts[:BASE], "b"), fmt="jsonl", filename="base.jsonl")
    learning.train(db, ctx)  # the cold-start queue of the first part only
    annotator = accounts.create_user(db, "ann", None)
    projects.set_member(db, ctx, "ann", "annotator")
    who = projects.access(db, "undo", annotator, Permission.VIEW_PROJECT)
    t0 = time.perf_counter()
    big = imports.import_items(db, ctx, _jsonl(texts[BASE:], "x"), fmt="jsonl", filename="x.jsonl")
    import_s = time.perf_counter() - t0

    stop = threading.Event()
    calls: list[tuple[str, float, float]] = []  # (next | submit, start, end)
    errors: list[str] = []

    def annotate() -> None:
        try:
            while not stop.is_set():
                t = time.perf_counter()
                task = tasks.next_task(db, who)
                calls.append(("next", t, time.perf_counter()))
                if task is None:
                    errors.append("the queue ran dry")
                    return
                value = {"sentiment": label_of(task["item"]["data"]["text"])}
                t = time.perf_counter()
                tasks.submit(db, who, task["assignment_id"], value, active_ms=900)
                calls.append(("submit", t, time.perf_counter()))
                time.sleep(PACE_S)
        except Exception as exc:  # reported in the figures, not lost in a thread
            errors.append(f"{type(exc).__name__}: {exc}")

    labeler = threading.Thread(target=annotate)
    labeler.start()
    time.sleep(0.5)  # the annotator is in its stride
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM from here: the undo's peak
    began, cpu = time.perf_counter(), time.thread_time()
    done = batches.undo(db, ctx, big.batch_id)
    ended, cpu = time.perf_counter(), time.thread_time() - cpu
    undo_s = ended - began
    peak = proc_status_mb(os.getpid(), "VmHWM")
    time.sleep(0.2)
    stop.set()
    labeler.join(60)
    db.dispose()
    # every call that overlapped the undo, the one it was waiting in at the end included
    during = [(kind, end - start) for kind, start, end in calls if end > began and start < ended]
    submits = [s for kind, s in during if kind == "submit"]
    nexts = [s for kind, s in during if kind == "next"]
    figures = {
        "items": n,
        "search_index": indexed,
        "removed": done["items"],
        "import_s": round(import_s, 2),
        "undo_s": round(undo_s, 2),
        "items_per_s": round(n / undo_s, 1),
        "undo_cpu_s": round(cpu, 2),
        "submits_during": sum(1 for kind, s, e in calls if kind == "submit" and began < e < ended),
        "submit_max_s": round(max(submits), 3) if submits else None,
        "submit_p50_ms": round(1000 * (pct(submits, 50) or 0), 1),
        "next_max_s": round(max(nexts), 3) if nexts else None,
        "undo_peak_rss_mb": peak,
        "errors": errors,
    }
    print(json.dumps(figures), flush=True)


def run(args: argparse.Namespace, url: str | None) -> None:
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    started = time.perf_counter()
    backend = "sqlite" if url is None else url.split(":")[0]
    work = Path(tempfile.mkdtemp(prefix="llbench-undo-"))
    log(f"undo_scale: sizes {sizes} on {backend}, data in {work}")
    rows: list[dict[str, Any]] = []
    try:
        kinds = ["indexed", "unindexed"] if args.without_search_index else ["indexed"]
        for n in sizes:
            for r in range(args.repeat):
                for kind in kinds:
                    home = work / f"home-{n}-{r}-{kind}"
                    db_url = None
                    if url is not None:
                        db_url = _fresh_database(url, f"undo_{n}_{r}_{kind}")
                    env = fresh_env(home, db_url)
                    out = subprocess.run(
                        [sys.executable, __file__, "--_worker", str(n), kind],
                        env=env,
                        capture_output=True,
                        text=True,
                        check=False,
                        timeout=3600,
                    )
                    if out.returncode != 0:
                        log(out.stderr[-3000:])
                        raise SystemExit(f"the worker for {n:,} items failed")
                    row = {"backend": backend, **json.loads(out.stdout.strip().splitlines()[-1])}
                    rows.append(row)
                    log(
                        f"{n:>8,} {kind:>9} undo {row['undo_s']:>7.2f} s "
                        f"(CPU {row['undo_cpu_s']:.2f} s)  submits meanwhile "
                        f"{row['submits_during']:>5}  slowest submit {row['submit_max_s']} s  "
                        f"slowest next {row['next_max_s']} s  peak {row['undo_peak_rss_mb']} MB"
                        + (f"  errors {row['errors']}" if row["errors"] else "")
                    )
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    emit(
        {
            "benchmark": "undo_scale",
            "backend": backend,
            "sizes": sizes,
            "table": rows,
            "bench_wall_s": round(time.perf_counter() - started, 1),
            "cpus": os.cpu_count(),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }
    )


def _fresh_database(url: str, name: str) -> str:
    """A new empty database ``name`` on the server of ``url``; its URL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args._worker:
        worker(args._worker)
        return
    if args.postgres:
        with postgres_cluster() as url:
            run(args, url)
    else:
        run(args, args.database_url)


if __name__ == "__main__":
    main()
