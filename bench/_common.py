"""Shared helpers of the benchmarks: the CLI and the server as subprocesses, synthetic texts, a
PostgreSQL cluster, percentiles, and memory readings. Standard library (+ numpy) only."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

LABELS = ("negative", "neutral", "positive")
POSITIVE = [
    "good",
    "great",
    "excellent",
    "lovely",
    "wonderful",
    "happy",
    "amazing",
    "brilliant",
    "superb",
    "delightful",
    "pleasant",
    "fantastic",
    "enjoyable",
    "perfect",
    "charming",
    "solid",
    "reliable",
    "friendly",
    "helpful",
    "impressive",
]
NEGATIVE = [
    "bad",
    "awful",
    "terrible",
    "poor",
    "horrible",
    "sad",
    "broken",
    "annoying",
    "disappointing",
    "useless",
    "ugly",
    "slow",
    "rude",
    "boring",
    "faulty",
    "dreadful",
    "mediocre",
    "painful",
    "noisy",
    "unreliable",
]
_ONSETS = [
    "b",
    "c",
    "d",
    "f",
    "g",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "w",
    "z",
    "br",
    "cl",
    "dr",
    "fl",
    "gr",
    "pl",
    "st",
    "tr",
]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou"]
_CODAS = ["", "n", "r", "s", "t", "l", "m", "nd", "st"]


def log(msg: str) -> None:
    """Progress goes to stderr; stdout is kept for the final JSON line."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def emit(figures: Mapping[str, Any]) -> None:
    """The benchmark's result: one JSON object as the last stdout line."""
    sys.stdout.flush()
    print(json.dumps(figures, sort_keys=False), flush=True)


# --- synthetic data -----------------------------------------------------------------------------


def vocabulary(n_words: int = 3000, seed: int = 7) -> list[str]:
    """Pronounceable filler words (deterministic), plus nothing sentiment-bearing."""
    rng = np.random.default_rng(seed)
    words: set[str] = set()
    while len(words) < n_words:
        n_syl = int(rng.integers(1, 4))
        w = (
            "".join(
                _ONSETS[rng.integers(len(_ONSETS))] + _VOWELS[rng.integers(len(_VOWELS))]
                for _ in range(n_syl)
            )
            + _CODAS[rng.integers(len(_CODAS))]
        )
        if w not in POSITIVE and w not in NEGATIVE:
            words.add(w)
    return sorted(words)


def label_of(text: str) -> str:
    """The 'true' sentiment of a synthetic text: more positive than negative words, or less."""
    score = 0
    for w in text.split():
        if w in _POS_SET:
            score += 1
        elif w in _NEG_SET:
            score -= 1
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


_POS_SET = frozenset(POSITIVE)
_NEG_SET = frozenset(NEGATIVE)


def make_texts(n: int, seed: int = 1, min_words: int = 5, max_words: int = 12) -> list[str]:
    """``n`` unique short texts (5-12 words) with a learnable sentiment signal."""
    rng = np.random.default_rng(seed)
    vocab = np.array(vocabulary())
    sent = np.array(POSITIVE + NEGATIVE)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        m = int((n - len(out)) * 1.05) + 16
        lengths = rng.integers(min_words, max_words + 1, size=m)
        words = vocab[rng.integers(len(vocab), size=(m, max_words))]
        n_sent = rng.choice(3, size=m, p=[0.3, 0.5, 0.2])  # 0, 1 or 2 sentiment words
        sw = sent[rng.integers(len(sent), size=(m, 2))]
        pos = rng.integers(0, min_words, size=(m, 2))
        for i in range(m):
            row = list(words[i, : lengths[i]])
            for k in range(n_sent[i]):
                row[pos[i, k]] = sw[i, k]
            t = " ".join(row)
            if t not in seen:
                seen.add(t)
                out.append(t)
                if len(out) == n:
                    break
    return out


# --- the CLI as a subprocess --------------------------------------------------------------------


