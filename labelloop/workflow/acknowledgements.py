"""Acknowledging an alert: "seen, we're on it". An acknowledged alert stays open while its
condition holds but no longer needs attention; when it resolves and comes back, the new alert
needs attention again (the alerts themselves: :mod:`labelloop.workflow.insight`)."""

from __future__ import annotations

from typing import Any

from labelloop.errors import Conflict, NotFound, PermissionDenied, Unprocessable
from labelloop.govern.permissions import Permission
from labelloop.insight.flow import as_utc
from labelloop.schema.names import disguising_at
from labelloop.store import audit
from labelloop.store import insight as store_insight
from labelloop.store.db import Database
from labelloop.store.users import now as store_now
from labelloop.workflow.insight import ALERT_KINDS, STAGE_WINDOW, _acknowledgement, report
from labelloop.workflow.projects import ProjectContext

MAX_ACK_NOTE_CHARS = 200
"""An acknowledgement's note is a line ("retraining on Monday"), shown beside the alert."""


def acknowledge_alert(
    db: Database, ctx: ProjectContext, kind: str, *, note: str = "", cache: Any | None = None
) -> dict[str, Any]:
    """Say "seen, we're on it" of the project's open alert of ``kind``, with an optional note:
    it stays open while its condition holds but no longer needs attention (the projects list
    leaves it out of its count); when it resolves and comes back, the new alert needs attention
    again. Reviewers and managers; audited.

    An alert the dashboard shows that the learner has not stored yet (it is off, or has not run
    since) is stored first, with the others current, as :func:`refresh_alerts` would.

    Raises
    ------
    NotFound
        When no alert of ``kind`` is open.
    Conflict
        When it was acknowledged already (take that back first to change the note).
    Unprocessable
        When the note is too long or holds control characters.
    """
    ctx.require(Permission.REVIEW)
    _known(kind)
    clean = _ack_note(note)
    read_at = store_now()
    with db.read() as conn:
        stored = store_insight.open_alert(conn, ctx.id, kind)
    current = None if stored is not None else report(db, ctx, cache=cache, days=STAGE_WINDOW)
    at = store_now()
    with db.write(project_id=ctx.id) as conn:
        if current is not None:
            store_insight.sync_alerts(conn, ctx.id, current["alerts"], at=at, read_at=read_at)
        row = _open_alert(conn, ctx, kind)
        if row["acknowledged_at"] is not None:
            raise Conflict(
                f"the {kind} alert of project '{ctx.slug}' was acknowledged already, "
                f"{_acked(row)}; take that back first to change the note"
            )
        if not store_insight.acknowledge(
            conn, row["id"], by=ctx.actor_id, at=at, note=clean or None
        ):
            raise Conflict(f"the {kind} alert changed meanwhile; look again and retry")
        audit.record(
            db,
            conn,
            action="alert.acknowledge",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"alert:{row['id']}",
            payload={"kind": kind, "note": clean},
        )
        row = _open_alert(conn, ctx, kind)
    return _alert_out(row)


def unacknowledge_alert(db: Database, ctx: ProjectContext, kind: str) -> dict[str, Any]:
    """Take back the acknowledgement of the open alert of ``kind``: it needs attention again.
    The one who acknowledged it, or a manager; audited.

    Raises
    ------
    NotFound
        When no alert of ``kind`` is open.
    Conflict
        When it is not acknowledged.
    PermissionDenied
        When someone else acknowledged it and the caller is no manager.
    """
    ctx.require(Permission.REVIEW)
    _known(kind)
    with db.write(project_id=ctx.id) as conn:
        row = _open_alert(conn, ctx, kind)
        if row["acknowledged_at"] is None:
            raise Conflict(f"the {kind} alert of project '{ctx.slug}' is not acknowledged")
        theirs = ctx.actor_id is not None and row["acknowledged_by_id"] == ctx.actor_id
        if not (theirs or ctx.allows(Permission.MANAGE_PROJECT)):
            raise PermissionDenied(
                f"the {kind} alert was acknowledged {_acked(row)}: only they or a manager of "
                f"project '{ctx.slug}' can take that back"
            )
        store_insight.unacknowledge(conn, row["id"])
        audit.record(
            db,
            conn,
            action="alert.unacknowledge",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"alert:{row['id']}",
            payload={
                "kind": kind,
                "acknowledged_by": row["acknowledged_by"],
                "note": row["acknowledged_note"] or "",
            },
        )
        row = _open_alert(conn, ctx, kind)
    return _alert_out(row)


def _known(kind: str) -> None:
    if kind not in ALERT_KINDS:
        raise NotFound(f"'{kind[:40]}' is no alert kind; the kinds are {', '.join(ALERT_KINDS)}")


def _ack_note(note: str | None) -> str:
    """A note as stored: one line of at most MAX_ACK_NOTE_CHARS, no control or formatting
    character (a line break or a direction override would disguise it in the projects list
    and the terminal)."""
    clean = (note or "").strip()
    if len(clean) > MAX_ACK_NOTE_CHARS:
        raise Unprocessable(
            f"the note has {len(clean):,} characters; at most {MAX_ACK_NOTE_CHARS:,}"
        )
    at = disguising_at(clean)
    if at is not None:
        raise Unprocessable(
            f"the note cannot hold control or formatting characters (found U+{ord(clean[at]):04X})"
        )
    return clean


def _open_alert(conn: Any, ctx: ProjectContext, kind: str) -> dict[str, Any]:
    row = store_insight.open_alert(conn, ctx.id, kind)
    if row is None:
        raise NotFound(f"project '{ctx.slug}' has no open {kind} alert: it needs no attention now")
    return row


def _acked(row: dict[str, Any]) -> str:
    """ "by bob at 2026-12-05 14:02 UTC (note: ...)" """
    who = row["acknowledged_by"] or "the local operator"
    at = as_utc(row["acknowledged_at"]).strftime("%Y-%m-%d %H:%M UTC")
    note = f" (note: {row['acknowledged_note']})" if row["acknowledged_note"] else ""
    return f"by {who} at {at}{note}"


def _alert_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": row["kind"],
        "message": row["message"],
        "raised_at": as_utc(row["created_at"]).isoformat(),
        **_acknowledgement(row),
    }
