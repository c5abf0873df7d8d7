"""Serving and taking work: lease the next queued item, submit, skip, go back and change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from labelloop.errors import Conflict, NotFound, Unprocessable
from labelloop.govern.permissions import Permission
from labelloop.store import audit
from labelloop.store import batches as store_batches
from labelloop.store import items as store_items
from labelloop.store import learning as store_learning
from labelloop.store import projects as store_projects
from labelloop.store import review as store_review
from labelloop.store import seeds as store_seeds
from labelloop.store import tasks as store_tasks
from labelloop.store.db import Database
from labelloop.store.users import now
from labelloop.workflow import review, seeding
from labelloop.workflow.projects import ProjectContext
from labelloop.workflow.status import learner_state, picked_by, settings_problem
from labelloop.workflow.values import checked, checked_on_item

MAX_ACTIVE_MS = 24 * 3600 * 1000


def _offered_value(row: Mapping[str, Any]) -> dict[str, Any]:
    """Control -> the value offered: the item's imported pre-annotations overlaid with the
    model's structured suggestion (spans, boxes), except where the model found none — an empty
    list offers nothing to take, so the import's regions stay offered there."""
    imported = row.get("prediction") or {}
    value = dict(imported)
    for name, modelled in (row.get("suggestion_value") or {}).items():
        if modelled == [] and imported.get(name):
            continue
        value[name] = modelled
    return value