def labelloop_cmd() -> list[str]:
    """The installed `labelloop` console script of this interpreter (no pyenv shim in between)."""
    beside = Path(sys.executable).with_name("labelloop")
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("labelloop")
    if found:
        return [found]
    return [sys.executable, "-c", "from labelloop.cli import main; main()"]


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    wall_s: float
    maxrss_mb: float
    cpu_s: float


# A tiny launcher between us and the measured command: on Linux a child's ru_maxrss starts from
# its parent's RSS at fork, so forking the command from this (large) bench process would report
# our own size. The launcher is ~10 MB, far below any labelloop process.
_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[2:])\n"
    "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "open(sys.argv[1], 'w').write(f'{ru.ru_maxrss} {ru.ru_utime + ru.ru_stime}')\n"
    "sys.exit(rc)\n"
)


def run_measured(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    stdin: str | None = None,
    check: bool = True,
    cwd: str | None = None,
) -> Run:
    """Run a command; wall time, and peak RSS / CPU of that command alone."""
    with (
        tempfile.TemporaryFile() as fout,
        tempfile.TemporaryFile() as ferr,
        tempfile.NamedTemporaryFile("r", suffix=".rusage") as fru,
    ):
        t0 = time.perf_counter()
        p = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _LAUNCHER, fru.name, *args],
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=fout,
            stderr=ferr,
        )
        if stdin is not None:
            assert p.stdin is not None
            p.stdin.write(stdin.encode())
            p.stdin.close()
        rc = p.wait()
        wall = time.perf_counter() - t0
        fout.seek(0)
        ferr.seek(0)
        out = fout.read().decode(errors="replace")
        err = ferr.read().decode(errors="replace")
        maxrss_kb, cpu = (fru.read().split() + ["0", "0"])[:2]
    run = Run(
        rc=rc,
        stdout=out,
        stderr=err,
        wall_s=wall,
        maxrss_mb=int(maxrss_kb) / 1024,
        cpu_s=float(cpu),
    )
    if check and rc != 0:
        raise RuntimeError(f"command failed ({rc}): {' '.join(args)}\n{err[-2000:]}{out[-500:]}")
    return run


def cli(args: Sequence[str], env: Mapping[str, str], **kw: Any) -> Run:
    return run_measured(labelloop_cmd() + list(args), env, **kw)


