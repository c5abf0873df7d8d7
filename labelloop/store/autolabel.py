"""Auto-label runs: the model's labels a manager accepted for the pool items it is sure of, and
the undoing of a run."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, exists, func, select, update

from labelloop.store.db import insert_many
from labelloop.store.items import CHUNK, replace_labels
from labelloop.store.review import LIVE_STATES
from labelloop.store.tables import (
    AUTO,
    annotation,
    assignment,
    auto_label_check,
    auto_label_run,
    gold_answer,
    item_label,
    seed_pick,
    user,
)
from labelloop.store.users import now


def busy_items(conn: Connection, item_ids: Sequence[int], *, at: datetime) -> set[int]:
    """Those of ``item_ids`` that are settled or someone's: labeled, a gold check, or
    :func:`at_work`."""
    return _matching(
        conn,
        item_ids,
        lambda ids: (
            select(item_label.c.item_id).where(item_label.c.item_id.in_(ids)),
            select(gold_answer.c.item_id).where(gold_answer.c.item_id.in_(ids)),
        ),
    ) | at_work(conn, item_ids, at=at)


def at_work(conn: Connection, item_ids: Sequence[int], *, at: datetime) -> set[int]:
    """Those of ``item_ids`` people are at work on or asked for: with a live annotation
    (waiting for another annotator or review), leased right now, or sent to the queue (from a
    search or for a spot check) and not labeled since."""
    return _matching(
        conn,
        item_ids,
        lambda ids: (
            select(annotation.c.item_id).where(
                annotation.c.item_id.in_(ids), annotation.c.status.in_(LIVE_STATES)
            ),
            select(assignment.c.item_id).where(
                assignment.c.item_id.in_(ids),
                assignment.c.state == "leased",
                assignment.c.lease_expires_at > at,
            ),
            select(seed_pick.c.item_id).where(
                seed_pick.c.item_id.in_(ids),
                ~exists().where(item_label.c.item_id == seed_pick.c.item_id),
            ),
        ),
    )


def _matching(
    conn: Connection, item_ids: Sequence[int], queries: Callable[[list[int]], Iterable[Any]]
) -> set[int]:
    """The ids any of ``queries(chunk)`` returns, a chunk of ``item_ids`` at a time."""
    found: set[int] = set()
    for start in range(0, len(item_ids), CHUNK):
        for q in queries(list(item_ids[start : start + CHUNK])):
            found.update(int(i) for (i,) in conn.execute(q))
    return found


def insert_run(conn: Connection, **values: Any) -> int:
    result = conn.execute(auto_label_run.insert().values(applied_at=now(), **values))
    return int(result.inserted_primary_key[0])


def label_items(conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Write auto labels (``item_id``, ``project_id``, ``value``, ``label``, ``confidence``,
    ``auto_run_id``, ``decided_by``) and take their items out of every queue."""
    at = now()
    replace_labels(
        conn,
        [{**r, "resolution": AUTO, "annotation_id": None, "decided_at": at} for r in rows],
    )


def runs_of(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """The project's runs, newest first, each with ``n_current``: its labels still standing
    (neither undone nor replaced by a person's)."""
    applier, undoer = user.alias("applier"), user.alias("undoer")
    current = (
        select(func.count())
        .where(item_label.c.auto_run_id == auto_label_run.c.id, item_label.c.resolution == AUTO)
        .scalar_subquery()
    )
    q = (
        select(
            auto_label_run,
            applier.c.username.label("applied_by_name"),
            undoer.c.username.label("undone_by_name"),
            current.label("n_current"),
        )
        .outerjoin(applier, applier.c.id == auto_label_run.c.applied_by)
        .outerjoin(undoer, undoer.c.id == auto_label_run.c.undone_by)
        .where(auto_label_run.c.project_id == project_id)
        .order_by(auto_label_run.c.id.desc())
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def get_run(conn: Connection, project_id: int, run_id: int) -> RowMapping | None:
    q = select(auto_label_run).where(
        auto_label_run.c.id == run_id, auto_label_run.c.project_id == project_id
    )
    return conn.execute(q).mappings().first()


def undo_run(conn: Connection, run_id: int, *, by: int | None) -> int:
    """Remove the run's labels still standing (a person's label that replaced one stays); the
    items are unlabeled again. Returns how many were removed."""
    removed = conn.execute(
        delete(item_label).where(
            item_label.c.auto_run_id == run_id, item_label.c.resolution == AUTO
        )
    ).rowcount
    conn.execute(
        update(auto_label_run)
        .where(auto_label_run.c.id == run_id)
        .values(undone_by=by, undone_at=now(), n_undone=int(removed or 0))
    )
    return int(removed or 0)


def standing(conn: Connection, run_id: int) -> list[RowMapping]:
    """The run's labels still standing (item_id, label, confidence), in item order."""
    q = (
        select(item_label.c.item_id, item_label.c.label, item_label.c.confidence)
        .where(item_label.c.auto_run_id == run_id, item_label.c.resolution == AUTO)
        .order_by(item_label.c.item_id)
    )
    return list(conn.execute(q).mappings())


def take_back(conn: Connection, run_id: int, rows: Sequence[RowMapping], *, by: int | None) -> None:
    """Record the model's labels of ``rows`` as a spot check of the run and remove them: the
    items are unlabeled again, for people to answer."""
    at = now()
    for start in range(0, len(rows), CHUNK):
        part = rows[start : start + CHUNK]
        insert_many(
            conn,
            auto_label_check,
            [
                {
                    "run_id": run_id,
                    "item_id": int(r["item_id"]),
                    "label": r["label"],
                    "confidence": float(r["confidence"]),
                    "created_by": by,
                    "created_at": at,
                }
                for r in part
            ],
        )
        ids = [int(r["item_id"]) for r in part]
        conn.execute(
            delete(item_label).where(item_label.c.item_id.in_(ids), item_label.c.resolution == AUTO)
        )


def check_answers(conn: Connection, project_id: int) -> list[RowMapping]:
    """Every item taken back for a spot check in the project's runs: ``run_id``, ``item_id``
    and the model's ``label``, with each answer people gave it blind since (``value``, None for
    an item no one answered yet; answers sent back in review left out, and so is an answer given
    with a suggestion showing: on PostgreSQL an item leased while a run was writing can be
    labeled by it and then checked, and its lease showed the queue's suggestion)."""
    q = (
        select(
            auto_label_check.c.run_id,
            auto_label_check.c.item_id,
            auto_label_check.c.label,
            annotation.c.value,
        )
        .join(auto_label_run, auto_label_run.c.id == auto_label_check.c.run_id)
        .outerjoin(
            annotation,
            (annotation.c.item_id == auto_label_check.c.item_id)
            & (annotation.c.created_at >= auto_label_check.c.created_at)
            & annotation.c.status.in_(LIVE_STATES)
            & annotation.c.suggestion.is_(None),
        )
        .where(auto_label_run.c.project_id == project_id)
        .order_by(auto_label_check.c.id)
    )
    return list(conn.execute(q).mappings())


def n_checked(conn: Connection, run_id: int) -> int:
    """The run's labels taken back for spot checks so far."""
    q = select(func.count()).where(auto_label_check.c.run_id == run_id)
    return int(conn.execute(q).scalar_one())
