"""The flag API: an annotator marks the item in front of them as ambiguous, with a note."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from labelloop.govern.permissions import Permission
from labelloop.server.api.deps import CurrentUser, DbDep, make_router
from labelloop.server.api.schemas import Body, Id
from labelloop.workflow import flags, projects

router = make_router(prefix="/api/projects/{slug}", tags=["flags"])


class FlagIn(Body):
    note: str = Field(default="", max_length=flags.MAX_NOTE_CHARS)


@router.post("/tasks/{assignment_id}/flag")
def flag_task(
    slug: str, assignment_id: Id, body: FlagIn, db: DbDep, user: CurrentUser
) -> dict[str, Any]:
    """Flag the item of the caller's task as ambiguous; they may still submit or skip it."""
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    return flags.flag_task(db, ctx, assignment_id, note=body.note)


@router.post("/annotations/{annotation_id}/flag")
def flag_annotation(
    slug: str, annotation_id: Id, body: FlagIn, db: DbDep, user: CurrentUser
) -> dict[str, Any]:
    """Flag the item of the caller's earlier annotation as ambiguous."""
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    return flags.flag_annotation(db, ctx, annotation_id, note=body.note)