def fresh_env(home: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELLOOP_")}
    env["LABELLOOP_HOME"] = str(home)
    if database_url:
        env["LABELLOOP_DATABASE_URL"] = database_url
    env.update(extra)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


SCHEMA = {
    "name": "Bench sentiment",
    "data": {"type": "text", "field": "text"},
    "controls": [{"name": "sentiment", "type": "choice", "labels": list(LABELS), "target": True}],
    "settings": {"retrain_every": 10},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- statistics and /proc -----------------------------------------------------------------------


def pct(values: Sequence[float], q: float) -> float | None:
    if not len(values):
        return None
    return round(float(np.percentile(np.asarray(values, dtype=float), q)), 3)


def proc_status_mb(pid: int, field: str) -> float | None:
    """VmRSS / VmHWM of a process in MB, from /proc (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def proc_cpu_s(pid: int) -> float | None:
    """utime + stime of a process in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def server_cpu_s(postmaster: int) -> float:
    """CPU seconds of the postmaster, the children it reaped and those still running."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(pid) == postmaster:
            total += sum(int(f) for f in fields[11:15]) / tick
        elif int(fields[1]) == postmaster:
            total += sum(int(f) for f in fields[11:13]) / tick
    return total


def backend_postmaster(conn: Any) -> int:
    """The pid of the postmaster whose backend serves ``conn`` (a SQLAlchemy connection to a
    server on this machine)."""
    backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])


# --- what reaches a PostgreSQL server ----------------------------------------------------------


def count_from_now(conn: Any) -> bool:
    """Start counting the statements that reach the database of ``conn`` (a SQLAlchemy
    connection): ``pg_stat_statements`` reset. False where the server has not loaded it (or
    the role may not reset it): then there are no counts."""
    from sqlalchemy.exc import DBAPIError

    try:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.exec_driver_sql("SELECT pg_stat_statements_reset()")
        conn.commit()
    except DBAPIError:
        conn.rollback()
        return False
    return True


_IN_THIS_DATABASE = (
    "FROM pg_stat_statements "
    "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


def statements_run(conn: Any, *, top: int = 0) -> dict[str, Any] | None:
    """Top-level statements run in this database since :func:`count_from_now`: all of them,
    the INSERTs and the DELETEs, and (``top``) the most called, as [calls, first 70 characters
    of the statement] (None without ``pg_stat_statements``)."""
    from sqlalchemy.exc import DBAPIError

    def calls_of(verb: str) -> str:
        return f"coalesce(sum(calls) FILTER (WHERE upper(left(query, 6)) = '{verb}'), 0)"

    try:
        row = conn.exec_driver_sql(
            f"SELECT coalesce(sum(calls), 0), {calls_of('INSERT')}, {calls_of('DELETE')} "
            + _IN_THIS_DATABASE
        ).one()
        most = conn.exec_driver_sql(
            f"SELECT calls, left(query, 70) {_IN_THIS_DATABASE} ORDER BY calls DESC LIMIT {top}"
        ).all()
    except DBAPIError:  # not loaded on this server
        conn.rollback()
        return None
    found: dict[str, Any] = {
        "statements": int(row[0]),
        "insert_statements": int(row[1]),
        "delete_statements": int(row[2]),
    }
    if top:
        found["top"] = [[int(calls), " ".join(query.split())] for calls, query in most]
    return found


@contextmanager
def measured(db: Any, postmaster: int | None, *, top: int = 0) -> Iterator[dict[str, Any]]:
    """The cost of the block: ``wall_s``, ``client_cpu_s`` (this process) and, on PostgreSQL
    (``postmaster``: that of ``db``'s server, on this machine), ``server_cpu_s`` (the
    postmaster's children, reaped and live) and :func:`statements_run` (``top`` included), in
    the dict yielded once the block ends. ``db`` is a labelloop Database; its connections are
    closed before and after, so the server's backends are reaped and their CPU counted."""
    import resource

    if postmaster:
        with db.engine.connect() as conn:
            count_from_now(conn)
        db.dispose()
        time.sleep(0.5)
    cpu0 = server_cpu_s(postmaster) if postmaster else 0.0
    own0 = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.perf_counter()
    got: dict[str, Any] = {}
    yield got
    wall = time.perf_counter() - wall0
    own1 = resource.getrusage(resource.RUSAGE_SELF)
    got["wall_s"] = wall
    got["client_cpu_s"] = own1.ru_utime + own1.ru_stime - own0.ru_utime - own0.ru_stime
    if postmaster:
        with db.engine.connect() as conn:
            counted = statements_run(conn, top=top)
        db.dispose()  # its backends end, and their CPU is counted as the postmaster reaps them
        time.sleep(0.5)
        got["server_cpu_s"] = server_cpu_s(postmaster) - cpu0
        got.update(counted or {})


@contextmanager
def counting_postgres(database_url: str | None) -> Iterator[Any]:
    """The PostgreSQL server at ``database_url`` (on this machine, letting the role create
    databases), or a throwaway cluster that loads ``pg_stat_statements``; yields ``fresh``,
    where ``with fresh(name) as url`` is a database created empty for the block, then dropped."""
    import psycopg
    from sqlalchemy import make_url

    cluster = (
        nullcontext(database_url)
        if database_url
        else postgres_cluster("shared_preload_libraries=pg_stat_statements")
    )
    with cluster as pg_url:
        base = make_url(pg_url)
        admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin_dsn, autocommit=True) as server:

            @contextmanager
            def fresh(name: str) -> Iterator[str]:
                server.execute(f"DROP DATABASE IF EXISTS {name}")
                server.execute(f"CREATE DATABASE {name}")
                try:
                    yield base.set(database=name).render_as_string(hide_password=False)
                finally:
                    server.execute(f"DROP DATABASE IF EXISTS {name}")

            yield fresh


@contextmanager
def sqlite_file(folder: Path, name: str) -> Iterator[str]:
    """The URL of a SQLite file in ``folder``, removed (with its WAL and lock files) after."""
    try:
        yield f"sqlite:///{folder / name}.db"
    finally:
        for leftover in folder.glob(f"{name}.db*"):
            leftover.unlink()


def run_worker(script: str, code: Path, args: Sequence[str], timeout: float = 900) -> Any:
    """Run ``script`` (a bench file) with ``args`` in a fresh process on the labelloop tree
    ``code`` (this one, or an older one to compare with); the JSON of its last stdout line."""
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, script, *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    if out.returncode:
        raise RuntimeError(f"worker failed ({code}, {' '.join(args)}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def shown(got: Mapping[str, Any]) -> str:
    """One run's figures on one line of progress."""
    return ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in got.items())


def medians(runs: Mapping[str, Sequence[Mapping[str, Any]]], figures: Sequence[str]) -> dict:
    """``{key}_{figure}``: the median of each figure over a key's runs (those that have it)."""
    found: dict[str, Any] = {}
    for key, got in runs.items():
        for figure in figures:
            values = [g[figure] for g in got if figure in g]
            if values:
                found[f"{key}_{figure}"] = round(statistics.median(values), 3)
    return found


# --- a throwaway PostgreSQL cluster ------------------------------------------------------------


@contextmanager
def postgres_cluster(*settings: str) -> Iterator[str]:
    """initdb + pg_ctl in a temp dir (as user postgres when root), fsync off; yields a URL.
    ``settings`` are more server settings, ``name=value`` each."""
    for tool in ("initdb", "pg_ctl"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"--postgres needs {tool} on PATH")
    root = Path(tempfile.mkdtemp(prefix="llbench-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        import pwd

        pw = pwd.getpwnam("postgres")
        for p in (root, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    logfile = root / "postgres.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    subprocess.run(
        prefix
        + [
            "initdb",
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
        ],
        check=True,
        env=env,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    opts = (
        f"-F -p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=200 "
        "-c shared_buffers=256MB" + "".join(f" -c {s}" for s in settings)
    )
    subprocess.run(
        prefix
        + ["pg_ctl", "-D", str(data), "-o", opts, "-l", str(logfile), "-w", "-t", "60", "start"],
        check=True,
        env=env,
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    log(f"postgres cluster up in {root} on port {port} (fsync off)")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            prefix + ["pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"],
            env=env,
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(root, ignore_errors=True)
        log("postgres cluster stopped and removed")


def start_server(env: dict[str, str], port: int, logpath: Path) -> tuple[subprocess.Popen, float]:
    """``labelloop serve --port PORT`` as a subprocess (its output to ``logpath``), once it
    answers /api/health; and how long that took (the cold start)."""
    import httpx

    logf = logpath.open("wb")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        labelloop_cmd() + ["serve", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=logf,
        stderr=subprocess.STDOUT,
    )
    logf.close()  # the child holds its own copy
    url = f"http://127.0.0.1:{port}/api/health"
    try:
        with httpx.Client(timeout=2.0) as c:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited with {proc.returncode}:\n{tail(logpath)}")
                try:
                    if c.get(url).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.perf_counter() - t0 > 120:
                    raise RuntimeError("server did not answer /api/health within 120 s")
                time.sleep(0.01)
    except BaseException:
        stop_process(proc, "labelloop serve")  # not left running behind the error
        raise
    return proc, time.perf_counter() - t0


def stop_process(proc: subprocess.Popen, name: str) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, 15), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        proc.send_signal(sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            log(f"{name} (pid {proc.pid}) did not stop on {sig.name}")


def tail(path: Path, n: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""
