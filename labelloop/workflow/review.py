"""Review tiers: which annotations get reviewed, the reviewer's verdicts, escalation to the expert
tier, adjudication, and how an item's label is resolved from its annotations.

The hooks ``wants_another``, ``gold_instead``, ``with_rework``, ``after_submit`` and ``resolve``
are called from ``workflow.tasks`` inside the serving path's own transactions.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from labelloop.domain import MAX_COMMENT_CHARS
from labelloop.errors import (
    AnswerChanged,
    Conflict,
    LabelloopError,
    NotFound,
    PermissionDenied,
)
from labelloop.govern.guidelines import version_at
from labelloop.govern.permissions import Permission
from labelloop.schema import ProjectSchema, ProjectSettings
from labelloop.schema.settings import DAWID_SKENE_FROM
from labelloop.schema.values import value_words
from labelloop.store import audit
from labelloop.store import imported_issues as store_imported
from labelloop.store import items as store_items
from labelloop.store import projects as store_projects
from labelloop.store import review as store_review
from labelloop.store import review_leases as store_leases
from labelloop.store import tasks as store_tasks
from labelloop.store.db import Database
from labelloop.store.tables import AUTO
from labelloop.store.users import now
from labelloop.workflow import imported_issues
from labelloop.workflow import review_leases as leases
from labelloop.workflow.imports import _label_text
from labelloop.workflow.projects import ProjectContext
from labelloop.workflow.status import picked_by
from labelloop.workflow.values import checked, checked_on_item

VERDICTS = ("accept", "reject", "fix", "escalate")
STATUS_AFTER = {"accept": "accepted", "reject": "rejected", "fix": "fixed", "escalate": "escalated"}
LIVE = store_review.LIVE_STATES
PENDING = store_review.PENDING_STATES
ANSWERED = store_review.ANSWER_STATES
DS_ITEMS = 5000  # Dawid–Skene learns annotator reliability from this many recent items

# Salts keep the deterministic draws of different decisions independent of each other.
_DOUBLE, _SHARE, _GOLD = 1, 2, 3


def _fraction(*keys: int) -> float:
    """A stable pseudo-random number in [0, 1) for a tuple of ids: sampling that a restart or a
    second server process repeats exactly."""
    digest = hashlib.blake2b(repr(keys).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


# ------------------------------------------------------------------------------ serving hooks


def needed_labels(settings: ProjectSettings, item_id: int) -> int:
    """How many annotators an item needs: ``overlap``, or two for the double-labeled share."""
    share = settings.double_label_share
    second = 2 if share > 0 and _fraction(_DOUBLE, item_id) < share else 1
    return max(settings.overlap, second)


def max_overlap(settings: ProjectSettings) -> int:
    """The most annotators any item of the project may need (what the candidate query admits)."""
    return max(settings.overlap, 2 if settings.double_label_share > 0 else 1)


def wants_another(conn: Any, ctx: ProjectContext, item_id: int, *, at: datetime) -> bool:
    """Whether a candidate item still needs another annotator under ``double_label_share``."""
    settings = ctx.settings
    if settings.double_label_share <= 0:
        return True  # the candidate query already counted against ``overlap``
    return store_review.taken(conn, item_id, at) < needed_labels(settings, item_id)


def gold_instead(conn: Any, ctx: ProjectContext, entry: Any) -> Any:
    """A gold item to serve in place of ``entry`` at the project's ``gold_rate``, or None.

    It carries the gold item's own queue entry when the model ranked it, else ``entry``'s selection
    record, so nothing on the task tells an annotator it is a check.
    """
    rate = ctx.settings.gold_rate
    if rate <= 0:
        return None
    n = store_review.n_assignments(conn, project_id=ctx.id, user_id=ctx.user.id)
    if _fraction(_GOLD, ctx.user.id, n) >= rate:
        return None
    gold = store_review.gold_for(conn, project_id=ctx.id, user_id=ctx.user.id)
    if gold is None:
        return None
    chosen = dict(entry)
    chosen.update(
        item_id=gold["item_id"],
        external_id=gold["external_id"],
        payload=gold["payload"],
        meta=gold["meta"],
        prediction=gold["prediction"],  # the gold item's own pre-annotations, not the entry's
    )
    if gold["rank"] is not None:
        for key in (
            "rank",
            "score",
            "reason",
            "suggestion",
            "suggestion_confidence",
            "suggestion_value",
        ):
            chosen[key] = gold[key]
    else:
        prediction = store_review.prediction_for(conn, gold["item_id"])
        chosen["suggestion"] = prediction["label"] if prediction else None
        chosen["suggestion_confidence"] = prediction["confidence"] if prediction else None
        chosen["suggestion_value"] = None
    return chosen


def with_rework(conn: Any, task: dict[str, Any]) -> dict[str, Any]:
    """Add the reviewer's comment and the rejected value to a task that was sent back."""
    if task["selection"]["strategy"] != store_review.REWORK:
        return task
    found = store_review.rework_lease(conn, task["assignment_id"])
    if found is not None:
        task["rework"] = {
            "annotation_id": found["annotation_id"],
            "previous_value": found["value"],
            "comment": found["comment"],
            "reviewer": found["reviewer"],
        }
    return task


ANSWER_CHECKS = ("too_fast", "model_contradicts", "gold_wrong")
"""The automated checks an answer gets when it is submitted (``after_submit``)."""

FIRST_ANSWER_CHECKS = ("too_fast", "gold_wrong")
"""The checks judged once, on an answer as first submitted, and kept when it changes: how fast
it was made and whether it matched the gold answer measure the annotator's unaided judgement,
which a later change does not undo (gold accuracy scores the first answer too:
``workflow.quality.report``). An edit's time adds to the answer's, so it cannot be too fast."""


def after_submit(
    db: Database,
    conn: Any,
    ctx: ProjectContext,
    *,
    annotation_id: int,
    lease: Mapping[str, Any],
    value: Mapping[str, Any],
    active_ms: int,
) -> list[str]:
    """Run the automated checks on a new annotation, flag it, and queue it for review by policy.

    Returns the kinds of flag raised. A ``lease`` read with ``store.tasks.submit_facts`` carries
    the item's ``payload`` and ``gold_value``, which are then not read again.
    """
    item_id = int(lease["item_id"])
    if "payload" in lease:
        payload = lease["payload"] or {}
    else:
        row = store_items.get_item(conn, project_id=ctx.id, item_id=item_id)
        payload = row["payload"] if row is not None else {}
    if "gold_value" in lease:
        gold_value = lease["gold_value"]
    else:
        found = store_review.gold_of(conn, item_id)
        gold_value = found["value"] if found is not None else None
    text = _reading(ctx.schema.data_type, payload)
    found_flags = _checks(ctx, value, lease, text=text, active_ms=active_ms, gold=gold_value)
    kinds = _raise_flags(db, conn, ctx, item_id, annotation_id, found_flags)
    if gold_value is None and needs_review(conn, ctx, annotation_id, lease["strategy"], kinds):
        store_review.set_status(conn, [annotation_id], "in_review")
    return kinds


