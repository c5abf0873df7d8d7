"""The dashboard's counts per UTC day and per annotator, counted by the database.

A large project's window holds tens of thousands of annotations and resolved labels; reading
them as rows (each with its timestamps parsed) cost most of the dashboard's time. Here the
engine groups them by day and annotator, and only what needs every value (the time per
annotation and the time to label, for their medians) is read, one number a row.

Days are UTC calendar days on both engines, as :func:`labelloop.insight.flow.per_day` counts
them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, String, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from labelloop.store.insight import NOT_PEOPLES
from labelloop.store.tables import annotation, assignment, item, item_label, review, user


class utc_day(FunctionElement[str]):  # noqa: N801 - used like a SQL function
    """The UTC calendar day of a timestamp, as ``YYYY-MM-DD`` text on both engines."""

    type = String()
    inherit_cache = True
    name = "utc_day"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    # SQLite holds naive UTC text, 'YYYY-MM-DD HH:MM:SS.ffffff' (the order every comparison
    # with a timestamp relies on): the day is its first ten characters, read without parsing.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    # timestamptz is shown in the session's time zone; the day is taken in UTC whatever it is.
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


class epoch_us(FunctionElement[int]):  # noqa: N801 - used like a SQL function
    """Whole microseconds since 1970-01-01 UTC of a timestamp, exactly, on both engines."""

    type = BigInteger()
    inherit_cache = True
    name = "epoch_us"


@compiles(epoch_us, "sqlite")
def _epoch_us_sqlite(element: epoch_us, compiler: Any, **kw: Any) -> str:
    # strftime('%s') of the text with its fraction rounds it (23:59:59.999999 gives the next
    # second): take the whole seconds of 'YYYY-MM-DD HH:MM:SS', add the six digits after the dot.
    ts = compiler.process(element.clauses, **kw)
    return (
        f"(CAST(strftime('%s', substr({ts}, 1, 19)) AS INTEGER) * 1000000"
        f" + CAST(substr({ts}, 21, 6) AS INTEGER))"
    )


@compiles(epoch_us, "postgresql")
def _epoch_us_postgresql(element: epoch_us, compiler: Any, **kw: Any) -> str:
    # EXTRACT returns numeric (PostgreSQL 14 and later): exact to the microsecond.
    return (
        f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) * 1000000 AS BIGINT)"
    )


def _day(text: Any) -> date:
    return date.fromisoformat(str(text))


def annotations_per_day(
    conn: Connection, project_id: int, since: datetime, *, recent_since: datetime
) -> list[dict[str, Any]]:
    """Annotations made since ``since`` per annotator and UTC day: ``user_id``, ``username``,
    ``day``, ``n`` and ``recent`` (how many of them were made since ``recent_since``)."""
    recent = func.sum(case((annotation.c.created_at >= recent_since, 1), else_=0))
    day = utc_day(annotation.c.created_at)
    q = (
        select(
            annotation.c.user_id,
            user.c.username,
            day.label("day"),
            func.count().label("n"),
            recent.label("recent"),
        )
        .select_from(annotation.join(user, user.c.id == annotation.c.user_id))
        .where(annotation.c.project_id == project_id, annotation.c.created_at >= since)
        .group_by(annotation.c.user_id, user.c.username, day)
    )
    return [
        {
            "user_id": int(u),
            "username": name,
            "day": _day(d),
            "n": int(n),
            "recent": int(r or 0),
        }
        for u, name, d, n, r in conn.execute(q)
    ]


def active_times(conn: Connection, project_id: int, since: datetime) -> dict[int, list[int]]:
    """Per annotator, the recorded active times (ms, above zero) of the annotations made since
    ``since``: the one column their medians and percentiles need."""
    q = select(annotation.c.user_id, annotation.c.active_ms).where(
        annotation.c.project_id == project_id,
        annotation.c.created_at >= since,
        annotation.c.active_ms > 0,
    )
    out: dict[int, list[int]] = defaultdict(list)
    for u, ms in conn.execute(q):
        out[int(u)].append(int(ms))
    return dict(out)


def resolved_per_day(conn: Connection, project_id: int, since: datetime) -> list[dict[str, Any]]:
    """Labels resolved by people since ``since`` (imported and auto labels left out) per UTC
    day and target label: ``day``, ``label`` (None when the target was left empty), ``n``."""
    day = utc_day(item_label.c.decided_at)
    q = (
        select(day.label("day"), item_label.c.label, func.count().label("n"))
        .where(
            item_label.c.project_id == project_id,
            item_label.c.resolution.not_in(NOT_PEOPLES),
            item_label.c.decided_at >= since,
        )
        .group_by(day, item_label.c.label)
    )
    return [{"day": _day(d), "label": label, "n": int(n)} for d, label, n in conn.execute(q)]


def imported_labels(conn: Connection, project_id: int, since: datetime) -> int:
    """Pool items whose label came with their import (``--label-field``, ``--update-labels``)
    since ``since``: labels the project counts as labeled that :func:`resolved_per_day` leaves
    out as nobody's work here."""
    q = (
        select(func.count())
        .select_from(item_label.join(item, item.c.id == item_label.c.item_id))
        .where(
            item_label.c.project_id == project_id,
            item_label.c.resolution == "imported",
            item.c.split == "pool",
            item_label.c.decided_at >= since,
        )
    )
    return int(conn.execute(q).scalar_one())


def resolved_values_per_day(
    conn: Connection, project_id: int, since: datetime
) -> list[dict[str, Any]]:
    """The values of the labels people resolved since ``since``, each with its UTC ``day``
    (as :func:`resolved_per_day` counts them): a spans or boxes label holds several labels."""
    day = utc_day(item_label.c.decided_at)
    q = select(day.label("day"), item_label.c.value).where(
        item_label.c.project_id == project_id,
        item_label.c.resolution.not_in(NOT_PEOPLES),
        item_label.c.decided_at >= since,
    )
    return [{"day": _day(d), "value": value} for d, value in conn.execute(q)]


def turnaround_spans(conn: Connection, project_id: int, since: datetime) -> list[int]:
    """Microseconds from each item's first lease to its label, for the labels people resolved
    since ``since`` whose item was ever leased (negative where the label came first)."""
    # One join grouped per label, not a lookup of the first lease per label: on PostgreSQL the
    # lookups (one index probe each) took twice the server time of a hash join at 12,000 labels.
    labels = (
        select(item_label.c.decided_at, func.min(assignment.c.leased_at).label("first_served"))
        .join(assignment, assignment.c.item_id == item_label.c.item_id)
        .where(
            item_label.c.project_id == project_id,
            item_label.c.resolution.not_in(NOT_PEOPLES),
            item_label.c.decided_at >= since,
            assignment.c.project_id == project_id,
        )
        .group_by(item_label.c.item_id, item_label.c.decided_at)
        .subquery()
    )
    # Read through a subquery: written into the expression, SQLite ran the lookup of the
    # first lease once for each time epoch_us names its argument.
    q = select(epoch_us(labels.c.decided_at) - epoch_us(labels.c.first_served))
    return [int(us) for (us,) in conn.execute(q) if us is not None]


def reviews_per_day(conn: Connection, project_id: int, since: datetime) -> dict[date, int]:
    """Verdicts given since ``since`` per UTC day."""
    day = utc_day(review.c.created_at)
    q = (
        select(day, func.count())
        .select_from(review.join(annotation, annotation.c.id == review.c.annotation_id))
        .where(annotation.c.project_id == project_id, review.c.created_at >= since)
        .group_by(day)
    )
    return {_day(d): int(n) for d, n in conn.execute(q)}
