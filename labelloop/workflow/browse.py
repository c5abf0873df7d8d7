"""The Items page: every item of a project with its label, who answered it and what waits on
it, filtered and paged, so a reviewer or manager can find "everything bob labeled negative" and
open one to see its whole trace (``review.item_detail``).

To an annotator the same page is My answers: the items they answered, each with their own
answer only, and what is theirs of its trace. Another annotator's answer, an item's label
(resolved or not) and the flags the checks raise stay out: each would tell them what someone
else said, or which items are gold checks (a check never gets a label or a review)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from labelloop.domain import NO_PREDICTION
from labelloop.errors import LabelloopError, NotFound, PermissionDenied
from labelloop.govern.permissions import Permission
from labelloop.schema import ProjectSchema
from labelloop.store import browse as store_browse
from labelloop.store import items as store_items
from labelloop.store import review as store_review
from labelloop.store import review_leases as store_leases
from labelloop.store import tasks as store_tasks
from labelloop.store import users as store_users
from labelloop.store.db import Database
from labelloop.store.users import now
from labelloop.store.words import Term
from labelloop.workflow.imports import SPLITS
from labelloop.workflow.projects import ProjectContext
from labelloop.workflow.review import (
    answer_facts,
    history_words,
    is_expert,
    iso_time,
    item_detail,
    item_facts,
    review_facts,
    trace_times,
)
from labelloop.workflow.seeding import (
    CHECK_STRATEGY,
    CONTROL_REASON,
    CONTROL_STRATEGY,
    MAX_TEXT_CHARS,
    SEARCH_STRATEGY,
    search_terms,
    shown_text,
    shows_terms,
    words_said,
)
from labelloop.workflow.status import strategy_of
from labelloop.workflow.tasks import edit_refusal
from labelloop.workflow.values import find_item, item_name

STATUSES = store_browse.STATUSES
ANSWER_STATES = store_browse.ANSWER_STATES
STATE_WORDS = {
    "all": "all",
    "no_verdict": "no verdict yet",
    "accepted": "accepted",
    "fixed": "corrected by a reviewer",
    "rejected": "sent back for rework",
}
"""How an annotator is told each of :data:`ANSWER_STATES` (the page, the terminal)."""
RESOLUTIONS = (
    "imported",
    "single",
    "reviewed",
    "consensus",
    "tie",
    "dawid_skene",
    "adjudicated",
    "auto",
)
PICKED_BY_PEOPLE = {
    SEARCH_STRATEGY: "a search",
    CHECK_STRATEGY: "an auto-label spot check",
}
"""``picked_by`` values of items people sent to the queue; ``VALUE:USER`` keeps one user's."""
PICKED_BY = {"control": "random control", **PICKED_BY_PEOPLE, store_review.IMPORTED: "an import"}
"""``picked_by`` values besides the strategies of the project's rounds, in words."""
NO_PREDICTION_PICKS = "no_prediction"
"""``picked_by`` of the images a boxes round queued after all it ranked, as its detector
predicted nothing for them: their trace says "none (v3 had no prediction for it)", so they are
no strategy's ranking (``status.picked_by``)."""
MODEL_PICKS = "the model's ranking"
COLD_PICKS = "a cold start's picks, before any model"
"""How a strategy of the project's rounds is said among the ``picked_by`` choices: a model's
ranking, or one only cold-start rounds used, which no model ranked (``status.picked_by``)."""
MAX_LIMIT = 200
MAX_OFFSET = 1_000_000_000
"""Past any project's items, so pages reach every one (a deep page costs the database about
what counting the filter's items does, which every page does anyway); the pool search keeps
its own, lower bound, as it ranks its hits in memory."""


