"""Bring a database to the newest schema with Alembic (the only way tables are created)."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

from labelloop.store.db import Database
from labelloop.store.wordindex import forget_index

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+)$", re.M)
MIGRATION_LOCK = 4 << 40  # the lock key migrations take turns on (PostgreSQL)


def described(name: str | None, type_: str, parent_names: object) -> bool:
    """Whether tables.py describes the table or index ``name`` (Alembic's ``include_name``):
    the search index (migration 0017: SQLite's FTS5 table and its shadow tables; PostgreSQL's
    word indexes of 0022, trigrams before) is made by SQL of its own, so autogenerate leaves it
    alone."""
    return not (name or "").startswith(("item_words", "ix_item_words_"))


def alembic_config(db: Database) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Apply every pending migration in one go.

    Processes take turns: several serve processes and a worker started together on a new
    database (or after an upgrade of labelloop) each ran the migrations, and all but one died
    (on PostgreSQL on a table another had just created, on SQLite "database is locked"). The
    later ones now find nothing left to do.
    """
    if revision == "head" and _at_head(db):
        return  # nothing to do: no turn to wait for (on SQLite, behind a running import)
    from alembic import command

    cfg = alembic_config(db)
    with db.alone(MIGRATION_LOCK) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()
    forget_index()  # a migration may have built the search index (or dropped it, going back)


def _at_head(db: Database) -> bool:
    """Whether the database is at the newest schema already, read without taking a turn: on
    SQLite the turn is the writer lock, which an import holds while it runs, so every command
    (``labelloop status``, ``imports list``) waited silently for the import to end. Read with
    SQLAlchemy alone, where Alembic keeps it: loading Alembic cost every command, server and
    worker about 0.2 s of CPU as it started."""
    with db.read() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        current = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    return current == head_revisions()


@functools.cache
def head_revisions() -> frozenset[str]:
    """The newest migrations' revisions: those no other migration file revises, read from the
    files' ``revision`` and ``down_revision`` lines."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict(_REVISION_LINE.findall(path.read_text()))
        revisions.add(ast.literal_eval(found["revision"]))
        down = ast.literal_eval(found["down_revision"])
        revised.update(down if isinstance(down, tuple | list) else [down])
    return frozenset(revisions - revised)
