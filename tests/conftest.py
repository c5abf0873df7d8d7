"""Shared fixtures: a fresh migrated store per test on SQLite and on a throwaway PostgreSQL 15."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from labelloop.store.db import Database
from labelloop.store.migrate import alembic_config, upgrade
from labelloop.store.wordindex import forget_index

# pytest-xdist's workers start with COLUMNS=80 and LINES=24 set, and rich fixes a console's width
# when it is made with COLUMNS set: the CLI's console would stay 80 wide whatever width a test
# asks for. Without them it reads COLUMNS on each print, as in a terminal.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)

PG_FALLBACK_BIN = Path("/usr/lib/postgresql/15/bin")
PG_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
    "-c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB"
)

SCHEMA: dict[str, Any] = {
    "name": "Review sentiment",
    "data": {"type": "text", "field": "text"},
    "controls": [
        {
            "name": "sentiment",
            "type": "choice",
            "labels": ["negative", "neutral", "positive"],
            "target": True,
        }
    ],
    "guideline": "Label the author's attitude, not the topic.",
    # The serving tests check picks by hand against margin's rule; the default policy ("auto")
    # has its own tests.
    "settings": {"strategy": "margin"},
}

# Words that carry each class, so a bag-of-words model can learn from a few labels.
_WORDS = {
    "negative": ["awful", "terrible", "hate", "broken", "worst", "angry"],
    "neutral": ["report", "schedule", "meeting", "update", "listed", "monday"],
    "positive": ["great", "love", "excellent", "wonderful", "best", "happy"],
}
CLASSES = tuple(_WORDS)


def truth_of(text: str) -> str:
    """The class whose words a generated text uses (the oracle of these tests)."""
    first = text.split()[0]
    return next(c for c, words in _WORDS.items() if first in words)


def make_rows(
    n: int, *, start: int = 0, prefix: str = "doc", labeled: bool = False
) -> list[dict[str, Any]]:
    """``n`` distinct records cycling through the classes (``label`` holds the truth if asked)."""
    rows = []
    for i in range(start, start + n):
        label = CLASSES[i % 3]
        words = _WORDS[label]
        text = f"{words[i % 6]} {words[(i // 3) % 6]} {prefix} number {i}"
        row = {"id": f"{prefix}-{i}", "text": text}
        rows.append({**row, "label": label} if labeled else row)
    return rows


N_CLEAR, N_MIXED = 40, 10
"""The unlabeled pool items of :func:`auto_project`: clear ones, and mixed ones (a negative and
a positive word) its model is unsure of."""


def auto_project(lab: Any, slug: str, *, n_eval: int = 60, **settings: Any) -> Any:
    """A project whose model (trained on its 60 labeled items) is right on every eval item, more
    than 0.78 sure of 40-odd of the ``n_eval`` and of the N_CLEAR clear pool items, and not
    that sure of the N_MIXED mixed ones; returns the admin's context."""
    ctx = lab.project(slug, **settings)
    neg, pos = _WORDS["negative"], _WORDS["positive"]
    mixed = [
        {"id": f"mix-{i}", "text": f"{neg[i % 6]} {pos[i % 6]} doc {i}"} for i in range(N_MIXED)
    ]
    lab.import_rows(ctx, make_rows(60, labeled=True), labeled=True)
    lab.import_rows(ctx, make_rows(N_CLEAR, start=100) + mixed, filename="more.jsonl")
    lab.import_rows(
        ctx, make_rows(n_eval, start=1000, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    return ctx


def jsonl(rows: Iterable[Mapping[str, Any] | str]) -> io.BytesIO:
    """An in-memory JSONL file; strings are written as raw lines (to plant bad ones)."""
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    return io.BytesIO(("\n".join(lines) + "\n").encode())


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes() -> Iterator[None]:
    """Passwords hashed in the test process use argon2 at its lowest cost. The default (3
    passes over 64 MiB, a tenth of a second or more a hash) is what keeps a stolen hash from
    being guessed; the suite hashes thousands of test passwords. A hash carries its own cost,
    so servers started by the browser tests check these cheaply too; what they hash
    themselves (a sign-in for a name nobody has) keeps the default."""
    from argon2 import PasswordHasher

    from labelloop.workflow import accounts

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_hasher", lambda: cheap)
        yield


# --------------------------------------------------------------------------------------------
# The throwaway PostgreSQL cluster
# --------------------------------------------------------------------------------------------


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidate = PG_FALLBACK_BIN / name
    return str(candidate) if candidate.exists() else None


# Stops the cluster and removes its directory once the test process is gone however it ended
# (a run killed by a timeout never reaches the fixture's own stop). Run detached from the test
# process's session, so a signal to its process group does not take the watch with it.
_ORPHAN_WATCH = """
import os, shutil, subprocess, sys, time
pid, root, *stop = sys.argv[1:]


def starting():
    # initdb or pg_ctl start of this cluster, left running by the test process
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\\0")
        except OSError:
            continue
        if any(root.encode() in a for a in args) and any(
            os.path.basename(a) in (b"initdb", b"pg_ctl") for a in args
        ):
            return True
    return False


while True:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        break
    except PermissionError:
        pass
    time.sleep(1)
deadline = time.monotonic() + 90
while starting() and time.monotonic() < deadline:
    time.sleep(0.5)
subprocess.run(stop, capture_output=True, check=False)
shutil.rmtree(root, ignore_errors=True)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# What a database's schema is: its tables, columns, defaults, constraints, triggers, functions,
# schemas, extensions and migration. A copy of the template shows the template's (CREATE DATABASE
# keeps the objects' ids); any DDL a test ran shows as a change.
_SCHEMA_PRINT = """
SELECT md5(concat_ws('|',
  (SELECT string_agg(concat_ws(':', c.oid, c.relname, c.relkind, c.relnatts), ',' ORDER BY c.oid)
   FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace),
  (SELECT string_agg(concat_ws(':', a.attrelid, a.attname, a.atttypid, a.attnotnull,
                               a.attisdropped), ',' ORDER BY a.attrelid, a.attnum)
   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
   WHERE c.relnamespace = 'public'::regnamespace),
  (SELECT string_agg(oid::text, ',' ORDER BY oid) FROM pg_attrdef),
  (SELECT string_agg(oid::text, ',' ORDER BY oid) FROM pg_constraint),
  (SELECT string_agg(oid::text, ',' ORDER BY oid) FROM pg_trigger),
  (SELECT string_agg(oid::text, ',' ORDER BY oid) FROM pg_proc
   WHERE pronamespace = 'public'::regnamespace),
  (SELECT string_agg(oid::text, ',' ORDER BY oid) FROM pg_namespace),
  (SELECT string_agg(oid::text, ',' ORDER BY oid) FROM pg_extension),
  (SELECT count(*) FROM pg_db_role_setting),
  (SELECT string_agg(version_num, ',') FROM alembic_version)
))
"""

# Empties a used copy of the template: every table but alembic_version in one TRUNCATE, each
# sequence back at its start, no large object. TRUNCATE gives each table new, empty files, so
# rows come back in the order they are written, as in a new copy: DELETE (a few milliseconds
# faster) left the old pages for new rows to fill anywhere, and a test reading rows without
# ORDER BY got them out of order on the copy's next use.
_EMPTY = """
DO $$
BEGIN
  EXECUTE (
    SELECT 'TRUNCATE ' || string_agg(c.oid::regclass::text, ', ') || ' RESTART IDENTITY CASCADE'
    FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
      AND c.relname <> 'alembic_version'
  );
  PERFORM setval(seqrelid, seqstart, false) FROM pg_sequence;
  PERFORM lo_unlink(oid) FROM pg_largeobject_metadata;
END $$
"""

_OTHER_SESSIONS = (  # a client's: autovacuum may well start on the emptied tables
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
)


def _dbname(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?", 1)[0]


@dataclass
class PgCluster:
    port: int
    datadir: Path
    as_postgres: list[str]
    pg_ctl: str
    clean: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    """By template: its schema print and the emptied copies of it ready for a test."""
    uses: int = 0

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def _connect(self, dbname: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}", autocommit=True
        )

    def keep_as_template(self, name: str) -> None:
        """Let :meth:`copy` hand out emptied used copies of database ``name``."""
        with self._connect(name) as conn:
            self.clean[name] = (conn.execute(_SCHEMA_PRINT).fetchone()[0], [])

    def copy(self, template: str) -> str:
        """A database holding what ``template`` holds: a used copy emptied by :meth:`give_back`
        if there is one (several times cheaper than a new copy and its first connections),
        else a new copy; returns its SQLAlchemy URL."""
        spare = self.clean.get(template, ("", []))[1]
        if not spare:
            return self.create_database(template=template)
        # Each use its own URL, as each new copy had: what the product remembers by URL (a
        # drift measure, whether the search index exists) is not taken for the new use's.
        self.uses += 1
        return f"{self.url(spare.pop())}?application_name=use{self.uses}"

    def give_back(self, url: str, template: str) -> None:
        """Empty a copy of ``template`` for the next test, or drop it if its schema changed.
        Whatever still holds a connection to it is cut off first, as a drop would."""
        name = _dbname(url)
        try:
            with self._connect(name) as conn:
                # Each cut-off session is waited for (up to 5 s): one still ending could write
                # after the emptying, or hold the locks the next test asks for.
                conn.execute(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                if conn.execute(_SCHEMA_PRINT).fetchone()[0] == self.clean[template][0]:
                    conn.execute(_EMPTY)
                    if not conn.execute(_OTHER_SESSIONS).fetchone()[0]:  # none came back
                        self.clean[template][1].append(name)
                        return
        except Exception:  # noqa: BLE001 - whatever went wrong, a drop makes it right
            pass
        self.drop_database(url)

    def create_database(self, *, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); returns its SQLAlchemy URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        with self._connect() as conn:
            conn.execute(
                f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
            )
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a test's database (each is a few MB; a session makes a hundred)."""
        with self._connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{_dbname(url)}" WITH (FORCE)')

    @property
    def stop_command(self) -> list[str]:
        return [*self.as_postgres, self.pg_ctl, "-D", str(self.datadir), "-m", "immediate", "stop"]

    def stop(self) -> None:
        subprocess.run(self.stop_command, capture_output=True, check=False)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """Start a private PostgreSQL cluster once per session (trust auth, durability off)."""
    binaries = {name: _pg_bin(name) for name in ("initdb", "pg_ctl", "postgres")}
    missing = [name for name, path in binaries.items() if path is None]
    if missing:
        message = f"PostgreSQL binaries not found: {', '.join(missing)} (install postgresql-15)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="labelloop-pg-", dir="/tmp"))
    root.chmod(0o755)
    datadir, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if as_postgres:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    cluster = PgCluster(
        port=port, datadir=datadir, as_postgres=as_postgres, pg_ctl=binaries["pg_ctl"] or "pg_ctl"
    )
    watch = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_WATCH, str(os.getpid()), str(root), *cluster.stop_command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    subprocess.run(
        [
            *as_postgres,
            binaries["initdb"],
            "-D",
            str(datadir),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
            "--lc-ctype=C.UTF-8",  # lower() folds every letter, as a UTF-8 production database does
        ],
        check=True,
        capture_output=True,
    )
    started = subprocess.run(
        [
            *as_postgres,
            cluster.pg_ctl,
            "-D",
            str(datadir),
            "-w",
            "-t",
            "60",
            "-l",
            str(root / "server.log"),
            "-o",
            f"-k {sockets} -p {port} {PG_OPTIONS}",
            "start",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if started.returncode != 0:
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        pytest.fail(f"PostgreSQL did not start: {started.stderr}\n{log}")
    try:
        yield cluster
    finally:
        watch.kill()
        watch.wait()
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------

ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg_migrated(pg_cluster: PgCluster) -> str:
    """A database migrated with ``upgrade`` once; each test gets a fresh copy of it."""
    url = pg_cluster.create_database()
    database = Database(url)
    upgrade(database)
    database.dispose()
    name = url.rsplit("/", 1)[1]
    pg_cluster.keep_as_template(name)
    return name


@pytest.fixture(scope="session")
def sqlite_migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated with ``upgrade`` once; each test gets a fresh copy of it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "t.db"
    database = Database(f"sqlite:///{path}")
    upgrade(database)
    database.dispose()  # the last connection to close folds the WAL back into the file
    assert not path.with_name("t.db-wal").exists()
    return path


def _sqlite_copy(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """A fresh SQLite store in ``tmp_path``: a copy of the migrated file, several times faster
    than migrating anew (on PostgreSQL CREATE DATABASE ... TEMPLATE does the same)."""
    shutil.copyfile(request.getfixturevalue("sqlite_migrated"), tmp_path / "t.db")
    return Database(f"sqlite:///{tmp_path}/t.db")


def _open(request: pytest.FixtureRequest, engine: str, tmp_path: Path, *, copy: bool) -> Database:
    if engine == "sqlite":
        if copy:
            return _sqlite_copy(request, tmp_path)
        database = Database(f"sqlite:///{tmp_path}/t.db")
        upgrade(database)
        return database
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    if copy:  # a copy of the migrated database is several times faster than migrating anew
        return Database(cluster.copy(request.getfixturevalue("pg_migrated")))
    database = Database(cluster.create_database())
    upgrade(database)
    return database


def _close(request: pytest.FixtureRequest, database: Database, *, copy: bool) -> None:
    database.dispose()
    if database.is_sqlite:
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    if copy:
        cluster.give_back(database.url, request.getfixturevalue("pg_migrated"))
    else:
        cluster.drop_database(database.url)


def downgrade(db: Database, revision: str) -> None:
    """Migrate ``db`` back to ``revision`` (labelloop itself only ever upgrades)."""
    from alembic import command

    cfg = alembic_config(db)
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
        conn.commit()
    forget_index()


@pytest.fixture(params=ENGINES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh migrated store, once on SQLite and once on PostgreSQL."""
    database = _open(request, request.param, tmp_path, copy=True)
    yield database
    _close(request, database, copy=True)


@pytest.fixture(params=ENGINES)
def fresh_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database migrated by ``upgrade`` in this very test (no template copy)."""
    database = _open(request, request.param, tmp_path, copy=False)
    yield database
    _close(request, database, copy=False)


@pytest.fixture
def sqlite_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh migrated store on SQLite only."""
    database = _sqlite_copy(request, tmp_path)
    yield database
    database.dispose()


# --------------------------------------------------------------------------------------------
# Users, projects and items
# --------------------------------------------------------------------------------------------


TAGS_SCHEMA: dict[str, Any] = {
    "name": "Tags",
    "data": {"type": "text", "field": "text"},
    "controls": [
        {"name": "topics", "type": "multi_choice", "labels": ["travel", "home"], "target": True}
    ],
}
"""A multi-label project: what works only on a single-label target refuses it."""


def schema_with(**settings: Any) -> dict[str, Any]:
    """The test schema with some settings overridden."""
    return {**SCHEMA, "settings": {**SCHEMA["settings"], **settings}}


@dataclass
class Lab:
    """Builds the people, projects and items a test needs on one store."""

    db: Database
    _admin: Any = None
    users: dict[str, Any] = field(default_factory=dict)
    classes = CLASSES
    rows = staticmethod(make_rows)
    truth = staticmethod(truth_of)
    jsonl = staticmethod(jsonl)

    @property
    def admin(self) -> Any:
        if self._admin is None:
            self._admin = self.user("admin", admin=True)
        return self._admin

    def user(self, name: str, *, password: str | None = None, admin: bool = False) -> Any:
        """A user; without a password no argon2 hash is computed (fast)."""
        from labelloop.workflow import accounts

        made = accounts.create_user(self.db, name, password, is_admin=admin)
        self.users[name] = made
        return made

    def project(self, slug: str = "sent", **settings: Any) -> Any:
        """A project from the small schema, created by the admin; returns the admin's context."""
        from labelloop.workflow import projects

        projects.create_project(self.db, slug, schema_with(**settings), actor=self.admin)
        return self.ctx(slug, self.admin)

    def member(self, slug: str, name: str, role: str) -> Any:
        """A new user with ``role`` in project ``slug``; returns their context."""
        from labelloop.workflow import projects

        made = self.users.get(name) or self.user(name)
        projects.set_member(self.db, self.ctx(slug, self.admin), name, role)
        return self.ctx(slug, made)

    def ctx(self, slug: str, who: Any) -> Any:
        from labelloop.govern.permissions import Permission
        from labelloop.workflow import projects

        return projects.access(self.db, slug, who, Permission.VIEW_PROJECT)

    def import_rows(
        self,
        ctx: Any,
        rows: Iterable[Mapping[str, Any] | str],
        *,
        labeled: bool = False,
        split: str = "pool",
        filename: str = "items.jsonl",
    ) -> Any:
        """Import records through the real JSONL importer (labels only when ``labeled``)."""
        from labelloop.workflow import imports

        return imports.import_items(
            self.db,
            ctx,
            jsonl(rows),
            fmt="jsonl",
            filename=filename,
            id_field="id",
            label_field="label" if labeled else None,
            split=split,
        )

    def train(self, ctx: Any) -> int:
        from labelloop.workflow import learning

        return learning.train(self.db, ctx)

    def label_next(self, ctx: Any, *, n: int, active_ms: int = 1500) -> list[dict[str, Any]]:
        """Take and truthfully label ``n`` served items; returns the tasks served."""
        from labelloop.workflow import tasks

        served = []
        for _ in range(n):
            task = tasks.next_task(self.db, ctx)
            assert task is not None, "the queue ran dry"
            value = {"sentiment": truth_of(task["item"]["data"]["text"])}
            tasks.submit(self.db, ctx, task["assignment_id"], value, active_ms=active_ms)
            served.append(task)
        return served

    def reject_next(self, reviewer: Any, *, n: int) -> None:
        """``reviewer`` sends the next ``n`` answers waiting for review back for rework."""
        from labelloop.workflow import review

        for _ in range(n):
            held = review.next_review(self.db, reviewer)
            assert held is not None, "no answer waits for review"
            review.review_annotation(
                self.db, reviewer, held["annotation"]["id"], verdict="reject", comment="redo"
            )


@pytest.fixture
def lab(db: Database) -> Lab:
    return Lab(db)


@pytest.fixture
def sqlite_lab(sqlite_db: Database) -> Lab:
    return Lab(sqlite_db)


@pytest.fixture
def ready(lab: Lab) -> Any:
    """A project with 60 pool items, 15 labeled eval items and its cold-start queue."""
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(60))
    lab.import_rows(
        ctx, make_rows(15, start=1000, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    lab.train(ctx)
    return ctx


# --------------------------------------------------------------------------------------------
# The HTTP API
# --------------------------------------------------------------------------------------------

ROLES = ("admin", "manager", "reviewer", "annotator", "outsider")


@dataclass
class Api:
    """A TestClient on a project with a member of every role, each with a bearer token."""

    client: Any
    lab: Lab
    slug: str
    tokens: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(self, path: str, role: str = "admin", **kw: Any) -> Any:
        return self.client.get(path, headers={**self.auth(role), **kw.pop("headers", {})}, **kw)

    def post(self, path: str, role: str = "admin", **kw: Any) -> Any:
        return self.client.post(path, headers={**self.auth(role), **kw.pop("headers", {})}, **kw)

    def put(self, path: str, role: str = "admin", **kw: Any) -> Any:
        return self.client.put(path, headers={**self.auth(role), **kw.pop("headers", {})}, **kw)


def _make_api(lab: Lab, tmp_path: Path) -> Iterator[Api]:
    from fastapi.testclient import TestClient

    from labelloop.config import get_settings
    from labelloop.server.app import create_app
    from labelloop.workflow.accounts import create_token

    ctx = lab.project("sent")
    lab.import_rows(ctx, make_rows(30))
    lab.import_rows(
        ctx, make_rows(9, start=1000, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    lab.train(ctx)
    for role in ("manager", "reviewer", "annotator"):
        lab.member("sent", role, role)
    lab.project("other")
    lab.member("other", "outsider", "manager")  # a manager elsewhere, nobody in "sent"
    tokens = {name: create_token(lab.db, name) for name in ROLES}
    settings = get_settings(home=tmp_path, secret_key="test")
    app = create_app(settings, db=lab.db, learner=False)
    with TestClient(app, follow_redirects=False) as client:
        yield Api(client=client, lab=lab, slug="sent", tokens=tokens)


@pytest.fixture
def api(lab: Lab, tmp_path: Path) -> Iterator[Api]:
    """The API on both engines."""
    yield from _make_api(lab, tmp_path)


@pytest.fixture
def sqlite_api(sqlite_lab: Lab, tmp_path: Path) -> Iterator[Api]:
    """The API on SQLite only (for the long matrices)."""
    yield from _make_api(sqlite_lab, tmp_path)


@pytest.fixture
def no_labelloop_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's LABELLOOP_* variables out of a test."""
    for name in list(os.environ):
        if name.startswith("LABELLOOP_"):
            monkeypatch.delenv(name)
