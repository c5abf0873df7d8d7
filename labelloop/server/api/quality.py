"""The quality API: agreement and the annotator table, gold answers, the label-error scan."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from pydantic import Field

from labelloop.govern.permissions import Permission
from labelloop.server.api.deps import CurrentUser, DbDep, FeaturesDep, ReportUser, make_router
from labelloop.server.api.schemas import Body, Id
from labelloop.workflow import projects, quality

router = make_router(prefix="/api/projects/{slug}", tags=["quality"])


class GoldIn(Body):
    item_id: Id | None = None
    external_id: str | None = Field(default=None, max_length=200)
    value: dict[str, Any] | None = None
    """The known answer; null: the item's label (a spans or boxes answer reviewed before)."""


@router.get("/quality")
def quality_report(
    slug: str,
    db: DbDep,
    user: ReportUser,
    cohort_field: Annotated[str, Query(max_length=100)] = "cohort",
    n_boot: Annotated[int, Query(ge=0, le=2000)] = 200,
) -> dict[str, Any]:
    """Agreement overall, per label, pair, cohort and week; the annotator table; flags
    (reviewers and managers)."""
    ctx = projects.access(db, slug, user, Permission.VIEW_INSIGHT)
    return quality.report(db, ctx, cohort_field=cohort_field, n_boot=n_boot)


@router.post("/quality/scan")
def scan(slug: str, db: DbDep, user: CurrentUser, features: FeaturesDep) -> dict[str, Any]:
    """Flag likely label errors among the resolved labels (cross-validated confident learning)."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    return quality.scan(db, ctx, cache=features)


@router.get("/gold")
def list_gold(slug: str, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """The gold items with their known answers (managers)."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    return {"gold": quality.gold_items(db, ctx)}


@router.put("/gold")
def set_gold(slug: str, body: GoldIn, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Mark an item (by ``item_id`` or ``external_id``) as gold with its known answer."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    return quality.set_gold(db, ctx, body.value, item_id=body.item_id, external_id=body.external_id)


@router.delete("/gold/{item_id}")
def remove_gold(slug: str, item_id: Id, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Make a gold item an ordinary one again (managers; audited)."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    return quality.remove_gold(db, ctx, item_id=item_id)
