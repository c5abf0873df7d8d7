"""Simulations of a project's labels: ask for one, follow it, read its figures and chart."""

from __future__ import annotations

from typing import Any

from fastapi.responses import HTMLResponse

from labelloop.govern.permissions import Permission
from labelloop.server.api.deps import CurrentUser, DbDep, make_router
from labelloop.server.api.schemas import Id, SimulationIn
from labelloop.workflow import projects, simulations

router = make_router(prefix="/api/projects/{slug}/simulations", tags=["simulations"])

CHART_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
"""The chart is a self-contained page with its own inline script and nothing from outside;
every text in it is escaped when it is drawn."""


@router.get("")
def list_simulations(slug: str, db: DbDep, user: CurrentUser) -> list[dict[str, Any]]:
    """The project's newest simulations, newest first (managers)."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    return simulations.recent(db, ctx)


@router.post("", status_code=202)
def request_simulation(
    slug: str, db: DbDep, user: CurrentUser, body: SimulationIn | None = None
) -> dict[str, Any]:
    """Queue a replay of active learning on the project's resolved labels; the learner runs it.
    Without a body, the defaults: random and the default policy, 3 seeds, budget 500."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    body = body or SimulationIn()
    return simulations.request(
        db,
        ctx,
        strategies=",".join(body.strategies) if body.strategies is not None else None,
        seeds=body.seeds,
        budget=body.budget,
        batch=body.batch,
        max_seconds=body.max_seconds,
    )


@router.get("/{sim_id}")
def simulation(slug: str, sim_id: Id, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """One simulation: its state, phase and progress, and once done its summary and chart URL
    (managers)."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    return simulations.get(db, ctx, sim_id)


@router.post("/{sim_id}/cancel")
def cancel_simulation(slug: str, sim_id: Id, db: DbDep, user: CurrentUser) -> dict[str, Any]:
    """Stop a queued or running simulation; the learner drops it within seconds (managers)."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    return simulations.cancel(db, ctx, sim_id)


@router.get("/{sim_id}/chart", response_class=HTMLResponse)
def simulation_chart(slug: str, sim_id: Id, db: DbDep, user: CurrentUser) -> HTMLResponse:
    """The learning curves as an interactive page (inline SVG; nothing loaded from outside)."""
    ctx = projects.access(db, slug, user, Permission.MANAGE_PROJECT)
    return HTMLResponse(
        simulations.chart(db, ctx, sim_id),
        headers={"content-security-policy": CHART_POLICY, "x-content-type-options": "nosniff"},
    )
