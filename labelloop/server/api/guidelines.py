"""A project's guideline versions: history, one version, a diff between two, and a new version."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from pydantic import Field

from labelloop.govern.permissions import Permission
from labelloop.server.api.deps import CurrentUser, DbDep, make_router
from labelloop.server.api.schemas import Body, GuidelineIn, Id, PreviewIn
from labelloop.workflow import guidelines, projects

router = make_router(prefix="/api/projects/{slug}/guidelines", tags=["guidelines"])


class ExampleIn(Body):
    """An item to pin as an example: by ``item_id`` or ``external_id``; ``value`` is the label
    it exemplifies (default: its resolved label); ``note`` says why; ``base_version`` is the
    guideline version the manager was looking at (a newer one gives 409)."""

    item_id: Id | None = None
    external_id: str | None = Field(default=None, max_length=200)
    value: dict[str, Any] | None = None
    note: str = ""
    base_version: Id | None = None


@router.get("")
def history(slug: str, db: DbDep, user: CurrentUser) -> list[dict[str, Any]]:
    """Every version, newest first: author, when, change summary and the annotations made
    under it. Any member."""
    return guidelines.history(db, projects.access(db, slug, user, Permission.VIEW_PROJECT))


@router.post("", status_code=201)
def edit(slug: str, body: GuidelineIn, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Save a new version (managers); 409 when ``base_version`` is no longer the newest."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    return guidelines.edit(
        db,
        ctx,
        body.body,
        body.summary,
        base_version=body.base_version,
        answers_flags=body.answers_flags,
    )


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


@router.get("/examples")
def examples(
    slug: str, db: DbDep, user: CurrentUser, version: Annotated[Id | None, Query()] = None
) -> dict[str, Any]:
    """The examples a guideline version pins (the newest by default). Any member."""
    ctx = projects.access(db, slug, user, Permission.VIEW_PROJECT)
    return guidelines.examples(db, ctx, version)


@router.post("/examples", status_code=201)
def pin_example(slug: str, body: ExampleIn, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Pin an item as an example of a label, with a note: a new guideline version (managers)."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    return guidelines.pin_example(
        db,
        ctx,
        item_id=body.item_id,
        external_id=body.external_id,
        value=body.value,
        note=body.note,
        base_version=body.base_version,
    )


@router.delete("/examples/{item_id}")
def unpin_example(
    slug: str,
    item_id: Id,
    db: DbDep,
    user: CurrentUser,
    base_version: Annotated[Id | None, Query()] = None,
) -> dict[str, Any]:
    """Take an item's example out of the guideline: a new guideline version (managers)."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    return guidelines.unpin_example(db, ctx, item_id=item_id, base_version=base_version)


@router.get("/{version}")
def version(slug: str, version: Id, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """One version's Markdown and its safe HTML (raw HTML escaped, unsafe links dropped)."""
    ctx = projects.access(db, slug, user, Permission.VIEW_PROJECT)
    return guidelines.get(db, ctx, version)
