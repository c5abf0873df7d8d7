"""What one annotation costs the server, without HTTP or a learner: SQL statements and CPU.

One command:  python bench/serve_cost.py [--clients 32] [--cycles 3000] [--items 5000]

Builds a fresh SQLite data dir through the library (the calls the CLI makes), trains one round
so a queue exists, then drives the real ASGI app in-process: C annotators in turn call
``POST tasks/next`` and ``POST tasks/{id}/submit`` with bearer tokens, exactly as the page and
`serve_load.py` do, but with no socket and no HTTP parsing. Every statement the SQLite driver
runs is counted per route (``sqlite3`` trace callback, ``BEGIN`` and ``COMMIT`` included), and
the process CPU time of the measured cycles is divided by them.

Statement counts do not depend on the machine's load; CPU per annotation does, less than
latency does. Use it to compare two versions of the serving path on the same machine, in the
same hour; `serve_load.py` measures what annotators see. Last stdout line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SCHEMA, emit, label_of, log, make_texts, pct  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=32, help="annotators taking turns (default 32)")
    p.add_argument("--cycles", type=int, default=3000, help="measured next+submit (default 3000)")
    p.add_argument("--warmup", type=int, default=300, help="cycles before measuring (default 300)")
    p.add_argument("--items", type=int, default=5000, help="items imported (default 5000)")
    p.add_argument("--repeats", type=int, default=3, help="measured blocks; median (default 3)")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


class Calls:
    """Drives an ASGI app with in-memory requests and counts the SQL each route runs."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.route = "setup"
        self.statements: Counter[str] = Counter()
        self.kinds: dict[str, Counter[str]] = {}

    def traced(self, sql: str) -> None:
        self.statements[self.route] += 1
        verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
        self.kinds.setdefault(self.route, Counter())[verb] += 1

    async def post(self, route: str, path: str, token: str, body: dict[str, Any]) -> Any:
        raw = json.dumps(body).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"authorization", f"Bearer {token}".encode()),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        sent = False
        chunks: list[bytes] = []
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        self.route = route
        await self.app(scope, receive, send)
        self.route = "other"
        if status[0] != 200:
            raise SystemExit(f"{path} answered {status[0]}: {b''.join(chunks)[:300]!r}")
        return json.loads(b"".join(chunks))


def build(home: Path, args: argparse.Namespace) -> tuple[Any, Any, str, list[str]]:
    """A data dir with one project, its items, C annotators with tokens, and a trained queue."""
    os.environ["LABELLOOP_HOME"] = str(home)
    os.environ["LABELLOOP_LEARNER"] = "off"
    from labelloop.config import Settings
    from labelloop.server.app import create_app
    from labelloop.workflow import accounts, imports, learning, projects

    settings = Settings()
    app = create_app(settings, learner=False)
    db = app.state.db
    slug = "cost"
    admin = accounts.create_user(db, "admin", None, is_admin=True)
    schema = json.loads(json.dumps(SCHEMA))
    schema["settings"]["queue_size"] = args.items
    projects.create_project(db, slug, schema, actor=admin)
    ctx = projects.system_context(db, slug)
    texts = make_texts(args.items, seed=args.seed)
    lines = "".join(json.dumps({"id": f"t{i}", "text": t}) + "\n" for i, t in enumerate(texts))
    imports.import_items(
        db, ctx, io.BytesIO(lines.encode()), fmt="jsonl", filename="items.jsonl", id_field="id"
    )
    tokens = []
    for i in range(args.clients):
        name = f"ann{i:02d}"
        accounts.create_user(db, name, None)
        projects.set_member(db, ctx, name, "annotator")
        tokens.append(accounts.create_token(db, name))
    learning.train(db, projects.system_context(db, slug))
    return app, db, slug, tokens


async def cycles(calls: Calls, slug: str, tokens: list[str], n: int) -> list[float]:
    """``n`` next+submit cycles, annotators in turn; returns each cycle's CPU seconds."""
    spent = []
    for k in range(n):
        token = tokens[k % len(tokens)]
        t0 = time.process_time()
        task = (await calls.post("next", f"/api/projects/{slug}/tasks/next", token, {"held": []}))[
            "task"
        ]
        if task is None:
            raise SystemExit("the queue ran dry; import more items (--items)")
        value = {"sentiment": label_of(task["item"]["data"]["text"])}
        await calls.post(
            "submit",
            f"/api/projects/{slug}/tasks/{task['assignment_id']}/submit",
            token,
            {"value": value, "active_ms": 1200},
        )
        spent.append(time.process_time() - t0)
    return spent


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    needed = args.warmup + args.cycles * args.repeats
    if needed > args.items * 0.9:
        args.items = int(needed / 0.9) + 1
    with tempfile.TemporaryDirectory(prefix="labelloop-cost-") as tmp:
        t0 = time.perf_counter()
        app, db, slug, tokens = build(Path(tmp), args)
        took = time.perf_counter() - t0
        log(f"set up {args.items} items, {args.clients} annotators in {took:.1f}s")
        calls = Calls(app)

        from sqlalchemy import event

        @event.listens_for(db.engine, "connect")
        def _trace(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.set_trace_callback(calls.traced)

        db.engine.dispose()  # new connections, with the trace callback

        async def run() -> list[list[float]]:
            await cycles(calls, slug, tokens, args.warmup)
            blocks = []
            for _ in range(args.repeats):
                calls.statements.clear()
                calls.kinds.clear()
                spent = await cycles(calls, slug, tokens, args.cycles)
                blocks.append(spent)
            return blocks

        blocks = asyncio.run(run())
        per_block = [sum(b) / len(b) * 1000 for b in blocks]
        flat = [s * 1000 for b in blocks for s in b]
        n = args.cycles
        figures = {
            "statements_per_next": round(calls.statements["next"] / n, 2),
            "statements_per_submit": round(calls.statements["submit"] / n, 2),
            "statements_per_annotation": round(
                (calls.statements["next"] + calls.statements["submit"]) / n, 2
            ),
            "next_statements_by_kind": {
                k: round(v / n, 2) for k, v in sorted(calls.kinds.get("next", {}).items())
            },
            "submit_statements_by_kind": {
                k: round(v / n, 2) for k, v in sorted(calls.kinds.get("submit", {}).items())
            },
            "cpu_ms_per_annotation": round(sorted(per_block)[len(per_block) // 2], 3),
            "cpu_ms_per_annotation_blocks": [round(x, 3) for x in per_block],
            "cycle_cpu_p95_ms": round(pct(flat, 95) or 0.0, 3),
            "cycles": n,
            "repeats": args.repeats,
            "clients": args.clients,
            "items": args.items,
        }
        db.stop_checkpoints()
        db.engine.dispose()
    emit(figures)


if __name__ == "__main__":
    main()
