"""The labeling API: next task, submit, skip, and going back to change an annotation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from labelloop.govern.permissions import Permission
from labelloop.server.api.deps import CurrentUser, DbDep
from labelloop.server.api.schemas import NextIn, SubmitIn
from labelloop.workflow import projects, tasks

router = APIRouter(prefix="/api/projects/{slug}", tags=["tasks"])


@router.post("/tasks/next")
def next_task(slug: str, body: NextIn, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Lease the next item for the caller; ``task`` is null when the queue has none right now."""
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    task = tasks.next_task(db, ctx, held=body.held)
    return {"task": task}


@router.post("/tasks/{assignment_id}/submit")
def submit(
    slug: str, assignment_id: int, body: SubmitIn, db: DbDep, user: CurrentUser
) -> dict[str, Any]:
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    return tasks.submit(db, ctx, assignment_id, body.value, active_ms=body.active_ms)


@router.post("/tasks/{assignment_id}/skip")
def skip(slug: str, assignment_id: int, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    tasks.skip(db, ctx, assignment_id)
    return {"skipped": assignment_id}


@router.get("/annotations/previous")
def previous(slug: str, db: DbDep, user: CurrentUser, before: int | None = None) -> dict[str, Any]:
    """The caller's annotation before ``before`` (or their latest); null when there is none."""
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    return {"annotation": tasks.previous(db, ctx, before=before)}


@router.put("/annotations/{annotation_id}")
def edit(
    slug: str, annotation_id: int, body: SubmitIn, db: DbDep, user: CurrentUser
) -> dict[str, Any]:
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    return tasks.edit(db, ctx, annotation_id, body.value, active_ms=body.active_ms)
