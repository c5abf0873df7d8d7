"""A project's versioned guideline: managers edit it, every member reads its history and diffs.

Each edit is a new version, never an overwrite: annotations record the version they were made
under (``annotation.guideline_version``), so an old label can always be read against the rules
its annotator had in front of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from labelloop.errors import Conflict, NotFound, Unprocessable
from labelloop.govern.guidelines import (
    changed_lines,
    guideline_diff,
    render_markdown,
    text_sha256,
)
from labelloop.govern.permissions import Permission
from labelloop.schema.values import validate_value, value_words
from labelloop.store import audit
from labelloop.store import projects as store_projects
from labelloop.store import review as store_review
from labelloop.store.db import MAX_ID, Database
from labelloop.store.tables import AUTO
from labelloop.workflow.projects import ProjectContext
from labelloop.workflow.values import checked, checked_on_item, find_item, item_name

MAX_BODY_CHARS = 100_000
"""The longest guideline a project keeps: a long handbook fits; a pasted data dump does not."""
MAX_SUMMARY_CHARS = 500  # the change_summary column
MAX_EXAMPLES = 200
"""Examples one guideline version holds: enough for every label of a large schema, few enough
that the labeling page shows them all."""
MAX_NOTE_CHARS = 2000
"""The longest note on an example: a paragraph on why the item is labeled so. The review page's
pin note field, which the server renders with it, lets no more be typed."""
EXCERPT_CHARS = 400
"""How much of an example's text the guideline shows (the whole item is one click away)."""


