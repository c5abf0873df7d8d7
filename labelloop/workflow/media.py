"""Item media: the file behind an image or audio item, found only under the media roots."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from labelloop.errors import LabelloopError, NotFound
from labelloop.govern.permissions import Permission
from labelloop.ingest.media import MEDIA_SUFFIXES, open_media
from labelloop.pictures import MEDIA_ROOT, NAMED
from labelloop.store import items as store_items
from labelloop.store.db import Database
from labelloop.workflow import uploads
from labelloop.workflow.projects import ProjectContext

log = logging.getLogger("labelloop.media")


def item_media(
    db: Database, ctx: ProjectContext, item_id: int, *, roots: Sequence[Path]
) -> tuple[BinaryIO, Path, str]:
    """The file of a media item of this project, opened (:func:`open_project_media`), its
    resolved path and its content type (refused paths: 4xx, among them a file in another
    project's uploaded images, which an item imported before imports refused them may name).
    The caller closes the file."""
    ctx.require(Permission.VIEW_PROJECT)
    kind = ctx.schema.data_type
    with db.read() as conn:
        row = store_items.get_item(conn, project_id=ctx.id, item_id=item_id)
    if row is None or kind not in MEDIA_SUFFIXES:
        raise NotFound(f"no image or audio item {item_id} in project '{ctx.slug}'")
    payload = row["payload"] or {}
    return open_project_media(str(payload.get(kind) or ""), roots, slug=ctx.slug, kind=kind)


def open_project_media(
    path: str, roots: Sequence[Path], *, slug: str, kind: str = "image"
) -> tuple[BinaryIO, Path, str]:
    """The media file an item of project ``slug`` names by ``path``, opened, with its resolved
    path and content type: found under the media roots and opened without following a link
    (:func:`~labelloop.ingest.media.open_media`), then refused when what was opened lies in
    another project's uploaded images. Serving, thumbnails and exports read items' files
    through this one door."""
    file, found, content_type = open_media(path, roots, kind=kind)
    try:
        uploads.checked_path(found, path, roots=roots, slug=slug)
    except BaseException:
        file.close()
        raise
    return file, found, content_type


def absolute_payloads(
    payloads: Mapping[int, Mapping[str, Any]], roots: Sequence[Path], *, slug: str
) -> dict[int, dict[str, Any]]:
    """Image (or audio) payloads with the checked absolute file path, the media root it lies
    under (:data:`~labelloop.pictures.MEDIA_ROOT`) and the item's id and stored path for
    messages (:data:`~labelloop.pictures.NAMED`); a refused or missing file gives None.

    The featurizer then reads only files of project ``slug`` that passed the same checks as
    serving (:func:`open_project_media`: none in another project's uploaded images), opened
    under their root as serving opens them (a link or a named pipe put in a file's place since
    is refused), and a file that vanished becomes a blank row instead of failing the round.
    """
    out: dict[int, dict[str, Any]] = {}
    bases = [Path(root).resolve() for root in roots]  # once, not again for every item
    for item_id, payload in payloads.items():
        kind = "audio" if "audio" in payload else "image"
        relative = str(payload.get(kind) or "")
        out[item_id] = {kind: None}
        try:
            file, found, _ = open_project_media(relative, roots, slug=slug, kind=kind)
            file.close()
        except LabelloopError as exc:
            log.warning("item %s: %s", item_id, exc.message)
            continue
        # where the featurizer opens it, as serving does (none: a root moved meanwhile)
        root = next((base for base in bases if found.is_relative_to(base)), None)
        if root is not None:  # a file the learner cannot read is named by its item
            out[item_id] = {
                kind: str(found),
                NAMED: f"item {item_id} ('{relative[:200]}')",
                MEDIA_ROOT: str(root),
            }
    return out


MEDIA_TYPES = ("image", "audio")
"""Data types whose payloads name files, read only through the media-root check."""


def readable_payloads(
    ctx: ProjectContext, payloads: Mapping[int, Mapping[str, Any]], roots: Sequence[Path]
) -> Mapping[int, Mapping[str, Any]]:
    """The payloads of the project's items a featurizer may read: media files through
    :func:`absolute_payloads`, any other data type as it is. Rounds and searches read items
    through this one door, so both build the same rows (the feature cache shares them)."""
    if ctx.schema.data_type not in MEDIA_TYPES:
        return payloads
    return absolute_payloads(payloads, roots, slug=ctx.slug)
