"""Offboarding: a member leaves a project, a user is deactivated or given a new password, and
signing out ends sessions on the server. Labels stay attributed throughout."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from labelloop.errors import AuthenticationFailed, Conflict, NotFound, PermissionDenied
from labelloop.govern.permissions import Permission
from labelloop.store.tables import audit_event
from labelloop.workflow import accounts, projects, tasks
from labelloop.workflow import export as wf_export
from tests.conftest import make_rows

PASSWORD = "old-password-123"


def _one_item_project(lab: Any) -> Any:
    """A project whose queue holds a single item, so a lease keeps it from everyone else."""
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(1))
    lab.train(ctx)
    return ctx


def _actions(db: Any, action: str) -> list[dict[str, Any]]:
    with db.read() as conn:
        q = select(audit_event).where(audit_event.c.action == action)
        return [dict(r) for r in conn.execute(q).mappings()]


def test_a_removed_members_leased_item_is_served_to_someone_else(lab: Any) -> None:
    admin_ctx = _one_item_project(lab)
    ann = lab.member("sent", "ann", "annotator")
    bob = lab.member("sent", "bob", "annotator")
    leased = tasks.next_task(lab.db, ann)
    assert leased is not None
    assert tasks.next_task(lab.db, bob) is None  # the only item is ann's for now

    done = projects.remove_member(lab.db, admin_ctx, "ann")

    assert done["leases_released"] == 1 and done["was"] == "annotator"
    served = tasks.next_task(lab.db, bob)
    assert served is not None and served["item"]["id"] == leased["item"]["id"]


def test_a_removed_members_labels_stay_attributed_in_the_export(lab: Any, ready: Any) -> None:
    ann = lab.member("sent", "ann", "annotator")
    labeled = {t["item"]["id"] for t in lab.label_next(ann, n=2)}

    projects.remove_member(lab.db, ready, "ann")

    exported = {r.item_id: r.annotator for r in wf_export.records(lab.db, ready)}
    assert {exported[i] for i in labeled} == {"ann"}
    (event,) = _actions(lab.db, "member.remove")
    assert event["payload"]["username"] == "ann" and event["actor_id"] == lab.admin.id


def test_a_removed_members_work_counts_and_the_tables_say_they_left(lab: Any, ready: Any) -> None:
    """The dashboard's and the quality page's annotator tables kept a removed annotator's row
    with nothing to tell them from the team at work; an admin who answers stays unmarked."""
    from labelloop.workflow import insight, quality

    ann = lab.member("sent", "ann", "annotator")
    bob = lab.member("sent", "bob", "annotator")
    lab.label_next(ann, n=2)
    lab.label_next(bob, n=1)
    lab.label_next(ready, n=1)  # the admin, no member
    projects.remove_member(lab.db, ready, "ann")

    for table in (
        insight.report(lab.db, ready)["annotators"],
        quality.report(lab.db, ready, n_boot=0)["annotators"],
    ):
        member = {row["username"]: row["member"] for row in table}
        assert member == {"ann": False, "bob": True, lab.admin.username: True}


def test_a_removed_member_is_answered_like_a_stranger(lab: Any) -> None:
    admin_ctx = lab.project()
    ann = lab.member("sent", "ann", "annotator")
    stranger = lab.user("stranger")
    projects.remove_member(lab.db, admin_ctx, "ann")

    for who in (ann.user, stranger):
        with pytest.raises(NotFound, match="no project 'sent' that you are a member of"):
            projects.access(lab.db, "sent", who, Permission.VIEW_PROJECT)
        assert projects.projects_for(lab.db, who) == []
    assert [m["username"] for m in projects.members(lab.db, admin_ctx)] == ["admin"]
    with pytest.raises(NotFound, match="ann is not a member of 'sent'"):
        projects.remove_member(lab.db, admin_ctx, "ann")


def test_a_manager_cannot_take_away_the_last_manager_but_a_site_admin_can(lab: Any) -> None:
    lab.project()
    mia = lab.member("sent", "mia", "manager")
    projects.remove_member(lab.db, lab.ctx("sent", lab.admin), "admin")  # mia stays manager
    for take_away in (
        lambda: projects.remove_member(lab.db, mia, "mia"),
        lambda: projects.set_member(lab.db, mia, "mia", "annotator"),
    ):
        with pytest.raises(Conflict, match="mia is the last manager of 'sent'"):
            take_away()
    lab.member("sent", "max", "manager")
    projects.remove_member(lab.db, mia, "mia")  # max is left to manage
    admin_ctx = lab.ctx("sent", lab.admin)
    projects.remove_member(lab.db, admin_ctx, "max")
    assert projects.members(lab.db, admin_ctx) == []


def test_a_deactivated_user_is_signed_out_everywhere_and_cannot_sign_in(lab: Any) -> None:
    _one_item_project(lab)
    ann = lab.member("sent", "ann", "annotator")
    accounts.reset_password(lab.db, "ann", PASSWORD)
    user = accounts.authenticate(lab.db, "ann", PASSWORD)
    token = accounts.create_token(lab.db, "ann", "script")
    assert tasks.next_task(lab.db, ann) is not None

    done = accounts.deactivate_user(lab.db, "ann", by=lab.admin)

    assert (done["tokens_revoked"], done["leases_released"]) == (1, 1)
    with pytest.raises(AuthenticationFailed, match="or the account is deactivated"):
        accounts.authenticate(lab.db, "ann", PASSWORD)
    with pytest.raises(AuthenticationFailed):
        accounts.user_for_token(lab.db, token)
    assert accounts.user_for_session(lab.db, user.id, user.session_generation) is None
    bob = lab.member("sent", "bob", "annotator")
    assert tasks.next_task(lab.db, bob) is not None  # ann's leased item is free again
    listed = {u["username"]: u["is_active"] for u in accounts.list_users(lab.db)}
    assert listed["ann"] is False and listed["bob"] is True

    accounts.activate_user(lab.db, "ann", by=lab.admin)
    again = accounts.authenticate(lab.db, "ann", PASSWORD)
    assert projects.access(lab.db, "sent", again, Permission.ANNOTATE).role == "annotator"
    with pytest.raises(AuthenticationFailed):
        accounts.user_for_token(lab.db, token)  # revoked for good: a new one is made
    offboarding = [
        e["action"] for e in _site_events(lab.db) if e["subject"] == f"user:{ann.user.id}"
    ]
    assert offboarding[-2:] == ["user.deactivate", "user.activate"]


def _site_events(db: Any) -> list[dict[str, Any]]:
    with db.read() as conn:
        q = select(audit_event).where(audit_event.c.project_id.is_(None))
        return [dict(r) for r in conn.execute(q.order_by(audit_event.c.id)).mappings()]


def test_nobody_deactivates_themselves_or_the_last_active_admin(lab: Any) -> None:
    admin = lab.admin
    with pytest.raises(Conflict, match="cannot deactivate yourself"):
        accounts.deactivate_user(lab.db, "admin", by=admin)
    with pytest.raises(Conflict, match="admin is the last active site admin"):
        accounts.deactivate_user(lab.db, "admin")  # the local operator
    second = lab.user("root2", admin=True)
    accounts.deactivate_user(lab.db, "admin", by=second)
    with pytest.raises(Conflict, match="deactivated already"):
        accounts.deactivate_user(lab.db, "admin", by=second)
    with pytest.raises(NotFound, match="no user named 'ghost'"):
        accounts.deactivate_user(lab.db, "ghost", by=second)


def test_a_password_reset_ends_the_users_sessions(lab: Any) -> None:
    lab.user("ann", password=PASSWORD)
    before = accounts.authenticate(lab.db, "ann", PASSWORD)

    made = accounts.reset_password(lab.db, "ANN", by=lab.admin)["password"]

    assert len(made) >= 12
    with pytest.raises(AuthenticationFailed):
        accounts.authenticate(lab.db, "ann", PASSWORD)
    after = accounts.authenticate(lab.db, "ann", made)
    assert accounts.user_for_session(lab.db, before.id, before.session_generation) is None
    assert accounts.user_for_session(lab.db, after.id, after.session_generation) == after
    with pytest.raises(Exception, match="at least 8 characters"):
        accounts.reset_password(lab.db, "ann", "short")


def test_a_user_changes_their_password_with_the_current_one(lab: Any) -> None:
    lab.user("ann", password=PASSWORD)
    user = accounts.authenticate(lab.db, "ann", PASSWORD)
    with pytest.raises(PermissionDenied, match="current password is not right"):
        accounts.change_own_password(lab.db, user, "guess-guess", "new-password-456")

    fresh = accounts.change_own_password(lab.db, user, PASSWORD, "new-password-456")

    assert fresh.session_generation > user.session_generation
    assert accounts.user_for_session(lab.db, user.id, user.session_generation) is None
    assert accounts.authenticate(lab.db, "ann", "new-password-456") == fresh


def test_signing_out_ends_every_session_of_the_user(lab: Any) -> None:
    ann = lab.user("ann")
    other = lab.user("other")
    accounts.sign_out(lab.db, ann)
    assert accounts.user_for_session(lab.db, ann.id, 0) is None
    assert accounts.user_for_session(lab.db, ann.id, 1) is not None
    assert accounts.user_for_session(lab.db, other.id, 0) == other
    assert _site_events(lab.db)[-1]["action"] == "user.sign_out"