def after_edit(db: Database, conn: Any, ctx: ProjectContext, row: Mapping[Any, Any]) -> str:
    """Judge a changed answer (``row``, as re-read after the change) as a submit of its new
    value would be judged, and return its status afterwards.

    The checks of the value run again against the suggestion the answer was given; the flags
    they raised before and that no longer hold are closed (those of ``FIRST_ANSWER_CHECKS``
    stay as the first answer left them). An answer the review policy would have sent to review
    goes there now, and the item's label, which no reviewer saw, is withdrawn until the verdict.
    An answer already waiting for review stays there: the reviewer sees the new value.
    """
    annotation_id, item_id = int(row["id"]), int(row["item_id"])
    judged = [
        f
        for f in _checks(ctx, row["value"], row, text="", active_ms=0, gold=None)
        if f.kind not in FIRST_ANSWER_CHECKS
    ]
    open_kinds = {
        f["kind"]
        for f in store_review.flags_of(conn, item_id)
        if f["annotation_id"] == annotation_id and f["resolved_at"] is None
    }
    rechecked = set(ANSWER_CHECKS) - set(FIRST_ANSWER_CHECKS)
    stale = (open_kinds & rechecked) - {f.kind for f in judged}
    if stale:
        store_review.resolve_flags(
            conn, item_id=item_id, annotation_id=annotation_id, kinds=sorted(stale), by=None
        )
    _raise_flags(
        db, conn, ctx, item_id, annotation_id, [f for f in judged if f.kind not in open_kinds]
    )
    kinds = sorted(((open_kinds - stale) | {f.kind for f in judged}) & set(ANSWER_CHECKS))
    status = str(row["status"])
    if status != "submitted" or store_review.gold_of(conn, item_id) is not None:
        return status
    served = (
        store_tasks.get_assignment(conn, row["assignment_id"]) if row["assignment_id"] else None
    )
    strategy = served["strategy"] if served is not None else None
    if not needs_review(conn, ctx, annotation_id, strategy, kinds):
        return status
    store_review.set_status(conn, [annotation_id], "in_review")
    current = store_review.item_label_of(conn, item_id)
    _withdraw_label(_Rows(conn), item_id, current["resolution"] if current is not None else None)
    return "in_review"


class Found(NamedTuple):
    """A flag an answer earns by the checks, as the flag row's fields: for the model's
    contradiction also the label the model suggests and its probability, kept as data."""

    kind: str
    note: str
    score: float | None
    suggestion: str | None = None
    suggestion_confidence: float | None = None


_ONE = {"table": "a row", "image": "an image", "audio": "a clip"}
"""What an item is, for the too-fast note on one judged by the floor alone."""


def _reading(data_type: str, payload: Mapping[str, Any]) -> str:
    """What an annotator reads of an item, for the too-fast check: a text, or an HTML page's
    visible words (stored as ``text`` whatever the schema's field is called). A row, an image
    or a clip has no reading time to measure: it is judged by the floor alone."""
    return str(payload.get("text") or "") if data_type in ("text", "html") else ""


def _checks(
    ctx: ProjectContext,
    value: Mapping[str, Any],
    shown: Mapping[str, Any],
    *,
    text: str,
    active_ms: int,
    gold: Mapping[str, Any] | None,
) -> list[Found]:
    """The flags an answer ``value`` earns: too fast for ``text`` (when ``active_ms`` is
    known), against the model's confident ``suggestion`` that ``shown`` (the lease or the
    annotation) records, or wrong on a ``gold`` item."""
    from labelloop.workflow import quality  # numpy-backed checks, off the import path

    target = ctx.schema.target
    label = _label_text(value.get(target.name))
    found: list[Found] = []
    if active_ms > 0 and quality.is_too_fast(active_ms, len(text)):
        what = f"{len(text):,} characters" if text else _ONE.get(ctx.schema.data_type, "an item")
        found.append(Found("too_fast", f"{active_ms / 1000:.1f} s for {what}", None))
    suggestion, confidence = shown["suggestion"], shown["suggestion_confidence"]
    if (
        suggestion is not None
        and confidence is not None
        and label != suggestion
        and quality.model_contradicts_one(
            label,
            suggestion,
            float(confidence),
            labels=target.labels,
            threshold=ctx.settings.contradiction_threshold,
        )
    ):
        note = f"model says {suggestion} ({confidence:.2f})"
        p = float(confidence)
        found.append(
            Found("model_contradicts", note, p, suggestion=suggestion, suggestion_confidence=p)
        )
    if gold is not None and _label_text(gold.get(target.name)) != label:
        found.append(Found("gold_wrong", "answer differs from the gold answer", None))
    return found


_NOTHING_SHOWN = {"suggestion": None, "suggestion_confidence": None}


def imported_checks(
    ctx: ProjectContext, value: Mapping[str, Any], *, payload: Mapping[str, Any], active_ms: int
) -> list[Found]:
    """The flags an answer made in another tool earns by the checks an answer given here goes
    through: too fast for its item (when the tool says how long it took: ``active_ms`` above
    0). Not the model's contradiction, as no suggestion of a labelloop model was shown to it,
    nor gold, as the tool's items were no checks here."""
    text = _reading(ctx.schema.data_type, payload)
    return _checks(ctx, value, _NOTHING_SHOWN, text=text, active_ms=active_ms, gold=None)


def _raise_flags(
    db: Database,
    conn: Any,
    ctx: ProjectContext,
    item_id: int,
    annotation_id: int,
    found: Sequence[Found],
) -> list[str]:
    """Flag the caller's annotation with ``found`` (from ``_checks``), audited; the kinds."""
    flags = [
        {
            "project_id": ctx.id,
            "item_id": item_id,
            "annotation_id": annotation_id,
            "user_id": ctx.user.id or None,
            **f._asdict(),
        }
        for f in found
    ]
    store_review.insert_flags(conn, flags)
    kinds = [f.kind for f in found]
    if flags:
        audit.record(
            db,
            conn,
            action="flag.raise",
            actor_id=None,
            project_id=ctx.id,
            subject=f"item:{item_id}",
            payload={"annotation_id": annotation_id, "kinds": kinds},
        )
    return kinds


def needs_review(
    conn: Any,
    ctx: ProjectContext,
    annotation_id: int,
    strategy: str | None,
    kinds: Sequence[str],
    *,
    user_id: int | None = None,
) -> bool:
    """Whether the review policy sends an answer to review, served by ``strategy`` and
    flagged with ``kinds`` by the checks; ``user_id`` is its annotator's (by default the
    caller's: an import brings other people's answers)."""
    settings = ctx.settings
    policy = settings.review_policy
    if strategy == store_review.REWORK or policy == "all":
        # A reworked answer re-enters review under every policy, "none" too: review may have
        # been turned off after its first answer was rejected.
        return True
    if policy == "none":
        return False
    if policy == "share":
        return _fraction(_SHARE, annotation_id) < settings.review_share
    if policy == "low_model_agreement":
        return "model_contradicts" in kinds
    if policy == "flagged":
        return bool(kinds)
    if policy == "qualification":
        return not qualified(conn, ctx, ctx.user.id if user_id is None else user_id)
    return False  # "disagreements" is decided when the item has all its annotations


def first_answers(
    rows: Iterable[Mapping[str, Any]], given: Callable[[Mapping[str, Any]], bool]
) -> dict[tuple[int, int], Mapping[str, Any]]:
    """Each annotator's first answer to each item that is ``given`` (has a value to compare),
    by (user id, item id), from ``rows`` oldest first: the independent judgement agreement
    between annotators measures, before review had a say (a rework of a rejected answer, a
    reviewer's fix or the expert tier's decision does not replace it). A reviewer's fix of an
    imported label is their decision, not an answer of theirs to compare (``independent``
    False: see :func:`~labelloop.store.review.independent`)."""
    out: dict[tuple[int, int], Mapping[str, Any]] = {}
    for r in rows:
        if r["status"] in ANSWERED and r["independent"] and given(r):
            out.setdefault((r["user_id"], r["item_id"]), r)
    return out


