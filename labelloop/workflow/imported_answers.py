"""Answers an import brings (a Label Studio project labeled with overlap): each annotator's answer
stored as theirs, and the item's label resolved from them by the project's rules.

An answer belongs to the member of the project named like its annotator: their username is the
annotator's email, or the email's name before the @ (case aside when only one member fits).
Each answer hangs on a submitted assignment whose selection says where it came from (strategy
``import``, the tool's id of the answer and the import), so the serving path counts it against
the item's overlap and never serves the item to its annotator again, and the item's trace tells
it apart from answers given here. A skip (a cancelled annotation) is a skipped assignment, as a
skip here is. Answers not named after a member abort the import, naming every such annotator.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from labelloop.domain import AnswerIn, ItemIn
from labelloop.errors import ImportFormatError, SchemaError
from labelloop.ingest.predictions import imported_value
from labelloop.store import review as store_review
from labelloop.store import tasks as store_tasks
from labelloop.store import users as store_users
from labelloop.store.users import now
from labelloop.workflow import review
from labelloop.workflow.projects import ProjectContext

IMPORT_STRATEGY = store_review.IMPORTED
UNMAPPED_SHOWN = 10
"""Annotators an unmapped-annotator error names; the rest are counted."""


@dataclass(frozen=True)
class _Ready:
    """An answer checked against the schema and matched to its member."""

    user_id: int
    value: dict[str, Any] | None  # None: a skip
    created_at: datetime
    updated_at: datetime
    active_ms: int
    source_id: str | None


class AnswerImport:
    """One import's answers: matched to members and checked as records are read, written with
    their items, and counted for the import's summary."""

    def __init__(self, conn: Any, ctx: ProjectContext, *, batch_id: int, filename: str) -> None:
        self.conn = conn
        self.ctx = ctx
        self.batch_id = batch_id
        self.filename = filename
        members = store_users.members(conn, ctx.id)
        self.exact = {m["username"]: int(m["id"]) for m in members}
        self.folded: dict[str, list[int]] = {}
        for m in members:
            self.folded.setdefault(m["username"].casefold(), []).append(int(m["id"]))
        self.names = {int(m["id"]): m["username"] for m in members}
        self.claimed: dict[int, str] = {}  # member id -> the annotator first matched to them
        self.unmapped: dict[str, tuple[int, str, str]] = {}  # annotator -> task, field, name
        self.counts: Counter[str] = Counter()
        self.n_labeled = 0
        self.qualified: dict[int, bool] = {}  # member id -> passed qualification

    def prepare(self, record: ItemIn, payload: Mapping[str, Any]) -> list[_Ready]:
        """A record's answers checked and matched, one per member (their newest; an answer
        over a skip); an annotator no member is named after is remembered for :meth:`check`."""
        mine: dict[int, _Ready] = {}
        at = now()
        for answer in record.answers:
            value = self._value(record, answer, payload)
            if answer.value is not None and value is None:
                self.counts["empty"] += 1  # no answer for the target: nothing to count
                continue
            user_id = self._member(record, answer)
            if user_id is None:
                if value is None:
                    self.counts["unmapped_skips"] += 1
                else:
                    self.unmapped.setdefault(
                        answer.shown, (record.line, answer.field, _task_name(record))
                    )
                continue
            made = answer.created_at or at
            ready = _Ready(
                user_id=user_id,
                value=value,
                created_at=made,
                updated_at=max(made, answer.updated_at or made),
                active_ms=answer.active_ms or 0,
                source_id=answer.source_id,
            )
            before = mine.get(user_id)
            if before is not None:
                self.counts["twice"] += 1
                if (before.value is not None, before.created_at) > (value is not None, made):
                    continue  # the one kept is an answer over a skip, or newer
            mine[user_id] = ready
        return sorted(mine.values(), key=lambda r: r.created_at)

    def check(self) -> None:
        """Refuse the import when an answer's annotator is no member of the project."""
        if not self.unmapped:
            return
        (first, (line, field, task)), *_ = self.unmapped.items()
        shown = [f"'{name[:100]}' (first in {t})" for name, (_, _, t) in self.unmapped.items()]
        more = len(shown) - UNMAPPED_SHOWN
        listed = ", ".join(shown[:UNMAPPED_SHOWN]) + (f" and {more:,} more" if more > 0 else "")
        raise ImportFormatError(
            line=line,
            field=field,
            reason=f"{task}: the annotator '{first[:100]}' is no member of project "
            f"'{self.ctx.slug}'; each answer comes in as its annotator's, the member named by "
            "their email or by its name before the @. Annotators with no member: "
            f"{listed}. Add them to the project (labelloop users add NAME; labelloop projects "
            "member SLUG NAME annotator) or import without answers; nothing was imported",
        )

    def write(self, item_ids: Sequence[int], answers: Sequence[list[_Ready]]) -> None:
        """Store new items' answers as their annotators' and resolve their labels, with a few
        statements for all of them (under Dawid–Skene an item at a time: it resolves from the
        answers written before its own, as each item's did when it was answered)."""
        given = [(i, ready) for i, ready in zip(item_ids, answers, strict=True) if ready]
        step = 1 if self.ctx.settings.resolution == "dawid_skene" else max(len(given), 1)
        for start in range(0, len(given), step):
            self._write(given[start : start + step])

    def _write(self, given: Sequence[tuple[int, list[_Ready]]]) -> None:
        ctx = self.ctx
        leases = [
            {
                "project_id": ctx.id,
                "item_id": item_id,
                "user_id": r.user_id,
                "state": "skipped" if r.value is None else "submitted",
                "leased_at": r.created_at,
                "lease_expires_at": r.created_at,
                "strategy": IMPORT_STRATEGY,
                "reason": self._reason(r),
            }
            for item_id, ready in given
            for r in ready
        ]
        lease_ids = store_review.insert_assignments(self.conn, leases)
        store_tasks.insert_annotations(
            self.conn,
            [
                {
                    "project_id": ctx.id,
                    "item_id": item_id,
                    "user_id": r.user_id,
                    "assignment_id": lease_ids[item_id, r.user_id],
                    "value": r.value,
                    "status": "submitted",
                    "schema_version": ctx.schema_version,
                    "active_ms": r.active_ms,
                    "created_at": r.created_at,
                    "updated_at": r.updated_at,
                }
                for item_id, ready in given
                for r in ready
                if r.value is not None
            ],
        )
        last: dict[int, datetime] = {}  # each answered item -> when its last answer came
        for item_id, ready in given:
            for r in ready:
                self.counts["skips" if r.value is None else "answers"] += 1
                if r.value is not None:
                    last[item_id] = r.created_at
        self._to_review(list(last))  # as the policy would send answers given here
        new = {"gold": None, "resolution": None}
        how = review.resolve_many(self.conn, ctx, list(last), known=dict.fromkeys(last, new))
        # settled when its last answer came, as the tool saw it
        settled = {item_id: at for item_id, at in last.items() if how[item_id] is not None}
        store_tasks.set_label_times(self.conn, settled)
        self.n_labeled += len(settled)

    def _to_review(self, item_ids: Sequence[int]) -> None:
        """Send the answers just written to review where the project's policy sends an answer
        given here (every one, a share, an unqualified annotator's), in one statement; read
        back only under those policies (the others decide on flags or on disagreements)."""
        if self.ctx.settings.review_policy not in ("all", "share", "qualification"):
            return
        written = store_review.items_annotations(self.conn, item_ids)
        reviewed = [
            a["id"]
            for answers in written.values()
            for a in answers
            if self._reviewed(a["id"], a["user_id"])
        ]
        store_review.set_status(self.conn, reviewed, "in_review")

    def _reviewed(self, annotation_id: int, user_id: int) -> bool:
        """Whether the project's review policy sends this answer to review, as it would the
        annotator's answer given here (every one, a share, an unqualified annotator's); an
        annotator's qualification is read once per import."""
        policy = self.ctx.settings.review_policy
        if policy == "qualification":
            if user_id not in self.qualified:
                self.qualified[user_id] = review.qualified(self.conn, self.ctx, user_id)
            return not self.qualified[user_id]
        return review.needs_review(
            self.conn, self.ctx, annotation_id, IMPORT_STRATEGY, (), user_id=user_id
        )

    def notes(self, n_items: int) -> list[str]:
        """Sentences for the import's summary: how many answers came in, and what did not."""
        c = self.counts
        out = [
            f"{_n(c['answers'], 'answer')} and {_n(c['skips'], 'skip')} came in as their "
            f"annotators' ({_n(len(self.claimed), 'member')}); {_n(self.n_labeled, 'item')} of "
            f"{n_items:,} took a label from them by the project's rules"
        ]
        if c["twice"]:
            out.append(
                f"{_n(c['twice'], 'answer')} by an annotator who answered the same task again "
                "were left out: each member keeps their newest answer to an item"
            )
        if c["empty"]:
            out.append(
                f"{_n(c['empty'], 'answer')} gave no '{self.ctx.schema.target.name}' and "
                "were left out"
            )
        if c["unmapped_skips"]:
            out.append(
                f"{_n(c['unmapped_skips'], 'skip')} by annotators who are no members of the "
                "project were left out"
            )
        if c["here_already"]:
            out.append(
                f"{_n(c['here_already'], 'task')} with answers {_was(c['here_already'])} here "
                "already: an item's answers come in with the item, so theirs were not imported "
                "again"
            )
        if c["repeated"]:
            one = c["repeated"] == 1
            out.append(
                f"{_n(c['repeated'], 'task')} with answers {'repeats' if one else 'repeat'} an "
                f"earlier task's content in this file, and {'its' if one else 'their'} answers "
                "were left out: an item takes the answers of the first task that brings it "
                "(merge the repeated tasks in Label Studio to keep every answer)"
            )
        return out

    def _value(
        self, record: ItemIn, answer: AnswerIn, payload: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """An answer's value checked against the schema (None: a skip, or no target value)."""
        if not answer.value:
            return None
        try:
            return imported_value(
                self.ctx.schema, dict(answer.value), payload, target=self.ctx.schema.target
            )
        except SchemaError as exc:
            raise ImportFormatError(
                line=record.line,
                field=answer.field,
                reason=f"{_task_name(record)}: {exc.message}",
            ) from None

    def _member(self, record: ItemIn, answer: AnswerIn) -> int | None:
        """The member an answer's annotator is; two annotators matching one member are
        refused, as their answers would be one person's."""
        found = None
        for name in answer.annotator:
            found = self.exact.get(name)
            folded = self.folded.get(name.casefold(), [])
            if found is None and len(folded) == 1:
                found = folded[0]
            if found is not None:
                break
        if found is None:
            return None
        who = answer.annotator[0].casefold()
        other = self.claimed.setdefault(found, who)
        if other != who:
            raise ImportFormatError(
                line=record.line,
                field=answer.field,
                reason=f"{_task_name(record)}: the annotators '{other[:100]}' and "
                f"'{who[:100]}' both match member '{self.names[found]}'; name one member after "
                "each annotator's whole email, so neither's answers pass for the other's",
            )
        return found

    def _reason(self, r: _Ready) -> str:
        said = f"annotation {r.source_id}" if r.source_id else "an annotation"
        verb = "skipped" if r.value is None else "answered"
        reason = f"{verb} in Label Studio ({said}); import {self.batch_id}: '{self.filename}'"
        return reason if len(reason) <= 300 else reason[:299] + "…"


def _task_name(record: ItemIn) -> str:
    """A task as errors name it: its number in the file and its id."""
    shown = f" (id {record.external_id[:50]})" if record.external_id is not None else ""
    return f"task {record.line}{shown}"


def _n(n: int, what: str) -> str:
    return f"{n:,} {what}" + ("" if n == 1 else "s")


def _was(n: int) -> str:
    return "was" if n == 1 else "were"
