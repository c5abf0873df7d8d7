"""Checking the audit hash chains: a project's, or the site's (accounts, tokens, projects); and
the guideline texts they vouch for, a project's or every project's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from labelloop.errors import NotFound, PermissionDenied
from labelloop.govern import verify_chain
from labelloop.govern.guidelines import text_sha256, text_state
from labelloop.govern.permissions import Permission
from labelloop.store import audit as store_audit
from labelloop.store import projects as store_projects
from labelloop.store.db import Database
from labelloop.workflow import guidelines
from labelloop.workflow.accounts import User
from labelloop.workflow.projects import ProjectContext


def verify(db: Database, ctx: ProjectContext) -> dict[str, Any]:
    """Whether the project's audit chain is intact, and where it breaks first if not; and
    whether each guideline version's stored text is the one its publishing event recorded.

    A changed event fails its own hash, a deleted one the link of the event after it
    (:func:`labelloop.govern.verify_chain`). A guideline text changed in the database after it
    was published leaves the chain intact, so ``guidelines`` compares each version's text with
    the SHA-256 its event recorded: ``changed`` lists the versions whose text differs (both
    hashes), ``not_recorded`` those published before labelloop recorded hashes (nothing to
    compare, not a failure), and ``intact`` is whether none changed.
    """
    ctx.require(Permission.VIEW_AUDIT)
    with db.read() as conn:  # one snapshot: the chain and the texts it vouches for
        found = _verified(store_audit.chain_rows(conn, ctx.id), chain=f"project '{ctx.slug}'")
        versions = guidelines.text_hashes(conn, ctx.id)
    found["guidelines"] = _texts(reversed(versions))
    return found


def _texts(versions: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """What :func:`verify` says of a project's guideline texts, from each version's
    ``version``, ``sha256`` and ``recorded_sha256``, oldest first."""
    n = 0
    changed: list[dict[str, Any]] = []
    not_recorded: list[int] = []
    for v in versions:
        n += 1
        state = text_state(v["sha256"], v["recorded_sha256"])
        if state == "changed":
            changed.append({k: v[k] for k in ("version", "sha256", "recorded_sha256")})
        elif state == "not recorded":
            not_recorded.append(int(v["version"]))
    return {"versions": n, "intact": not changed, "changed": changed, "not_recorded": not_recorded}


def verify_site(db: Database, user: User) -> dict[str, Any]:
    """The same for the site's own chain (users, tokens, projects made), and every project's
    guideline texts against the hashes their publishing events recorded; site admins only.

    ``guidelines`` counts the ``projects`` and ``versions`` checked; ``changed`` lists each
    project whose texts changed since published (``project``, its slug, and ``changed``, its
    versions as :func:`verify` lists them), and ``intact`` is whether none did.
    """
    if not user.is_admin:
        raise PermissionDenied("only a site admin may check the site's audit chain")
    by_project: dict[str, list[dict[str, Any]]] = {}
    with db.read() as conn:  # one snapshot: the chains and the texts they vouch for
        rows = store_audit.chain_rows(conn, None)
        recorded = store_audit.every_guideline_hash(conn)
        for r in store_projects.every_guideline_text(conn):
            by_project.setdefault(r["slug"], []).append(
                {
                    "version": int(r["version"]),
                    "sha256": text_sha256(r["body"]),
                    "recorded_sha256": recorded.get((int(r["project_id"]), int(r["version"]))),
                }
            )
    found = _verified(rows, chain="the site")
    checked = {slug: _texts(versions) for slug, versions in by_project.items()}
    changed = [
        {"project": slug, "changed": texts["changed"]}
        for slug, texts in checked.items()
        if not texts["intact"]
    ]
    found["guidelines"] = {
        "projects": len(checked),
        "versions": sum(t["versions"] for t in checked.values()),
        "intact": not changed,
        "changed": changed,
    }
    return found


def _verified(rows: list[dict[str, Any]], *, chain: str) -> dict[str, Any]:
    broken = verify_chain(rows)
    first = None
    if broken is not None:
        row = rows[broken]
        first = {"id": row["id"], "action": row["action"], "at": str(row["at"])}
    return {"chain": chain, "events": len(rows), "intact": broken is None, "first_broken": first}


MAX_EVENTS = 1000


def events(
    db: Database,
    ctx: ProjectContext,
    *,
    limit: int = 50,
    action: str | None = None,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """The project's newest audit events, newest first: who did what, when, with its details
    (a settings change holds each setting's old and new value). ``before``, the id of the
    last event of the page before, pages back through the whole log. Managers only."""
    ctx.require(Permission.VIEW_AUDIT)
    if before is not None:
        with db.read() as conn:
            if not store_audit.holds_event(conn, ctx.id, before):
                raise NotFound(f"no audit event {before} in project '{ctx.slug}'")
    return _recent(db, ctx.id, limit=limit, action=action, before=before)


def site_events(
    db: Database, user: User, *, limit: int = 50, action: str | None = None
) -> list[dict[str, Any]]:
    """The site's newest audit events, newest first: accounts made, deactivated, reactivated,
    passwords reset and changed, sign-outs, tokens, projects made; who did it, to whom
    (``whom``), when. Site admins only."""
    if not user.is_admin:
        raise PermissionDenied("only a site admin may read the site's audit log")
    return _recent(db, None, limit=limit, action=action)


def _recent(
    db: Database,
    project_id: int | None,
    *,
    limit: int,
    action: str | None,
    before: int | None = None,
) -> list[dict[str, Any]]:
    with db.read() as conn:
        rows = store_audit.recent_events(
            conn,
            project_id,
            limit=max(1, min(limit, MAX_EVENTS)),
            action=action,
            before=before,
        )
    return [{**r, "at": r["at"].isoformat()} for r in rows]