def qualified(conn: Any, ctx: ProjectContext, user_id: int) -> bool:
    """Whether an annotator has passed qualification: enough reviewed items, enough accepted."""
    settings = ctx.settings
    counts = store_review.verdict_counts(conn, project_id=ctx.id, user_id=user_id)
    reviewed = counts.get("accept", 0) + counts.get("fix", 0) + counts.get("reject", 0)
    if reviewed < settings.qualification_items:
        return False
    return counts.get("accept", 0) / reviewed >= settings.qualification_accept_rate


# ------------------------------------------------------------------------------ resolution


def _effective(a: Mapping[str, Any]) -> dict[str, Any]:
    """An annotation's value as it counts: the reviewer's correction when it was fixed."""
    if a["status"] == "fixed" and a.get("corrected_value") is not None:
        return dict(a["corrected_value"])
    return dict(a["value"])


def resolve(
    conn: Any, ctx: ProjectContext, item_id: int, *, known: Mapping[str, Any] | None = None
) -> str | None:
    """Resolve an item once it has all its annotations and none waits for review.

    One annotation: ``single`` (``reviewed`` when a reviewer accepted or fixed it); several: the
    majority (``consensus``; ``reviewed`` when a reviewer's fix made them agree; ``tie`` when no
    label has more answers than every other, labeled with the earliest answer's), or
    Dawid–Skene for three or more when the project says so; a disagreement goes to the expert
    tier when ``resolution`` is ``adjudication``. Gold items and adjudicated labels are never
    changed by annotators; a label the model gave (an auto-label run) gives way to the first
    person's answer. A reviewer's fix of an imported label (a second look,
    :mod:`labelloop.workflow.imported_issues`) is no vote but the label's answer: it stays the
    label (``reviewed``) whatever answers come after it, whose own disagreement still goes to
    review or the expert tier as the project says. Returns how it was resolved, or None.
    ``known`` carries the item's ``gold`` value and current label ``resolution`` (None: none)
    when the caller read them in this transaction.
    """
    if known is not None:
        gold, resolution = known["gold"], known["resolution"]
    else:
        gold = store_review.gold_of(conn, item_id)
        current = store_review.item_label_of(conn, item_id)
        resolution = current["resolution"] if current is not None else None
    return _resolve(_Rows(conn), ctx, item_id, gold=gold, resolution=resolution)


RESOLVED_TOGETHER = 2000
"""Items :func:`resolve_many` reads and writes with one statement each."""


def resolve_many(
    conn: Any,
    ctx: ProjectContext,
    item_ids: Sequence[int],
    *,
    known: Mapping[int, Any],
    to_review: Callable[[Mapping[str, Any]], bool] | None = None,
) -> dict[int, str | None]:
    """:func:`resolve` of many items with a few statements in all (an import's new items),
    each resolved exactly as its own call would; how each was resolved, or None.

    ``known`` holds each item's ``gold`` value and label ``resolution``, read in this
    transaction. ``to_review`` picks the submitted answers the review policy sends to review
    before they count (an import's, judged as answers given here): they go there first, read
    with the rest. The answers keep their ``updated_at`` (an import's: the tool's), as the
    status resolving gives them is no change of theirs. Under Dawid–Skene the annotators'
    reliabilities are estimated once per :data:`RESOLVED_TOGETHER` items, from every answer
    written so far, theirs with them: an item resolves as its own call would after the answers
    of the items beside it came (with more evidence than when it was answered alone).
    """
    found: dict[int, str | None] = {}
    for start in range(0, len(item_ids), RESOLVED_TOGETHER):
        part = item_ids[start : start + RESOLVED_TOGETHER]
        rows = _BatchedRows(conn, part)
        if to_review is not None:
            rows.send_to_review(to_review)
        for item_id in part:
            facts = known[item_id]
            found[item_id] = _resolve(
                rows, ctx, item_id, gold=facts["gold"], resolution=facts["resolution"]
            )
        rows.flush()
    return found


class _Rows:
    """What resolving an item reads and writes, each when it is needed (the serving path
    resolves one item: no statement runs that its answers do not call for)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def annotations(self, item_id: int) -> list[dict[str, Any]]:
        return store_review.item_annotations(self.conn, item_id)

    def flags(self, item_id: int) -> list[dict[str, Any]]:
        return store_review.flags_of(self.conn, item_id)

    def unlabel(self, item_id: int) -> None:
        store_tasks.unlabel(self.conn, item_id)

    def flag(self, rows: list[dict[str, Any]]) -> None:
        store_review.insert_flags(self.conn, rows)

    def set_status(self, annotation_ids: list[int], status: str) -> None:
        store_review.set_status(self.conn, annotation_ids, status)

    def dawid_skene(self, ctx: ProjectContext) -> dict[int, str]:
        """The Dawid–Skene labels of the project's recent multi-annotated items, estimated
        from the answers written so far (each item resolved alone: estimated for it)."""
        return _dawid_skene_labels(self.conn, ctx)

    def label(self, item_id: int, *, project_id: int, replace: bool, **values: Any) -> None:
        """Give the item its resolved label (``replace``: it had one) and take it out of the
        queues."""
        store_tasks.upsert_label(
            self.conn, item_id=item_id, project_id=project_id, replace=replace, **values
        )
        store_tasks.leave_queue(self.conn, item_id)


class _BatchedRows(_Rows):
    """The same for many items: their annotations read in one statement (their flags in one
    more when a disagreement asks for them), and what resolving them writes kept until
    :meth:`flush` writes it with a statement per kind. Resolving an item reads and changes
    only its own rows, and reads them before it writes, so nothing depends on the order."""

    def __init__(self, conn: Any, item_ids: Sequence[int]) -> None:
        super().__init__(conn)
        self.item_ids = item_ids
        self._annotations = store_review.items_annotations(conn, item_ids)
        self._flags: dict[int, list[dict[str, Any]]] | None = None
        self._dawid_skene: dict[int, str] | None = None
        self._unlabeled: list[int] = []
        self._flag_rows: list[dict[str, Any]] = []
        self._statuses: dict[str, list[int]] = {}
        self._labels: list[dict[str, Any]] = []

    def annotations(self, item_id: int) -> list[dict[str, Any]]:
        return self._annotations.get(item_id, [])

    def send_to_review(self, picked: Callable[[Mapping[str, Any]], bool]) -> None:
        """Send the submitted answers ``picked`` chooses to review, as read and as written."""
        sent = []
        for answers in self._annotations.values():
            for a in answers:
                if a["status"] == "submitted" and picked(a):
                    a["status"] = "in_review"
                    sent.append(a["id"])
        self.set_status(sent, "in_review")

    def dawid_skene(self, ctx: ProjectContext) -> dict[int, str]:
        """One estimate for every item of the batch, from every answer written so far, the
        batch's own with them (resolving writes no answer, so it would not change)."""
        if self._dawid_skene is None:
            self._dawid_skene = super().dawid_skene(ctx)
        return self._dawid_skene

    def flags(self, item_id: int) -> list[dict[str, Any]]:
        if self._flags is None:
            self._flags = store_review.items_flags(self.conn, self.item_ids)
        return self._flags.get(item_id, [])

    def unlabel(self, item_id: int) -> None:
        self._unlabeled.append(item_id)

    def flag(self, rows: list[dict[str, Any]]) -> None:
        self._flag_rows += rows

    def set_status(self, annotation_ids: list[int], status: str) -> None:
        self._statuses.setdefault(status, []).extend(annotation_ids)

    def label(self, item_id: int, *, project_id: int, replace: bool, **values: Any) -> None:
        if replace:
            self._unlabeled.append(item_id)
        self._labels.append({"item_id": item_id, "project_id": project_id, **values})

    def flush(self) -> None:
        """Write what resolving the items decided: the labels taken away before those given."""
        store_tasks.unlabel_items(self.conn, self._unlabeled)
        store_review.insert_flags(self.conn, self._flag_rows)
        for status, ids in self._statuses.items():  # an import's answers keep their times
            store_review.set_status(self.conn, ids, status, touch=False)
        store_tasks.insert_labels(self.conn, self._labels)
        store_tasks.leave_queues(self.conn, [r["item_id"] for r in self._labels])


