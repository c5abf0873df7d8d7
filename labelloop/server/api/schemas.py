"""Request bodies of the JSON API, and the id type every path, query and body shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from labelloop.ingest.records import nul_at
from labelloop.store.db import MAX_ID
from labelloop.workflow.acknowledgements import MAX_ACK_NOTE_CHARS

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A row id as a request names it (item, assignment, annotation). Out of range is a 422 naming
the parameter, where it used to overflow in the database driver (a 500)."""


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("lies past the calendar's end in UTC") from None


LeaseEnd = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""When a lease ends, as a page was told it: with its time zone, and a time stored in UTC (one
past year 9999 there was a 500 where it was looked up)."""


class Body(BaseModel):
    """A JSON request body. A field it does not take is a 422 naming it, not dropped: a
    misspelt ``activeMs`` or a guessed ``username`` would otherwise do something else than
    its sender meant. No text in it may hold a NUL (U+0000): PostgreSQL cannot store one (a
    500 from the driver) and SQLite's LIKE stops at it, so it is a 422 naming the field too."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        where = nul_at(data)
        if where is not None:
            raise ValueError(f"{where}: text cannot contain the NUL character (U+0000)")
        return data


class LoginIn(Body):
    username: str = Field(max_length=100)
    password: str = Field(max_length=1000)


class ProjectIn(Body):
    slug: str = Field(max_length=64)
    project_schema: dict[str, Any] | str = Field(alias="schema")


class NextIn(Body):
    held: list[Id] = Field(default_factory=list, max_length=20)


class LeaseIn(Body):
    """A task's lease as its holder knows it: the ``lease_expires_at`` that tasks/next (or the
    last renew) answered for it."""

    assignment_id: Id
    lease_expires_at: LeaseEnd


class ReleaseIn(Body):
    """The tasks a labeling page gives back as it is left (those it shows and prefetched), each
    with the end it was told: a lease served again since (the page reloaded) stays."""

    leases: list[LeaseIn] = Field(max_length=20)


class SubmitIn(Body):
    """An answer for a task (submit) or a new value for one's annotation (edit)."""

    value: dict[str, Any]
    active_ms: int = Field(default=0, ge=0)
    guideline_version: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="The guideline version the annotator was shown (default: the newest); "
        "the annotation records it.",
    )


class MemberIn(Body):
    username: str = Field(max_length=100)
    role: str = Field(max_length=20)


class UserIn(Body):
    """A new user; without a password the server makes one and answers it once."""

    username: str = Field(max_length=100)
    password: str | None = Field(default=None, min_length=8, max_length=1000)
    is_admin: bool = False


class AdminIn(Body):
    """Whether a user is to be a site admin."""

    is_admin: bool


class PasswordResetIn(Body):
    """A site admin's new password for a user; none: the server makes one and answers it once."""

    password: str | None = Field(default=None, min_length=8, max_length=1000)


class PasswordChangeIn(Body):
    """A user's own new password, with the current one as proof."""

    current_password: str = Field(max_length=1000)
    new_password: str = Field(min_length=8, max_length=1000)


class TokenIn(Body):
    name: str = Field(default="api", max_length=100)


class SeedsIn(Body):
    """Found pool items to send to the front of the queue, and how they were found."""

    item_ids: list[Id] = Field(min_length=1, max_length=200)
    query: str | None = None  # the words searched: a longer query is cut as the search cuts it
    like: Id | None = None


class SimulationIn(Body):
    """What a manager asks a simulation of the project's labels for (ranges checked by the
    workflow, which names the option); an unknown field is refused, not ignored."""

    strategies: list[Annotated[str, Field(max_length=100)]] | None = Field(
        default=None, max_length=50
    )
    seeds: int = Field(default=3, ge=-(10**6), le=10**6, strict=True)
    budget: int = Field(default=500, ge=-(10**9), le=10**9, strict=True)
    batch: int | None = Field(default=None, ge=-(10**9), le=10**9, strict=True)
    max_seconds: float = Field(default=900.0, ge=-(10**9), le=10**9)


class SettingsIn(Body):
    """Settings to change on a live project, by name (checked by the workflow, which names a
    wrong or fixed one)."""

    model_config = ConfigDict(extra="allow")

    def changes(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class LabelIn(Body):
    """A label to add to a live project's control (needed when several have labels), with an
    optional one-line description shown beside it while labeling. Names are checked by the
    schema."""

    label: str = Field(max_length=10_000)
    control: str | None = Field(default=None, max_length=1_000)
    description: str = Field(default="", max_length=10_000)


class GuidelineIn(Body):
    """A new guideline version: its Markdown, why it changed, and the version it was written
    from (an edit of an outdated version is refused with a 409). Lengths are checked by the
    workflow, which says how long each may be."""

    body: str
    summary: str
    base_version: Id | None = None
    answers_flags: bool = False  # the version answers the open "ambiguous" flags


class PreviewIn(Body):
    """Guideline Markdown to render for the editor's preview."""

    body: str


class AutoLabelIn(Body):
    """An auto-label run: the confidence the model needs and the eval accuracy it must show
    (each defaults to the project's setting); ``dry_run`` measures and counts only."""

    confidence: float | None = Field(default=None, ge=0.5, le=1.0)
    min_accuracy: float | None = Field(default=None, ge=0.5, le=1.0)
    dry_run: bool = False


class SpotCheckIn(Body):
    """How many of a run's labels to take back for people to answer (1 to 1,000)."""

    n: int = Field(default=50, ge=1, le=1_000)


class AcknowledgeIn(Body):
    """An alert's acknowledgement: an optional one-line note ("retraining on Monday")."""

    note: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=MAX_ACK_NOTE_CHARS)
    ] = ""  # trimmed first, as the page and the CLI send it


class ErrorOut(BaseModel):
    """Every error's body, whatever its status (a refused import also says where)."""

    error: str = Field(
        description="The kind: NotFound, PermissionDenied, Conflict, ValidationError, "
        "ImportFormatError, TooManyAttempts, ..."
    )
    detail: str = Field(description="What happened, in a sentence naming the record or field.")
    line: int | None = Field(
        default=None,
        description="A refused import: the record's number (a line, a row, a task or an image).",
    )
    unit: str | None = Field(
        default=None,
        description="A refused import: what ``line`` counts: ``line`` (a JSONL or CSV file's), "
        "``row`` (a Parquet file's, a saved Hugging Face dataset's), ``task`` (a Label Studio "
        "export's) or ``image`` (the images of a COCO file or a zip, in order); null when a "
        "whole file is refused.",
    )
    cites: int | str | None = Field(
        default=None,
        description="A refused import whose record clashes with an earlier one (the same id, "
        "the same content labeled otherwise): that record's number, counted as ``line`` is, or "
        "its name when it is in another file of a zip.",
    )
    field: str | None = Field(default=None, description="A refused import: the field.")
    file: str | None = Field(
        default=None, description="A refused import: the file (a zip's member)."
    )
    reason: str | None = Field(default=None, description="A refused import: what is wrong.")
