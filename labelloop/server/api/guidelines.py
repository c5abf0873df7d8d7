"""A project's guideline versions: history, one version, a diff between two, and a new version."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from labelloop.govern.permissions import Permission
from labelloop.server.api.deps import CurrentUser, DbDep
from labelloop.server.api.schemas import GuidelineIn, Id, PreviewIn
from labelloop.workflow import guidelines, projects

router = APIRouter(prefix="/api/projects/{slug}/guidelines", tags=["guidelines"])


@router.get("")
def history(slug: str, db: DbDep, user: CurrentUser) -> list[dict[str, Any]]:
    """Every version, newest first: author, when, change summary and the annotations made
    under it. Any member."""
    return guidelines.history(db, projects.access(db, slug, user, Permission.VIEW_PROJECT))


@router.post("", status_code=201)
def edit(slug: str, body: GuidelineIn, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Save a new version (managers); 409 when ``base_version`` is no longer the newest."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    return guidelines.edit(db, ctx, body.body, body.summary, base_version=body.base_version)


@router.post("/preview")
def preview(slug: str, body: PreviewIn, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Render Markdown as a published guideline would show (managers; nothing is stored)."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    return guidelines.preview(ctx, body.body)


@router.get("/diff")
def diff(
    slug: str,
    db: DbDep,
    user: CurrentUser,
    old: Annotated[Id, Query(alias="from")],
    new: Annotated[Id, Query(alias="to")],
) -> dict[str, Any]:
    """A unified diff from version ``from`` to version ``to``, with its line counts."""
    ctx = projects.access(db, slug, user, Permission.VIEW_PROJECT)
    return guidelines.diff(db, ctx, old, new)


@router.get("/{version}")
def version(slug: str, version: Id, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """One version's Markdown and its safe HTML (raw HTML escaped, unsafe links dropped)."""
    ctx = projects.access(db, slug, user, Permission.VIEW_PROJECT)
    return guidelines.get(db, ctx, version)
