"""Serving under load (BENCH.md section 2): a real `labelloop serve`, C concurrent annotators.

One command:  python bench/serve_load.py [--clients 32] [--items 20000] [--seconds 30] ...

Builds a fresh data dir with the CLI (init, projects create, import, users add, projects member,
tokens create), starts `labelloop serve` as a subprocess (cold start = spawn -> first 200 from
/api/health), waits for the learner's first queue, then runs C asyncio clients (one
keep-alive HTTP/1.1 connection per annotator, bearer token) looping next -> submit. Afterwards it
stops the server, exports the project with `labelloop export` and checks every acknowledged
submit against it. Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    SCHEMA,
    cli,
    emit,
    free_port,
    fresh_env,
    label_of,
    labelloop_cmd,
    log,
    make_texts,
    pct,
    postgres_cluster,
    proc_cpu_s,
    proc_status_mb,
    start_server,
    stop_process,
    tail,
)

PASSWORD = "bench-password-1"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=32, help="concurrent annotators (default 32)")
    p.add_argument("--items", type=int, default=20_000, help="items imported (default 20000)")
    p.add_argument("--seconds", type=float, default=30.0, help="measured window (default 30)")
    p.add_argument("--warmup", type=float, default=5.0, help="warm-up before it (default 5)")
    load = p.add_mutually_exclusive_group()
    load.add_argument(
        "--rate-per-client",
        type=float,
        default=10.0,
        help="paced mode: annotations/s each client offers (default 10)",
    )
    load.add_argument(
        "--think-ms",
        type=float,
        default=None,
        help="fixed think time between next and submit, no pacing",
    )
    load.add_argument(
        "--closed-loop",
        action="store_true",
        help="no think time, no pacing: each client sends as fast as it is answered",
    )
    p.add_argument(
        "--no-learner",
        action="store_true",
        help="LABELLOOP_LEARNER=off: no retraining during the run (the first queue is "
        "built by a short `labelloop worker` and covers the whole pool)",
    )
    p.add_argument(
        "--queue-size",
        type=int,
        default=None,
        help="project setting queue_size (default: product default; whole pool with --no-learner)",
    )
    db = p.add_mutually_exclusive_group()
    db.add_argument(
        "--database-url",
        default=None,
        help="run against this database (postgresql+psycopg://...) instead of SQLite",
    )
    db.add_argument(
        "--postgres",
        action="store_true",
        help="start a throwaway PostgreSQL cluster (initdb/pg_ctl) and use it",
    )
    p.add_argument(
        "--setup",
        choices=("mixed", "cli"),
        default="mixed",
        help="mixed (default): admin and first annotator with the CLI, the rest through the "
        "library; cli: every account with `labelloop users add/projects member/tokens create`",
    )
    p.add_argument("--setup-jobs", type=int, default=4, help="CLI setup commands run in parallel")
    p.add_argument(
        "--queue-timeout",
        type=float,
        default=120.0,
        help="max seconds to wait for the first queue (default 120)",
    )
    p.add_argument(
        "--profile",
        default=None,
        metavar="FILE",
        help="record the server with py-spy during the window (.svg flamegraph, "
        ".txt collapsed stacks, .json speedscope)",
    )
    p.add_argument(
        "--latency-log",
        type=Path,
        metavar="FILE",
        help="write every request as CSV (kind, start as Unix time, latency ms, status), to "
        "line slow requests up with the server log's timestamps",
    )
    p.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="raw (default): a minimal keep-alive HTTP/1.1 client on asyncio streams (and uvloop "
        "when installed), so the client takes little of the CPU it shares with the server; "
        "httpx: httpx.AsyncClient",
    )
    p.add_argument(
        "--simulate",
        type=int,
        default=0,
        metavar="N",
        help="also import N labeled items into a second project and, as the measured window "
        "starts, have a manager ask for a simulation on them (10 seeds, every strategy of the "
        "default request), so it replays in the learner while the annotators work",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the temp data dir (path on stderr)")
    args = p.parse_args(argv)
    if args.clients < 1 or args.items < args.clients or args.seconds <= 0:
        p.error("need clients >= 1, items >= clients, seconds > 0")
    return args


# --- setup through the CLI ---------------------------------------------------------------------


def setup(args: argparse.Namespace, work: Path, env: dict[str, str], tag: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    slug = f"bench-{tag}"
    cli(["init"], env)
    schema = json.loads(json.dumps(SCHEMA))
    queue_size = args.queue_size or (args.items if args.no_learner else None)
    if queue_size:
        schema["settings"]["queue_size"] = queue_size
    (work / "schema.json").write_text(json.dumps(schema))
    cli(["projects", "create", slug, "--schema", str(work / "schema.json")], env)

    texts = make_texts(args.items, seed=args.seed)
    with (work / "items.jsonl").open("w", encoding="utf-8") as f:
        for i, text in enumerate(texts):
            f.write(json.dumps({"id": f"t{i}", "text": text}) + "\n")
    r = cli(["import", slug, str(work / "items.jsonl"), "--id-field", "id", "--json"], env)
    report = json.loads(r.stdout.strip().splitlines()[-1])
    log(
        f"imported {report['items']} items in {r.wall_s:.1f}s "
        f"({report['items'] / r.wall_s:,.0f}/s incl. CLI start-up)"
    )

    sim_slug = None
    if args.simulate:
        sim_slug = f"{slug}-sim"
        cli(["projects", "create", sim_slug, "--schema", str(work / "schema.json")], env)
        rows = make_texts(args.simulate, seed=args.seed + 1)
        with (work / "labeled.jsonl").open("w", encoding="utf-8") as f:
            for i, text in enumerate(rows):
                f.write(json.dumps({"id": f"s{i}", "text": text, "label": label_of(text)}) + "\n")
        cli(["import", sim_slug, str(work / "labeled.jsonl"), "--label-field", "label"], env)

    def add_user(name: str, *, role: str | None = "annotator", admin: bool = False) -> str:
        cli(
            ["users", "add", name, "--password-stdin"] + (["--admin"] if admin else []),
            env,
            stdin=PASSWORD + "\n",
        )
        if role:
            cli(["projects", "member", slug, name, role], env)
        return cli(["tokens", "create", name], env).stdout.strip().splitlines()[-1]

    names = [f"b{tag}-ann{i:02d}" for i in range(args.clients)]
    t_users = time.perf_counter()
    # The admin and the first annotator always go through the CLI; the others too with
    # --setup cli (each command is a ~0.5 s CPU Python start-up, ~100 of them for 32 clients),
    # by default through the library calls those commands make (same code, no start-up).
    n_cli = args.clients if args.setup == "cli" else 1
    with ThreadPoolExecutor(max(1, args.setup_jobs)) as pool:
        admin_future = pool.submit(add_user, f"b{tag}-admin", role=None, admin=True)
        tokens = list(pool.map(add_user, names[:n_cli]))
        admin_token = admin_future.result()
    if n_cli < args.clients:
        tokens += add_users_library(env, slug, names[n_cli:])
    log(
        f"{args.clients} annotators + 1 admin created in {time.perf_counter() - t_users:.1f}s "
        f"({n_cli + 1} with the CLI, {args.clients - n_cli} through the library)"
    )
    return {
        "slug": slug,
        "names": names,
        "tokens": tokens,
        "admin_token": admin_token,
        "sim_slug": sim_slug,
        "texts": texts,
        "import_s": r.wall_s,
        "setup_s": time.perf_counter() - t0,
    }


def add_users_library(env: dict[str, str], slug: str, names: list[str]) -> list[str]:
    """What `users add`, `projects member` and `tokens create` do, without the process start."""
    from labelloop.config import get_settings
    from labelloop.store.db import Database
    from labelloop.workflow import accounts, projects

    settings = get_settings(
        home=Path(env["LABELLOOP_HOME"]), database_url=env.get("LABELLOOP_DATABASE_URL")
    )
    db = Database(settings.db_url)
    try:
        ctx = projects.system_context(db, slug)
        tokens = []
        for name in names:
            accounts.create_user(db, name, PASSWORD)
            projects.set_member(db, ctx, name, "annotator")
            tokens.append(accounts.create_token(db, name, "cli"))
        return tokens
    finally:
        db.dispose()


# --- the server --------------------------------------------------------------------------------


def wait_for_queue(
    base: str, slug: str, token: str, timeout: float, proc: subprocess.Popen
) -> float:
    t0 = time.perf_counter()
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10.0
    ) as c:
        failures = 0
        while time.perf_counter() - t0 < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"{' '.join(map(str, proc.args))} exited early")
            r = c.get(f"/api/projects/{slug}/status")
            if r.status_code == 200 and r.json().get("model"):
                return time.perf_counter() - t0
            if r.status_code != 200:
                failures += 1
                if failures >= 5:
                    raise RuntimeError(f"GET status answers {r.status_code}: {r.text[:300]}")
            time.sleep(0.25)
    raise RuntimeError(f"no queue after {timeout:.0f}s (is the learner running?)")


def wait_for_whole_queue(env: dict[str, str], slug: str, timeout: float) -> int:
    """Wait until the newest queue stops growing (its lower ranks are appended in slices after
    the model version commits); returns its length. Reads the database with the library."""
    from sqlalchemy import text

    from labelloop.config import get_settings
    from labelloop.store.db import Database

    settings = get_settings(
        home=Path(env["LABELLOOP_HOME"]), database_url=env.get("LABELLOOP_DATABASE_URL")
    )
    db = Database(settings.db_url)
    count = text(
        "SELECT count(*) FROM queue_entry WHERE model_version_id = (SELECT mv.id FROM "
        "model_version mv JOIN project p ON p.id = mv.project_id WHERE p.slug = :slug "
        "ORDER BY mv.version DESC LIMIT 1)"
    )
    t0, last, since = time.perf_counter(), -1, time.perf_counter()
    try:
        while time.perf_counter() - t0 < timeout:
            with db.read() as conn:
                n = int(conn.execute(count, {"slug": slug}).scalar_one())
            if n != last:
                last, since = n, time.perf_counter()
            elif n > 0 and time.perf_counter() - since >= 1.0:
                return n
            time.sleep(0.1)
        return last
    finally:
        db.dispose()


# --- the clients -------------------------------------------------------------------------------


@dataclass
class Lease:
    user: str
    served_at: float  # next response received: the lease is live from here at the latest
    submit_sent: float | None = None  # ... until at least here
    acked_at: float | None = None


@dataclass
class Stats:
    reqs: list[tuple[str, float, float, int]] = field(default_factory=list)  # kind, t0, t1, status
    errors: Counter = field(default_factory=Counter)
    leases: dict[int, list[Lease]] = field(default_factory=lambda: defaultdict(list))
    acked: list[tuple[int, int, str, str, float]] = field(default_factory=list)
    empty: list[tuple[float, float]] = field(default_factory=list)  # next answered with no task


class KeepAlive:
    """One annotator's HTTP/1.1 keep-alive connection, speaking only what the bench sends.

    The bench client shares the two cores with the server it measures: httpx spent ~1.3 ms of
    CPU per request on a slow machine (0.86 of a core for 32 clients at 320 annotations/s), and a
    client whose event loop is that busy adds its own queueing to every latency it records. This
    writes each POST as bytes and reads the status line, ``Content-Length`` and the body: a
    fraction of that CPU. ``--client httpx`` runs the old client for comparison.
    """

    def __init__(self, base: str, token: str) -> None:
        hostport = base.split("://", 1)[1].rstrip("/")
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        self.head = (
            f"Host: {hostport}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nAccept: application/json\r\n"
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, payload: dict[str, Any]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        body = json.dumps(payload).encode()
        self.writer.write(
            b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s"
            % (path.encode(), self.head, len(body), body)
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length, close = 0, False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
            elif name == b"transfer-encoding":
                raise OSError(f"unexpected Transfer-Encoding: {value.strip().decode()}")
        data = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


class HttpxClient:
    """The same interface over httpx (``--client httpx``)."""

    def __init__(self, base: str, token: str) -> None:
        self.c = httpx.AsyncClient(
            base_url=base,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    async def post(self, path: str, payload: dict[str, Any]) -> tuple[int, bytes]:
        r = await self.c.post(path, json=payload)
        return r.status_code, r.content

    async def close(self) -> None:
        await self.c.aclose()


async def _post(
    c: KeepAlive | HttpxClient, url: str, payload: dict[str, Any], kind: str, st: Stats
) -> tuple[int, Any]:
    t0 = time.perf_counter()
    try:
        status, data = await asyncio.wait_for(c.post(url, payload), 30.0)
        t1 = time.perf_counter()
    except (TimeoutError, OSError, EOFError, ValueError, httpx.HTTPError) as exc:
        t1, status = time.perf_counter(), 0
        st.errors[(kind, 0, type(exc).__name__)] += 1
        st.reqs.append((kind, t0, t1, 0))
        await c.close()  # a fresh connection for the next request
        return 0, None
    st.reqs.append((kind, t0, t1, status))
    if status != 200:
        st.errors[(kind, status, data[:120].decode(errors="replace"))] += 1
        return status, None
    return status, json.loads(data)


async def annotator(
    name: str,
    token: str,
    base: str,
    slug: str,
    args: argparse.Namespace,
    t_start: float,
    t_end: float,
    st: Stats,
) -> None:
    rng = random.Random(f"{args.seed}-{name}")
    paced = not args.closed_loop and args.think_ms is None
    interval = 1.0 / args.rate_per_client if paced else 0.0
    think = 0.0 if args.closed_loop else (args.think_ms or 0.0) / 1000.0
    next_cycle = t_start + rng.random() * interval  # random phase: no synchronized bursts
    c = KeepAlive(base, token) if args.client == "raw" else HttpxClient(base, token)
    try:
        while True:
            now = time.perf_counter()
            if paced and next_cycle > now:
                await asyncio.sleep(next_cycle - now)
            cycle = time.perf_counter()
            if cycle >= t_end:
                return
            status, body = await _post(
                c, f"/api/projects/{slug}/tasks/next", {"held": []}, "next", st
            )
            if body is None:
                await asyncio.sleep(0.05)
                continue
            task = body["task"]
            if task is None:  # the queue has nothing for us right now: blocked
                st.empty.append((cycle, time.perf_counter()))
                await asyncio.sleep(0.02)
                continue
            item_id = int(task["item"]["id"])
            lease = Lease(user=name, served_at=time.perf_counter())
            st.leases[item_id].append(lease)
            label = label_of(task["item"]["data"]["text"])
            # paced: submit half-way through the cycle ("reading"); else a fixed think time
            wait = cycle + interval / 2 - time.perf_counter() if paced else think
            if wait > 0:
                await asyncio.sleep(wait)
            lease.submit_sent = time.perf_counter()
            status, body = await _post(
                c,
                f"/api/projects/{slug}/tasks/{task['assignment_id']}/submit",
                {"value": {"sentiment": label}, "active_ms": 1200},
                "submit",
                st,
            )
            if body is not None:
                lease.acked_at = time.perf_counter()
                st.acked.append(
                    (int(body["annotation_id"]), int(body["item_id"]), name, label, lease.acked_at)
                )
            if paced:
                next_cycle = max(next_cycle + interval, time.perf_counter())
    finally:
        await c.close()


async def drive(
    args: argparse.Namespace, base: str, info: dict[str, Any], pid: int
) -> dict[str, Any]:
    st = Stats()
    t_start = time.perf_counter() + 0.2
    t_warm = t_start + args.warmup
    t_end = t_warm + args.seconds
    admin = httpx.AsyncClient(
        base_url=base, timeout=30.0, headers={"Authorization": f"Bearer {info['admin_token']}"}
    )
    slug = info["slug"]
    tasks = [
        asyncio.create_task(annotator(n, t, base, slug, args, t_start, t_end, st))
        for n, t in zip(info["names"], info["tokens"], strict=True)
    ]

    async def mark() -> dict[str, Any]:
        await asyncio.sleep(max(0.0, t_warm - time.perf_counter()))
        s = (await admin.get(f"/api/projects/{slug}/status")).json()
        return {
            "version": (s.get("model") or {}).get("version"),
            "server_cpu": proc_cpu_s(pid),
            "self_cpu": _self_cpu(),
            "t": time.perf_counter(),
        }

    profiler = None
    if args.profile:
        profiler = asyncio.create_task(_profile(args, pid, t_warm))
    before = await mark()
    sims = f"/api/projects/{info['sim_slug']}/simulations"
    simulation: dict[str, Any] | None = None
    if info["sim_slug"]:  # the replay runs in the learner through the whole window
        asked = await admin.post(sims, json={"seeds": 10, "budget": 2000, "max_seconds": 3600})
        simulation = asked.json()
    await asyncio.sleep(max(0.0, t_end - time.perf_counter()))
    if simulation is not None:
        simulation = (await admin.get(f"{sims}/{simulation['id']}")).json()
        if simulation["state"] in ("queued", "running"):
            await admin.post(f"{sims}/{simulation['id']}/cancel")
    after_cpu = {"server_cpu": proc_cpu_s(pid), "self_cpu": _self_cpu(), "t": time.perf_counter()}
    rss = proc_status_mb(pid, "VmRSS")
    hwm = proc_status_mb(pid, "VmHWM")
    await asyncio.gather(*tasks)
    status = (await admin.get(f"/api/projects/{slug}/status")).json()
    models = (await admin.get(f"/api/projects/{slug}/models")).json()
    await admin.aclose()
    if profiler is not None:
        await profiler
    return {
        "st": st,
        "t_warm": t_warm,
        "t_end": t_end,
        "before": before,
        "after": after_cpu,
        "status": status,
        "models": models,
        "rss": rss,
        "hwm": hwm,
        "simulation": simulation,
    }


def run_clients(main: Any) -> Any:
    """Run the clients' event loop, on uvloop where installed (uvicorn[standard] brings it)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def _self_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def _profile(args: argparse.Namespace, pid: int, t_warm: float) -> None:
    exe = shutil.which("py-spy")
    if exe is None:
        log("--profile: py-spy is not installed (pip install py-spy); skipping")
        return
    await asyncio.sleep(max(0.0, t_warm - time.perf_counter()))
    fmt = {".txt": "raw", ".json": "speedscope"}.get(Path(args.profile).suffix, "flamegraph")
    proc = await asyncio.create_subprocess_exec(
        exe,
        "record",
        "-o",
        args.profile,
        "--pid",
        str(pid),
        "--duration",
        str(max(1, int(args.seconds))),
        "--format",
        fmt,
        "--rate",
        "100",
        "--nonblocking",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    log(f"py-spy ({proc.returncode}) wrote {args.profile}: {err.decode()[-300:].strip()}")


# --- verification ------------------------------------------------------------------------------


def verify(st: Stats, export_rows: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Lost annotations and duplicate assignments, from the clients' records and the export."""
    lost = wrong_annotator = 0
    acked_users: dict[int, set[str]] = defaultdict(set)
    for _aid, item_id, user, label, _t in st.acked:
        acked_users[item_id].add(user)
        row = export_rows.get(item_id)
        if row is None or row.get("label") != label:
            lost += 1
        elif row.get("annotator") != user:
            wrong_annotator += 1
    submitted_by_many = {i for i, users in acked_users.items() if len(users) > 1}
    overlapping: set[int] = set()
    served_to_many = 0
    for item_id, leases in st.leases.items():
        if len({le.user for le in leases}) < 2:
            continue
        served_to_many += 1
        for a in range(len(leases)):
            for b in range(a + 1, len(leases)):
                x, y = leases[a], leases[b]
                if x.user == y.user:
                    continue
                x_end = x.submit_sent if x.submit_sent is not None else math.inf
                y_end = y.submit_sent if y.submit_sent is not None else math.inf
                if x.served_at < y_end and y.served_at < x_end:
                    overlapping.add(item_id)
    return {
        "lost_annotations": lost,
        "annotator_mismatch": wrong_annotator,
        "duplicate_assignments": len(submitted_by_many | overlapping),
        "items_submitted_by_multiple_annotators": len(submitted_by_many),
        "items_leased_concurrently_to_multiple": len(overlapping),
        "items_served_to_multiple_annotators": served_to_many,
    }


def write_latency_log(path: Path, st: Stats) -> None:
    """Every request as CSV; perf_counter times turned into Unix time."""
    offset = time.time() - time.perf_counter()
    with path.open("w", encoding="utf-8") as f:
        f.write("kind,start_unix,latency_ms,status\n")
        for kind, t0, t1, status in sorted(st.reqs, key=lambda r: r[1]):
            f.write(f"{kind},{t0 + offset:.6f},{(t1 - t0) * 1000:.3f},{status}\n")
    log(f"latency log: {path}")


def read_export(path: Path) -> dict[int, dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                rows[int(row["item_id"])] = row
    return rows


# --- main --------------------------------------------------------------------------------------


def run(args: argparse.Namespace, database_url: str | None) -> dict[str, Any]:
    backend = "sqlite" if not database_url else database_url.split(":", 1)[0].split("+")[0]
    work = Path(tempfile.mkdtemp(prefix="llbench-serve-"))
    tag = secrets.token_hex(3)
    extra = {"LABELLOOP_LEARNER": "off"} if args.no_learner else {}
    env = fresh_env(work / "home", database_url, **extra)
    mode = (
        "closed-loop"
        if args.closed_loop
        else f"think {args.think_ms:g} ms"
        if args.think_ms is not None
        else f"paced {args.rate_per_client:g}/s per client"
    )
    log(
        f"serve_load: {backend}, {args.items} items, {args.clients} clients, {mode}, "
        f"learner {'off' if args.no_learner else 'on'}; data in {work}"
    )
    server = worker = None
    ok = False
    try:
        info = setup(args, work, env, tag)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server, cold = start_server(env, port, work / "server.log")
        log(f"server pid {server.pid} answered /api/health {cold:.2f}s after spawn")
        if args.no_learner:  # one round from a short-lived worker, then no learner at all
            worker = subprocess.Popen(
                labelloop_cmd() + ["worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wq = wait_for_queue(base, info["slug"], info["admin_token"], args.queue_timeout, worker)
            n_queue = wait_for_whole_queue(env, info["slug"], args.queue_timeout)
            stop_process(worker, "worker")  # not before the whole queue is written
            log(f"queue of {n_queue} entries written")
        else:
            wq = wait_for_queue(base, info["slug"], info["admin_token"], args.queue_timeout, server)
        log(
            f"first queue ready {wq:.1f}s later; running {args.warmup:g}s warm-up + "
            f"{args.seconds:g}s measured"
        )
        res = run_clients(drive(args, base, info, server.pid))
        stop_process(server, "server")
        server_log = tail(work / "server.log", 200_000)
        exp = cli(
            ["export", info["slug"], "--format", "jsonl", "-o", str(work / "export.jsonl")], env
        )
        rows = read_export(work / "export.jsonl")
        log(f"exported {len(rows)} labeled items after stopping the server ({exp.wall_s:.1f}s)")
        ok = True
    finally:
        if not ok:
            log(f"FAILED; data dir and server log kept in {work}:\n{tail(work / 'server.log')}")
        for p, name in ((worker, "worker"), (server, "server")):
            if p is not None:
                stop_process(p, name)
    st: Stats = res["st"]
    t_warm, t_end = res["t_warm"], res["t_end"]
    window = t_end - t_warm
    lat = defaultdict(list)
    for kind, t0, t1, status in st.reqs:
        if t_warm <= t0 < t_end and status == 200:
            lat[kind].append((t1 - t0) * 1000)
    if args.latency_log:
        write_latency_log(args.latency_log, st)
    acked_in = sum(1 for a in st.acked if t_warm <= a[4] < t_end)
    http_5xx = sum(1 for r in st.reqs if r[3] >= 500)
    http_errors = sum(1 for r in st.reqs if r[3] != 200)
    blocked = [(a, b) for a, b in st.empty if t_warm <= a < t_end]
    checks = verify(st, rows)
    models = res["models"]
    v_before, v_after = res["before"]["version"], (res["status"].get("model") or {}).get("version")
    trained = [m for m in models if v_before is not None and m["version"] > v_before]
    dt_cpu = res["after"]["t"] - res["before"]["t"]
    srv_cpu = (
        res["after"]["server_cpu"] - res["before"]["server_cpu"]
        if res["before"]["server_cpu"] is not None and res["after"]["server_cpu"] is not None
        else None
    )
    t_cpu0, t_cpu1 = res["before"]["t"], res["after"]["t"]
    acked_cpu = sum(1 for a in st.acked if t_cpu0 <= a[4] < t_cpu1)
    if st.errors:
        log("errors: " + "; ".join(f"{k} x{n}" for k, n in st.errors.most_common(8)))
    if http_errors:
        t_first = min(r[1] for r in st.reqs)
        buckets = Counter(int((r[1] - t_first) // 5) * 5 for r in st.reqs if r[3] != 200)
        log(
            "errors by time since the first request (5 s buckets): "
            + ", ".join(f"{k}s: {v}" for k, v in sorted(buckets.items()))
        )
    n_tracebacks = server_log.count("Traceback")
    if n_tracebacks:
        log(f"server log has {n_tracebacks} tracebacks; last:\n{server_log[-1500:]}")
    figures = {
        "benchmark": "serve_load",
        "backend": backend,
        "mode": mode,
        "learner": "off" if args.no_learner else os.environ.get("LABELLOOP_LEARNER", "process"),
        "clients": args.clients,
        "items": args.items,
        "seconds": args.seconds,
        "next_p50_ms": pct(lat["next"], 50),
        "next_p95_ms": pct(lat["next"], 95),
        "next_p99_ms": pct(lat["next"], 99),
        "submit_p50_ms": pct(lat["submit"], 50),
        "submit_p95_ms": pct(lat["submit"], 95),
        "submit_p99_ms": pct(lat["submit"], 99),
        "annotations_per_s": round(acked_in / window, 1),
        "offered_per_s": (
            round(args.clients * args.rate_per_client, 1)
            if not args.closed_loop and args.think_ms is None
            else None
        ),
        "annotations_acked": len(st.acked),
        "server_annotations": res["status"]["counts"]["annotations"],
        "http_5xx": http_5xx,
        "http_errors": http_errors,
        "next_empty": len(blocked),
        "blocked_client_s": round(sum(b - a for a, b in blocked), 2),
        **checks,
        "cold_start_s": round(cold, 2),
        "first_queue_s": round(wq, 2),
        "model_version_before": v_before,
        "model_version_after": v_after,
        "model_versions_during_run": (v_after - v_before) if v_before and v_after else 0,
        "train_p50_s": pct([m["train_seconds"] for m in trained], 50),
        "server_rss_mb": res["rss"],
        "server_peak_rss_mb": res["hwm"],
        "server_cpu_cores": round(srv_cpu / dt_cpu, 2) if srv_cpu is not None else None,
        "server_cpu_ms_per_annotation": (
            round(1000 * srv_cpu / acked_cpu, 3) if srv_cpu is not None and acked_cpu else None
        ),
        "client": args.client,
        "client_cpu_cores": round(
            (res["after"]["self_cpu"] - res["before"]["self_cpu"]) / dt_cpu, 2
        ),
        "setup": args.setup,
        "setup_s": round(info["setup_s"], 1),
        "cpus": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        **_simulation_figures(res["simulation"]),
    }
    log(
        f"next p50/p95/p99 {figures['next_p50_ms']}/{figures['next_p95_ms']}/"
        f"{figures['next_p99_ms']} ms; submit {figures['submit_p50_ms']}/"
        f"{figures['submit_p95_ms']}/{figures['submit_p99_ms']} ms; "
        f"{figures['annotations_per_s']} annotations/s; 5xx {http_5xx}; errors {http_errors}; "
        f"duplicates {checks['duplicate_assignments']}; lost {checks['lost_annotations']}; "
        f"empty nexts {len(blocked)}; model v{v_before} -> v{v_after}; server CPU "
        f"{figures['server_cpu_ms_per_annotation']} ms per annotation"
    )
    if args.keep:
        log(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return figures


def _simulation_figures(sim: dict[str, Any] | None) -> dict[str, Any]:
    """How far the simulation asked for at the window's start got by its end (``--simulate``)."""
    if sim is None:
        return {}
    return {
        "simulation_state": sim["state"],
        "simulation_rounds_done": sim["done"],
        "simulation_rounds_total": sim["total"],
        "simulation_error": sim.get("error"),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    t0 = time.perf_counter()
    if args.postgres:
        with postgres_cluster() as url:
            figures = run(args, url)
    else:
        figures = run(args, args.database_url)
    figures["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    emit(figures)


if __name__ == "__main__":
    main()
