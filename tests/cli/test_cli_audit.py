"""`labelloop audit`: an operator checks a chain on the server's machine."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
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


RULES = "Label a for praise.\n"


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def test_verify_names_a_guideline_text_changed_after_it_was_published(
    cli: Any, tmp_path: Path
) -> None:
    small_project(cli, tmp_path)
    rules = tmp_path / "rules.md"
    rules.write_text(RULES)
    cli("guidelines", "set", "s", "--file", str(rules), "--summary", "first rules")
    clean = cli("audit", "s").stdout.splitlines()
    assert clean == [
        "audit chain of project 's': 2 events, intact",
        "guideline texts of project 's': 2 versions, each as its audit event recorded",
    ]
    with sqlite3.connect(tmp_path / "home" / "labelloop.db") as conn:  # behind labelloop's back
        conn.execute("UPDATE guideline SET body = 'Anything goes.' WHERE version = 2")
    out = cli("audit", "s", code=1).stdout.splitlines()
    assert out == [
        "audit chain of project 's': 2 events, intact",  # the events themselves are untouched
        f"guideline v2 of project 's': CHANGED since published: stored text "
        f"sha256:{_sha12('Anything goes.')}, its audit event recorded "
        f"sha256:{_sha12(RULES)}",
        "guideline texts of project 's': 2 versions, 1 changed since published",
    ]
    found = json.loads(cli("audit", "s", "--json", code=1).stdout)
    assert found["intact"] is True
    assert found["guidelines"] == {
        "versions": 2,
        "intact": False,
        "changed": [
            {
                "version": 2,
                "sha256": hashlib.sha256(b"Anything goes.").hexdigest(),
                "recorded_sha256": hashlib.sha256(RULES.encode()).hexdigest(),
            }
        ],
        "not_recorded": [],
    }
    assert "guideline" not in cli("audit").stdout  # the site's chain holds no guideline


def test_a_version_published_before_hashes_were_recorded_is_not_a_failure(
    cli: Any, tmp_path: Path
) -> None:
    from labelloop.store import audit as store_audit
    from labelloop.store import projects as store_projects
    from labelloop.store.db import Database

    small_project(cli, tmp_path)
    db = Database(cli.db_url)
    try:  # a version as labelloop published it before its event recorded the text's hash
        with db.read() as conn:
            project_id = int(store_projects.by_slug(conn, "s")["id"])
        with db.write(project_id=project_id) as conn:
            version = store_projects.insert_guideline(
                conn, project_id=project_id, body="Old rules.", author_id=None, change_summary=""
            )
            store_audit.record(
                db,
                conn,
                action="guideline.edit",
                actor_id=None,
                project_id=project_id,
                subject="project:s",
                payload={"version": version, "from_version": 1, "summary": ""},
            )
    finally:
        db.dispose()
    assert cli("audit", "s").stdout.splitlines()[-1] == (
        "guideline texts of project 's': 2 versions, each as its audit event recorded "
        "(v2: not recorded, published before labelloop recorded text hashes)"
    )