def _resolve(
    rows: _Rows, ctx: ProjectContext, item_id: int, *, gold: Any, resolution: str | None
) -> str | None:
    """The rules of :func:`resolve`, reading and writing through ``rows``."""
    settings = ctx.settings
    target = ctx.schema.target.name
    if gold is not None or resolution == "adjudicated":
        return None
    if resolution == AUTO:  # a person's answer came: the model's label gives way at once
        rows.unlabel(item_id)
        resolution = None
    # oldest first by when it was given (answers an import joined later are written later)
    given = sorted(
        (a for a in rows.annotations(item_id) if a["status"] in LIVE), key=lambda a: a["created_at"]
    )
    live = [a for a in given if store_review.given_independently(a)]
    fix = next((a for a in reversed(given) if not store_review.given_independently(a)), None)
    if fix is not None:
        # A reviewer's fix of the imported label is the label's answer, not one more vote:
        # later answers neither outvote it nor take it away (agreement leaves it out alike);
        # their own disagreement still goes where the project sends a disagreement.
        if _complete(settings, item_id, live):
            _send_on(rows, ctx, item_id, live, [_target_label(ctx, a) for a in live])
        return _fix_stands(rows, ctx, item_id, fix, resolution=resolution)
    if not _complete(settings, item_id, live):
        return None
    values = [_effective(a) for a in live]
    labels = [_label_text(v.get(target)) for v in values]
    if _send_on(rows, ctx, item_id, live, labels):
        _withdraw_label(rows, item_id, resolution)
        return None
    decided_by = None
    if len(live) == 1:
        chosen_label = labels[0]
        how = "single"
        decided_by = live[0]["user_id"]  # one answer decided it: its annotator's decision
        if live[0]["status"] in ("accepted", "fixed"):
            how = "reviewed"
            decided_by = _last_reviewer(rows.conn, item_id, live[0]["id"]) or decided_by
    elif settings.resolution == "dawid_skene" and len(live) >= DAWID_SKENE_FROM:
        chosen_label = _dawid_skene_label(rows.dawid_skene(ctx), item_id, labels)
        how = "dawid_skene"
    else:
        ranked = Counter(labels).most_common(2)
        chosen_label = ranked[0][0]  # a tie: the earliest answer's label
        # A tie is no consensus: the label is recorded as the tie it is, to be told apart in
        # the export, the item list and training data audits.
        how = "tie" if len(ranked) > 1 and ranked[0][1] == ranked[1][1] else "consensus"
        fixed = [a for a in live if a["status"] == "fixed"]
        if how == "consensus" and fixed and len(set(labels)) == 1:
            # a reviewer's fix made the answers agree: the label is the reviewer's decision
            how = "reviewed"
            decided_by = _last_reviewer(rows.conn, item_id, fixed[-1]["id"])
    k = labels.index(chosen_label) if chosen_label in labels else 0
    rows.label(
        item_id,
        project_id=ctx.id,
        replace=resolution is not None,
        value=values[k],
        label=labels[k],
        resolution=how,
        annotation_id=live[k]["id"],
        decided_by=decided_by,
    )
    return how


def _complete(settings: ProjectSettings, item_id: int, live: Sequence[Mapping[str, Any]]) -> bool:
    """Whether an item's live answers are all it needs and none waits for review."""
    if not live or any(a["status"] in PENDING for a in live):
        return False
    return len(live) >= needed_labels(settings, item_id)


def _target_label(ctx: ProjectContext, a: Mapping[str, Any]) -> str | None:
    """The label an answer gives the project's target, as it counts (:func:`_effective`)."""
    return _label_text(_effective(a).get(ctx.schema.target.name))


def _send_on(
    rows: _Rows,
    ctx: ProjectContext,
    item_id: int,
    live: Sequence[Mapping[str, Any]],
    labels: Sequence[str | None],
) -> bool:
    """Send the item's ``live`` answers where the project sends a disagreement when their
    ``labels`` differ: flagged the first time, to review under ``disagreements`` or
    ``flagged``, to the expert tier under ``adjudication``. Whether they now wait there."""
    if len(set(labels)) < 2:
        return False
    settings = ctx.settings
    if not _disagreement_known(rows.flags(item_id)):
        _flag_disagreement(rows, ctx, item_id, live, labels)
        if settings.review_policy in ("disagreements", "flagged"):
            fresh = [a["id"] for a in live if a["status"] == "submitted"]
            if fresh:
                rows.set_status(fresh, "in_review")
                return True
    if settings.resolution == "adjudication":
        rows.set_status([a["id"] for a in live], "escalated")
        return True
    return False


def _fix_stands(
    rows: _Rows,
    ctx: ProjectContext,
    item_id: int,
    fix: Mapping[str, Any],
    *,
    resolution: str | None,
) -> str | None:
    """Keep a reviewer's ``fix`` of the item's imported label as its label (``reviewed``,
    decided by them), written again only where it is not (``resolution``: the label's now)."""
    if resolution == "reviewed":
        return None
    value = _effective(fix)
    rows.label(
        item_id,
        project_id=ctx.id,
        replace=resolution is not None,
        value=value,
        label=_label_text(value.get(ctx.schema.target.name)),
        resolution="reviewed",
        annotation_id=fix["id"],
        decided_by=fix["user_id"],
    )
    return "reviewed"


def _withdraw_label(rows: _Rows, item_id: int, resolution: str | None) -> None:
    """Take away the label of an item whose answers now wait for review or the expert tier
    (a change made them disagree, or sent one to review): training, export and progress must
    not use a label its answers no longer give. ``resolution`` is the label's (None: there is
    none); the expert tier's decision stands."""
    if resolution is not None and resolution != "adjudicated":
        rows.unlabel(item_id)


def _disagreement_known(flags: Sequence[Mapping[str, Any]]) -> bool:
    """Whether an item's answers were flagged (``flags``: all of its flags) as disagreeing
    already: the flag is open, or a person closed it (a reviewer ruled on the disagreement, and
    is not asked again). A flag closed by nobody (``agree_again``: a change made the answers
    agree) leaves a later disagreement new."""
    return any(
        f["kind"] == "disagreement" and (f["resolved_at"] is None or f["resolved_by"] is not None)
        for f in flags
    )


