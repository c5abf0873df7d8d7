"""Answers an import brings (a Label Studio project labeled with overlap): each annotator's answer
stored as theirs, and the item's label resolved from them by the project's rules.

An answer belongs to the member of the project named like its annotator: their username is the
annotator's email, or the email's name before the @ (case aside when only one member fits).
Each answer hangs on a submitted assignment whose selection says where it came from (strategy
``import``, the tool's id of the answer and the import), so the serving path counts it against
the item's overlap and never serves the item to its annotator again, and the item's trace tells
it apart from answers given here. A skip (a cancelled annotation) is a skipped assignment, as a
skip here is. Answers not named after a member abort the import, naming every such annotator.

A task whose content an item has already (an earlier task of the file, or an item the project
had before) is no new item: its answers join that item's, each member's once. An item of this
import then resolves once over all of them; an item from before takes them as answers given
here later, from the members who have not answered it. Each answer goes through the checks an
answer given here does that its tool's export lets us make (too fast, from ``lead_time``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from labelloop.domain import AnswerIn, ItemIn
from labelloop.errors import ImportFormatError, SchemaError
from labelloop.ingest.predictions import imported_value
from labelloop.store import items as store_items
from labelloop.store import review as store_review
from labelloop.store import tasks as store_tasks
from labelloop.store import users as store_users
from labelloop.store.users import now
from labelloop.workflow import review
from labelloop.workflow.projects import ProjectContext

IMPORT_STRATEGY = store_review.IMPORTED
UNMAPPED_SHOWN = 10
"""Annotators an unmapped-annotator error names; the rest are counted."""
JOINED_TOGETHER = 2000
"""Items that repeated tasks' answers join, read and written with one statement each."""


@dataclass(frozen=True)
class _Ready:
    """An answer checked against the schema and matched to its member."""

    user_id: int
    value: dict[str, Any] | None  # None: a skip
    created_at: datetime
    updated_at: datetime
    active_ms: int
    source_id: str | None
    flags: tuple[review.Found, ...] = ()  # what the checks found

    @property
    def rank(self) -> tuple[bool, datetime, datetime]:
        """What keeps one of a member's answers to an item over another: an answer over a
        skip, then the one changed last (else made last) in the tool."""
        return (self.value is not None, self.updated_at, self.created_at)


