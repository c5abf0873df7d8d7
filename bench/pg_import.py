"""What an import costs on PostgreSQL and on SQLite: seconds, CPU and the statements sent.

One command:  python bench/pg_import.py [--items 20000] [--rounds 3] [--baseline DIR]
                                        [--database-url postgresql+psycopg://...]

Imports N tweet-sized synthetic texts (6-30 words, JSONL, in-process through
``labelloop.workflow.imports.import_items``) into a fresh database, without labels ("plain")
and with each record's label ("labeled", which writes an imported label per item too), on a
throwaway PostgreSQL cluster (``initdb`` on PATH; or the server at ``--database-url``, which must
run on this machine and let the role create databases) and on a SQLite file. Each import runs
in a fresh worker process; with ``--baseline DIR`` (a labelloop source tree, e.g. ``git archive``
of an older commit) every round runs that code too, alternating with this tree's, so both meet
the same machine load. Figures per backend, kind and code, medians over the rounds: the
import's wall seconds, the worker's CPU seconds, the PostgreSQL server's CPU seconds (the
postmaster's children, reaped and live) and the statements that reached the server
(``pg_stat_statements``, top-level only: the throwaway cluster loads it; elsewhere None). The
last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
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
KINDS = ("plain", "labeled")
DBNAME = "labelloop_pg_import"
FIGURES = ("wall_s", "client_cpu_s", "server_cpu_s", "statements", "insert_statements")


def worker(url: str, data_path: str, kind: str) -> dict[str, Any]:
    """Import the file once into the (empty) database at ``url``; the figures."""
    from labelloop.store.db import Database
    from labelloop.store.migrate import upgrade
    from labelloop.workflow import accounts, imports, projects

    db = Database(url)
    upgrade(db)
    admin = accounts.create_user(db, "admin", None, is_admin=True)
    projects.create_project(db, "bench", SCHEMA, actor=admin)
    ctx = projects.system_context(db, "bench")
    postmaster = None
    if not db.is_sqlite:
        with db.engine.connect() as conn:
            postmaster = backend_postmaster(conn)
    data = Path(data_path).read_bytes()
    label = {"label_field": "label"} if kind == "labeled" else {}
    with measured(db, postmaster) as got:
        report = imports.import_items(
            db, ctx, io.BytesIO(data), fmt="jsonl", filename="items.jsonl", **label
        )
    got.update(items=report.n_items, labeled=report.n_labeled)
    db.dispose()
    return got


def _run_worker(code: Path, url: str, data: Path, kind: str) -> dict[str, Any]:
    return run_worker(__file__, code, ["--worker", url, "--data", str(data), "--kind", kind])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--baseline", type=Path, help="an older labelloop tree to compare with")
    parser.add_argument("--database-url", help="a PostgreSQL server on this machine")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.data, args.kind)))
        return

    codes = {"head": HEAD, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    tmp = Path(tempfile.mkdtemp(prefix="llbench-import-"))
    try:
        runs = _rounds(args, codes, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _emit(args, runs)


def _rounds(
    args: argparse.Namespace, codes: dict[str, Path], tmp: Path
) -> dict[str, list[dict[str, Any]]]:
    """Every round's imports, per backend, kind and code."""
    kinds = [k for k in args.kinds.split(",") if k]
    data = tmp / "items.jsonl"
    texts = make_texts(args.items, min_words=6, max_words=30)
    data.write_text("".join(json.dumps({"text": t, "label": label_of(t)}) + "\n" for t in texts))
    log(f"{args.items:,} texts, {sum(map(len, texts)) / len(texts):.0f} characters on average")
    runs: dict[str, list[dict[str, Any]]] = {}
    with counting_postgres(args.database_url) as fresh:
        for r in range(args.rounds):
            for kind in kinds:
                for name, code in codes.items():
                    with fresh(DBNAME) as url:
                        got = _run_worker(code, url, data, kind)
                    runs.setdefault(f"postgres_{kind}_{name}", []).append(got)
                    log(f"round {r + 1} postgres {kind} {name}: {shown(got)}")
                    if args.no_sqlite:
                        continue
                    with sqlite_file(tmp, name) as url:
                        got = _run_worker(code, url, data, kind)
                    runs.setdefault(f"sqlite_{kind}_{name}", []).append(got)
                    log(f"round {r + 1} sqlite {kind} {name}: {shown(got)}")
    return runs


def _emit(args: argparse.Namespace, runs: dict[str, list[dict[str, Any]]]) -> None:
    """The medians per backend, kind, code and figure, as the last stdout line."""
    figures: dict[str, Any] = {
        "items": args.items,
        "rounds": args.rounds,
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
    figures.update(medians(runs, FIGURES))
    emit(figures)


if __name__ == "__main__":
    main()