def agree_again(conn: Any, ctx: ProjectContext, item_id: int) -> None:
    """After a change, end a disagreement the item's answers no longer have.

    When the live answers now give one label, the open disagreement flags close (by nobody:
    no one ruled on them) and the answers that waited only for the disagreement stop waiting:
    one sent to the expert tier by it returns to what it was (accepted or fixed by its last
    verdict, else submitted); one in review for it (``disagreements`` or ``flagged``) returns to
    submitted unless it was reworked or has other open flags. A reviewer's escalation stands.
    ``resolve`` then labels the item by consensus.
    """
    flags_now = store_review.flags_of(conn, item_id)
    if not any(f["kind"] == "disagreement" and f["resolved_at"] is None for f in flags_now):
        return
    live = [
        a
        for a in store_review.item_annotations(conn, item_id)
        if a["status"] in LIVE and store_review.given_independently(a)
    ]
    if len({_target_label(ctx, a) for a in live}) > 1:
        return
    store_review.resolve_flags(conn, item_id=item_id, kinds=["disagreement"], by=None)
    still_flagged = {
        f["annotation_id"]
        for f in flags_now
        if f["kind"] != "disagreement" and f["resolved_at"] is None
    }
    verdicts: dict[int, str] = {}
    for r in store_review.item_reviews(conn, item_id):  # oldest first: the last one stays
        verdicts[int(r["annotation_id"])] = r["verdict"]
    for a in live:
        last = verdicts.get(int(a["id"]))
        if a["status"] == "escalated" and last != "escalate":
            store_review.set_status(conn, [a["id"]], STATUS_AFTER[last] if last else "submitted")
        elif (
            a["status"] == "in_review"
            and ctx.settings.review_policy in ("disagreements", "flagged")
            and a["served_as"] != store_review.REWORK
            and a["id"] not in still_flagged
        ):
            store_review.set_status(conn, [a["id"]], "submitted")


def _last_reviewer(conn: Any, item_id: int, annotation_id: int) -> int | None:
    mine = [
        r for r in store_review.item_reviews(conn, item_id) if r["annotation_id"] == annotation_id
    ]
    return int(mine[-1]["reviewer_id"]) if mine else None


def _flag_disagreement(
    rows: _Rows,
    ctx: ProjectContext,
    item_id: int,
    live: Sequence[Mapping[str, Any]],
    labels: Sequence[str | None],
) -> None:
    votes = Counter(labels)
    note = ", ".join(f"{label}: {n}" for label, n in votes.most_common())
    share = votes.most_common(1)[0][1] / len(labels)
    rows.flag(
        [
            {
                "project_id": ctx.id,
                "item_id": item_id,
                "annotation_id": a["id"],
                "user_id": a["user_id"],
                "kind": "disagreement",
                "note": note[:500],
                "score": share,
            }
            for a in live
        ],
    )


def _dawid_skene_labels(conn: Any, ctx: ProjectContext) -> dict[int, str]:
    """Labels under Dawid & Skene (1979) of the project's recent multi-annotated items, with
    annotator reliabilities estimated over them."""
    from labelloop.workflow import quality

    target = ctx.schema.target.name
    votes = store_review.live_votes(conn, ctx.id, limit_items=DS_ITEMS)
    rows = [
        (int(v["item_id"]), int(v["user_id"]), _label_text(_effective_vote(v).get(target)))
        for v in votes
    ]
    return quality.dawid_skene_labels(rows, classes=ctx.schema.target.labels)


def _dawid_skene_label(
    found: Mapping[int, str], item_id: int, labels: Sequence[str | None]
) -> str | None:
    """The item's label in the Dawid–Skene estimate ``found``; the majority when the estimate
    has none for it among its answers' labels."""
    chosen = found.get(item_id)
    if chosen is None or chosen not in labels:
        return Counter(labels).most_common(1)[0][0]
    return chosen


def _effective_vote(v: Mapping[str, Any]) -> dict[str, Any]:
    return dict(v["corrected_value"] if v["corrected_value"] is not None else v["value"])


# ------------------------------------------------------------------------------ reviewing


def is_expert(ctx: ProjectContext) -> bool:
    """Managers (and site admins) form the expert tier, with the users ``escalate_to`` names."""
    if ctx.allows(Permission.MANAGE_PROJECT):
        return True
    return ctx.role is not None and ctx.user.username in ctx.settings.escalate_to


def _require_expert(ctx: ProjectContext) -> None:
    if not is_expert(ctx):
        raise PermissionDenied(
            f"only managers and the expert tier of project '{ctx.slug}' may adjudicate"
        )


def _not_own_work(conn: Any, ctx: ProjectContext, item_id: int) -> None:
    if any(a["user_id"] == ctx.user.id for a in store_review.item_annotations(conn, item_id)):
        raise PermissionDenied("you labeled this item yourself; no one reviews their own work")


def _lock(db: Database, conn: Any, item_id: int) -> None:
    if not db.is_sqlite:  # PostgreSQL: wait for the item's other writers
        store_tasks.lock_item(db, conn, item_id)


NOT_RECORDED = "; nothing was recorded"
"""How a refused verdict or decision ends its sentence."""

ANSWER_CHANGED = "The annotator changed this answer since you opened it; it is shown again."
"""Why a verdict on an answer that changed since the reviewer saw it is not recorded."""


