"""What PostgreSQL's search index costs an import: the server's CPU seconds per variant.

One command:  python bench/pg_index_cost.py --database-url postgresql+psycopg://... [--items N]

For each round and each variant it creates a database beside the one at ``--database-url``
(the role must be allowed to), migrates it to the newest schema and then leaves the word
indexes of migration 0022 ("words"), downgrades to 0021, whose trigram indexes those replace
("trigram"), or drops the search indexes ("none"); then imports N synthetic short texts (JSONL,
in-process) and drops the database. Figures per variant, medians over the rounds: the
import's wall seconds, this process's CPU seconds and the server's (the postmaster's reaped
children and live ones: the server must run on this machine). Wall time follows the machine's
load; the server's CPU seconds do not, so they are what to compare. The last stdout line is
one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    SCHEMA,
    backend_postmaster,
    emit,
    log,
    make_texts,
    server_cpu_s,
)

VARIANTS = ("none", "trigram", "words")


def run(url: str, variant: str, data: bytes) -> dict[str, float]:
    from labelloop.store.db import Database
    from labelloop.store.migrate import alembic_config, upgrade
    from labelloop.workflow import accounts, imports, projects

    db = Database(url)
    upgrade(db)
    if variant == "trigram":
        from alembic import command

        cfg = alembic_config(db)
        with db.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0021")
            conn.commit()
    elif variant == "none":
        with db.write() as conn:
            for key in ("text", "image", "audio"):
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS ix_item_words_{key}")
    admin = accounts.create_user(db, "admin", None, is_admin=True)
    projects.create_project(db, "cost", SCHEMA, actor=admin)
    ctx = projects.system_context(db, "cost")
    with db.read() as conn:
        postmaster = backend_postmaster(conn)
    cpu0, wall0 = server_cpu_s(postmaster), time.perf_counter()
    own0 = resource.getrusage(resource.RUSAGE_SELF)
    imports.import_items(db, ctx, io.BytesIO(data), fmt="jsonl", filename="items.jsonl")
    wall = time.perf_counter() - wall0
    own1 = resource.getrusage(resource.RUSAGE_SELF)
    db.dispose()  # its backends end, and their CPU is counted as the postmaster reaps them
    time.sleep(0.5)
    own = own1.ru_utime + own1.ru_stime - own0.ru_utime - own0.ru_stime
    return {"wall_s": wall, "client_cpu_s": own, "server_cpu_s": server_cpu_s(postmaster) - cpu0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import psycopg

    base = make_url(args.database_url)
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    data = "".join(json.dumps({"text": t}) + "\n" for t in make_texts(args.items)).encode()
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    with psycopg.connect(admin_dsn, autocommit=True) as server:
        for r in range(args.rounds):
            for variant in VARIANTS:
                name = f"labelloop_index_cost_{variant}"
                server.execute(f"DROP DATABASE IF EXISTS {name}")
                server.execute(f"CREATE DATABASE {name}")
                try:
                    got = run(base.set(database=name).render_as_string(False), variant, data)
                finally:
                    server.execute(f"DROP DATABASE IF EXISTS {name}")
                runs[variant].append(got)
                log(
                    f"round {r + 1} {variant}: " + ", ".join(f"{k} {v:.2f}" for k, v in got.items())
                )
    figures: dict[str, object] = {"items": args.items, "rounds": args.rounds}
    for variant, got in runs.items():
        for key in ("wall_s", "client_cpu_s", "server_cpu_s"):
            figures[f"{variant}_{key}"] = round(statistics.median(g[key] for g in got), 2)
    emit(figures)


if __name__ == "__main__":
    main()