def list_items(
    db: Database,
    ctx: ProjectContext,
    *,
    status: str = "all",
    split: str | None = None,
    label: str | None = None,
    resolution: str | None = None,
    annotator: str | None = None,
    q: str | None = None,
    picked_by: str | None = None,
    newest_first: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """A page of the project's items that pass every filter given, and how many pass in all.

    ``status`` is one of :data:`STATUSES`; ``label`` is the resolved label of the target
    control; ``annotator`` a username (an item they answered; a name nobody answered with finds
    nothing); ``q`` words the item's content holds, read as the pool search reads them (whole
    words in any case, ``refund*`` prefixes, "quoted phrases": :func:`search_terms`);
    ``picked_by`` how the item was first served (:func:`picked_by_choices`). Gold checks are
    listed (``status=gold``) to the expert tier only: to anyone else they are not
    there, as they must look like any other item when served. Reviewers and managers; to an
    annotator this is My answers (:func:`own_answers`). With ``q``, the answer says which
    words were searched as the pool search says it (``q``, ``cut``, ``note``).
    """
    status = status or "all"  # an empty filter, as a form sends it, is no filter
    split, label, resolution = split or None, label or None, resolution or None
    annotator = (annotator or "").strip() or None
    picked_by = (picked_by or "").strip() or None
    _paged(limit, offset)
    said = words_said(q) if q is not None and q.strip() else {}
    terms = search_terms(said["q"], ctx.schema.data_type) if said else ()
    if not ctx.allows(Permission.REVIEW):
        if split is not None or resolution is not None or picked_by is not None:
            raise LabelloopError(
                "your answers are filtered by status, label and words; split, resolution and "
                "picked by are for reviewers"
            )
        if annotator is not None and annotator.lower() != ctx.user.username.lower():
            raise PermissionDenied("you see your own answers only: leave annotator out")
        mine = own_answers(
            db,
            ctx,
            state=status,
            label=label,
            terms=terms,
            newest_first=newest_first,
            limit=limit,
            offset=offset,
        )
        return {**mine, **said}
    ctx.require(Permission.REVIEW)
    expert = is_expert(ctx)
    _one_of("status", status, STATUSES if expert else tuple(s for s in STATUSES if s != "gold"))
    if split is not None:
        _one_of("split", split, SPLITS)
    if resolution is not None:
        _one_of("resolution", resolution, RESOLUTIONS)
    target = ctx.schema.target
    checks: list[Callable[[Mapping[str, Any]], bool]] = []  # what SQL cannot read
    if ctx.schema.data_type == "table" and terms:
        checks.append(lambda r: shows_terms(r["payload"], terms))
    regions = label is not None and target.type not in ("choice", "multi_choice", "rating")
    if regions:  # spans or boxes: an item whose label has a region of that label
        checks.append(lambda r: label in _region_labels((r["value"] or {}).get(target.name)))
    with db.read() as conn:
        annotator_id: int | None = None
        if annotator is not None:
            found = store_users.by_name(conn, annotator)
            if found is None:
                return {**_page([], 0, limit=limit, offset=offset), **said}
            annotator_id = int(found["id"])
        picked = None
        if picked_by is not None:
            picked = _pick(conn, ctx, picked_by)
            if picked is None:
                return {**_page([], 0, limit=limit, offset=offset), **said}
        filters = store_browse.Filters(
            status=status,
            split=split,
            label=None if regions else label,
            listed=target.type == "multi_choice",
            resolution=resolution,
            annotator_id=annotator_id,
            terms=terms,
            with_gold=expert,
            picked=picked,
        )
        rows, total, by_split = store_browse.browse(
            conn,
            project_id=ctx.id,
            data_type=ctx.schema.data_type,
            filters=filters,
            limit=limit,
            offset=offset,
            newest_first=newest_first,
            row_filter=(lambda r: all(check(r) for check in checks)) if checks else None,
        )
        held = store_leases.holders(conn, [int(r["id"]) for r in rows], now())
    listed = [
        {**_row(r, target.name, expert=expert), "reviewing": held.get(int(r["id"]))} for r in rows
    ]
    # the pool's count is the project page's "labeled"; eval items are listed beside them
    return {**_page(listed, total, limit=limit, offset=offset), "by_split": by_split, **said}


def picked_by_choices(db: Database, ctx: ProjectContext) -> list[dict[str, str]]:
    """What ``picked_by`` may ask for in the project, each ``value`` with its ``text``: the
    strategies its rounds recorded (and the one its next round will), random control, a search
    (and each user's who sent items to the queue from one), a spot check, an import."""
    with db.read() as conn:
        found = store_browse.pickers(conn, ctx.id)
    strategies = _strategies(ctx, found)
    choices = [
        {"value": s, "text": f"{s} ({COLD_PICKS if s in found['cold'] else MODEL_PICKS})"}
        for s in strategies
    ]
    if _unranked(ctx):
        choices.append({"value": NO_PREDICTION_PICKS, "text": "none (no prediction for it)"})
    for value, text in PICKED_BY.items():
        choices.append({"value": value, "text": text})
        if value == SEARCH_STRATEGY:
            choices += [
                {"value": f"{value}:{u}", "text": f"{text} by {u}"} for u in found["seeders"]
            ]
    return choices


def _pick(conn: Any, ctx: ProjectContext, picked_by: str) -> store_browse.Pick | None:
    """``picked_by`` as the store reads it; None when it names a user nobody is (nothing was
    picked by them). A value the project never records is refused, naming those it does."""
    value, _, who = picked_by.partition(":")
    found = store_browse.pickers(conn, ctx.id)
    strategies = _strategies(ctx, found)
    known = [*sorted(strategies), *_unranked(ctx), *PICKED_BY]
    if value not in known or (picked_by.count(":") and value not in PICKED_BY_PEOPLE):
        allowed = [*known, *(f"{p}:USER" for p in PICKED_BY_PEOPLE)]
        raise LabelloopError(
            f"picked_by must be one of {', '.join(allowed)}; got {picked_by[:60]!r}"
        )
    if value == "control":
        return store_browse.Pick(strategy=CONTROL_STRATEGY, reason=CONTROL_REASON)
    if value == CONTROL_STRATEGY:  # the random strategy's own picks, not the control's
        return store_browse.Pick(strategy=value, not_reason=CONTROL_REASON)
    if value == NO_PREDICTION_PICKS:
        return store_browse.Pick(strategy=None, reason=NO_PREDICTION)
    if value in strategies:  # the ones its model ranked, as their traces say
        return store_browse.Pick(strategy=value, not_reason=NO_PREDICTION)
    if not who.strip():
        return store_browse.Pick(strategy=value)
    user = store_users.by_name(conn, who.strip())
    return None if user is None else store_browse.Pick(strategy=value, seeded_by=int(user["id"]))


def _strategies(ctx: ProjectContext, found: Mapping[str, list[str]]) -> list[str]:
    """The strategies the project's rounds recorded (``found`` by ``store_browse.pickers``),
    oldest first, then the one its next round will record (``status.strategy_of``: a boxes
    round's box confidence, not the ``strategy`` setting, which it does not use)."""
    return list(dict.fromkeys([*found["strategies"], strategy_of(ctx)]))


def _unranked(ctx: ProjectContext) -> tuple[str, ...]:
    """The ``picked_by`` values of picks no model ranked that the project's rounds make: a
    boxes project's images without a prediction (:data:`NO_PREDICTION_PICKS`)."""
    return (NO_PREDICTION_PICKS,) if ctx.schema.target.type == "boxes" else ()


def _paged(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise LabelloopError(f"limit must be between 1 and {MAX_LIMIT}")
    if not 0 <= offset <= MAX_OFFSET:
        raise LabelloopError(f"offset must be between 0 and {MAX_OFFSET:,}")


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise LabelloopError(f"{name} must be one of {', '.join(allowed)}; got {value[:40]!r}")


def _page(items: list[dict[str, Any]], total: int, *, limit: int, offset: int) -> dict[str, Any]:
    return {"total": total, "limit": limit, "offset": offset, "items": items}


def _region_labels(value: Any) -> set[str]:
    """The labels of a spans or boxes value (a list of regions), as a set."""
    if not isinstance(value, list):
        return set()
    return {str(v.get("label")) for v in value if isinstance(v, Mapping)}


def _shown(r: Mapping[str, Any]) -> dict[str, Any]:
    """An item as a row names and shows it: its numbers, the start of its content and, for an
    image, its size as read at import (a page draws the row's boxes over its thumbnail)."""
    payload = r["payload"]
    text = shown_text(payload)
    image = bool(payload.get("image"))
    return {
        "id": int(r["id"]),
        "external_id": r["external_id"],
        "text": text[:MAX_TEXT_CHARS],
        "truncated": len(text) > MAX_TEXT_CHARS,
        "width": payload.get("width") if image else None,
        "height": payload.get("height") if image else None,
    }


def _row(r: dict[str, Any], target: str, *, expert: bool) -> dict[str, Any]:
    out = {
        **_shown(r),
        "split": r["split"],
        # The target's value as an export's label column has it: a name, a list of names, or
        # spans and boxes.
        "label": (r["value"] or {}).get(target),
        "resolution": r["resolution"],
        "decided_by": r["decided_by"],
        "decided_at": r["decided_at"].isoformat() if r["decided_at"] is not None else None,
        "answers": r["answers"],
        "flags": r["flags"],
    }
    if out["width"] is not None:  # an image: every control's boxes are drawn on its thumbnail
        out["value"] = r["value"]
    if expert:
        out["gold"] = bool(r["gold"])
    return out


def item_trace(
    db: Database, ctx: ProjectContext, *, item_id: int | None = None, external_id: str | None = None
) -> dict[str, Any]:
    """One item's whole trace (``review.item_detail``), named by its number or its import id;
    to an annotator, what is theirs of it (:func:`own_trace`)."""
    if not ctx.allows(Permission.REVIEW):
        return own_trace(db, ctx, item_id=item_id, external_id=external_id)
    ctx.require(Permission.REVIEW)
    with db.read() as conn:
        found = find_item(conn, ctx, item_id=item_id, external_id=external_id)
    return item_detail(db, ctx, int(found["id"]))


# ------------------------------------------------------------------------------ My answers


def own_answers(
    db: Database,
    ctx: ProjectContext,
    *,
    state: str = "all",
    label: str | None = None,
    terms: tuple[Term, ...] = (),
    newest_first: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """A page of the items the caller answered, each with their own newest answer only, and
    how many there are in all (``mine`` marks the page as theirs).

    ``state`` is one of :data:`ANSWER_STATES` (a reviewer's verdict on the answer, or none
    yet); ``label`` a label the answer's target holds; ``terms`` all in the item's content.
    A row's ``refusal`` says why a change to the answer would be refused (None: it may change).
    """
    ctx.require(Permission.ANNOTATE)
    _one_of("status", state, ANSWER_STATES)
    _paged(limit, offset)
    target = ctx.schema.target.name
    table = ctx.schema.data_type == "table" and bool(terms)
    with db.read() as conn:
        found = store_browse.own_answers(
            conn,
            project_id=ctx.id,
            user_id=ctx.user.id,
            data_type=ctx.schema.data_type,
            state=state,
            terms=terms,
            newest_first=newest_first,
        )
        passed = [
            r["annotation_id"]
            for r in found
            if (label is None or label in _labels_of((r["value"] or {}).get(target)))
            and (not table or shows_terms(r["payload"], terms))
        ]
        shown = store_browse.answers_shown(conn, passed[offset : offset + limit])
    rows = [_own_row(r, target) for r in shown]
    return {**_page(rows, len(passed), limit=limit, offset=offset), "mine": True}


def _labels_of(value: Any) -> set[str]:
    """The labels an answer's target value holds: a name, names, or its regions' labels."""
    if value is None:
        return set()
    if isinstance(value, list):
        return _region_labels(value) | {str(v) for v in value if not isinstance(v, Mapping)}
    return {str(value)}


def _state(status: str) -> str:
    """An answer's state as its annotator is told it: a reviewer's verdict, else no verdict
    (waiting for review, at the expert tier or never to be reviewed all read alike: which one
    would tell of other annotators' answers, or of a gold check)."""
    return status if status in store_browse.VERDICTS else "no_verdict"


def _own_row(r: Mapping[str, Any], target: str) -> dict[str, Any]:
    return {
        **_shown(r),
        "annotation_id": int(r["annotation_id"]),
        "label": (r["value"] or {}).get(target),  # the answer's target value, as a label column
        "value": r["value"],
        "state": _state(r["status"]),
        "answered_at": iso_time(r["created_at"]),
        "refusal": edit_refusal(r["fate"]),
    }


def own_trace(
    db: Database, ctx: ProjectContext, *, item_id: int | None = None, external_id: str | None = None
) -> dict[str, Any]:
    """What is the caller's of one item's trace: the item, each of their answers to it (when,
    how long, under which guideline, the suggestion shown, why the item was picked, the
    reviewers' verdicts and notes on it) and their own audited actions on it. Not found when
    they never answered it, as an item nobody has."""
    ctx.require(Permission.ANNOTATE)
    with db.read() as conn:
        if external_id is not None or item_id is None:
            found = find_item(conn, ctx, item_id=item_id, external_id=external_id)
            item_id, name = int(found["id"]), item_name(found)
        else:
            name = f"#{item_id}"
        mine = [
            a
            for a in store_review.item_annotations(conn, item_id)
            if a["project_id"] == ctx.id and a["user_id"] == ctx.user.id
        ]
        if not mine:
            raise NotFound(f"you have no answer to item {name} in project '{ctx.slug}'")
        row = store_items.get_item(conn, project_id=ctx.id, item_id=item_id)
        reviews = store_review.item_reviews(conn, item_id)
        states = store_tasks.verdict_statuses(conn, [a["id"] for a in mine])
        fates = store_tasks.answer_fates(conn, [a["id"] for a in mine])
        history = store_review.item_history(
            conn, project_id=ctx.id, item_id=item_id, actor_id=ctx.user.id
        )
        times = trace_times(conn, ctx, item_id)
    assert row is not None
    return {
        "item": item_facts(row),
        "answers": [
            _own_answer(
                a, reviews, ctx.schema, times=times, status=states[a["id"]], fate=fates[a["id"]]
            )
            for a in mine
        ],
        "history": [
            {
                "at": iso_time(h["at"]),
                "action": h["action"],
                "words": history_words(h["action"]),
                "payload": h["payload"],
            }
            for h in history
        ],
    }


def _own_answer(
    a: Mapping[Any, Any],
    reviews: Sequence[Mapping[Any, Any]],
    schema: ProjectSchema,
    *,
    times: Mapping[str, Any],
    status: str,
    fate: str,
) -> dict[str, Any]:
    """One of the caller's answers with the verdicts on it, in ``status`` as far as they go
    (``store.tasks.verdict_status``), a change to it refused by its ``fate``
    (``store.tasks.answer_fate``). An escalation and the tier a verdict came from are the
    reviewers' business (as in ``review.my_reviews``): either would tell that another
    annotator answered otherwise."""
    return {
        "annotation_id": a["id"],
        "corrected_value": a["corrected_value"] if status == "fixed" else None,
        "state": _state(status),
        "refusal": edit_refusal(fate),
        **answer_facts(a, schema, changed_at=times["changed"].get(a["id"])),
        "reviews": [
            {k: v for k, v in review_facts(r, published=times["published"]).items() if k != "tier"}
            for r in reviews
            if r["annotation_id"] == a["id"] and r["verdict"] != "escalate"
        ],
    }
