"""The labeling API: next task, submit, skip, and going back to change an annotation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from labelloop.govern.permissions import Permission
from labelloop.server.api.deps import CurrentUser, DbDep
from labelloop.server.api.schemas import NextIn, SubmitIn
from labelloop.workflow import projects, tasks

router = APIRouter(prefix="/api/projects/{slug}", tags=["tasks"])


# The two calls every annotator makes for every item run on the event loop, not the thread pool:
# each is one short transaction behind the single writer anyway, so a thread hop only adds
# latency. They answer with a ready JSONResponse (already JSON-safe), skipping re-encoding.


@router.post("/tasks/next")
async def next_task(slug: str, body: NextIn, db: DbDep, user: CurrentUser) -> JSONResponse:
    """Lease the next item for the caller; ``task`` is null when the queue has none right now."""
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    task = tasks.next_task(db, ctx, held=body.held)
    return JSONResponse({"task": task})


@router.post("/tasks/{assignment_id}/submit")
async def submit(
    slug: str, assignment_id: int, body: SubmitIn, db: DbDep, user: CurrentUser
) -> JSONResponse:
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    return JSONResponse(tasks.submit(db, ctx, assignment_id, body.value, active_ms=body.active_ms))


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