def suggestion_of(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the page offers as the answer: the model's label for the target (``label``,
    ``confidence``) and ``value``, a control -> suggested value mapping (see
    :func:`_offered_value`). Spans and boxes in ``value`` may carry a ``score``; the page
    pre-fills them as editable. A spot check of an auto-label run offers nothing: the answer
    must be the annotator's own.
    """
    if row.get("strategy") == seeding.CHECK_STRATEGY:
        return None
    value = _offered_value(row)
    if row["suggestion"] is None and not value:
        return None
    return {
        "label": row["suggestion"],
        "confidence": row["suggestion_confidence"],
        "value": value,
    }


def offered_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """What an annotation records of the suggestion its lease ``row`` (with the item's
    ``prediction``) offered, as :func:`suggestion_of` offers it: the model's ``suggestion`` and
    ``suggestion_confidence``, ``suggestion_value`` (control -> the value offered, scores kept)
    and ``suggestion_source`` (control -> ``model`` or ``import``). The server records what it
    served, never what a page says it showed: a value the model repeated from the import (the
    ``imported_scores`` detector) came from the import."""
    offered = suggestion_of(row)
    if offered is None:
        return {
            "suggestion": None,
            "suggestion_confidence": None,
            "suggestion_value": None,
            "suggestion_source": None,
        }
    value = offered["value"]
    imported = row.get("prediction") or {}
    source = {
        name: "import" if name in imported and v == imported[name] else "model"
        for name, v in value.items()
    }
    return {
        "suggestion": offered["label"],
        "suggestion_confidence": offered["confidence"],
        "suggestion_value": value or None,
        "suggestion_source": source or None,
    }


def _task(row: Mapping[str, Any], guideline_version: int, *, schema_version: int) -> dict[str, Any]:
    """A leased item as the labeling page shows it. ``guideline_version`` is the project's
    guideline as the item is served: a page showing an older one fetches the new rules; and
    ``schema_version`` its labels: a page built on an older one redraws them first. The
    selection's ``cold_start`` says whether the round that queued the item trained no model,
    and ``picked_by`` which model picked it, in words (``workflow.status.picked_by``)."""
    suggestion = suggestion_of(row)
    queued = row["rank"] is not None  # a search pick or a random control has no rank
    cold = queued and bool(row.get("cold_start"))
    return {
        "assignment_id": row["id"],
        "item": {
            "id": row["item_id"],
            "external_id": row["external_id"],
            "data": row["payload"],
            "metadata": row["meta"],
        },
        "selection": {
            "strategy": row["strategy"],
            "score": row["score"],
            "rank": row["rank"],
            "model_version": row["model_version"],
            "reason": row["reason"],
            "cold_start": cold,
            "picked_by": picked_by(
                row["model_version"], queued=queued, cold_start=cold, reason=row["reason"]
            ),
        },
        "suggestion": suggestion,
        "lease_expires_at": row["lease_expires_at"].isoformat(),
        "guideline_version": guideline_version,
        "schema_version": schema_version,
    }


def next_task(
    db: Database, ctx: ProjectContext, *, held: Sequence[int] = ()
) -> dict[str, Any] | None:
    """Lease the user's next item: a live lease they hold first (its end moved to a full lease
    from now, see ``store.tasks.serve_again``), else the best queued item.

    ``held`` lists assignments the client already shows or has prefetched, so asking again
    returns the item after them. ``None`` means the queue has nothing for this user right now.
    """
    ctx.require(Permission.ANNOTATE)
    settings = ctx.settings
    at = now()
    with db.write() as conn:  # leases take row locks only, never the audit chain
        # A lease the user holds is served again (a reloaded page shows its item again) with a
        # new end: the old page's give-back, arriving late, names the old one and ends nothing.
        gone: list[int] = []  # changed by another request since read (given back, renewed)
        while (
            lease := store_tasks.held_lease(
                conn, project_id=ctx.id, user_id=ctx.user.id, exclude=[*held, *gone], at=at
            )
        ) is not None:
            until = at + timedelta(minutes=settings.lease_minutes)
            ends = store_tasks.serve_again(conn, lease, until=until)
            if ends is None:
                gone.append(lease["id"])
                continue
            _taken_up(conn, lease, until=until)
            guideline_version = store_projects.newest_guideline_version(conn, ctx.id)
            return review.with_rework(
                conn,
                _task(
                    {**lease, "lease_expires_at": ends},
                    guideline_version,
                    schema_version=ctx.schema_version,
                ),
            )
        passed: list[int] = []
        while True:
            entry = seeding.next_candidate(  # seed picks, random controls, then the queue
                ctx,
                conn,
                project_id=ctx.id,
                user_id=ctx.user.id,
                overlap=review.max_overlap(settings),
                at=at,
                skip_locked=not db.is_sqlite,
                passed=passed,
            )
            if entry is None:
                return None
            # PostgreSQL: an item whose writers are at work (an answer being recorded, an
            # expired lease being taken back) is passed, not waited for: waiting while holding
            # the queue's row locks could deadlock, and reading past them could lease an item
            # the other transaction is about to hold.
            if (
                db.is_sqlite  # SQLite: one writer, nothing moved
                or (
                    store_tasks.try_lock_item(db, conn, entry["item_id"])
                    and store_tasks.still_open(
                        conn,
                        item_id=entry["item_id"],
                        user_id=ctx.user.id,
                        overlap=review.max_overlap(settings),
                        at=at,
                    )
                )
            ) and review.wants_another(conn, ctx, entry["item_id"], at=at):
                break
            passed.append(entry["item_id"])
        gold = review.gold_instead(conn, ctx, entry)  # a gold check, at the gold_rate
        if gold is not None:
            entry = gold
        assignment_id, expires = store_tasks.insert_lease(
            conn,
            project_id=ctx.id,
            user_id=ctx.user.id,
            entry=entry,
            lease=timedelta(minutes=settings.lease_minutes),
            at=at,
        )
        guideline_version = store_projects.newest_guideline_version(conn, ctx.id)
    return _task(
        {**entry, "id": assignment_id, "lease_expires_at": expires},
        guideline_version,
        schema_version=ctx.schema_version,
    )


def idle(db: Database, ctx: ProjectContext) -> dict[str, Any]:
    """Why :func:`next_task` has no item for the caller, for the labeling page to say so.

    ``state`` is ``empty`` (the pool holds no item yet: nothing was imported), ``done`` (every
    pool item is labeled), ``open`` (items the caller may label
    are not in the newest queue: the learner's next round, due now, ranks them; or a round has
    just queued some: ask again), ``unqueued``
    (such items wait for a round that is not due yet: more labels start it), ``leased`` (every
    remaining item is leased to someone else right now) or ``waiting`` (the rest are being
    labeled, wait for another annotator or review, or the caller skipped them). With ``open``
    and ``unqueued``, ``learner`` says whether a learner runs, ``first`` whether the project's
    first items are still to come (no round yet, or none of its picks served yet), and ``blocked``
    why no round of the project can run at all (its settings name a strategy, featurizer, model
    or detector this server cannot use: more labels start none), None when rounds can run.
    ``remaining``
    counts the unlabeled pool items and ``leased_to_others`` those leased to someone else; gold
    items are checks, not work, and count in neither.
    """
    ctx.require(Permission.ANNOTATE)
    at = now()
    overlap = review.max_overlap(ctx.settings)
    with db.read() as conn:
        remaining = store_items.n_to_label(conn, ctx.id)
        empty = remaining <= 0 and store_learning.n_items(conn, ctx.id) == 0
        leased = store_tasks.leased_to_others(conn, project_id=ctx.id, user_id=ctx.user.id, at=at)
        # Looking for an open item reads every pool item when there is none (~90 ms at 100,000):
        # skip it when the counts already settle the answer.
        settled = remaining <= 0 or (overlap == 1 and leased >= remaining)
        bounds = None if settled else store_seeds.id_range(conn, ctx.id)
        open_item = bounds is not None and (
            store_seeds.first_open_item(
                conn,
                project_id=ctx.id,
                user_id=ctx.user.id,
                overlap=overlap,
                at=at,
                low=bounds[0],
                high=bounds[1],
                skip_locked=False,
            )
            is not None
        )
    state = (
        "empty"
        if empty
        else idle_state(remaining=remaining, leased_to_others=leased, open_item=open_item)
    )
    if state == "open":
        from labelloop.workflow import learning  # scikit-learn: not loaded with the serving path

        # Asked in this order so that a round committing meanwhile is never missed: one that
        # commits after the first question has queued items by the last, and one that has not
        # committed by the second is still coming.
        if not (
            learning.queue_serves(db, ctx)
            or learning.round_coming(db, ctx)
            or learning.queue_serves(db, ctx)
        ):
            state = "unqueued"
    found: dict[str, Any] = {"state": state, "remaining": remaining, "leased_to_others": leased}
    if state in ("open", "unqueued"):  # items wait for a queue: is anyone making one?
        with db.read() as conn:
            found["learner"] = learner_state(store_learning.last_beat(conn))["running"]
            # A first round writes its model version before the rest of its queue: until anyone
            # has been served, the page still waits for the first items, not for "more".
            found["first"] = store_learning.latest(
                conn, ctx.id
            ) is None or not store_tasks.any_served(conn, ctx.id)
        found["blocked"] = settings_problem(ctx)
    return found


def idle_state(*, remaining: int, leased_to_others: int, open_item: bool) -> str:
    """``done``, ``open``, ``leased`` or ``waiting``, as :func:`idle` describes them."""
    if remaining <= 0:
        return "done"
    if open_item:
        return "open"
    return "leased" if leased_to_others >= remaining else "waiting"


def _own_live_lease(
    db: Database, conn: Any, ctx: ProjectContext, assignment_id: int, *, facts: bool = False
) -> Mapping[str, Any]:
    """The caller's live lease; with ``facts``, also what a submit reads (``submit_facts``).

    A lease that ran out is the caller's again while the item is still free (:func:`_relet`):
    an answer given on a page left open is recorded, not lost.
    """
    read = store_tasks.submit_facts if facts else store_tasks.get_assignment
    row = read(conn, assignment_id)
    if row is not None and not db.is_sqlite:  # PostgreSQL: wait for the item's other writers
        store_tasks.lock_item(db, conn, row["item_id"])
        row = read(conn, assignment_id)
    if row is None and store_batches.removed_lease_of(
        conn, assignment_id=assignment_id, project_id=ctx.id, user_id=ctx.user.id
    ):
        raise Conflict(
            f"task {assignment_id} is no longer leased to you (its item was removed with its "
            "import); nothing was recorded"
        )
    if (
        row is not None
        and row["withdrawn"]
        and (row["project_id"], row["user_id"])
        == (
            ctx.id,
            ctx.user.id,
        )
    ):
        raise Conflict(
            f"task {assignment_id} is no longer leased to you (its item is being removed with "
            "its import); nothing was recorded"
        )
    if row is None or row["project_id"] != ctx.id:
        raise NotFound(
            f"no task {assignment_id} in project '{ctx.slug}': a task's id is the "
            "assignment_id that tasks/next answered, not the item's id"
        )
    if row["user_id"] != ctx.user.id:
        raise Conflict(f"task {assignment_id} is leased to another annotator")
    if row["state"] == "submitted":
        raise Conflict(f"task {assignment_id} was already submitted; change it with Back")
    if row["state"] != "leased":
        raise Conflict(
            f"task {assignment_id} is no longer leased to you (skipped or given back); "
            "nothing was recorded"
        )
    if row["lease_expires_at"] <= now():
        _relet(conn, ctx, row)
    return row


def _relet(conn: Any, ctx: ProjectContext, row: Mapping[str, Any]) -> None:
    """Take a lease that ran out again, for as long as a new one, if the item would be served
    to its user right now: nobody else took it up to its overlap, it has no resolved label (a
    gold check never has one to take), and they did not answer it under another lease."""
    at = now()
    item_id, user_id = row["item_id"], ctx.user.id
    others, answered = store_tasks.claims(conn, item_id=item_id, user_id=user_id, at=at)
    facts = row if "gold_value" in row else store_tasks.submit_facts(conn, row["id"])
    assert facts is not None  # the row was read in this transaction
    expired = f"your lease on task {row['id']} ran out"
    if answered:
        raise Conflict(f"{expired} and you answered the item since; nothing was recorded")
    if facts["gold_value"] is None:
        if facts["label_resolution"] is not None:
            raise Conflict(f"{expired} and the item was labeled meanwhile; nothing was recorded")
        if others >= review.needed_labels(ctx.settings, item_id):
            raise Conflict(
                f"{expired} and another annotator has the item now; nothing was recorded"
            )
    until = at + timedelta(minutes=ctx.settings.lease_minutes)
    store_tasks.extend_lease(conn, row["id"], until=until)
    store_tasks.release_other_leases(conn, item_id=item_id, user_id=user_id, keep=row["id"])


def _taken_up(conn: Any, lease: Mapping[str, Any], *, until: datetime) -> None:
    """A rework lease served or renewed is being redone until ``until``, a lease's length from
    now, or until its page gives it back: the dashboard counts it so (its own end is hours
    away, and a give-back leaves it the annotator's)."""
    if lease["strategy"] == store_review.REWORK:
        store_review.take_up(conn, lease["id"], until=until)


def renew(db: Database, ctx: ProjectContext, assignment_id: int) -> dict[str, Any]:
    """Keep the caller's lease for another ``lease_minutes`` from now (never shorter: a rework
    lease lasts hours); the labeling page calls this while its annotator works on the item. A
    lease that ran out is taken again while the item is still free, as a submit would."""
    ctx.require(Permission.ANNOTATE)
    with db.write() as conn:  # leases take row locks only, never the audit chain
        lease = _own_live_lease(db, conn, ctx, assignment_id)
        longest = now() + timedelta(minutes=ctx.settings.lease_minutes)
        until = max(lease["lease_expires_at"], longest)  # a lease taken again ends at ``longest``
        store_tasks.extend_lease(conn, assignment_id, until=until)
        _taken_up(conn, lease, until=longest)
    return {"assignment_id": lease["id"], "lease_expires_at": until.isoformat()}


def release(db: Database, ctx: ProjectContext, leases: Mapping[int, datetime]) -> dict[str, Any]:
    """Give back those of ``leases`` (assignment id -> the end its page was last told) that
    are the caller's unanswered leases in the project and still end then (the labeling page's
    item on screen and the one it prefetched, as it is left), so others are served them at
    once rather than when they run out. A lease served again since (the page reloaded, another
    tab) or renewed stays. A lease sent back for rework stays the caller's too, but its item
    is no longer being redone: it waits for them again on the dashboard until they are served
    it or renew it. ``released``: the ids given back; anyone else's, and answered ones, are left
    as they are. A page that comes back takes its item again while nobody else did, as after a
    lease ran out (a renew, or a submit)."""
    ctx.require(Permission.ANNOTATE)
    with db.write() as conn:  # leases take row locks only, never the audit chain
        released = store_tasks.end_leases(
            conn,
            project_id=ctx.id,
            user_id=ctx.user.id,
            leases=leases,
            spare=store_review.REWORK,
            at=now(),
        )
    return {"released": released}


def submit(
    db: Database,
    ctx: ProjectContext,
    assignment_id: int,
    value: Mapping[str, Any],
    *,
    active_ms: int,
    guideline_version: int | None = None,
) -> dict[str, Any]:
    """Record an annotation for a leased item, resolve the item's label when it has enough.

    ``guideline_version`` is the version the annotator was shown (the labeling page sends the
    one its panel showed, which can trail a version published a moment ago); without it the
    newest is recorded. The receipt's ``guideline_version`` is the one recorded, and its
    ``current_guideline_version`` the newest, for the page to catch up with.
    """
    ctx.require(Permission.ANNOTATE)
    ctx, clean = checked(db, ctx, value)
    if not 0 <= active_ms <= MAX_ACTIVE_MS:
        raise Unprocessable(f"active_ms must be between 0 and {MAX_ACTIVE_MS:,} (a day)")
    with db.write(project_id=ctx.id) as conn:
        lease = _own_live_lease(db, conn, ctx, assignment_id, facts=True)
        shown = _shown_version(ctx, guideline_version, newest=lease["guideline_version"])
        audit.known_head(conn, ctx.id, lease["audit_head"])
        clean = checked_on_item(conn, ctx, clean, lease["item_id"], payload=lease["payload"])
        annotation_id = store_tasks.insert_annotation(
            conn,
            project_id=ctx.id,
            item_id=lease["item_id"],
            user_id=ctx.user.id,
            assignment_id=assignment_id,
            value=clean,
            status="submitted",
            schema_version=ctx.schema_version,
            guideline_version=shown,
            model_version=lease["model_version"],
            **offered_record(lease),
            active_ms=active_ms,
        )
        store_tasks.set_state(conn, assignment_id, "submitted")
        review.after_submit(
            db,
            conn,
            ctx,
            annotation_id=annotation_id,
            lease=lease,
            value=clean,
            active_ms=active_ms,
        )
        resolution = review.resolve(
            conn,
            ctx,
            lease["item_id"],
            known={"gold": lease["gold_value"], "resolution": lease["label_resolution"]},
        )
        audit.record(
            db,
            conn,
            action="annotation.submit",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"item:{lease['item_id']}",
            payload={
                "annotation_id": annotation_id,
                "value": clean,
                "active_ms": active_ms,
                "guideline_version": shown,
            },
        )
    return {
        "annotation_id": annotation_id,
        "item_id": lease["item_id"],
        "resolution": resolution,
        "guideline_version": shown,
        "current_guideline_version": lease["guideline_version"],
    }


def _resolve(conn: Any, ctx: ProjectContext, item_id: int) -> str | None:
    """Resolve an item once it has its annotations and none waits for review (see
    ``workflow.review.resolve``: single, reviewed, consensus, Dawid–Skene or adjudication)."""
    return review.resolve(conn, ctx, item_id)


def skip(db: Database, ctx: ProjectContext, assignment_id: int) -> None:
    """Give an item back without labeling it; it will not be served to this user again."""
    ctx.require(Permission.ANNOTATE)
    with db.write(project_id=ctx.id) as conn:
        lease = _own_live_lease(db, conn, ctx, assignment_id)
        store_tasks.set_state(conn, assignment_id, "skipped")
        audit.record(
            db,
            conn,
            action="assignment.skip",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"item:{lease['item_id']}",
            payload={"assignment_id": assignment_id},
        )


EDIT_REFUSALS = {
    "accepted": "A reviewer accepted this answer, so it stays as they saw it.",
    "fixed": "A reviewer corrected this answer, so it stays as they corrected it.",
    "rejected": (
        "A reviewer sent this answer back: the labeling page serves the item again with their "
        "note, and your new answer takes its place."
    ),
    "reworked": "A reviewer sent this answer back, and your new answer took its place.",
    "rework_skipped": (
        "A reviewer sent this answer back, and you skipped redoing it: the item went back to "
        "the queue for other annotators."
    ),
    "rework_ran_out": (
        "A reviewer sent this answer back, and the time to redo it ran out: the item went back "
        "to the queue for other annotators."
    ),
}
"""Why :func:`edit` refuses an answer in each of these fates (``store.tasks.answer_fate``): a
reviewer's verdict was on the value as it was, and changing it would leave an "accepted" label
nobody reviewed; a rejected one is told by what became of its rework."""


def edit_refusal(fate: str) -> str | None:
    """The sentence :func:`edit` refuses an annotation in ``fate`` with
    (``store.tasks.answer_fate``); None: it may change."""
    return EDIT_REFUSALS.get(fate)


def _earlier(row: Mapping[Any, Any]) -> dict[str, Any]:
    """One of the user's annotations as the labeling page shows it to look at and change;
    ``refusal`` says why a change would be refused (None: it would not)."""
    return {
        "annotation_id": row["id"],
        "item": {
            "id": row["item_id"],
            "external_id": row["external_id"],
            "data": row["payload"],
            "metadata": row["meta"],
        },
        "value": row["value"],
        "suggestion": suggestion_of(row),
        "created_at": row["created_at"].isoformat(),
        "refusal": edit_refusal(row["fate"]),
    }


def previous(
    db: Database, ctx: ProjectContext, *, before: int | None = None
) -> dict[str, Any] | None:
    """The user's annotation before ``before`` (or their latest), to look at and change."""
    ctx.require(Permission.ANNOTATE)
    with db.read() as conn:
        rows = store_tasks.last_annotations(
            conn, project_id=ctx.id, user_id=ctx.user.id, before_id=before
        )
    return _earlier(rows[0]) if rows else None


def own_annotation(db: Database, ctx: ProjectContext, annotation_id: int) -> dict[str, Any]:
    """One of the user's own annotations, as :func:`previous` gives it (My answers opens the
    labeling page on it); anyone else's is not found, as an id nobody has."""
    ctx.require(Permission.ANNOTATE)
    with db.read() as conn:
        row = store_tasks.own_annotation(
            conn, project_id=ctx.id, user_id=ctx.user.id, annotation_id=annotation_id
        )
    if row is None:
        raise NotFound(_not_yours(ctx, annotation_id))
    return _earlier(row)


def _not_yours(ctx: ProjectContext, annotation_id: int) -> str:
    return f"no annotation {annotation_id} of yours in project '{ctx.slug}'"


def _shown_version(ctx: ProjectContext, asked: int | None, *, newest: int | None) -> int | None:
    """The guideline version an annotation records: the one its annotator was shown
    (``asked``, one of the project's versions), else the ``newest``."""
    if asked is None:
        return newest
    if not 1 <= asked <= (newest or 0):
        raise Unprocessable(
            f"guideline_version {asked}: project '{ctx.slug}' has "
            + (f"guideline versions 1 to {newest}" if newest else "no guideline version")
        )
    return asked


def edit(
    db: Database,
    ctx: ProjectContext,
    annotation_id: int,
    value: Mapping[str, Any],
    *,
    active_ms: int = 0,
    guideline_version: int | None = None,
) -> dict[str, Any]:
    """Change one's own earlier annotation; the item's resolved label follows. The annotation
    then records the guideline version of the change, as :func:`submit` does. An answer a
    reviewer gave a verdict on stays as it is (:func:`edit_refusal`); an answer to an item the
    expert tier decided may change, but the decision stands.

    The new value is judged as a submit of it would be (``workflow.review.after_edit``): the
    checks run again and the review policy may send it to review. A change that makes the
    item's answers disagree sends them to review or the expert tier and withdraws the label;
    one that makes them agree again ends the disagreement (``workflow.review.agree_again``).
    A value saved as it was is no change: the answer stays as it is (``unchanged``), but for
    ``active_ms``, which counts in its active time as a change's does."""
    ctx.require(Permission.ANNOTATE)
    ctx, clean = checked(db, ctx, value)
    with db.write(project_id=ctx.id) as conn:
        row = store_tasks.get_annotation(conn, annotation_id)
        if row is None or row["project_id"] != ctx.id or row["user_id"] != ctx.user.id:
            raise NotFound(_not_yours(ctx, annotation_id))
        if not db.is_sqlite:  # PostgreSQL: wait for the item's other writers, then re-read
            store_tasks.lock_item(db, conn, row["item_id"])
            row = store_tasks.get_annotation(conn, annotation_id)
            assert row is not None  # it goes only with its item, which the lock now holds
        refusal = edit_refusal(store_tasks.answer_fates(conn, [annotation_id])[annotation_id])
        if refusal is not None:
            raise Conflict(refusal)
        clean = checked_on_item(conn, ctx, clean, row["item_id"])
        newest = store_projects.newest_guideline_version(conn, ctx.id) or None
        shown = _shown_version(ctx, guideline_version, newest=newest)
        if clean == row["value"]:
            # Saved as it was (Enter on an answer gone back to, its label's key that keeps
            # it): no change, so nothing is judged again, re-stamped or audited; the time
            # spent looking at it again is work, and counts in its active time.
            if active_ms > 0:
                store_tasks.add_active_ms(conn, annotation_id, active_ms, most=MAX_ACTIVE_MS)
            label = store_review.item_label_of(conn, row["item_id"])
            return {
                "annotation_id": annotation_id,
                "item_id": row["item_id"],
                "resolution": label["resolution"] if label is not None else None,
                "guideline_version": row["guideline_version"],
                "current_guideline_version": newest,
                "unchanged": True,
            }
        store_tasks.update_annotation(
            conn,
            annotation_id,
            value=clean,
            active_ms=min(MAX_ACTIVE_MS, row["active_ms"] + max(0, active_ms)),
            guideline_version=shown,
        )
        changed = store_tasks.get_annotation(conn, annotation_id)
        assert changed is not None  # updated a moment ago under the item's lock
        review.after_edit(db, conn, ctx, changed)
        review.agree_again(conn, ctx, row["item_id"])
        resolution = _resolve(conn, ctx, row["item_id"])
        audit.record(
            db,
            conn,
            action="annotation.edit",
            actor_id=ctx.actor_id,
            project_id=ctx.id,
            subject=f"item:{row['item_id']}",
            payload={
                "annotation_id": annotation_id,
                "old": row["value"],
                "new": clean,
                "guideline_version": shown,
            },
        )
    return {
        "annotation_id": annotation_id,
        "item_id": row["item_id"],
        "resolution": resolution,
        "guideline_version": shown,
        "current_guideline_version": newest,
        "unchanged": False,
    }
