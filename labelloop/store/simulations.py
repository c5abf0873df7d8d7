"""Simulations a project's managers ask for: queued here, claimed and filled in by a learner."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, func, select, update

from labelloop.store.db import new_id
from labelloop.store.tables import (
    AUTO,
    annotation,
    assignment,
    gold_answer,
    item,
    item_label,
    simulation,
    user,
)
from labelloop.store.users import now

ACTIVE = ("queued", "running")


def _columns(*, chart: bool = False) -> list[Any]:
    cols = [c for c in simulation.c if c.name != "chart" or chart]
    return [*cols, user.c.username.label("requested_by_name")]


def _select(*, chart: bool = False) -> Any:
    return select(*_columns(chart=chart)).outerjoin(user, user.c.id == simulation.c.requested_by)


def add(conn: Connection, *, project_id: int, user_id: int | None, options: dict[str, Any]) -> int:
    """Queue a simulation; its id."""
    return new_id(
        conn.execute(
            simulation.insert().values(
                project_id=project_id,
                requested_by=user_id,
                state="queued",
                options=options,
                phase="waiting for the learner",
                done=0,
                total=0,
                created_at=now(),
            )
        )
    )


def active(conn: Connection, project_id: int) -> RowMapping | None:
    """The project's queued or running simulation, if any (the newest)."""
    q = (
        _select()
        .where(simulation.c.project_id == project_id, simulation.c.state.in_(ACTIVE))
        .order_by(simulation.c.id.desc())
        .limit(1)
    )
    return conn.execute(q).mappings().first()


def get(
    conn: Connection, project_id: int, sim_id: int, *, chart: bool = False
) -> RowMapping | None:
    """One simulation of the project (``None`` for another project's id)."""
    q = _select(chart=chart).where(simulation.c.project_id == project_id, simulation.c.id == sim_id)
    return conn.execute(q).mappings().first()


def recent(conn: Connection, project_id: int, *, limit: int = 10) -> list[RowMapping]:
    """The project's newest simulations, newest first."""
    q = (
        _select()
        .where(simulation.c.project_id == project_id)
        .order_by(simulation.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(q).mappings())


def oldest_queued(conn: Connection) -> RowMapping | None:
    q = _select().where(simulation.c.state == "queued").order_by(simulation.c.id).limit(1)
    return conn.execute(q).mappings().first()


def claim(conn: Connection, sim_id: int) -> bool:
    """Mark a queued simulation running; False when another learner took it first."""
    at = now()
    result = conn.execute(
        update(simulation)
        .where(simulation.c.id == sim_id, simulation.c.state == "queued")
        .values(state="running", started_at=at, heartbeat_at=at, phase="reading the labels")
    )
    return result.rowcount == 1


def progress(conn: Connection, sim_id: int, *, phase: str, done: int, total: int) -> str | None:
    """Record how far a running simulation got; its state afterwards (``cancelled`` when a
    manager stopped it meanwhile, ``None`` when it is gone)."""
    conn.execute(
        update(simulation)
        .where(simulation.c.id == sim_id, simulation.c.state == "running")
        .values(phase=phase[:200], done=done, total=total, heartbeat_at=now())
    )
    state = conn.execute(select(simulation.c.state).where(simulation.c.id == sim_id)).scalar()
    return None if state is None else str(state)


def finish(
    conn: Connection,
    sim_id: int,
    *,
    state: str,
    result: dict[str, Any] | None = None,
    chart: str | None = None,
    error: str | None = None,
) -> None:
    """End a simulation: ``done`` with its result and chart, or ``failed``/``cancelled``."""
    at = now()
    values: dict[str, Any] = {"state": state, "phase": state, "finished_at": at, "heartbeat_at": at}
    if result is not None:
        values["result"] = result
    if chart is not None:
        values["chart"] = chart
    if error is not None:
        values["error"] = error[:1000]
    conn.execute(
        update(simulation)
        .where(simulation.c.id == sim_id, simulation.c.state.in_(ACTIVE))
        .values(**values)
    )


def stale_before(conn: Connection, project_id: int, cutoff: datetime) -> list[int]:
    """The project's running simulations whose last heartbeat is older than ``cutoff``."""
    q = select(simulation.c.id).where(
        simulation.c.project_id == project_id,
        simulation.c.state == "running",
        simulation.c.heartbeat_at < cutoff,
    )
    return [int(i) for i in conn.execute(q).scalars()]


def labeled_items(conn: Connection, project_id: int) -> list[RowMapping]:
    """Pool and eval items with a resolved target label, content included, in id order (gold
    checks left out: their answers are not labels)."""
    q = _labeled(select(item.c.id, item.c.payload, item_label.c.label), project_id)
    return list(conn.execute(q.order_by(item.c.id)).mappings())


def served_labels(conn: Connection, project_id: int) -> list[RowMapping]:
    """Pool items some task served and an annotator answered, in the order they were first
    served: the first submitted task's ``strategy`` and ``reason``, the answer given there
    (``first_value``) and the item's resolved target ``label`` (None while unresolved); gold
    checks left out."""
    first = (
        select(assignment.c.item_id, func.min(assignment.c.id).label("first_id"))
        .where(assignment.c.project_id == project_id, assignment.c.state == "submitted")
        .group_by(assignment.c.item_id)
        .subquery()
    )
    q = (
        select(
            item.c.id,
            item.c.payload,
            assignment.c.strategy,
            assignment.c.reason,
            annotation.c.value.label("first_value"),
            item_label.c.label,
        )
        .select_from(first)
        .join(assignment, assignment.c.id == first.c.first_id)
        .join(item, item.c.id == first.c.item_id)
        .outerjoin(annotation, annotation.c.assignment_id == assignment.c.id)
        .outerjoin(  # the model's own labels (auto-label runs) are no resolved answer here
            item_label, (item_label.c.item_id == item.c.id) & (item_label.c.resolution != AUTO)
        )
        .outerjoin(gold_answer, gold_answer.c.item_id == item.c.id)
        .where(item.c.split == "pool", gold_answer.c.item_id.is_(None))
        .order_by(assignment.c.id)
    )
    return list(conn.execute(q).mappings())


def labeled_eval(conn: Connection, project_id: int) -> list[RowMapping]:
    """Eval items with a resolved target label, content included, in id order."""
    q = _labeled(select(item.c.id, item.c.payload, item_label.c.label), project_id)
    return list(conn.execute(q.where(item.c.split == "eval").order_by(item.c.id)).mappings())


def labels_of(conn: Connection, project_id: int) -> list[str]:
    """The resolved target labels :func:`labeled_items` holds, without reading any content."""
    q = _labeled(select(item_label.c.label), project_id)
    return [str(label) for label in conn.execute(q).scalars()]


def count_labeled(conn: Connection, project_id: int, *, labels: Sequence[str]) -> int:
    """How many items :func:`labeled_items` holds with one of ``labels``, before reading any."""
    q = _labeled(select(func.count()), project_id).where(item_label.c.label.in_(list(labels)))
    return int(conn.execute(q).scalar_one())


def _labeled(q: Any, project_id: int) -> Any:
    """``q`` over the project's pool and eval items with a resolved target label, gold and the
    model's own labels (auto-label runs) left out."""
    return (
        q.select_from(item)
        .join(item_label, item_label.c.item_id == item.c.id)
        .outerjoin(gold_answer, gold_answer.c.item_id == item.c.id)
        .where(
            item.c.project_id == project_id,
            item.c.split.in_(("pool", "eval")),
            item_label.c.label.is_not(None),
            item_label.c.resolution != AUTO,
            gold_answer.c.item_id.is_(None),
        )
    )