def _rank(held: Mapping[str, Any]) -> tuple[bool, datetime, datetime]:
    """:attr:`_Ready.rank` of an answer or skip already written (``store.review.holders``)."""
    return (held["annotation_id"] is not None, held["updated_at"], held["created_at"])


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
        self.n_labeled = 0  # new items that took a label
        self.qualified: dict[int, bool] = {}  # member id -> passed qualification
        self.repeats: dict[str, tuple[int, dict[int, _Ready]]] = {}  # content -> tasks, answers
        self.earlier: set[int] = set()  # items the project had before that answers joined
        self.flagged: dict[int, tuple[str, ...]] = {}  # assignment -> kinds the checks found

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
            active_ms = answer.active_ms or 0
            ready = _Ready(
                user_id=user_id,
                value=value,
                created_at=made,
                updated_at=max(made, answer.updated_at or made),
                active_ms=active_ms,
                source_id=answer.source_id,
                flags=()
                if value is None
                else tuple(
                    review.imported_checks(self.ctx, value, payload=payload, active_ms=active_ms)
                ),
            )
            _keep(mine, ready, self.counts, "twice")
        return sorted(mine.values(), key=lambda r: r.created_at)

    def repeat(self, record: ItemIn, payload: Mapping[str, Any], digest: str) -> None:
        """Keep the answers of a task whose content an item has already (an earlier task of
        the file, or the project's before), checked as any task's, for :meth:`join`; of a
        member's answers to tasks of one content, the newest."""
        n_tasks, mine = self.repeats.get(digest, (0, {}))
        for ready in self.prepare(record, payload):
            _keep(mine, ready, self.counts, "doubles")
        self.repeats[digest] = (n_tasks + 1, mine)

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
        """Store new items' answers as their annotators' and resolve their labels."""
        given = [(i, ready) for i, ready in zip(item_ids, answers, strict=True) if ready]
        self._write(given, known={i: _NEW for i, _ in given})

    def join(self) -> None:
        """Give the answers of repeated tasks (:meth:`repeat`) to their content's item.

        An item of this import takes the answers of members it has none from, and a member's
        newer answer in place of theirs; it then resolves again from scratch, as once over
        all its answers. An item the project had before takes the answers of members who
        have none of it yet (their own stays, never doubled), as answers given here later;
        a gold item takes none, its answers being checks of their annotators."""
        repeats = list(self.repeats.items())
        for start in range(0, len(repeats), JOINED_TOGETHER):
            self._join(dict(repeats[start : start + JOINED_TOGETHER]))

    def _join(self, repeats: Mapping[str, tuple[int, dict[int, _Ready]]]) -> None:
        found = store_items.labels_by_hash(self.conn, self.ctx.id, list(repeats))
        held = store_review.holders(self.conn, [f["item_id"] for f in found.values()], at=now())
        given: list[tuple[int, list[_Ready]]] = []
        known: dict[int, dict[str, Any]] = {}
        since: dict[int, datetime] = {}  # item -> its last answer written before
        replaced: list[int] = []
        for digest, (n_tasks, mine) in repeats.items():
            item = found[digest]
            item_id, ours = int(item["item_id"]), item["import_batch_id"] == self.batch_id
            self.counts["repeated" if ours else "here_already"] += n_tasks
            if item["gold"]:
                self.counts["to_gold"] += len(mine)
                continue
            had = dict(held.get(item_id, {}))  # member -> their answer, skip or lease
            joining = []
            for user_id, ready in mine.items():
                before = had.get(user_id)
                if before is None:
                    joining.append(ready)
                elif not ours:
                    self.counts["answered_before"] += 1
                else:
                    self.counts["doubles"] += 1
                    if ready.rank >= _rank(before):  # a tie: the later in the file, as above
                        replaced.append(int(before["assignment_id"]))
                        self.counts["answers" if before["annotation_id"] else "skips"] -= 1
                        joining.append(ready)
                        del had[user_id]
            if not joining:
                continue
            given.append((item_id, sorted(joining, key=lambda r: r.created_at)))
            kept = [h["created_at"] for h in had.values() if h["annotation_id"] is not None]
            if kept:
                since[item_id] = max(kept)
            if ours:
                self.n_labeled -= item["resolution"] is not None
                known[item_id] = _NEW
            else:
                self.earlier.add(item_id)
                known[item_id] = {"gold": None, "resolution": item["resolution"]}
        self._reopen([i for i, _ in given if i not in self.earlier], replaced)
        self._write(given, known=known, since=since)

    def _reopen(self, item_ids: Sequence[int], replaced: Sequence[int]) -> None:
        """Take back what resolving did to this import's items that more answers now join
        (their label, the disagreement flagged, the review their answers were sent to), and
        the answers newer ones replace: the items resolve again as from the start."""
        store_review.delete_answers(self.conn, replaced)
        for lease_id in replaced:
            self.flagged.pop(lease_id, None)
        store_tasks.unlabel_items(self.conn, item_ids)
        store_review.delete_flags(self.conn, item_ids, kinds=("disagreement",))
        store_review.resubmit(self.conn, item_ids)

    def _write(
        self,
        given: Sequence[tuple[int, list[_Ready]]],
        *,
        known: Mapping[int, Mapping[str, Any]],
        since: Mapping[int, datetime] | None = None,
    ) -> None:
        """Write answers to their items and resolve the items, with a few statements for all
        of them (under Dawid–Skene from one estimate of the annotators' reliabilities that
        the answers of every item written so far, these with them, give)."""
        if not given:
            return
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
        self._flag(given, lease_ids)
        last = dict(since or {})  # each answered item -> when its last answer came
        fresh: set[int] = set()  # the leases just written
        for item_id, ready in given:
            for r in ready:
                self.counts["skips" if r.value is None else "answers"] += 1
                fresh.add(lease_ids[item_id, r.user_id])
                if r.value is not None:
                    last[item_id] = max(r.created_at, last.get(item_id, r.created_at))
        answered = [i for i, _ in given if i in last]
        how = review.resolve_many(
            self.conn,
            ctx,
            answered,
            known={i: known[i] for i in answered},
            to_review=self._review_pick(fresh),  # as the policy would send answers given here
        )
        # settled when its last answer came, as the tool saw it
        settled = {item_id: last[item_id] for item_id in answered if how[item_id] is not None}
        store_tasks.set_label_times(self.conn, settled)
        self.counts["joined_before"] += sum(len(r) for i, r in given if i in self.earlier)
        n_earlier = len(self.earlier.intersection(settled))
        self.counts["earlier_labeled"] += n_earlier
        self.n_labeled += len(settled) - n_earlier

    def _flag(
        self, given: Sequence[tuple[int, list[_Ready]]], lease_ids: Mapping[tuple[int, int], int]
    ) -> None:
        """Flag the answers just written that the checks found (too fast), as an answer given
        here is flagged: by its annotator, for a reviewer to look at."""
        found = {
            lease_ids[item_id, r.user_id]: (item_id, r)
            for item_id, ready in given
            for r in ready
            if r.flags
        }
        if not found:
            return
        ids = store_tasks.annotation_ids(self.conn, list(found))
        store_review.insert_flags(
            self.conn,
            [
                {
                    "project_id": self.ctx.id,
                    "item_id": item_id,
                    "annotation_id": ids[lease_id],
                    "user_id": r.user_id,
                    **f._asdict(),
                }
                for lease_id, (item_id, r) in found.items()
                for f in r.flags
            ],
        )
        self.flagged.update({i: tuple(f.kind for f in r.flags) for i, (_, r) in found.items()})

    def _review_pick(self, fresh: set[int]) -> Callable[[Mapping[str, Any]], bool] | None:
        """Which answers resolving sends to review first, where the project's policy sends an
        answer given here (every one, a share, an unqualified annotator's, a flagged one):
        those just written, and all answers of an item resolving again from the start (whose
        statuses :meth:`_reopen` took back). None: the policy sends none of them."""
        policy = self.ctx.settings.review_policy
        if policy not in ("all", "share", "qualification", "flagged"):
            return None  # the others decide on the model's contradiction or on disagreements

        def picked(a: Mapping[str, Any]) -> bool:
            lease_id = a["assignment_id"]
            if lease_id not in fresh and a["item_id"] in self.earlier:
                return False  # judged when it was given
            return self._reviewed(a["id"], a["user_id"], self.flagged.get(lease_id, ()))

        return picked

    def _reviewed(self, annotation_id: int, user_id: int, kinds: Sequence[str]) -> bool:
        """Whether the project's review policy sends this answer to review, as it would the
        annotator's answer given here (every one, a share, an unqualified annotator's, a
        flagged one); an annotator's qualification is read once per import."""
        policy = self.ctx.settings.review_policy
        if policy == "qualification":
            if user_id not in self.qualified:
                self.qualified[user_id] = review.qualified(self.conn, self.ctx, user_id)
            return not self.qualified[user_id]
        return review.needs_review(
            self.conn, self.ctx, annotation_id, IMPORT_STRATEGY, kinds, user_id=user_id
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
        if c["repeated"]:
            one = c["repeated"] == 1
            out.append(
                f"{_n(c['repeated'], 'task')} with answers {'repeats' if one else 'repeat'} an "
                f"earlier task's content in this file: {'its' if one else 'their'} answers "
                "joined the answers of the item the first one brought, which resolved from all "
                "of them"
            )
        if c["doubles"]:
            out.append(
                f"{_n(c['doubles'], 'answer')} by annotators who answered two tasks with the "
                f"same content {_was(c['doubles'])} left out: each member keeps their newest "
                "answer to an item (changed last in Label Studio, an answer over a skip)"
            )
        if c["here_already"]:
            out.append(self._earlier_note())
        if c["to_gold"]:
            out.append(
                f"{_n(c['to_gold'], 'answer')} to gold items {_was(c['to_gold'])} left out: "
                "a gold item's answers are checks of the annotators who give them here"
            )
        fast = sum("too_fast" in kinds for kinds in self.flagged.values())
        if fast:
            out.append(
                f"{_n(fast, 'answer')} {_was(fast)} flagged too_fast, as an answer given here "
                "would be: Label Studio's lead_time is under the reading time of its item"
            )
        return out

    def _earlier_note(self) -> str:
        """The summary's sentence on tasks whose content the project had before."""
        c = self.counts
        n, joined, left = c["here_already"], c["joined_before"], c["answered_before"]
        said = f"{_n(n, 'task')} with answers {_was(n)} here already"
        if not joined and not left:
            return said  # for gold items: their sentence follows
        if not joined:
            return (
                f"{said}, and their answers are by members who have answered those items: a "
                "member answers an item once, so none was imported again"
            )
        said += (
            f": {_n(joined, 'answer')} (skips counted) by members who had not answered those "
            "items joined them, as answers given here later would "
            f"({_n(c['earlier_labeled'], 'item')} took a label from them)"
        )
        if left:
            said += f"; {_n(left, 'answer')} by members who had {_was(left)} left out"
        return said

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


_NEW = {"gold": None, "resolution": None}
"""What resolving knows of an item this import brings: no gold answer, no label yet."""


def _keep(mine: dict[int, _Ready], ready: _Ready, counts: Counter[str], why: str) -> None:
    """Keep ``ready`` as its member's answer in ``mine`` unless they have a newer one (see
    :attr:`_Ready.rank`); the one left out is counted under ``why``."""
    before = mine.get(ready.user_id)
    if before is not None:
        counts[why] += 1
        if before.rank > ready.rank:
            return  # the later one in the file stays on a tie
    mine[ready.user_id] = ready


def _task_name(record: ItemIn) -> str:
    """A task as errors name it: its number in the file and its id."""
    shown = f" (id {record.external_id[:50]})" if record.external_id is not None else ""
    return f"task {record.line}{shown}"


def _n(n: int, what: str) -> str:
    return f"{n:,} {what}" + ("" if n == 1 else "s")


def _was(n: int) -> str:
    return "was" if n == 1 else "were"
