"""A Label Studio project labeled with overlap moving over with every annotator's answer: the
import with ``--annotations`` timed against the plain import of the same file.

One command:  python bench/ls_answers_import.py [--sizes 10000,50000] [--postgres]

For each size N it writes a Label Studio JSON export of N text-classification tasks, each
answered by 3 annotators (``--annotators``): they agree on most tasks, one or more disagree on
``--disagree`` of them (a third of those a three-way split: a tie), and ``--cancel`` of the
annotations are cancelled (a skip). Then, each into a fresh project with the annotators as
members (overlap 3, the other settings the defaults):
  - ``labelloop import SLUG FILE --format label_studio`` (plain: one answer per task as the label)
    and the same with ``--annotations``, as subprocesses (CLI start-up included; peak RSS);
  - ``labelloop.workflow.imports.import_items`` of each in a fresh worker process (the call
    alone, its VmHWM, and the SQL statements it issued: SQLAlchemy's ``before_cursor_execute``
    plus the statements the store runs on the SQLite driver's cursor; an executemany counts
    once).
Progress and the table go to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    LABELS,
    SCHEMA,
    cli,
    emit,
    fresh_env,
    label_of,
    log,
    make_texts,
    postgres_cluster,
    proc_status_mb,
    run_measured,
)

MODES = ("plain", "answers")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,50000", help="comma-separated task counts")
    p.add_argument("--annotators", type=int, default=3, help="annotators per task (default 3)")
    p.add_argument(
        "--disagree", type=float, default=0.2, help="share of tasks whose answers differ"
    )
    p.add_argument("--cancel", type=float, default=0.03, help="share of cancelled annotations")
    p.add_argument(
        "--settings",
        default="{}",
        help='project settings over the overlap, as JSON: \'{"review_policy": "flagged"}\'',
    )
    p.add_argument("--no-cli", action="store_true", help="skip the CLI (subprocess) runs")
    p.add_argument("--no-inprocess", action="store_true", help="skip the library-call runs")
    p.add_argument("--repeat", type=int, default=1, help="runs of each import (alternating)")
    p.add_argument("--database-url", default=None, help="run on this database, not SQLite")
    p.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL cluster")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the temp dir (path on stderr)")
    p.add_argument("--_worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p.parse_args(argv)


# --- the export -----------------------------------------------------------------------------------


def annotator_names(k: int) -> list[str]:
    return [f"annotator{i + 1}" for i in range(k)]


def write_export(path: Path, n: int, args: argparse.Namespace) -> dict[str, int]:
    """A Label Studio JSON export of ``n`` tasks, written one task at a time; what it holds."""
    rng = np.random.default_rng(args.seed)
    texts = make_texts(n, seed=args.seed)
    names = annotator_names(args.annotators)
    start = np.datetime64("2024-03-01T08:00:00")
    held = {"tasks": n, "annotations": 0, "cancelled": 0, "disagree": 0, "ties": 0}
    ann_id = 0
    with path.open("w", encoding="utf-8") as f:
        f.write("[\n")
        for t, text in enumerate(texts):
            truth = label_of(text)
            others = [label for label in LABELS if label != truth]
            answers = [truth] * len(names)
            if rng.random() < args.disagree:
                held["disagree"] += 1
                if len(names) >= 3 and rng.random() < 1 / 3:  # a three-way split: a tie
                    answers[:3] = [truth, *others]
                    held["ties"] += 1
                else:
                    answers[int(rng.integers(len(names)))] = others[int(rng.integers(2))]
            at = start + np.timedelta64(t * 40, "s")
            annotations = []
            for k, (who, label) in enumerate(zip(names, answers, strict=True)):
                ann_id += 1
                when = str(at + np.timedelta64(k * 7 + int(rng.integers(60)), "s")) + ".000Z"
                gone = bool(rng.random() < args.cancel)
                held["cancelled"] += int(gone)
                annotations.append(
                    {
                        "id": ann_id,
                        "completed_by": k + 1,
                        "created_username": f"{who}@example.com, {k + 1}",
                        "result": []
                        if gone
                        else [
                            {
                                "id": f"r{ann_id}",
                                "from_name": "sentiment",
                                "to_name": "text",
                                "type": "choices",
                                "value": {"choices": [label]},
                                "origin": "manual",
                            }
                        ],
                        "was_cancelled": gone,
                        "ground_truth": False,
                        "created_at": when,
                        "updated_at": when,
                        "lead_time": round(float(rng.gamma(2.0, 4.0)), 3),
                        "task": t + 1,
                        "project": 3,
                    }
                )
            held["annotations"] += len(annotations)
            task = {
                "id": t + 1,
                "data": {"text": text},
                "annotations": annotations,
                "predictions": [],
                "meta": {},
                "created_at": str(at) + ".000Z",
                "updated_at": str(at) + ".000Z",
                "inner_id": t + 1,
                "total_annotations": len(annotations),
                "cancelled_annotations": sum(a["was_cancelled"] for a in annotations),
                "project": 3,
            }
            f.write(("," if t else "") + json.dumps(task) + "\n")
        f.write("]\n")
    return held


# --- worker processes -----------------------------------------------------------------------------


def _open_db() -> Any:
    from labelloop.config import get_settings
    from labelloop.store.db import Database
    from labelloop.store.migrate import upgrade

    settings = get_settings()
    if settings.database_url is None:
        settings.ensure_home()
    db = Database(settings.db_url)
    upgrade(db)
    return db


def worker(argv: list[str]) -> None:
    """``members SLUG NAME...`` (what `users add` and `projects member` do, without a process
    start each) or ``import SLUG FILE MODE``: one timed library call, its statements counted."""
    from labelloop.workflow import accounts, imports, projects

    db = _open_db()
    op, slug = argv[0], argv[1]
    ctx = projects.system_context(db, slug)
    if op == "members":
        for name in argv[2:]:
            with contextlib.suppress(Exception):  # made for an earlier project of this data dir
                accounts.create_user(db, name, None)
            projects.set_member(db, ctx, name, "annotator")
        return
    path, mode = Path(argv[2]), argv[3]
    counted = _count_statements(db)
    base_rss = proc_status_mb(os.getpid(), "VmRSS")
    with path.open("rb") as f:
        t0 = time.perf_counter()
        report = imports.import_items(
            db, ctx, f, fmt="label_studio", filename=path.name, answers=mode == "answers"
        )
        seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "n": report.n_items,
                "labeled": report.n_labeled,
                "seconds": seconds,
                "statements": counted[0],
                "base_rss_mb": base_rss,
                "peak_rss_mb": proc_status_mb(os.getpid(), "VmHWM"),
                "notes": list(report.notes),
            }
        )
    )


def _count_statements(db: Any) -> list[int]:
    """A counter of the statements sent to the database from now on (an executemany once)."""
    from sqlalchemy import event

    from labelloop.store import db as store_db

    counted = [0]

    def seen(*_: Any) -> None:
        counted[0] += 1

    event.listen(db.engine, "before_cursor_execute", seen)
    plain_run = store_db._Driver.run

    def run(self: Any, conn: Any, params: dict[str, Any]) -> Any:
        counted[0] += 1
        return plain_run(self, conn, params)

    store_db._Driver.run = run  # type: ignore[method-assign]
    return counted


def in_process(env: dict[str, str], *argv: str) -> dict[str, Any]:
    r = run_measured([sys.executable, str(Path(__file__).resolve()), "--_worker", *argv], env)
    out = r.stdout.strip().splitlines()
    return json.loads(out[-1]) if out else {}


# --- main -----------------------------------------------------------------------------------------


def measure_size(
    n: int, args: argparse.Namespace, work: Path, url: str | None, rows: list[dict[str, Any]]
) -> dict[str, int]:
    t0 = time.perf_counter()
    export = work / f"project-3-at-2024-05-01-{n}.json"
    held = write_export(export, n, args)
    log(
        f"{n:,} tasks, {held['annotations']:,} annotations ({held['cancelled']:,} cancelled, "
        f"{held['disagree']:,} tasks disagreeing, {held['ties']:,} ties) written in "
        f"{time.perf_counter() - t0:.1f}s ({export.stat().st_size / 1e6:.1f} MB)"
    )
    schema = work / "schema.json"
    names = annotator_names(args.annotators)
    runs = [
        (how, mode)
        for how in (("cli",) if not args.no_cli else ())
        + (("lib",) if not args.no_inprocess else ())
        for mode in MODES
    ]
    for rep in range(args.repeat):
        for how, mode in runs:  # alternating: plain, answers, plain, answers
            tag = f"{mode}-{how}-{n}-{rep}-{os.getpid()}"
            env = fresh_env(work / f"home-{tag}", url)
            slug = f"ls-{tag}"[:60]
            cli(["init"], env)
            cli(["projects", "create", slug, "--schema", str(schema)], env)
            in_process(env, "members", slug, *names)
            if how == "cli":
                flags = ["--annotations"] if mode == "answers" else []
                r = cli(
                    ["import", slug, str(export), "--format", "label_studio", *flags, "--json"],
                    env,
                )
                got = json.loads(r.stdout.strip().splitlines()[-1])
                res = {"n": got["items"], "labeled": got["labeled"], "seconds": r.wall_s}
                res["peak_rss_mb"], res["statements"] = r.maxrss_mb, None
            else:
                res = in_process(env, "import", slug, str(export), mode)
            if res["n"] != n:
                raise RuntimeError(f"{mode} import brought {res['n']} of {n} tasks")
            row = {
                "size": n,
                "mode": mode,
                "how": how,
                "run": rep + 1,
                "seconds": round(res["seconds"], 3),
                "tasks_per_s": round(n / res["seconds"], 1),
                "labeled": res["labeled"],
                "peak_rss_mb": round(res["peak_rss_mb"], 1),
                "statements_per_task": round(res["statements"] / n, 2)
                if res.get("statements") is not None
                else None,
                "loadavg_1m": round(os.getloadavg()[0], 2),
            }
            rows.append(row)
            log(
                f"  {mode:<8} {how:<4} run {rep + 1}: {n:,} tasks in {row['seconds']:8.2f}s = "
                f"{row['tasks_per_s']:>8,.0f}/s, peak {row['peak_rss_mb']} MB, "
                f"{row['statements_per_task']} statements/task, load {row['loadavg_1m']}"
            )
            if url is None and not args.keep:
                shutil.rmtree(work / f"home-{tag}", ignore_errors=True)
    export.unlink(missing_ok=True)
    return held


def _median(rows: list[dict[str, Any]], key: str, **where: Any) -> float | None:
    found = sorted(
        r[key] for r in rows if r[key] is not None and all(r[k] == v for k, v in where.items())
    )
    return found[len(found) // 2] if found else None


def run(args: argparse.Namespace, url: str | None) -> None:
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="llbench-lsanswers-"))
    settings = {"overlap": args.annotators, **json.loads(args.settings)}
    (work / "schema.json").write_text(json.dumps({**SCHEMA, "settings": settings}))
    backend = "sqlite" if url is None else url.split(":")[0]
    log(f"ls_answers_import: sizes {sizes} on {backend}, settings {settings}, data in {work}")
    rows: list[dict[str, Any]] = []
    held: dict[int, dict[str, int]] = {}
    try:
        for n in sizes:
            held[n] = measure_size(n, args, work, url, rows)
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    per_size: dict[str, Any] = {}
    log(f"{'size':>8} {'how':<4} {'plain s':>9} {'answers s':>10} {'ratio':>6} {'stmts/task':>10}")
    for n in sizes:
        for how in ("cli", "lib"):
            plain = _median(rows, "seconds", size=n, mode="plain", how=how)
            with_answers = _median(rows, "seconds", size=n, mode="answers", how=how)
            if plain is None or with_answers is None:
                continue
            figures = {
                "plain_s": plain,
                "answers_s": with_answers,
                "plain_tasks_per_s": round(n / plain, 1),
                "answers_tasks_per_s": round(n / with_answers, 1),
                "answers_slowdown": round(with_answers / plain, 2),
                "plain_peak_rss_mb": _median(rows, "peak_rss_mb", size=n, mode="plain", how=how),
                "answers_peak_rss_mb": _median(
                    rows, "peak_rss_mb", size=n, mode="answers", how=how
                ),
                "plain_statements_per_task": _median(
                    rows, "statements_per_task", size=n, mode="plain", how=how
                ),
                "answers_statements_per_task": _median(
                    rows, "statements_per_task", size=n, mode="answers", how=how
                ),
            }
            per_size[f"{how}_{n}"] = figures
            log(
                f"{n:>8,} {how:<4} {plain:>9.2f} {with_answers:>10.2f} "
                f"{figures['answers_slowdown']:>6.2f} "
                f"{figures['answers_statements_per_task'] or '-'!s:>10}"
            )
    emit(
        {
            "benchmark": "ls_answers_import",
            "backend": backend,
            "sizes": sizes,
            "annotators": args.annotators,
            "held": {str(n): h for n, h in held.items()},
            "figures": per_size,
            "table": rows,
            "bench_wall_s": round(time.perf_counter() - started, 1),
            "cpus": os.cpu_count(),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }
    )


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
