"""The dashboard API: throughput, where work waits, the backlog forecast, drift and alerts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Response

from labelloop.govern.permissions import Permission
from labelloop.server.api.deps import CurrentUser, DbDep, FeaturesDep, ReportUser, make_router
from labelloop.server.api.schemas import AcknowledgeIn, AutoLabelIn, Id, SpotCheckIn
from labelloop.workflow import acknowledgements, insight, projects
from labelloop.workflow import autolabel as wf_autolabel
from labelloop.workflow import coverage as wf_coverage

router = make_router(prefix="/api/projects/{slug}", tags=["insight"])
Kind = Annotated[str, Path(max_length=40)]


@router.get("/dashboard")
def dashboard(
    slug: str,
    db: DbDep,
    user: ReportUser,
    features: FeaturesDep,
    days: Annotated[int, Query(ge=1, le=insight.MAX_DAYS)] = insight.DEFAULT_DAYS,
) -> dict[str, Any]:
    """Every figure of the project's dashboard over the last ``days`` days (reviewers and
    managers)."""
    ctx = projects.access(db, slug, user, Permission.VIEW_INSIGHT)
    return insight.report(db, ctx, cache=features, days=days)


@router.post("/alerts/{kind}/acknowledge")
def acknowledge_alert(
    slug: str,
    kind: Kind,
    db: DbDep,
    user: CurrentUser,
    features: FeaturesDep,
    body: AcknowledgeIn | None = None,
) -> dict[str, Any]:
    """Acknowledge the project's open alert of ``kind`` ("seen, we're on it"), with an optional
    note: it no longer needs attention while it holds (reviewers and managers). A 404 when no
    alert of that kind is open; a 409 naming who acknowledged it already."""
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    note = body.note if body is not None else ""
    return acknowledgements.acknowledge_alert(db, ctx, kind, note=note, cache=features)


@router.delete("/alerts/{kind}/acknowledge")
def unacknowledge_alert(slug: str, kind: Kind, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Take an alert's acknowledgement back: it needs attention again (the one who acknowledged
    it, or a manager)."""
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    return acknowledgements.unacknowledge_alert(db, ctx, kind)


@router.get("/coverage")
def coverage(slug: str, db: DbDep, user: ReportUser, features: FeaturesDep) -> dict[str, Any]:
    """How many unlabeled items the model is at least 80/90/95/98/99% sure of, and how often it
    is right at that confidence on the eval items (trains a model now; a few seconds;
    reviewers and managers)."""
    ctx = projects.access(db, slug, user, Permission.VIEW_INSIGHT)
    return wf_coverage.coverage(db, ctx, cache=features)


@router.get("/autolabel")
def autolabel_runs(slug: str, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """The project's auto-label policy and runs, newest first (reviewers and managers)."""
    ctx = projects.access(db, slug, user, Permission.VIEW_INSIGHT)
    return wf_autolabel.runs(db, ctx)


@router.post("/autolabel", status_code=201)
def autolabel(
    slug: str,
    body: AutoLabelIn,
    db: DbDep,
    user: CurrentUser,
    features: FeaturesDep,
    response: Response,
) -> dict[str, Any]:
    """Give the model's label to the unlabeled items it is that sure of, when the eval items
    show it right often enough that sure (managers; trains a model now, a few seconds). A 422
    says what the eval items show when they do not vouch for it."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    if body.dry_run:
        response.status_code = 200  # nothing was created
    return wf_autolabel.apply(
        db,
        ctx,
        cache=features,
        confidence=body.confidence,
        min_accuracy=body.min_accuracy,
        dry_run=body.dry_run,
    )


@router.delete("/autolabel/{run_id}")
def undo_autolabel(slug: str, run_id: Id, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Undo an auto-label run: its labels still standing are removed (managers)."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    return wf_autolabel.undo(db, ctx, run_id)


@router.post("/autolabel/{run_id}/check", status_code=201)
def spot_check(
    slug: str, run_id: Id, body: SpotCheckIn, db: DbDep, user: CurrentUser
) -> dict[str, Any]:
    """Take ``n`` of a run's labels back, drawn at random, for people to answer blind at the
    front of the queue; the run then counts how many answers agree (reviewers and managers)."""
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    return wf_autolabel.spot_check(db, ctx, run_id, body.n)