def edit(
    db: Database,
    ctx: ProjectContext,
    body: str,
    summary: str,
    *,
    base_version: int | None = None,
    answers_flags: bool = False,
) -> dict[str, Any]:
    """Store ``body`` as the guideline's next version with its change summary, in one
    transaction with its ``guideline.edit`` audit event, which records the text's SHA-256
    (``sha256``, :func:`~labelloop.govern.guidelines.text_sha256`); managers only. With
    ``answers_flags`` the version answers the annotators' open "ambiguous" flags: they are
    resolved (``flags_resolved`` says how many).

    ``base_version`` is the version the editor started from: when the guideline has moved on
    since, the edit is refused (Conflict) rather than silently undoing someone else's change.
    """
    ctx.require(Permission.MANAGE_PROJECT)
    body, summary = _checked(body, summary)
    with db.write(project_id=ctx.id) as conn:
        current = _current(conn, ctx, base_version, text_only=True)
        before = current["body"] if current is not None else ""
        latest = int(current["version"]) if current is not None else 0
        added, removed = changed_lines(before, body)
        if current is not None and added == removed == 0:  # a final newline is no change
            raise Unprocessable(f"the guideline is unchanged from v{latest}: nothing to save")
        version = store_projects.insert_guideline(
            conn, project_id=ctx.id, body=body, author_id=ctx.actor_id, change_summary=summary
        )
        answered = 0
        if answers_flags:
            answered = store_review.resolve_flags(
                conn, project_id=ctx.id, kinds=("ambiguous",), by=ctx.user.id or None
            )
        change = {
            "version": version,
            "from_version": latest,
            "summary": summary,
            "added": added,
            "removed": removed,
            "flags_resolved": answered,
            "sha256": text_sha256(body),
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


def _current(
    conn: Any, ctx: ProjectContext, base_version: int | None, *, text_only: bool = False
) -> Any:
    """The newest version (None before the first); a Conflict when the editor started from
    ``base_version`` and the guideline has moved on since. With ``text_only`` only a change
    of the text counts: versions that pinned or unpinned examples since do not undo an edit
    of the text, so they do not refuse it."""
    current = store_projects.latest_guideline(conn, ctx.id)
    latest = int(current["version"]) if current is not None else 0
    if base_version is not None and base_version != latest:
        if text_only and current is not None and 0 < base_version < latest:
            base = store_projects.guideline_version(conn, ctx.id, base_version)
            if base is not None and base["body"] == current["body"]:
                return current
        raise Conflict(
            f"the guideline of '{ctx.slug}' is at v{latest} now, not v{base_version}: "
            "someone changed it meanwhile; reload it and edit again"
        )
    return current


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
    under it; ``sha256`` is the SHA-256 of its text as stored now and ``recorded_sha256`` the one
    the audit event that published it recorded (None for a version published before labelloop
    recorded them): where the two differ, the text was changed after it was published. Any
    member may read it."""
    ctx.require(Permission.VIEW_PROJECT)
    with db.read() as conn:
        rows = text_hashes(conn, ctx.id)
    return [
        {
            **_described(r),
            "annotations": int(r["annotations"]),
            "sha256": r["sha256"],
            "recorded_sha256": r["recorded_sha256"],
        }
        for r in rows
    ]


def text_hashes(conn: Any, project_id: int) -> list[dict[str, Any]]:
    """Every version's row (:func:`labelloop.store.projects.guideline_history`, newest first)
    with ``sha256``, the SHA-256 of its text as stored now, and ``recorded_sha256``, the one its
    publishing audit event recorded (None: published before labelloop recorded them)."""
    recorded = audit.guideline_hashes(conn, project_id)
    return [
        {
            **r,
            "sha256": text_sha256(r["body"]),
            "recorded_sha256": recorded.get(int(r["version"])),
        }
        for r in store_projects.guideline_history(conn, project_id)
    ]


def get(db: Database, ctx: ProjectContext, version: int) -> dict[str, Any]:
    """One version: its Markdown, the same as safe HTML, and who wrote it when and why."""
    ctx.require(Permission.VIEW_PROJECT)
    with db.read() as conn:
        row = _version(conn, ctx, version)
        shown = store_projects.examples_in(conn, ctx.id, version)
    return {
        **_described(row),
        "body": row["body"],
        "html": render_markdown(row["body"]),
        "examples": [_example(r) for r in shown],
    }


def diff(db: Database, ctx: ProjectContext, old: int, new: int) -> dict[str, Any]:
    """What changed from version ``old`` to ``new``: a unified diff and its line counts."""
    ctx.require(Permission.VIEW_PROJECT)
    with db.read() as conn:
        before, after = _version(conn, ctx, old), _version(conn, ctx, new)
        was = {r["item_id"]: r for r in store_projects.examples_in(conn, ctx.id, old)}
        now = {r["item_id"]: r for r in store_projects.examples_in(conn, ctx.id, new)}
    added, removed = changed_lines(before["body"], after["body"])
    # A re-pinned example (its label or note changed) is removed and added.
    kept = {i for i in was.keys() & now.keys() if _same(was[i], now[i])}
    return {
        "from": old,
        "to": new,
        "diff": guideline_diff(
            before["body"], after["body"], old_name=f"v{old}", new_name=f"v{new}"
        ),
        "added": added,
        "removed": removed,
        "examples_added": [_example(r) for i, r in now.items() if i not in kept],
        "examples_removed": [_example(r) for i, r in was.items() if i not in kept],
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


# --------------------------------------------------------------------- examples


def examples(db: Database, ctx: ProjectContext, version: int | None = None) -> dict[str, Any]:
    """The items guideline ``version`` (the newest by default) pins as examples, in the order
    they were pinned: label, note, who pinned them and an excerpt of each. Any member."""
    ctx.require(Permission.VIEW_PROJECT)
    with db.read() as conn:
        newest = store_projects.newest_guideline_version(conn, ctx.id)
        if version is None:
            version = newest
        elif version != 0 or newest != 0:  # v0 is only the guideline a project never had
            _version(conn, ctx, version)
        shown = store_projects.examples_in(conn, ctx.id, version)
    return {"version": version, "examples": [_example(r) for r in shown]}


def pin_example(
    db: Database,
    ctx: ProjectContext,
    *,
    item_id: int | None = None,
    external_id: str | None = None,
    value: Mapping[str, Any] | None = None,
    note: str = "",
    base_version: int | None = None,
) -> dict[str, Any]:
    """Pin an item to the guideline as an example of a label, with a note on why (managers).

    The label is ``value`` when given (checked against the schema and the item), else the
    item's resolved label. Pinning is a new guideline version with the same text, so each
    annotation still names the rules, examples included, its annotator saw. Pinning an item
    again replaces its label and note. The item's open "ambiguous" flags are resolved: the
    guideline now answers them.
    """
    ctx.require(Permission.MANAGE_PROJECT)
    note = _note(note)
    given = None
    if value is not None:
        ctx, given = checked(db, ctx, value)
    with db.write(project_id=ctx.id) as conn:
        row = find_item(conn, ctx, item_id=item_id, external_id=external_id)
        if store_review.gold_of(conn, row["id"]) is not None:
            raise Unprocessable(
                f"item {item_name(row)} is a gold check: as an example its answer would show to "
                "the annotators it checks; pick another item"
            )
        if given is None:
            resolved = store_review.item_label_of(conn, row["id"])
            if resolved is None or resolved["resolution"] == AUTO:
                raise Unprocessable(
                    f"item {item_name(row)} has "
                    + ("only the model's label" if resolved is not None else "no label yet")
                    + ": say which label it is an example of"
                )
            given = validate_value(ctx.schema, resolved["value"])
        clean = checked_on_item(conn, ctx, given, row["id"], payload=row["payload"])
        label = _shown_label(ctx, clean, row["payload"])
        current = _current(conn, ctx, base_version)
        latest = int(current["version"]) if current is not None else 0
        pinned = {r["item_id"]: r for r in store_projects.examples_in(conn, ctx.id, latest)}
        again = row["id"] in pinned
        if again and _same(pinned[row["id"]], {"value": clean, "note": note}):
            raise Unprocessable(
                f"item {item_name(row)} is an example of {label} with this note already: "
                "nothing to change"
            )
        if not again and len(pinned) >= MAX_EXAMPLES:
            raise Unprocessable(
                f"the guideline holds {MAX_EXAMPLES} examples already; unpin one first"
            )
        verb = "Example changed" if again else "Example"
        summary = f"{verb}: item {item_name(row)} as {label}"
        if note:
            summary += f" ({note})"
        version = _republish(conn, ctx, current, _clipped(summary))
        if again:
            store_projects.remove_example(conn, ctx.id, row["id"], version=version)
        store_projects.add_example(
            conn,
            project_id=ctx.id,
            item_id=row["id"],
            value=clean,
            label=label[:500],
            note=note,
            added_in=version,
            added_by=ctx.user.id or None,
        )
        answered = store_review.resolve_flags(
            conn, item_id=row["id"], by=ctx.user.id or None, kinds=("ambiguous",)
        )
        change = {
            "version": version,
            "item_id": int(row["id"]),
            "external_id": row["external_id"],
            "label": label,
            "note": note,
            "replaced": again,
            "flags_resolved": answered,
        }
        audit.record(
            db,
            conn,
            action="guideline.example.pin",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"item:{row['id']}",
            payload={**change, "value": clean, "sha256": _sha256_of(current)},
        )
    return change


def unpin_example(
    db: Database,
    ctx: ProjectContext,
    *,
    item_id: int | None = None,
    external_id: str | None = None,
    base_version: int | None = None,
) -> dict[str, Any]:
    """Take an item's example out of the guideline (managers): a new guideline version."""
    ctx.require(Permission.MANAGE_PROJECT)
    with db.write(project_id=ctx.id) as conn:
        row = find_item(conn, ctx, item_id=item_id, external_id=external_id)
        current = _current(conn, ctx, base_version)
        latest = int(current["version"]) if current is not None else 0
        shown = {r["item_id"]: r for r in store_projects.examples_in(conn, ctx.id, latest)}
        if row["id"] not in shown:
            raise NotFound(f"item {item_name(row)} is not an example in guideline v{latest}")
        label = shown[row["id"]]["label"]
        summary = _clipped(f"Example removed: item {item_name(row)} ({label})")
        version = _republish(conn, ctx, current, summary)
        store_projects.remove_example(conn, ctx.id, row["id"], version=version)
        change = {
            "version": version,
            "item_id": int(row["id"]),
            "external_id": row["external_id"],
            "label": label,
        }
        audit.record(
            db,
            conn,
            action="guideline.example.unpin",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"item:{row['id']}",
            payload={**change, "sha256": _sha256_of(current)},
        )
    return change


def _sha256_of(current: Any) -> str:
    """The SHA-256 of the text a republished version keeps (:func:`_republish`)."""
    return text_sha256(current["body"] if current is not None else "")


def _republish(conn: Any, ctx: ProjectContext, current: Any, summary: str) -> int:
    """The next guideline version with the current text: what changes is its examples."""
    return store_projects.insert_guideline(
        conn,
        project_id=ctx.id,
        body=current["body"] if current is not None else "",
        author_id=ctx.actor_id,
        change_summary=summary,
    )


def _note(note: str) -> str:
    note = note.replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(note) > MAX_NOTE_CHARS:
        raise Unprocessable(f"the note has {len(note):,} characters; at most {MAX_NOTE_CHARS:,}")
    if "\x00" in note:
        raise Unprocessable("the note cannot contain the NUL character (U+0000)")
    return note


def _clipped(summary: str) -> str:
    summary = " ".join(summary.split())
    return summary if len(summary) <= MAX_SUMMARY_CHARS else summary[: MAX_SUMMARY_CHARS - 1] + "…"


def _text_of(payload: Mapping[str, Any]) -> str:
    from labelloop.workflow.seeding import shown_text

    return shown_text(payload)


def _shown_label(ctx: ProjectContext, value: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    """The target's answer as a reader names it: a label, labels joined, or the marked words."""
    target = ctx.schema.target
    answer = value.get(target.name)
    if target.type == "spans":
        text = str(payload.get("text") or "")
        marked = [f"{s['label']}: \u201c{text[s['start'] : s['end']]}\u201d" for s in answer]
        return "; ".join(marked) or "no spans"
    if target.type == "boxes":
        counts = Counter(b["label"] for b in answer)
        return ", ".join(f"{n} \u00d7 {label}" for label, n in counts.items()) or "no boxes"
    return value_words(target.type, answer)


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two pins of an item say the same: its label and its note."""
    return bool(a["value"] == b["value"] and a["note"] == b["note"])


def _example(row: Mapping[str, Any]) -> dict[str, Any]:
    """An example as the API, the CLI and the pages show it."""
    text = _text_of(row["payload"])
    media = next((k for k in ("image", "audio") if row["payload"].get(k)), None)
    return {
        "item_id": int(row["item_id"]),
        "external_id": row["external_id"],
        "label": row["label"],
        "value": row["value"],
        "note": row["note"],
        "text": text[:EXCERPT_CHARS],
        "truncated": len(text) > EXCERPT_CHARS,
        "media": media,
        # An image's size, so a page can draw the example's boxes over its thumbnail.
        "width": row["payload"].get("width") if media == "image" else None,
        "height": row["payload"].get("height") if media == "image" else None,
        "added_in": int(row["added_in"]),
        "added_by": row["added_by"],
        "created_at": row["created_at"].isoformat(),
    }
