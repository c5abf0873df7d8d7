"""A project's imports: listed with what holds their items, and undone when nothing does.

Undoing an import removes its items and what only they had (queue entries, leases nobody
answered, imported labels, pre-annotations, cached features), then the import with its audit
row. It is refused while any of its items holds a record labelloop keeps traceable: people's
answers, labels and reviews, a gold answer, a guideline example, an auto-label run's label or
spot check, a seed pick or a flag. The images an uploaded zip stored for it go too, once the
import is gone (see :mod:`labelloop.workflow.uploads`).

A large import's items take seconds to delete, and the project's writers (every answer) would
wait for all of it in one transaction. So the check and a withdrawal of the items (none is
served, answered or learned from after it; see ``store.batches.withdraw``) are one short
transaction, and the items then go a slice per transaction (:func:`undo`).

An undo is refused while an import into the project is running (:func:`importing`): that
import's batch is not written yet, and it may name stored images the undo would delete; an
import waits for every undo of the project to end, their files deleted. Undos of different
imports run side by side (one finishing an undo that stopped half way while another import is
undone): each withdraws and removes only its own items, a slice per write transaction. A
second undo of an import started while one runs is refused, told that import is being undone
right now (:func:`undoing`).
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from labelloop.errors import Conflict, NotFound
from labelloop.govern.permissions import Permission
from labelloop.store import audit
from labelloop.store import batches as store_batches
from labelloop.store.db import MAX_ID, Database
from labelloop.store.users import now
from labelloop.workflow import uploads
from labelloop.workflow.features import FeatureCache
from labelloop.workflow.projects import ProjectContext

_HELD = {  # a kind of hold -> what n items of it are (one, several)
    "answered": ("has answers or labels from people", "have answers or labels from people"),
    "gold": ("is a gold item", "are gold items"),
    "example": ("is pinned as a guideline example", "are pinned as guideline examples"),
    "auto": ("was labeled by an auto-label run", "were labeled by an auto-label run"),
    "seeded": ("was picked as a seed", "were picked as seeds"),
    "flagged": ("is flagged", "are flagged"),
}


IMPORT_GATES = 5 << 40
"""Gate keys of projects' imports (:meth:`Database.gate`): IMPORT_GATES + project id."""
IMPORT_LOCKS = 6 << 40
"""Transaction lock keys imports into a project take turns on: IMPORT_LOCKS + project id."""
UNDO_GATES = 7 << 40
"""Gate keys running undos in a project hold beside each other: UNDO_GATES + project id. An
import, once in, waits for it (alone) until no undo runs."""
UNDO_TURNS = 8 << 40
"""Gate keys undos starting in a project take turns on (UNDO_TURNS + project id), so one
checking for imports never takes another, checking too, for an import."""
BATCH_UNDO_GATES = 9 << 40
"""Gate keys held alone by the undo of an import: BATCH_UNDO_GATES + import id. A second undo
of that import is refused by it, told it is being undone right now."""


@contextmanager
def importing(db: Database, project_id: int) -> Iterator[None]:
    """Held by an import into the project from its first stored file to its last cleared
    one, beside other imports; waits while an undo of the project runs (any of them)."""
    with db.gate(IMPORT_GATES + project_id, alone=False):
        # in: no undo starts now (:func:`undoing`); wait for those running to end
        with db.gate(UNDO_GATES + project_id, alone=True, wait=True):
            pass
        yield


@contextmanager
def no_import_running(db: Database, project_id: int) -> Iterator[bool]:
    """Whether no import into the project runs; while True, none begins (they wait)."""
    with db.gate(IMPORT_GATES + project_id, alone=True) as alone:
        yield alone


@contextmanager
def undoing(db: Database, project_id: int, batch_id: int) -> Iterator[str | None]:
    """What keeps the undo of import ``batch_id`` from running now: None, ``"undo"`` (another
    undo of it runs) or ``"import"`` (an import into the project runs). While None, imports
    wait, another undo of the import is refused, and undos of the project's other imports run
    beside it: each removes only its own items, one slice per write transaction."""
    with db.gate(BATCH_UNDO_GATES + batch_id, alone=True) as mine:
        if not mine:
            yield "undo"
            return
        with ExitStack() as held:
            with (
                db.gate(UNDO_TURNS + project_id, alone=True, wait=True),
                no_import_running(db, project_id) as alone,
            ):
                if alone:  # no import is in, so none waits on the undos: never waits
                    held.enter_context(db.gate(UNDO_GATES + project_id, alone=False))
            yield None if alone else "import"


