"""The review API: the review queue and verdicts, the expert tier's adjudication, an item's
whole story, flags, and an annotator's own feedback."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import Field

from labelloop.domain import MAX_COMMENT_CHARS
from labelloop.govern.permissions import Permission
from labelloop.server.api.deps import CurrentUser, DbDep, make_router
from labelloop.server.api.schemas import Body, Id, LeaseEnd
from labelloop.workflow import browse, imported_issues, projects, review, review_leases

router = make_router(prefix="/api/projects/{slug}", tags=["review"])

SkipQuery = Annotated[list[Id], Query(max_length=200)]


class VerdictIn(Body):
    verdict: str = Field(max_length=10)
    value: dict[str, Any] | None = None
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)
    seen: dict[str, Any] | None = None  # the answer's value as shown to the reviewer


class ReleaseLeaseIn(Body):
    """The review lease as the page giving it back knows it: the end it was last told."""

    lease_expires_at: LeaseEnd | None = None


class AdjudicateIn(Body):
    value: dict[str, Any]
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)


@router.get("/reviews/summary")
def summary(slug: str, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """What waits in each tier, the policy, the open flags by kind, and the project's schema
    version (the review pages read it to draw a label added while an answer is shown)."""
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    return {**review.summary(db, ctx), "schema_version": ctx.schema_version}


@router.get("/reviews/next")
def next_review(
    slug: str,
    db: DbDep,
    user: CurrentUser,
    skip: SkipQuery = [],  # noqa: B006 (FastAPI copies)
    skip_item: SkipQuery = [],  # noqa: B006 (FastAPI copies)
) -> dict[str, Any]:
    """The next annotation to review (not the caller's own), leased to the caller with its item
    until ``lease_expires_at`` so that other reviewers are served other answers; ``review`` is
    null when none waits that no one else holds. ``skip``: annotations passed over. Under the
    review policy ``flagged``, once no answer waits, an imported label the model contradicts
    comes instead: ``annotation`` null, ``imported_label`` the label, the model's doubt and its
    file (``skip_item``: such items passed over); ``POST items/{id}/second-look`` decides it."""
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    return {"review": review.next_review(db, ctx, skip=skip, skip_items=skip_item)}


@router.post("/reviews/leases/{item_id}/renew")
def renew_lease(slug: str, item_id: Id, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Keep the caller's review lease on the item ``reviews/next`` or ``adjudications/next``
    served for another ``lease_minutes`` (the review page's heartbeat); a 409 when another
    reviewer has the item now or the caller gave it back."""
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    return review_leases.renew(db, ctx, item_id)


@router.post("/reviews/leases/{item_id}/release")
def release_lease(
    slug: str, item_id: Id, db: DbDep, user: CurrentUser, body: ReleaseLeaseIn | None = None
) -> dict[str, Any]:
    """Give back the caller's review lease on an item (the review page, as it is left): the
    next reviewer's queue serves it. With ``lease_expires_at`` (the end the page was told), a
    lease served again since (the page reloaded) stays. ``released`` says whether the caller
    held one so."""
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    ends = body.lease_expires_at if body is not None else None
    return review_leases.release(db, ctx, item_id, ends=ends)


@router.post("/reviews/{annotation_id}")
def give_verdict(
    slug: str, annotation_id: Id, body: VerdictIn, db: DbDep, user: CurrentUser
) -> dict[str, Any]:
    """Accept, reject (with a comment: back to its annotator), fix (with the value) or escalate.

    ``seen``, the answer's value as the reviewer was shown it, makes the verdict apply to that
    value only: when its annotator changed it since, nothing is recorded and the answer is a
    409 (``AnswerChanged``) for the page to show the answer again."""
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    return review.review_annotation(
        db,
        ctx,
        annotation_id,
        verdict=body.verdict,
        value=body.value,
        comment=body.comment,
        seen=body.seen,
    )


@router.get("/second-look")
def second_looks(slug: str, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """The imported labels flagged as likely errors that wait for a second look, oldest flag
    first (the order ``reviews/next`` serves them in), as ``labelloop second-look SLUG --json``
    lists them: each item, its label, the model's ``suggestion`` and ``confidence``, its file;
    ``in_review_queue`` whether the review queue serves them."""
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    return imported_issues.flagged(db, ctx)


class SecondLookIn(Body):
    verdict: Literal["keep", "fix"]
    value: dict[str, Any] | None = None
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)


@router.post("/items/{item_id}/second-look")
def second_look(
    slug: str, item_id: Id, body: SecondLookIn, db: DbDep, user: CurrentUser
) -> dict[str, Any]:
    """Keep or fix (with the value) an imported label flagged as a likely error: the flag
    closes, a fix is the reviewer's answer and the label theirs (``reviewed``); audited. A 409
    when the flag was closed meanwhile."""
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    return imported_issues.second_look(
        db, ctx, item_id, verdict=body.verdict, value=body.value, comment=body.comment
    )


@router.get("/reviews/mine")
def my_reviews(
    slug: str,
    db: DbDep,
    user: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=review.MAX_MY_REVIEWS)] = 50,
    offset: Annotated[int, Query(ge=0, le=browse.MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """A page of the verdicts on the caller's own annotations, newest first."""
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    return {"reviews": review.my_reviews(db, ctx, limit=limit, offset=offset)}


@router.get("/adjudications/next")
def next_adjudication(
    slug: str,
    db: DbDep,
    user: CurrentUser,
    skip: SkipQuery = [],  # noqa: B006 (FastAPI copies)
) -> dict[str, Any]:
    """The next item waiting at the expert tier, leased to the caller as ``reviews/next``
    leases an answer; ``item`` is null when none waits that no one else holds."""
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    return {"item": review.next_adjudication(db, ctx, skip=skip)}


@router.post("/items/{item_id}/adjudicate")
def adjudicate(
    slug: str, item_id: Id, body: AdjudicateIn, db: DbDep, user: CurrentUser
) -> dict[str, Any]:
    """The expert tier sets an item's final label."""
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    return review.adjudicate(db, ctx, item_id, body.value, comment=body.comment)


@router.get("/items")
def list_items(
    slug: str,
    db: DbDep,
    user: CurrentUser,
    status: Annotated[str, Query(max_length=20)] = "all",
    split: Annotated[str | None, Query(max_length=10)] = None,
    label: Annotated[str | None, Query(max_length=200)] = None,
    resolution: Annotated[str | None, Query(max_length=20)] = None,
    annotator: Annotated[str | None, Query(max_length=100)] = None,
    q: str | None = None,
    picked_by: Annotated[str | None, Query(max_length=150)] = None,
    order: Literal["id", "newest"] = "id",
    limit: Annotated[int, Query(ge=1, le=browse.MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=browse.MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """Every item of the project with its label, answers and open flags, filtered (status,
    split, label, resolution, annotator, words: ``q`` in the query language of ``/search``,
    a longer one searched by its beginning and said so as ``/search`` says it: ``cut``,
    ``note``) and paged; ``picked_by`` how the item was first served, as its trace says (a
    strategy such as ``margin``, ``control``, ``search`` or ``search:USER``, ``spot_check``,
    ``import``; in a boxes project ``no_prediction``, the images no model ranked);
    ``order=newest`` puts the latest decided label first. Reviewers and managers;
    gold checks only to the expert tier.

    To an annotator, My answers (``mine``: true): the items they answered, each with their own
    newest answer only (value, ``state``: ``no_verdict``, ``accepted``, ``fixed`` or
    ``rejected``; when; ``refusal``: why a change would be refused, or null), filtered by that
    state (``status``), the answer's label and words; ``order=newest`` puts their latest answer
    first. ``annotator`` naming someone else is a 403."""
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    return browse.list_items(
        db,
        ctx,
        status=status,
        split=split,
        label=label,
        resolution=resolution,
        annotator=annotator,
        q=q,
        picked_by=picked_by,
        newest_first=order == "newest",
        limit=limit,
        offset=offset,
    )


@router.get("/items/{item_id}/mine")
def own_trace(slug: str, item_id: Id, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """The caller's own answers to an item and what is theirs of its trace: when, guideline and
    model version, the suggestion shown, why it was picked, the verdicts and notes on it, their
    own actions. A 404 when they never answered it."""
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    return browse.own_trace(db, ctx, item_id=item_id)


@router.get("/items/{item_id}/review")
def item_detail(slug: str, item_id: Id, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Every annotation of an item, the model's prediction, flags, verdicts and audit history."""
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    return review.item_detail(db, ctx, item_id)


@router.get("/flags")
def list_flags(
    slug: str,
    db: DbDep,
    user: CurrentUser,
    kind: Annotated[str | None, Query(max_length=30)] = None,
    open: bool = True,
    limit: Annotated[int, Query(ge=1, le=review.MAX_FLAGS)] = 200,
    offset: Annotated[int, Query(ge=0, le=browse.MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    """A page of the flags on the project's items (raised by the automated checks and by
    annotators), newest first; one the model raised carries the label it suggests,
    ``suggestion``, and its probability, ``confidence`` (null on the others)."""
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    flags = review.flags(db, ctx, kind=kind, open_only=open, limit=limit, offset=offset)
    return {"flags": flags}
