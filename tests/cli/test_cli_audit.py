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
    # Without a project, every project's texts are checked too: one line naming the changed.
    site = cli("audit", code=1).stdout.splitlines()
    assert site[-1] == (
        "guideline texts of 1 project: CHANGED since published in 1: 's' (v2) "
        "(labelloop audit SLUG shows the hashes)"
    )


def test_the_site_check_names_the_one_tampered_project_among_clean_ones(
    cli: Any, tmp_path: Path
) -> None:
    """Three projects, each with v1; b and c publish a v2. Someone changes c's v1 behind
    labelloop's back: ``labelloop audit`` (no project) exits 1 naming c alone, in one line
    after the site chain's, and its JSON says which version; with c put back it passes."""
    small_project(cli, tmp_path, slug="a")
    for slug in ("b", "c"):
        cli("projects", "create", slug, "--schema", str(tmp_path / "s.json"))
        rules = tmp_path / f"{slug}.md"
        rules.write_text(f"Rules of {slug}.\n")
        cli("guidelines", "set", slug, "--file", str(rules), "--summary", "rules")
    clean = cli("audit").stdout.splitlines()
    assert len(clean) == 2 and clean[0].startswith("audit chain of the site: ")
    assert (
        clean[1] == "guideline texts of 3 projects (5 versions): each as its audit event recorded"
    )
    db_path = tmp_path / "home" / "labelloop.db"
    with sqlite3.connect(db_path) as conn:
        before = conn.execute(
            "SELECT g.body FROM guideline g JOIN project p ON p.id = g.project_id "
            "WHERE p.slug = 'c' AND g.version = 1"
        ).fetchone()[0]
        conn.execute(
            "UPDATE guideline SET body = 'Anything goes.' WHERE version = 1 AND project_id = "
            "(SELECT id FROM project WHERE slug = 'c')"
        )
    out = cli("audit", code=1).stdout.splitlines()
    assert out[0] == clean[0]  # the site's chain itself is intact
    assert out[1:] == [
        "guideline texts of 3 projects: CHANGED since published in 1: 'c' (v1) "
        "(labelloop audit SLUG shows the hashes)"
    ]
    found = json.loads(cli("audit", "--json", code=1).stdout)
    assert found["intact"] is True
    assert (found["guidelines"]["projects"], found["guidelines"]["intact"]) == (3, False)
    assert [
        (p["project"], [v["version"] for v in p["changed"]]) for p in found["guidelines"]["changed"]
    ] == [("c", [1])]
    assert (
        found["guidelines"]["changed"][0]["changed"][0]["sha256"]
        == hashlib.sha256(b"Anything goes.").hexdigest()
    )
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "UPDATE guideline SET body = ? WHERE version = 1 AND project_id = "
            "(SELECT id FROM project WHERE slug = 'c')",
            (before,),
        )
    assert cli("audit").stdout.splitlines() == clean


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
