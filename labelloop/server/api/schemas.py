"""Request bodies of the JSON API, and the id type every path, query and body shares."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

MAX_ID = 2**63 - 1
"""The largest id a store holds: SQLite's INTEGER and PostgreSQL's BIGINT are signed 64-bit."""

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A row id as a request names it (item, assignment, annotation). Out of range is a 422 naming
the parameter, where it used to overflow in the database driver (a 500)."""


class LoginIn(BaseModel):
    username: str = Field(max_length=100)
    password: str = Field(max_length=1000)


class ProjectIn(BaseModel):
    slug: str = Field(max_length=64)
    project_schema: dict[str, Any] | str = Field(alias="schema")


class NextIn(BaseModel):
    held: list[Id] = Field(default_factory=list, max_length=20)


class SubmitIn(BaseModel):
    value: dict[str, Any]
    active_ms: int = Field(default=0, ge=0)


class MemberIn(BaseModel):
    username: str = Field(max_length=100)
    role: str = Field(max_length=20)


class UserIn(BaseModel):
    username: str = Field(max_length=100)
    password: str = Field(min_length=8, max_length=1000)
    is_admin: bool = False


class TokenIn(BaseModel):
    name: str = Field(default="api", max_length=100)


class SeedsIn(BaseModel):
    """Found pool items to send to the front of the queue, and how they were found."""

    item_ids: list[Id] = Field(min_length=1, max_length=200)
    query: str | None = Field(default=None, max_length=200)
    like: Id | None = None
