"""Annotation values checked against the item they answer (spans inside its text, boxes inside
its image), for every path that stores a value: submit, edit, review fix, adjudication, gold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labelloop.schema import validate_value
from labelloop.schema.project import STRUCTURED_TYPES
from labelloop.store import tasks as store_tasks
from labelloop.workflow.projects import ProjectContext


def checked_on_item(
    conn: Any,
    ctx: ProjectContext,
    value: Mapping[str, Any],
    item_id: int,
    *,
    payload: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``value`` checked again with the item's payload when the schema has spans or boxes
    (offsets inside the text, boxes inside the image); other schemas need no item.
    ``payload`` is the item's, when the caller has read it already."""
    if not any(c.type in STRUCTURED_TYPES for c in ctx.schema.controls):
        return dict(value)
    if payload is None:
        payload = store_tasks.item_payload(conn, item_id)
    return validate_value(ctx.schema, value, payload)
