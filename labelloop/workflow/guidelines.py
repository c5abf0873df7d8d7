"""A project's versioned guideline: managers edit it, every member reads its history and diffs.

Each edit is a new version, never an overwrite: annotations record the version they were made
under (``annotation.guideline_version``), so an old label can always be read against the rules
its annotator had in front of them.
"""

from __future__ import annotations

from typing import Any

from labelloop.errors import Conflict, NotFound, Unprocessable
from labelloop.govern.guidelines import changed_lines, guideline_diff, render_markdown
from labelloop.govern.permissions import Permission
from labelloop.store import audit
from labelloop.store import projects as store_projects
from labelloop.store.db import MAX_ID, Database
from labelloop.workflow.projects import ProjectContext

MAX_BODY_CHARS = 100_000
"""The longest guideline a project keeps: a long handbook fits; a pasted data dump does not."""
MAX_SUMMARY_CHARS = 500  # the change_summary column


def edit(
    db: Database,
    ctx: ProjectContext,
    body: str,
    summary: str,
    *,
    base_version: int | None = None,
) -> dict[str, Any]:
    """Store ``body`` as the guideline's next version with its change summary, in one
    transaction with its ``guideline.edit`` audit event; managers only.

    ``base_version`` is the version the editor started from: when the guideline has moved on
    since, the edit is refused (Conflict) rather than silently undoing someone else's change.
    """
    ctx.require(Permission.MANAGE_PROJECT)
    body, summary = _checked(body, summary)
    with db.write(project_id=ctx.id) as conn:
        current = store_projects.latest_guideline(conn, ctx.id)
        before = current["body"] if current is not None else ""
        latest = int(current["version"]) if current is not None else 0
        if base_version is not None and base_version != latest:
            raise Conflict(
                f"the guideline of '{ctx.slug}' is at v{latest} now, not v{base_version}: "
                "someone changed it meanwhile; reload it and edit again"
            )
        added, removed = changed_lines(before, body)
        if current is not None and added == removed == 0:  # a final newline is no change
            raise Unprocessable(f"the guideline is unchanged from v{latest}: nothing to save")
        version = store_projects.insert_guideline(
            conn, project_id=ctx.id, body=body, author_id=ctx.actor_id, change_summary=summary
        )
        change = {
            "version": version,
            "from_version": latest,
            "summary": summary,
            "added": added,
            "removed": removed,
        }
        audit.record(
            db,
            conn,
            action="guideline.edit",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"project:{ctx.slug}",
            payload=change,
        )
    return change


def preview(ctx: ProjectContext, body: str) -> dict[str, Any]:
    """Markdown as the guideline would show it, for the editor's live preview (nothing stored)."""
    ctx.require(Permission.MANAGE_PROJECT)
    if len(body) > MAX_BODY_CHARS:
        raise Unprocessable(_too_long(body))
    return {"html": render_markdown(body)}


def _too_long(body: str) -> str:
    return f"the guideline has {len(body):,} characters; at most {MAX_BODY_CHARS:,}"


def _checked(body: str, summary: str) -> tuple[str, str]:
    """The body with its line endings made ``\\n`` (so a file saved on Windows diffs line by line)
    and the trimmed summary; an Unprocessable (422) when either cannot be stored."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    summary = " ".join(summary.split())
    if not summary:
        raise Unprocessable("say in a change summary what changed and why (annotators see it)")
    if len(summary) > MAX_SUMMARY_CHARS:
        raise Unprocessable(
            f"the change summary has {len(summary):,} characters; at most {MAX_SUMMARY_CHARS}"
        )
    if len(body) > MAX_BODY_CHARS:
        raise Unprocessable(_too_long(body))
    if "\x00" in body or "\x00" in summary:  # PostgreSQL cannot store it
        raise Unprocessable("the guideline cannot contain the NUL character (U+0000)")
    return body, summary


def history(db: Database, ctx: ProjectContext) -> list[dict[str, Any]]:
    """Every version, newest first: who wrote it, when, why, and how many annotations were made
    under it. Any member may read it."""
    ctx.require(Permission.VIEW_PROJECT)
    with db.read() as conn:
        rows = store_projects.guideline_history(conn, ctx.id)
    return [{**_described(r), "annotations": int(r["annotations"])} for r in rows]


def get(db: Database, ctx: ProjectContext, version: int) -> dict[str, Any]:
    """One version: its Markdown, the same as safe HTML, and who wrote it when and why."""
    ctx.require(Permission.VIEW_PROJECT)
    with db.read() as conn:
        row = _version(conn, ctx, version)
    return {**_described(row), "body": row["body"], "html": render_markdown(row["body"])}


def diff(db: Database, ctx: ProjectContext, old: int, new: int) -> dict[str, Any]:
    """What changed from version ``old`` to ``new``: a unified diff and its line counts."""
    ctx.require(Permission.VIEW_PROJECT)
    with db.read() as conn:
        before, after = _version(conn, ctx, old), _version(conn, ctx, new)
    added, removed = changed_lines(before["body"], after["body"])
    return {
        "from": old,
        "to": new,
        "diff": guideline_diff(
            before["body"], after["body"], old_name=f"v{old}", new_name=f"v{new}"
        ),
        "added": added,
        "removed": removed,
    }


def _version(conn: Any, ctx: ProjectContext, version: int) -> Any:
    # A number past what the database stores (the CLI passes any integer) is no version either.
    row = store_projects.guideline_version(conn, ctx.id, version) if 0 < version <= MAX_ID else None
    if row is None:
        newest = store_projects.newest_guideline_version(conn, ctx.id)
        raise NotFound(f"project '{ctx.slug}' has no guideline v{version}; its newest is v{newest}")
    return row


def _described(row: Any) -> dict[str, Any]:
    """A version as the history lists it (the API's and the CLI's shape)."""
    return {
        "version": int(row["version"]),
        "author": row["author"],
        "created_at": row["created_at"].isoformat(),
        "summary": row["change_summary"],
    }
