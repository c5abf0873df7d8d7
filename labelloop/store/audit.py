"""Append-only audit events, each holding the hash of the previous event of its project."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, bindparam, select

from labelloop.govern.audit import GENESIS_HASH, event_hash
from labelloop.store.db import Database, chain_key, fetch, insert
from labelloop.store.tables import audit_event, user


@cache
def _head_stmt(site: bool) -> Any:
    """The newest event of one chain (a project's, or the site's when ``site``)."""
    chain = (
        audit_event.c.project_id.is_(None)
        if site
        else audit_event.c.project_id == bindparam("project_id")
    )
    return select(audit_event.c.hash).where(chain).order_by(audit_event.c.id.desc()).limit(1)


@cache
def _insert_stmt() -> Any:
    return audit_event.insert()


_HEAD = "labelloop.audit_head"  # conn.info key: (transaction, project id, newest hash)


def known_head(conn: Connection, project_id: int | None, head: str | None) -> None:
    """Tell ``record`` the chain's newest hash, read under the chain's lock in this transaction.

    The serving path reads it together with the rest of what a submit needs, saving a query;
    it is trusted only within the same transaction.
    """
    conn.info[_HEAD] = (conn.get_transaction(), project_id, head or GENESIS_HASH)


def _head(conn: Connection, project_id: int | None) -> str:
    known = conn.info.get(_HEAD)
    if (
        known is not None
        and known[0] is conn.get_transaction()
        and known[1] == project_id
        and not conn.in_nested_transaction()
    ):
        return str(known[2])
    found = fetch(conn, _head_stmt(project_id is None), {"project_id": project_id})
    prev = found[0]["hash"] if found else None
    return prev or GENESIS_HASH


def record(
    db: Database,
    conn: Connection,
    *,
    action: str,
    actor_id: int | None,
    project_id: int | None,
    subject: str,
    payload: Mapping[str, Any] | None = None,
) -> None:
    """Write one audit event inside the caller's transaction (the state change it records)."""
    db.lock_key(conn, chain_key(project_id))
    prev = _head(conn, project_id)
    at = datetime.now(UTC)
    body = dict(payload or {})
    digest = event_hash(
        prev,
        action=action,
        actor_id=actor_id,
        project_id=project_id,
        subject=subject,
        payload=body,
        at=at,
    )
    insert(
        conn,
        _insert_stmt(),
        {
            "at": at,
            "actor_id": actor_id,
            "project_id": project_id,
            "action": action,
            "subject": subject,
            "payload": body,
            "prev_hash": prev,
            "hash": digest,
        },
    )
    if conn.in_nested_transaction():  # a savepoint could still roll back what it wrote
        conn.info.pop(_HEAD, None)
    else:
        conn.info[_HEAD] = (conn.get_transaction(), project_id, digest)


def chain_rows(conn: Connection, project_id: int | None) -> list[dict[str, Any]]:
    """All events of one chain in order, as the plain rows ``verify_chain`` checks."""
    chain = (
        audit_event.c.project_id.is_(None)
        if project_id is None
        else audit_event.c.project_id == project_id
    )
    rows = conn.execute(select(audit_event).where(chain).order_by(audit_event.c.id)).mappings()
    return [dict(r) for r in rows]


