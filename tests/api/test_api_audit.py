"""Checking an audit chain through the API, as a manager or a site admin would."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select, update

from labelloop.store.tables import audit_event, guideline


def test_a_manager_sees_the_chain_intact_then_where_an_edit_broke_it(api: Any) -> None:
    ok = api.get("/api/projects/sent/audit/verify", "manager").json()
    assert ok["intact"] and ok["events"] >= 1 and ok["first_broken"] is None
    site = api.get("/api/audit/verify", "admin").json()
    assert site["intact"] and site["chain"] == "the site"
    assert api.get("/api/audit/verify", "manager").status_code == 403

    db = api.lab.db
    with db.write() as conn:  # someone edits an event behind the application's back
        first = conn.execute(
            select(audit_event.c.id)
            .where(audit_event.c.project_id.is_not(None))
            .order_by(audit_event.c.id)
        ).first()[0]
        conn.execute(
            update(audit_event).where(audit_event.c.id == first).values(subject="project:other")
        )
    broken = api.get("/api/projects/sent/audit/verify", "manager").json()
    assert not broken["intact"] and broken["first_broken"]["id"] == first


def test_a_site_admin_reads_who_did_what_to_whom_on_the_site(api: Any) -> None:
    api.lab.user("pat", password="correct horse battery")
    api.put("/api/users/pat/password", json={"password": None})
    api.post("/api/users/pat/deactivate")
    events = api.get("/api/audit?limit=2").json()
    assert [(e["actor"], e["action"], e["whom"]) for e in events] == [
        ("admin", "user.deactivate", "pat"),
        ("admin", "user.password_reset", "pat"),
    ]
    only = api.get("/api/audit?action=user.password_reset").json()
    assert [e["whom"] for e in only] == ["pat"]
    for role in ("manager", "reviewer", "annotator"):
        refused = api.get("/api/audit", role)
        assert refused.status_code == 403, refused.text


def test_verify_names_a_guideline_text_changed_behind_the_applications_back(api: Any) -> None:
    ok = api.get("/api/projects/sent/audit/verify", "manager").json()
    assert ok["guidelines"] == {"versions": 1, "intact": True, "changed": [], "not_recorded": []}
    with api.lab.db.write() as conn:
        conn.execute(update(guideline).where(guideline.c.version == 1).values(body="Anything."))
    found = api.get("/api/projects/sent/audit/verify", "manager").json()
    assert found["intact"] and not found["guidelines"]["intact"]
    (changed,) = found["guidelines"]["changed"]
    assert changed["version"] == 1
    assert (
        changed["sha256"] == hashlib.sha256(b"Anything.").hexdigest() != changed["recorded_sha256"]
    )
