"""The dashboard API: throughput, where work waits, the backlog forecast, drift and alerts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from labelloop.govern.permissions import Permission
from labelloop.server.api.deps import CurrentUser, DbDep, FeaturesDep
from labelloop.workflow import coverage as wf_coverage
from labelloop.workflow import insight, projects

router = APIRouter(prefix="/api/projects/{slug}", tags=["insight"])


@router.get("/dashboard")
def dashboard(
    slug: str,
    db: DbDep,
    user: CurrentUser,
    features: FeaturesDep,
    days: Annotated[int, Query(ge=1, le=insight.MAX_DAYS)] = insight.DEFAULT_DAYS,
) -> dict[str, Any]:
    """Every figure of the project's dashboard over the last ``days`` days."""
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    return insight.report(db, ctx, cache=features, days=days)


@router.get("/coverage")
def coverage(slug: str, db: DbDep, user: CurrentUser, features: FeaturesDep) -> dict[str, Any]:
    """How many unlabeled items the model is at least 80/90/95/98/99% sure of, and how often it
    is right at that confidence on the eval items (trains a model now; a few seconds)."""
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    return wf_coverage.coverage(db, ctx, cache=features)