def recent_events(
    conn: Connection,
    project_id: int | None,
    *,
    limit: int,
    action: str | None = None,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """The newest events of a project's chain (None: the site's), of ``action`` when given,
    older than event ``before`` when given, newest first, with the actor's user name and, for
    an event about a user, theirs (``whom``)."""
    q = (
        select(
            audit_event.c.id,
            audit_event.c.at,
            user.c.username.label("actor"),
            audit_event.c.action,
            audit_event.c.subject,
            audit_event.c.payload,
        )
        .outerjoin(user, user.c.id == audit_event.c.actor_id)
        .where(
            audit_event.c.project_id.is_(None)
            if project_id is None
            else audit_event.c.project_id == project_id
        )
        .order_by(audit_event.c.id.desc())
        .limit(limit)
    )
    if action is not None:
        q = q.where(audit_event.c.action == action)
    if before is not None:
        q = q.where(audit_event.c.id < before)
    rows = [dict(r) for r in conn.execute(q).mappings()]
    about = {int(r["subject"][5:]) for r in rows if _USER_SUBJECT.fullmatch(r["subject"])}
    names = {
        int(uid): str(name)
        for uid, name in conn.execute(
            select(user.c.id, user.c.username).where(user.c.id.in_(sorted(about)))
        )
    }
    for row in rows:
        subject = row["subject"]
        row["whom"] = names.get(int(subject[5:])) if _USER_SUBJECT.fullmatch(subject) else None
    return rows


_USER_SUBJECT = re.compile(r"user:[0-9]{1,18}")


def holds_event(conn: Connection, project_id: int, event_id: int) -> bool:
    """Whether event ``event_id`` is one of the project's."""
    q = select(audit_event.c.id).where(
        audit_event.c.id == event_id, audit_event.c.project_id == project_id
    )
    return conn.execute(q).first() is not None


def change_times(
    conn: Connection, project_id: int, item_ids: Iterable[int] | None
) -> dict[int, Any]:
    """When each changed annotation of ``item_ids`` (None: of the whole project) was last
    changed by its annotator, by annotation id: the time of its newest ``annotation.edit``
    event (an annotation never changed is not there). Not its ``updated_at``, which a review's
    status change moves too."""
    q = select(audit_event.c.at, audit_event.c.payload).where(
        audit_event.c.project_id == project_id, audit_event.c.action == "annotation.edit"
    )
    if item_ids is not None:
        subjects = sorted({f"item:{i}" for i in item_ids})
        if not subjects:
            return {}
        q = q.where(audit_event.c.subject.in_(subjects))
    q = q.order_by(audit_event.c.id)
    return {int(payload["annotation_id"]): at for at, payload in conn.execute(q)}


def first_values(conn: Connection, project_id: int, item_ids: Iterable[int]) -> dict[int, Any]:
    """The value each changed annotation of ``item_ids`` was first submitted with, by
    annotation id: the ``old`` of its first ``annotation.edit`` event (an annotation never
    changed is not there; its value is its first)."""
    subjects = sorted({f"item:{i}" for i in item_ids})
    if not subjects:
        return {}
    q = (
        select(audit_event.c.payload)
        .where(
            audit_event.c.project_id == project_id,
            audit_event.c.action == "annotation.edit",
            audit_event.c.subject.in_(subjects),
        )
        .order_by(audit_event.c.id)
    )
    first: dict[int, Any] = {}
    for payload in conn.execute(q).scalars():
        first.setdefault(int(payload["annotation_id"]), payload["old"])
    return first


GUIDELINE_ACTIONS = (
    "project.create",
    "guideline.edit",
    "guideline.example.pin",
    "guideline.example.unpin",
)
"""The events that publish a guideline version (a project's first comes with the project)."""


def guideline_hashes(conn: Connection, project_id: int) -> dict[int, str]:
    """The SHA-256 of its text that each guideline version's publishing event recorded, by
    version (a version published before events recorded one is not there)."""
    return {version: sha for (_, version), sha in _published_hashes(conn, project_id).items()}


def every_guideline_hash(conn: Connection) -> dict[tuple[int, int], str]:
    """The same for every project's versions, by (project id, version), in one query."""
    return _published_hashes(conn, None)


def _published_hashes(conn: Connection, project_id: int | None) -> dict[tuple[int, int], str]:
    """(project id, version) -> the SHA-256 its publishing event recorded, of ``project_id``'s
    events (None: every project's)."""
    q = (
        select(audit_event.c.project_id, audit_event.c.action, audit_event.c.payload)
        .where(audit_event.c.action.in_(GUIDELINE_ACTIONS))
        .order_by(audit_event.c.id)
    )
    if project_id is None:
        q = q.where(audit_event.c.project_id.is_not(None))
    else:
        q = q.where(audit_event.c.project_id == project_id)
    found: dict[tuple[int, int], str] = {}
    for project, action, payload in conn.execute(q):
        published = payload.get("guideline") if action == "project.create" else payload
        if isinstance(published, dict) and isinstance(published.get("sha256"), str):
            found[int(project), int(published["version"])] = published["sha256"]
    return found