def review_annotation(
    db: Database,
    ctx: ProjectContext,
    annotation_id: int,
    *,
    verdict: str,
    value: Mapping[str, Any] | None = None,
    comment: str | None = None,
    seen: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Accept, reject (back to its annotator with the comment), fix, or escalate an annotation.

    ``seen`` is the answer's value as the reviewer was shown it: an answer waiting for review
    stays its annotator's to change, and a verdict is on what the reviewer saw, so when it
    changed since, nothing is recorded and ``AnswerChanged`` (409) says so. Without ``seen``
    the verdict is on the answer as it is now.
    """
    ctx.require(Permission.REVIEW)
    if verdict not in VERDICTS:
        raise LabelloopError(f"verdict '{verdict[:20]}' is not one of {', '.join(VERDICTS)}")
    note = (comment or "").strip()[:MAX_COMMENT_CHARS] or None
    if verdict == "reject" and note is None:
        raise LabelloopError("a rejection needs a comment that tells the annotator what to change")
    corrected = None
    if verdict == "fix":
        if value is None:
            raise LabelloopError("a fix needs the corrected value")
        ctx, corrected = checked(db, ctx, value)
    with db.write(project_id=ctx.id) as conn:
        row = store_tasks.get_annotation(conn, annotation_id)
        if row is not None:
            _lock(db, conn, row["item_id"])
            row = store_tasks.get_annotation(conn, annotation_id)
        if row is None or row["project_id"] != ctx.id:
            raise NotFound(f"no annotation {annotation_id} in project '{ctx.slug}'")
        if row["status"] == "in_review":
            tier = 1
        elif row["status"] == "escalated":
            tier = 2
            _require_expert(ctx)
            if verdict == "escalate":
                raise Conflict(f"annotation {annotation_id} is already at the expert tier")
        else:
            raise Conflict(
                f"annotation {annotation_id} is not waiting for review ({row['status']})"
            )
        item_id = int(row["item_id"])
        _not_own_work(conn, ctx, item_id)
        leases.refuse_if_taken(conn, ctx, item_id, at=now(), tier=tier, then=NOT_RECORDED)
        if seen is not None and dict(seen) != dict(row["value"]):
            raise AnswerChanged(ANSWER_CHANGED)
        if corrected is not None:
            corrected = checked_on_item(conn, ctx, corrected, item_id)
            if corrected == dict(row["value"]):  # its annotator would read "corrected"
                raise LabelloopError(
                    "the fix is the answer as given: change the value, or accept the answer"
                )
        at = now()  # the verdict's time is also the rework lease's: it has not been taken up
        review_id = store_review.insert_review(
            conn,
            annotation_id=annotation_id,
            reviewer_id=ctx.user.id,
            verdict=verdict,
            corrected_value=corrected,
            comment=note,
            tier=tier,
            created_at=at,
        )
        store_review.set_status(conn, [annotation_id], STATUS_AFTER[verdict])
        leases.give_back(conn, ctx, item_id)
        rework = None
        if verdict == "reject":
            rework = _send_back(conn, ctx, row, note or "", at=at)
        if verdict != "escalate":
            store_review.resolve_annotation_flags(conn, row, by=ctx.user.id or None)
        resolution = None if verdict == "escalate" else resolve(conn, ctx, item_id)
        audit.record(
            db,
            conn,
            action=f"review.{verdict}",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"item:{item_id}",
            payload={
                "annotation_id": annotation_id,
                "review_id": review_id,
                "tier": tier,
                "comment": note,
                "corrected_value": corrected,
                "resolution": resolution,
                "rework_assignment_id": rework,
            },
        )
    return {
        "review_id": review_id,
        "annotation_id": annotation_id,
        "item_id": item_id,
        "verdict": verdict,
        "tier": tier,
        "status": STATUS_AFTER[verdict],
        "resolution": resolution,
        "rework_assignment_id": rework,
    }


def _send_back(conn: Any, ctx: ProjectContext, row: Any, comment: str, *, at: datetime) -> int:
    """Lease the item back to its annotator with the reviewer's comment as the reason, leased
    ``at`` the rejection's time (until they take it up: ``store.review.take_up``).

    The rejected annotation's assignment stops counting, and its label (if it had become the
    item's) is withdrawn; when the annotator does not come back before the lease ends, the item
    is open to others again.
    """
    store_review.release_assignment(conn, row["assignment_id"])
    current = store_review.item_label_of(conn, row["item_id"])
    if current is not None and current["annotation_id"] == row["id"]:
        store_review.unlabel(conn, row["item_id"])
    original = (
        store_tasks.get_assignment(conn, row["assignment_id"]) if row["assignment_id"] else None
    )
    return store_review.insert_assignment(
        conn,
        project_id=ctx.id,
        item_id=row["item_id"],
        user_id=row["user_id"],
        state="leased",
        leased_at=at,
        lease_expires_at=at + timedelta(hours=ctx.settings.rework_hours),
        model_version_id=original["model_version_id"] if original else None,
        model_version=original["model_version"] if original else None,
        strategy=store_review.REWORK,
        score=original["score"] if original else None,
        rank=original["rank"] if original else None,
        reason=f"sent back by {ctx.user.username}: {comment}"[:300],
        suggestion=original["suggestion"] if original else None,
        suggestion_confidence=original["suggestion_confidence"] if original else None,
        suggestion_value=original["suggestion_value"] if original else None,
    )


def adjudicate(
    db: Database,
    ctx: ProjectContext,
    item_id: int,
    value: Mapping[str, Any],
    *,
    comment: str | None = None,
) -> dict[str, Any]:
    """The expert tier decides an item's final label, whatever its annotations said."""
    ctx.require(Permission.REVIEW)
    _require_expert(ctx)
    ctx, clean = checked(db, ctx, value)
    note = (comment or "").strip()[:MAX_COMMENT_CHARS] or None
    target = ctx.schema.target.name
    label = _label_text(clean.get(target))
    with db.write(project_id=ctx.id) as conn:
        leases.hold_item(db, conn, ctx, item_id)
        if store_review.gold_of(conn, item_id) is not None:
            raise Conflict(f"item {item_id} is a gold item; change its gold answer instead")
        _not_own_work(conn, ctx, item_id)
        leases.refuse_if_taken(conn, ctx, item_id, at=now(), tier=leases.EXPERT, then=NOT_RECORDED)
        clean = checked_on_item(conn, ctx, clean, item_id)
        before = store_review.item_label_of(conn, item_id)
        annotations = store_review.item_annotations(conn, item_id)
        live = [a for a in annotations if a["status"] in LIVE]
        source = next((a for a in live if _label_text(_effective(a).get(target)) == label), None)
        store_tasks.upsert_label(
            conn,
            item_id=item_id,
            project_id=ctx.id,
            value=clean,
            label=label,
            resolution="adjudicated",
            annotation_id=source["id"] if source else None,
            decided_by=ctx.user.id or None,
        )
        store_review.set_status(
            conn, [a["id"] for a in live if a["status"] in PENDING], "adjudicated"
        )
        store_review.resolve_flags(conn, item_id=item_id, by=ctx.user.id or None)
        store_tasks.leave_queue(conn, item_id)
        leases.give_back(conn, ctx, item_id)
        audit.record(
            db,
            conn,
            action="item.adjudicate",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"item:{item_id}",
            payload={
                "value": clean,
                "comment": note,
                "previous": before["value"] if before else None,
                "previous_resolution": before["resolution"] if before else None,
            },
        )
    return {"item_id": item_id, "value": clean, "label": label, "resolution": "adjudicated"}


# ------------------------------------------------------------------------------ reading


def next_review(
    db: Database,
    ctx: ProjectContext,
    *,
    skip: Sequence[int] = (),
    skip_items: Sequence[int] = (),
) -> dict | None:
    """The next annotation waiting for review that the caller did not make (None: queue empty),
    leased to them with its item (``lease_expires_at``): another reviewer is served another one.

    Once no answer waits, under the review policy ``flagged``, an imported label the model
    contradicts is served the same way: ``annotation`` is None and ``imported_label`` says what
    the label is, why it is doubted and where it came from (see
    :mod:`labelloop.workflow.imported_issues`).

    The item the caller holds comes first, unless ``skip`` (annotations passed over) or
    ``skip_items`` (imported labels passed over, by item) leaves it out; taking another gives
    it back.
    """
    ctx.require(Permission.REVIEW)

    def candidate(conn: Any, at: datetime, passed: Sequence[int]) -> tuple[int | None, int] | None:
        """(annotation id, item id) of the answer to review next; once none waits, under the
        review policy ``flagged``, (None, item id) of an imported label to look at again."""
        found = store_review.review_candidates(
            conn,
            project_id=ctx.id,
            reviewer_id=ctx.user.id,
            status="in_review",
            skip=skip,
            passed=passed,
            at=at,
            limit=1,
        )
        if found:
            return found[0]
        if ctx.settings.review_policy != "flagged":
            return None
        flagged = store_imported.candidates(
            conn,
            project_id=ctx.id,
            reviewer_id=ctx.user.id,
            passed=[*passed, *skip_items],
            at=at,
            limit=1,
        )
        return (None, flagged[0][1]) if flagged else None

    leased = leases.lease_first(db, ctx, tier=leases.REVIEW, candidate=candidate)
    if leased is None:
        return None
    answer_id, item_id, ends = leased
    with db.read() as conn:
        view = _item_view(conn, ctx, item_id, expert=is_expert(ctx))
        if answer_id is None:
            imported = store_imported.of_item(conn, project_id=ctx.id, item_id=item_id)
            view["annotation"] = None
            view["imported_label"] = imported_issues.facts(imported) if imported else None
        else:
            view["annotation"] = next(a for a in view["annotations"] if a["id"] == answer_id)
        view["waiting"] = store_review.status_counts(conn, ctx.id).get(
            "in_review", 0
        ) + imported_issues.waiting(conn, ctx)
    view["lease_expires_at"] = ends.isoformat()
    return view


def next_adjudication(
    db: Database, ctx: ProjectContext, *, skip: Sequence[int] = ()
) -> dict | None:
    """The next item waiting at the expert tier that the caller never labeled, leased to them
    as :func:`next_review` leases an answer (``skip``: items passed over)."""
    ctx.require(Permission.REVIEW)
    _require_expert(ctx)

    def candidate(conn: Any, at: datetime, passed: Sequence[int]) -> tuple[int, int] | None:
        found = store_review.escalated_items(
            conn,
            project_id=ctx.id,
            manager_id=ctx.user.id,
            skip=[*skip, *passed],
            at=at,
            limit=1,
        )
        return (found[0], found[0]) if found else None

    leased = leases.lease_first(db, ctx, tier=leases.EXPERT, candidate=candidate)
    if leased is None:
        return None
    _, item_id, ends = leased
    with db.read() as conn:
        view = _item_view(conn, ctx, item_id, expert=True)
        view["lease_expires_at"] = ends.isoformat()
        view["waiting"] = store_review.n_escalated_items(conn, ctx.id)
        return view


def item_detail(db: Database, ctx: ProjectContext, item_id: int) -> dict[str, Any]:
    """Everything about one item a reviewer weighs: annotations, model, flags, reviews, history."""
    ctx.require(Permission.REVIEW)
    expert = is_expert(ctx)
    with db.read() as conn:
        found = store_items.get_item(conn, project_id=ctx.id, item_id=item_id) is not None
        # A gold check is not there for anyone but the expert tier: it must look like any
        # other item when served, and its trace (answers, no label) would give it away.
        if not found or (not expert and store_review.gold_of(conn, item_id) is not None):
            raise NotFound(f"no item {item_id} in project '{ctx.slug}'")
        return _item_view(conn, ctx, item_id, expert=expert)


def iso_time(value: Any) -> Any:
    """A time as the API gives it (ISO 8601); anything else as it is."""
    return value.isoformat() if isinstance(value, datetime) else value


def item_facts(row: Mapping[Any, Any]) -> dict[str, Any]:
    """An item as a trace shows it: its numbers, content and metadata."""
    return {
        "id": row["id"],
        "external_id": row["external_id"],
        "data": row["payload"],
        "metadata": row["meta"],
    }


def answer_facts(
    a: Mapping[Any, Any], schema: ProjectSchema, *, changed_at: datetime | None = None
) -> dict[str, Any]:
    """What a trace tells of one answer (a row of ``store.review.item_annotations``): its
    value, time, guideline and model version, the suggestion shown and why it was served.
    ``changed_at`` is when its annotator last changed it (``store.audit.change_times``; None:
    never): the value and ``guideline_version`` are then the change's, not ``created_at``'s.
    The selection's ``cold_start`` and ``picked_by`` say which model picked the item, as the
    labeling page said it (``workflow.status.picked_by``)."""
    queued = a["picked_rank"] is not None
    cold = queued and bool(a["cold_start"])
    picks = {
        "cold_start": cold,
        "picked_by": picked_by(
            a["model_version"], queued=queued, cold_start=cold, reason=a["picked_because"]
        ),
    }
    return {
        "value": a["value"],
        "active_ms": a["active_ms"],
        "guideline_version": a["guideline_version"],
        "model_version": a["model_version"],
        "suggestion": suggestion_facts(a, schema),
        "rework": a["served_as"] == store_review.REWORK,
        # Why the item was served to them: the strategy, its sentence and which model picked it.
        "selection": {"strategy": a["served_as"], "reason": a["picked_because"], **picks},
        "created_at": iso_time(a["created_at"]),
        "changed_at": iso_time(changed_at),
    }


def suggestion_facts(a: Mapping[Any, Any], schema: ProjectSchema) -> dict[str, Any] | None:
    """The suggestion an annotation ``a`` was shown, and what its answer made of it (None:
    none was shown). ``label`` and ``confidence`` are the model's label for the target
    (``control``, None without a label) and how sure it was; ``value`` maps controls to the
    values offered (an import's pre-annotations, the model's spans or boxes, scores kept) and
    ``sources`` each of them to ``model`` (the version the answer records) or ``import``;
    ``outcome`` tells per control whether the answer took the suggestion unchanged
    (``accepted``) and, for spans and boxes, how many of the regions offered it kept and how
    many it added; ``sentence`` says it all in words, for the pages and the CLI."""
    from labelloop.quality.suggested import suggestion_outcome  # numpy-backed package

    label, value = a["suggestion"], a["suggestion_value"] or {}
    if label is None and not value:
        return None
    offered = dict(value)
    if label is not None:  # the page shows the model's label, over an imported one
        offered[schema.target.name] = label
    answer = a["value"] or {}
    outcome = {}
    for name, suggested in offered.items():
        control = next((c for c in schema.controls if c.name == name), None)
        if control is not None:  # a control the schema since dropped tells nothing
            outcome[name] = suggestion_outcome(control.type, suggested, answer.get(name))
    facts = {
        "label": label,
        "confidence": a["suggestion_confidence"],
        "control": schema.target.name if label is not None else None,
        "value": value,
        "sources": suggestion_sources(a),
        "outcome": outcome,
    }
    return {**facts, "sentence": _suggestion_sentence(facts, schema, a["model_version"])}


def _suggestion_sentence(
    facts: Mapping[str, Any], schema: ProjectSchema, model_version: int | None
) -> str:
    """The suggestion in words, a phrase per control: "suggested by the import: 2 spans:
    person, city · changed: kept 1 of 2, added 2"."""
    model = f"model v{model_version}" if model_version is not None else "the model"
    types = {c.name: c.type for c in schema.controls}
    shown: list[tuple[str, str, str]] = []  # control, by whom, what
    if facts["label"] is not None:
        sure = facts["confidence"]
        what = str(facts["label"]) + (f" ({sure:.2f})" if sure is not None else "")
        shown.append((facts["control"], model, what))
    for name, offered in facts["value"].items():
        if name != facts["control"]:  # the model's label was shown over an imported one
            by = "the import" if facts["sources"].get(name) == "import" else model
            shown.append((name, by, value_words(types.get(name), offered)))
    phrases = []
    for name, by, what in shown:
        done = facts["outcome"].get(name)
        took = ""
        if done is not None and done["accepted"]:
            took = " · accepted"
        elif done is not None and "suggested" in done:
            took = f" · changed: kept {done['kept']} of {done['suggested']}"
            took += f", added {done['added']}" if done["added"] else ""
        elif done is not None:
            took = " · changed"
        named = f"{name}: " if len(shown) > 1 else ""
        phrases.append(f"{named}suggested by {by}: {what}{took}")
    return "; ".join(phrases)


def suggestion_sources(a: Mapping[Any, Any]) -> dict[str, str]:
    """Control -> where an annotation's (or export row's) suggested value came from, ``model``
    or ``import``. Before sources were recorded an annotation kept only the model's values."""
    recorded = a.get("suggestion_source") or {}
    return {name: recorded.get(name, "model") for name in a.get("suggestion_value") or {}}


def review_facts(
    r: Mapping[Any, Any], *, published: Sequence[tuple[int, datetime]] = ()
) -> dict[str, Any]:
    """What a trace tells of one verdict: who, which, at what tier, the note and any fix, and
    the guideline it was given under. A review records no version: it is the one in force
    when the verdict was given, of the project's ``published`` ones
    (``store.projects.guideline_published``)."""
    return {
        "reviewer": r["reviewer"],
        "verdict": r["verdict"],
        "tier": r["tier"],
        "comment": r["comment"],
        "corrected_value": r["corrected_value"],
        "created_at": iso_time(r["created_at"]),
        "guideline_version": version_at(published, r["created_at"]),
    }


def trace_times(conn: Any, ctx: ProjectContext, item_id: int) -> dict[str, Any]:
    """What a trace of ``item_id`` needs to date its answers and verdicts: ``changed`` maps
    each changed answer to when it last changed, ``published`` the guideline's versions to
    when each was published (:func:`answer_facts`, :func:`review_facts`)."""
    return {
        "changed": audit.change_times(conn, ctx.id, [item_id]),
        "published": store_projects.guideline_published(conn, ctx.id),
    }


def _item_view(conn: Any, ctx: ProjectContext, item_id: int, *, expert: bool) -> dict[str, Any]:
    row = store_items.get_item(conn, project_id=ctx.id, item_id=item_id)
    assert row is not None
    annotations = store_review.item_annotations(conn, item_id)
    label = store_review.item_label_of(conn, item_id)
    gold = store_review.gold_of(conn, item_id) if expert else None
    history = store_review.item_history(conn, project_id=ctx.id, item_id=item_id)
    times = trace_times(conn, ctx, item_id)
    published = times["published"]
    return {
        "item": item_facts(row),
        "annotations": [
            {
                "id": a["id"],
                "user": a["username"],
                "corrected_value": a["corrected_value"],
                "status": a["status"],
                **answer_facts(a, ctx.schema, changed_at=times["changed"].get(a["id"])),
            }
            for a in annotations
        ],
        "prediction": store_review.prediction_for(conn, item_id),
        "label": (
            {
                "value": label["value"],
                "label": label["label"],
                "resolution": label["resolution"],
                "decided_by": label["decided_by_name"],
                "decided_at": iso_time(label["decided_at"]),
                "confidence": label["confidence"],  # an auto label's: the model's probability
                "auto_run": label["auto_run_id"],
                "note": _decision_note(history) if label["resolution"] == "adjudicated" else None,
            }
            if label is not None
            else None
        ),
        "flags": [
            _flag_facts(f)
            for f in store_review.flags_of(conn, item_id)
            if expert or f["kind"] != "gold_wrong"
        ],
        "reviews": [
            {
                "id": r["id"],
                "annotation_id": r["annotation_id"],
                **review_facts(r, published=published),
            }
            for r in store_review.item_reviews(conn, item_id)
        ],
        "history": _history(history, expert=expert),
        "gold": {"value": gold["value"]} if gold is not None else None,
        # Who has the item on their review page right now (``user``, ``until``), or None.
        "review_lease": store_leases.holders(conn, [item_id], now()).get(item_id),
        # The guideline now, for a reviewer to see that an answer was made under an older one.
        "guideline_version": published[-1][0] if published else None,
        # ...and its labels now, for the page to redraw its label keys when one was added.
        "schema_version": ctx.schema_version,
    }


def _decision_note(history: Sequence[Mapping[str, Any]]) -> str | None:
    """The expert tier's note on its newest decision of the item, kept in its audit event."""
    for h in reversed(history):
        if h["action"] == "item.adjudicate":
            return h["payload"].get("comment") or None
    return None


HISTORY_WORDS: dict[str, str] = {
    "annotation.submit": "labeled it",
    "annotation.edit": "changed their label to",
    "assignment.skip": "skipped it",
    "review.accept": "accepted an answer",
    "review.fix": "fixed an answer",
    "review.reject": "sent an answer back",
    "review.escalate": "escalated it to the expert tier",
    "item.adjudicate": "decided",
    "flag.note": "added a note to its flag",
    "gold.set": "made it a gold item:",
    "gold.remove": "stopped using it as gold",
    "quality.scan": "scanned",
    "guideline.example.pin": "pinned it to the guideline as an example:",
    "guideline.example.unpin": "took it out of the guideline's examples",
}
"""What each audited action on an item is called in its history (the review, adjudication and
Items pages and the terminal): "decided", not "item.adjudicate"."""


def history_words(action: str) -> str:
    """An audited action in the history's words; one without words, its name spaced."""
    return HISTORY_WORDS.get(action, action.replace(".", " ").replace("_", " "))


def _history(rows: Sequence[Mapping[str, Any]], *, expert: bool) -> list[dict[str, Any]]:
    """An item's audit events; gold checks stay with the expert tier (they must not leak)."""
    out = []
    for h in rows:
        payload = dict(h["payload"])
        if not expert:
            if h["action"].startswith("gold."):
                continue
            if h["action"] == "flag.raise":
                payload["kinds"] = [k for k in payload.get("kinds", []) if k != "gold_wrong"]
                if not payload["kinds"]:
                    continue
        out.append(
            {
                "at": iso_time(h["at"]),
                "action": h["action"],
                "words": history_words(h["action"]),
                "actor": h["actor"],
                "payload": payload,
            }
        )
    return out


MAX_MY_REVIEWS = 500
"""The most verdicts one page of a caller's own verdicts holds."""
MAX_FLAGS = 5000
"""The most flags one page of a project's flags holds."""


def my_reviews(
    db: Database, ctx: ProjectContext, *, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    """A page of the verdicts on the caller's own work, newest first (never anyone else's); not
    the tier a verdict came from, which would tell that another annotator answered otherwise."""
    ctx.require(Permission.ANNOTATE)
    with db.read() as conn:
        rows = store_review.own_reviews(
            conn,
            project_id=ctx.id,
            user_id=ctx.user.id,
            limit=min(max(limit, 1), MAX_MY_REVIEWS),
            offset=max(offset, 0),
        )
    return [
        {
            "annotation_id": r["annotation_id"],
            "item_id": r["item_id"],
            "external_id": r["external_id"],
            "value": r["value"],
            "verdict": r["verdict"],
            "comment": r["comment"],
            "corrected_value": r["corrected_value"],
            "status": r["status"],
            "created_at": iso_time(r["created_at"]),
        }
        for r in rows
    ]


def summary(db: Database, ctx: ProjectContext) -> dict[str, Any]:
    """How much waits in each tier and how many flags are open."""
    ctx.require(Permission.REVIEW)
    with db.read() as conn:
        counts = store_review.status_counts(conn, ctx.id)
        escalated = store_review.n_escalated_items(conn, ctx.id)
        open_flags = store_review.open_flag_counts(conn, ctx.id)
        held = leases.held_by_others(conn, ctx)
        imported = imported_issues.waiting(conn, ctx)
    if not is_expert(ctx):
        open_flags.pop("gold_wrong", None)
    return {
        "policy": ctx.settings.review_policy,
        "resolution": ctx.settings.resolution,
        "in_review": counts.get("in_review", 0),
        # imported labels the model contradicts, waiting for a second look (policy "flagged")
        "imported_labels": imported,
        "escalated_items": escalated,
        # Of those, what another reviewer has on their page right now: their queues pass it by.
        "leased_to_others": held,
        "annotations": counts,
        "open_flags": open_flags,
        "expert": is_expert(ctx),
    }


def flags(
    db: Database,
    ctx: ProjectContext,
    *,
    kind: str | None = None,
    open_only: bool = True,
    limit: int = 200,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """A page of the project's flags, newest first (gold checks only for the expert tier)."""
    ctx.require(Permission.REVIEW)
    with db.read() as conn:
        rows = store_review.flag_list(
            conn,
            ctx.id,
            kind=kind,
            open_only=open_only,
            hidden=() if is_expert(ctx) else ("gold_wrong",),
            limit=min(max(limit, 1), MAX_FLAGS),
            offset=max(offset, 0),
        )
    return [
        {"item_id": f["item_id"], "external_id": f["external_id"], **_flag_facts(f)} for f in rows
    ]


def _flag_facts(f: Mapping[str, Any]) -> dict[str, Any]:
    """A flag (read with its raiser's ``username``) as the flag list and an item's trace show
    it: what and who raised it, on which answer, whether it is open (and why the model closed
    it, if it did), and the label the model suggests with its ``confidence`` (null on flags
    that hold none)."""
    return {
        "id": f["id"],
        "kind": f["kind"],
        "note": f["note"],
        "score": f["score"],
        "suggestion": f["suggestion"],
        "confidence": f["suggestion_confidence"],
        "user": f["username"],
        "annotation_id": f["annotation_id"],
        "open": f["resolved_at"] is None,
        "resolved_note": f["resolved_note"],
        "created_at": iso_time(f["created_at"]),
    }
