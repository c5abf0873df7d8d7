"""Projects and their versioned guidelines."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, func, select

from labelloop.store.db import new_id
from labelloop.store.tables import guideline, membership, project
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


def set_schema(conn: Connection, project_id: int, schema: dict[str, Any]) -> None:
    """Store a project's schema document as it now reads (its version unchanged)."""
    conn.execute(project.update().where(project.c.id == project_id).values(schema=schema))


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


def insert_guideline(
    conn: Connection, *, project_id: int, body: str, author_id: int | None, change_summary: str
) -> int:
    latest = conn.execute(
        select(func.max(guideline.c.version)).where(guideline.c.project_id == project_id)
    ).scalar()
    version = (latest or 0) + 1
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