def imports(db: Database, ctx: ProjectContext) -> list[dict[str, Any]]:
    """The project's imports, newest first, with what holds their items (managers)."""
    ctx.require(Permission.IMPORT)
    with db.read() as conn:
        rows = store_batches.listing(conn, ctx.id, at=now())
    return [{**r, "undoable": r["held"] == 0} for r in rows]


def refusal(batch: Any, n_items: int, held: dict[str, int]) -> str:
    """Why an import cannot be undone, naming how many of its items each hold keeps."""
    parts: list[str] = []
    for kind in store_batches.HOLDS:
        n = held.get(kind, 0)
        if n:
            of = "" if parts else f" of its {n_items:,} item{'' if n_items == 1 else 's'}"
            parts.append(f"{n:,}{of} {_HELD[kind][n != 1]}")
    return (
        f"import {batch['id']} ('{batch['filename']}') cannot be undone: {'; '.join(parts)}. "
        "Those records stay traceable; nothing was removed"
    )


SLICE = 500
"""Items an undo removes per transaction: others' answers and fetches get through between."""
PAUSE_S = 0.005
"""Seconds an undo leaves the lock free between slices, so a waiting writer takes it."""


def undo(
    db: Database,
    ctx: ProjectContext,
    batch_id: int,
    *,
    cache: FeatureCache | None = None,
    media_roots: Sequence[Path] = (),
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Remove an import's items and what only they had, then the import (managers; audited).

    One short transaction checks that nothing holds its items and withdraws them: from its
    commit on none is served, answered, skipped or learned from, and the leases nobody
    answered are released (a page still showing one is told on submit that it is no longer
    leased). Then the items go :data:`SLICE` at a time, each slice its own transaction, so
    annotators' answers and fetches get through between slices; ``progress(removed, total)``
    follows. The import and its audit row go last. An undo that stops half way (the process
    ended, or a manager made one of its items gold, pinned or flagged it meanwhile) leaves the
    import listed as being undone with the items not yet removed, still withdrawn; undoing it
    again finishes it. ``cache`` (the process's feature cache) forgets the items' features.
    An uploaded zip's images stored for the import (under the first of ``media_roots``) go
    once the import is removed, but those another item of the project names; ``files`` says
    how many went.

    Raises
    ------
    NotFound
        When the project has no such import.
    Conflict
        When an item of it holds a record that stays traceable (see the module), or an import
        into the project or another undo of this import is running.
    LabelloopError
        When its stored images lie under a symbolic link (:func:`uploads.real_folder`).
    """
    ctx.require(Permission.IMPORT)
    with db.read() as conn:
        batch = store_batches.get(conn, ctx.id, batch_id) if 0 < batch_id <= MAX_ID else None
    if batch is None:  # or not yet: a running import's is written when it commits
        with no_import_running(db, ctx.id) as alone:
            if alone:
                raise NotFound(f"project '{ctx.slug}' has no import {batch_id}")
        raise Conflict(_busy(ctx, batch_id, "import"))
    with undoing(db, ctx.id, batch_id) as running:
        if running is not None:
            raise Conflict(_busy(ctx, batch_id, running, filename=batch["filename"]))
        return _undo(db, ctx, batch_id, cache=cache, media_roots=media_roots, progress=progress)


def _busy(ctx: ProjectContext, batch_id: int, running: str, *, filename: str = "") -> str:
    """Why an undo cannot start now: an import into the project runs, or an undo of this
    import does (:func:`undoing`)."""
    if running == "undo":
        return (
            f"import {batch_id} ('{filename}') is being undone right now: its items are being "
            "removed; wait for that undo to end (the imports list shows how many are left)"
        )
    return (
        f"import {batch_id} cannot be undone while an import into project '{ctx.slug}' is "
        "still running: nothing was removed; undo it once that import has finished"
    )


def _undo(
    db: Database,
    ctx: ProjectContext,
    batch_id: int,
    *,
    cache: FeatureCache | None,
    media_roots: Sequence[Path],
    progress: Callable[[int, int], None] | None,
) -> dict[str, Any]:
    at = now()
    with db.write(project_id=ctx.id) as conn:
        batch = store_batches.get(conn, ctx.id, batch_id) if 0 < batch_id <= MAX_ID else None
        if batch is None:
            raise NotFound(f"project '{ctx.slug}' has no import {batch_id}")
        parts = uploads.upload_parts(batch["upload_folder"] or "", ctx.slug)
        if media_roots and parts is not None:  # its files go too: never through a link
            uploads.real_folder(media_roots, parts, doing="removed")
        store_batches.unqueue(conn, batch_id)
        total = store_batches.n_items(conn, batch_id)
        held = store_batches.holds(conn, ctx.id, batch_id)
        if any(held.values()):
            if batch["undoing_at"] is not None:
                raise Conflict(_stopped(batch, total, held))
            raise Conflict(refusal(batch, total, held))
        leases = store_batches.withdraw(conn, batch_id, at=at)
    removed = {"items": 0, "labels": 0, "predictions": 0, "leases": leases}
    gone = array("q")  # the removed ids, 8 bytes each, for the feature cache
    after = 0
    if progress is not None:
        progress(0, total)
    try:
        while True:
            with db.write(project_id=ctx.id) as conn:
                ids = store_batches.next_slice(conn, batch_id, after=after, size=SLICE)
                if not ids:
                    store_batches.drop(conn, ctx.id, batch_id)
                    resumed = batch["undoing_at"] is not None
                    _audit(db, conn, ctx, batch, removed, resumed=resumed)
                    break
                span = {"after": after, "last": ids[-1]}
                held = store_batches.held_among(conn, ctx.id, batch_id, **span)
                if any(held.values()):  # a manager's doing since the undo began
                    left = total - removed["items"]
                    raise Conflict(_stopped(batch, left, held, removed=removed["items"]))
                went = store_batches.remove_slice(conn, batch_id, **span, at=at)
                for key, n in went.items():
                    removed[key] += n
            gone.extend(ids)
            after = ids[-1]
            if progress is not None:
                progress(removed["items"], total)
            time.sleep(PAUSE_S)
    finally:  # what went is forgotten even when the undo stops half way
        if cache is not None:
            cache.forget(ctx.id, gone)
    files = uploads.remove_unnamed(
        db, ctx.id, roots=media_roots, slug=ctx.slug, folder=batch["upload_folder"]
    )
    return {
        "batch_id": batch_id,
        "filename": batch["filename"],
        "split": batch["split"],
        **removed,
        "files": files,
    }


def _audit(
    db: Database,
    conn: Any,
    ctx: ProjectContext,
    batch: Any,
    removed: dict[str, int],
    *,
    resumed: bool,
) -> None:
    """The undo's audit row, written with the import's removal."""
    audit.record(
        db,
        conn,
        action="import.undo",
        actor_id=ctx.actor_id,
        project_id=ctx.id,
        subject=f"import_batch:{batch['id']}",
        payload={
            "filename": batch["filename"],
            "format": batch["format"],
            "split": batch["split"],
            **removed,
            **({"upload_folder": batch["upload_folder"]} if batch["upload_folder"] else {}),
            **({"resumed": True} if resumed else {}),
        },
    )


def _stopped(batch: Any, left: int, held: dict[str, int], *, removed: int | None = None) -> str:
    """Why an undo under way cannot go on: what holds the items it has not removed yet."""
    parts = [f"{n:,} {_HELD[kind][n != 1]}" for kind in store_batches.HOLDS if (n := held[kind])]
    went = f"{removed:,} of its items were removed, " if removed is not None else ""
    return (
        f"the undo of import {batch['id']} ('{batch['filename']}') cannot go on: of the "
        f"{left:,} item{'' if left == 1 else 's'} it has not removed yet, {'; '.join(parts)}. "
        f"{went.capitalize()}the rest stay withdrawn (served to nobody) and the import is "
        "listed as being undone; undo it again to finish once those records are gone"
    )
