"""`labelloop audit`: an operator checks a chain on the server's machine."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from labelloop.store.tables import audit_event
from tests.cli.conftest import small_project


def test_the_cli_exits_1_naming_the_first_broken_event(cli: Any, tmp_path: Any) -> None:
    from labelloop.store.db import Database

    small_project(cli, tmp_path)
    assert "audit chain of project 's': 1 events, intact" in cli("audit", "s").stdout
    assert "audit chain of the site:" in cli("audit").stdout
    db = Database(cli.db_url)
    try:
        with db.write() as conn:
            conn.execute(update(audit_event).values(subject="tampered"))
    finally:
        db.dispose()
    out = cli("audit", "s", code=1).stdout
    assert "BROKEN at event" in out and "project.create" in out
