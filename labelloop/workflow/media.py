"""Item media: the file behind an image or audio item, found only under the media roots."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from labelloop.errors import LabelloopError, NotFound
from labelloop.govern.permissions import Permission
from labelloop.ingest.media import MEDIA_SUFFIXES, resolve_media
from labelloop.pictures import NAMED
from labelloop.store import items as store_items
from labelloop.store.db import Database
from labelloop.workflow import uploads
from labelloop.workflow.projects import ProjectContext

log = logging.getLogger("labelloop.media")


def item_media(
    db: Database, ctx: ProjectContext, item_id: int, *, roots: Sequence[Path]
) -> tuple[Path, str]:
    """The file of a media item of this project and its content type (refused paths: 4xx,
    among them a file in another project's uploaded images, which an item imported before
    imports refused them may name)."""
    ctx.require(Permission.VIEW_PROJECT)
    kind = ctx.schema.data_type
    with db.read() as conn:
        row = store_items.get_item(conn, project_id=ctx.id, item_id=item_id)
    if row is None or kind not in MEDIA_SUFFIXES:
        raise NotFound(f"no image or audio item {item_id} in project '{ctx.slug}'")
    payload = row["payload"] or {}
    path = str(payload.get(kind) or "")
    found, content_type = resolve_media(path, roots, kind=kind)
    uploads.checked_path(found, path, roots=roots, slug=ctx.slug)  # another project's upload
    return found, content_type


def absolute_payloads(
    payloads: Mapping[int, Mapping[str, Any]], roots: Sequence[Path]
) -> dict[int, dict[str, Any]]:
    """Image (or audio) payloads with the checked absolute file path, and the item's id and
    stored path for messages (:data:`~labelloop.pictures.NAMED`); a refused or missing file
    gives None.

    The featurizer then reads only files that passed the same root check as serving, and a
    file that vanished becomes a blank row instead of failing the round.
    """
    out: dict[int, dict[str, Any]] = {}
    for item_id, payload in payloads.items():
        kind = "audio" if "audio" in payload else "image"
        relative = str(payload.get(kind) or "")
        try:
            found, _ = resolve_media(relative, roots, kind=kind)
        except LabelloopError as exc:
            log.warning("item %s: %s", item_id, exc.message)
            out[item_id] = {kind: None}
        else:  # a file the learner cannot read is named by its item, not its place on disk
            out[item_id] = {kind: str(found), NAMED: f"item {item_id} ('{relative[:200]}')"}
    return out


MEDIA_TYPES = ("image", "audio")
"""Data types whose payloads name files, read only through the media-root check."""


def readable_payloads(
    data_type: str, payloads: Mapping[int, Mapping[str, Any]], roots: Sequence[Path]
) -> Mapping[int, Mapping[str, Any]]:
    """The payloads a featurizer may read: media files through :func:`absolute_payloads`, any
    other data type as it is. Rounds and searches read items through this one door, so both
    build the same rows (the feature cache shares them)."""
    return absolute_payloads(payloads, roots) if data_type in MEDIA_TYPES else payloads
