"""Item media: an image item's file, for members only, never by a path the client sends."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from labelloop.govern.permissions import Permission
from labelloop.server.api.deps import CurrentUser, DbDep
from labelloop.workflow import media, projects

router = APIRouter(prefix="/api/projects/{slug}", tags=["media"])


@router.get("/items/{item_id}/media")
def item_media(
    slug: str, item_id: int, request: Request, db: DbDep, user: CurrentUser
) -> FileResponse:
    """The item's image file from its media root, with its sniffed content type."""
    ctx = projects.access(db, slug, user, Permission.VIEW_PROJECT)
    roots = request.app.state.settings.media_root_paths
    path, content_type = media.item_media(db, ctx, item_id, roots=roots)
    return FileResponse(
        path,
        media_type=content_type,
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
