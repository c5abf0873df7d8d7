"""Annotation values checked against the project's schema and the item they answer (spans inside
its text, boxes inside its image), for every path that stores a value: submit, edit, review fix,
adjudication, gold, guideline example."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labelloop.errors import Conflict, LabelloopError, NotFound, SchemaError
from labelloop.schema import validate_value
from labelloop.schema.project import STRUCTURED_TYPES
from labelloop.store import items as store_items
from labelloop.store import review as store_review
from labelloop.store import tasks as store_tasks
from labelloop.store.db import Database
from labelloop.workflow.projects import ProjectContext, with_stored_schema


def checked(
    db: Database, ctx: ProjectContext, value: Mapping[str, Any]
) -> tuple[ProjectContext, dict[str, Any]]:
    """``value`` checked against the project's schema, and the project as it was checked by.

    A value naming a control or label that the schema this process holds in memory lacks is
    checked once more by the schema as stored: a label added by another process (``labelloop
    projects add-label`` beside the server) or another server is taken at once, recorded under
    its schema version, instead of refused for the memo's few seconds."""
    try:
        return ctx, validate_value(ctx.schema, value)
    except SchemaError as exc:
        stored = with_stored_schema(db, ctx) if exc.unknown else None
        if stored is None:
            raise
    return stored, validate_value(stored.schema, value)


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


def find_item(
    conn: Any, ctx: ProjectContext, *, item_id: int | None, external_id: str | None
) -> Any:
    """The project's item named by its number or by its id from the import file; NotFound
    when this project has no such item (another project's item is not found either)."""
    if item_id is not None and external_id is not None:
        raise LabelloopError("name the item by item_id or by external_id, not both")
    if item_id is not None:
        row = store_items.get_item(conn, project_id=ctx.id, item_id=item_id)
    elif external_id is not None:
        found = store_review.items_by_external(conn, project_id=ctx.id, external_id=external_id)
        if len(found) > 1:  # imports before ids had to be unique let several items share one
            numbers = ", ".join(f"#{r['id']}" for r in found)
            raise Conflict(
                f"id {external_id!r} names more than one item here ({numbers}); "
                "name the item by its number instead"
            )
        row = found[0] if found else None
    else:
        raise LabelloopError("name the item by item_id or external_id")
    if row is None:
        raise NotFound(f"no item {item_id if item_id is not None else external_id!r} here")
    return row


def item_name(row: Mapping[str, Any]) -> str:
    """An item as messages name it: its id from the import, quoted, else its number."""
    return f"{row['external_id']!r}" if row["external_id"] else f"#{row['id']}"
