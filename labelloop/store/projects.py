"""Projects and their versioned guidelines."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, func, or_, select, update

from labelloop.store.db import fetch, new_id
from labelloop.store.tables import (
    annotation,
    guideline,
    guideline_example,
    item,
    membership,
    project,
    user,
)
from labelloop.store.users import now


def insert_project(
    conn: Connection, *, slug: str, name: str, schema: dict[str, Any], created_by: int | None
) -> int:
    res = conn.execute(
        project.insert().values(
            slug=slug,
            name=name,
            schema=schema,
            schema_version=1,
            created_by=created_by,
            created_at=now(),
        )
    )
    return new_id(res)


def set_schema(
    conn: Connection, project_id: int, schema: dict[str, Any], *, version: int | None = None
) -> None:
    """Store a project's schema document as it now reads; its version changes only when given
    (a change to what labels can be: answers made after it record the new one)."""
    values: dict[str, Any] = {"schema": schema}
    if version is not None:
        values["schema_version"] = version
    conn.execute(project.update().where(project.c.id == project_id).values(**values))


def by_slug(conn: Connection, slug: str) -> RowMapping | None:
    return conn.execute(select(project).where(project.c.slug == slug)).mappings().first()


@cache
def _with_role_stmt() -> Any:
    role = (
        select(membership.c.role)
        .where(
            membership.c.project_id == project.c.id,
            membership.c.user_id == bindparam("user_id"),
        )
        .scalar_subquery()
    )
    return select(project, role.label("role")).where(project.c.slug == bindparam("slug"))


def with_role(conn: Connection, *, slug: str, user_id: int) -> RowMapping | None:
    """A project by slug with the user's role in it (None when not a member), in one query."""
    return conn.execute(_with_role_stmt(), {"slug": slug, "user_id": user_id}).mappings().first()


def by_id(conn: Connection, project_id: int) -> RowMapping | None:
    return conn.execute(select(project).where(project.c.id == project_id)).mappings().first()


def all_ids(conn: Connection) -> list[int]:
    return [int(i) for i in conn.execute(select(project.c.id).order_by(project.c.id)).scalars()]


def every_guideline_text(conn: Connection) -> Iterator[RowMapping]:
    """Every project's guideline versions (``project_id``, ``slug``, ``version``, ``body``),
    project by project, oldest version first, streamed."""
    q = (
        select(
            project.c.id.label("project_id"), project.c.slug, guideline.c.version, guideline.c.body
        )
        .join(project, project.c.id == guideline.c.project_id)
        .order_by(project.c.id, guideline.c.version)
    )
    yield from conn.execution_options(yield_per=500).execute(q).mappings()


def insert_guideline(
    conn: Connection, *, project_id: int, body: str, author_id: int | None, change_summary: str
) -> int:
    """Store the project's next guideline version; returns its number."""
    version = newest_guideline_version(conn, project_id) + 1
    conn.execute(
        guideline.insert().values(
            project_id=project_id,
            version=version,
            body=body,
            author_id=author_id,
            change_summary=change_summary,
            created_at=now(),
        )
    )
    return version


def latest_guideline(conn: Connection, project_id: int) -> RowMapping | None:
    q = (
        select(guideline)
        .where(guideline.c.project_id == project_id)
        .order_by(guideline.c.version.desc())
        .limit(1)
    )
    return conn.execute(q).mappings().first()


@cache
def _newest_guideline_stmt() -> Any:
    return select(func.max(guideline.c.version).label("version")).where(
        guideline.c.project_id == bindparam("project_id")
    )


def newest_guideline_version(conn: Connection, project_id: int) -> int:
    """The number of a project's newest guideline (0 when it has none); the serving path asks
    on every task it leases, so the statement is built once."""
    found = fetch(conn, _newest_guideline_stmt(), {"project_id": project_id})
    return int(found[0]["version"] or 0) if found else 0


def guideline_published(conn: Connection, project_id: int) -> list[tuple[int, Any]]:
    """(version, when it was published) of each of a project's guideline versions, oldest first."""
    q = (
        select(guideline.c.version, guideline.c.created_at)
        .where(guideline.c.project_id == project_id)
        .order_by(guideline.c.version)
    )
    return [(int(v), at) for v, at in conn.execute(q)]


def guideline_version(conn: Connection, project_id: int, version: int) -> RowMapping | None:
    """One version of a project's guideline with its author's user name (``author``)."""
    q = (
        select(guideline, user.c.username.label("author"))
        .outerjoin(user, user.c.id == guideline.c.author_id)
        .where(guideline.c.project_id == project_id, guideline.c.version == version)
    )
    return conn.execute(q).mappings().first()


def guideline_history(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    """Every version of a project's guideline, newest first: its ``body``, author's user name,
    when, change summary and ``annotations``, how many annotations were made under it."""
    made = (
        select(annotation.c.guideline_version.label("version"), func.count().label("n"))
        .where(annotation.c.project_id == project_id)
        .group_by(annotation.c.guideline_version)
        .subquery()
    )
    q = (
        select(
            guideline.c.version,
            user.c.username.label("author"),
            guideline.c.created_at,
            guideline.c.change_summary,
            guideline.c.body,
            func.coalesce(made.c.n, 0).label("annotations"),
        )
        .outerjoin(user, user.c.id == guideline.c.author_id)
        .outerjoin(made, made.c.version == guideline.c.version)
        .where(guideline.c.project_id == project_id)
        .order_by(guideline.c.version.desc())
    )
    return [dict(r) for r in conn.execute(q).mappings()]


# --------------------------------------------------------------------- guideline examples


def examples_in(conn: Connection, project_id: int, version: int) -> list[dict[str, Any]]:
    """The examples guideline ``version`` holds, in the order they were pinned, each with its
    item's external id and payload and the user name of who pinned it (``added_by``)."""
    q = (
        select(
            guideline_example.c.item_id,
            guideline_example.c.value,
            guideline_example.c.label,
            guideline_example.c.note,
            guideline_example.c.added_in,
            guideline_example.c.created_at,
            user.c.username.label("added_by"),
            item.c.external_id,
            item.c.payload,
        )
        .join(item, item.c.id == guideline_example.c.item_id)
        .outerjoin(user, user.c.id == guideline_example.c.added_by)
        .where(
            guideline_example.c.project_id == project_id,
            guideline_example.c.added_in <= version,
            or_(
                guideline_example.c.removed_in.is_(None),
                guideline_example.c.removed_in > version,
            ),
        )
        .order_by(guideline_example.c.id)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def add_example(conn: Connection, **row: Any) -> None:
    """Pin an item as an example from guideline version ``added_in`` on."""
    conn.execute(guideline_example.insert().values(created_at=now(), **row))


def remove_example(conn: Connection, project_id: int, item_id: int, *, version: int) -> None:
    """Take an item's example out of the guideline from ``version`` on."""
    conn.execute(
        update(guideline_example)
        .where(
            guideline_example.c.project_id == project_id,
            guideline_example.c.item_id == item_id,
            guideline_example.c.removed_in.is_(None),
        )
        .values(removed_in=version)
    )


def is_example(conn: Connection, item_id: int) -> bool:
    """Whether the newest guideline pins the item as an example."""
    q = select(guideline_example.c.id).where(
        guideline_example.c.item_id == item_id, guideline_example.c.removed_in.is_(None)
    )
    return conn.execute(q.limit(1)).first() is not None
