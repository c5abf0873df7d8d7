"""Bring a database to the newest schema with Alembic (the only way tables are created)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from labelloop.store.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Apply every pending migration in one go."""
    cfg = alembic_config(db)
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()
