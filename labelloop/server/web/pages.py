"""HTML pages. Each reads the same workflow functions as its JSON twin under /api."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from labelloop.domain import MAX_COMMENT_CHARS
from labelloop.errors import (
    AuthenticationFailed,
    LabelloopError,
    PermissionDenied,
    TooManyAttempts,
)
from labelloop.govern.guidelines import render_markdown
from labelloop.govern.permissions import Permission
from labelloop.ingest import yolo
from labelloop.ingest.formats import export_formats
from labelloop.server.api.deps import DbDep, make_router, session_user
from labelloop.server.api.schemas import Id
from labelloop.server.auth import LoginRefusal, csrf_ok
from labelloop.server.throttle import client_address, count_report, guarded, try_again_in
from labelloop.server.web.settings_form import settings_form
from labelloop.sizes import size_text
from labelloop.workflow import (
    accounts,
    browse,
    flags,
    guidelines,
    insight,
    projects,
    quality,
    review,
    seeding,
    simulations,
    status,
    warming,
)
from labelloop.workflow.accounts import User

router = make_router(include_in_schema=False)


class LoginRequired(Exception):
    """Raised by a page whose visitor has no session; answered with a redirect to /login."""


def _page_user(request: Request, db: Any) -> tuple[User, str]:
    found = session_user(request, db)
    if found is None:
        raise LoginRequired()
    return found[0], found[1].csrf


def _render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    response = request.app.state.templates.TemplateResponse(
        request, name, context, status_code=status_code
    )
    response.headers["cache-control"] = "no-store"
    return response


ERROR_TITLES = {
    403: "You can't open this page",
    404: "Page not found",
    429: "Too many requests",
    500: "Something went wrong",
}


def error_page(
    request: Request, *, status_code: int, detail: str, headers: Mapping[str, str] | None = None
) -> HTMLResponse:
    """A browser page's error as a page: a heading, the message (escaped: it can quote a slug
    or a path) and a way back, to the project the path names when the visitor may see it,
    else home (or the sign-in form). The API's twin of each error stays JSON."""
    user, csrf, project = None, None, None
    if status_code < 500:  # a 500 may be the database's own; the page then asks it nothing
        db = request.app.state.db
        found = session_user(request, db)
        user, csrf = (found[0], found[1].csrf) if found else (None, None)
        project = _project_of(db, request.url.path, user)
    page = _render(
        request,
        "error.html",
        status_code=status_code,
        code=status_code,
        title=ERROR_TITLES.get(status_code, "This page can't be shown"),
        detail=detail,
        project=project,
        user=user,
        **({"csrf": csrf} if csrf else {}),
    )
    page.headers.update(headers or {})
    return page


def _project_of(db: Any, path: str, user: User | None) -> dict[str, str] | None:
    """The project a ``/p/SLUG/...`` path names, if ``user`` may see it: the way back, and
    their role there (who to ask, on a page the role does not open)."""
    parts = path.split("/")
    if user is None or len(parts) < 3 or parts[1] != "p" or not parts[2]:
        return None
    try:
        ctx = projects.access(db, parts[2], user, Permission.VIEW_PROJECT)
    except LabelloopError:
        return None
    return {"slug": ctx.slug, "name": ctx.name, "role": ctx.role or ""}


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would let a link send a user elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    """The API's interactive documentation (Swagger UI on ``/openapi.json``), open to anyone as
    the description is; calling the API from it takes a token."""
    return _render(request, "apidocs.html")


THROTTLED = "too many failed sign-ins for this name from here"
LOGIN_ERRORS = {
    "expired": "the form expired; please try again",
    "refused": accounts.LOGIN_REFUSED,
    "throttled": f"{THROTTLED}; wait a few minutes and try again",
}
"""What the sign-in page says for each ``error`` its address may carry. The address names a
code, never the words: a link with words of someone else's choosing in it would show them on
this site's sign-in page."""


def _refusal_text(refused: LoginRefusal) -> str | None:
    """What the sign-in page says after a refused sign-in: why, and for a throttled one how
    long to wait."""
    if refused.retry_after_s is not None:
        return f"{THROTTLED}; {try_again_in(refused.retry_after_s, in_minutes=True)}"
    return LOGIN_ERRORS.get(refused.error)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None, error: str | None = None) -> Response:
    """The sign-in form; the page a refused sign-in is sent back to says why once, with the
    name typed (noted by :func:`login`), and shows a fresh form when reloaded."""
    sessions = request.app.state.sessions
    refused = sessions.login_refusal(request)
    if refused is None:
        return _login_form(request, next=_safe_next(next), error=LOGIN_ERRORS.get(error or ""))
    page = _login_form(
        request, next=_safe_next(next), error=_refusal_text(refused), username=refused.username
    )
    sessions.clear_login_refusal(page)
    return page


def _login_form(request: Request, *, next: str, error: str | None, username: str = "") -> Response:
    """The sign-in form with a fresh CSRF token; ``username`` fills the name field (and puts the
    cursor in the password field) when a sign-in from this site's own form was refused."""
    sessions = request.app.state.sessions
    token = sessions.new_login_token()
    page = _render(
        request, "login.html", next=next, error=error, username=username, login_csrf=token
    )
    sessions.set_login_cookie(page, token)
    return page


@router.post("/login")
def login(
    request: Request,
    db: DbDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Sign in. A refusal redirects (303) to the sign-in page, which says why and keeps the
    name (noted in a short-lived signed cookie, never in the address: a password typed into
    the name field would land in logs and history), so reloading that page sends no password
    again; a form that did not come from this site gets no name back, only a fresh form."""
    sessions = request.app.state.sessions
    target = _safe_next(next)
    back = f"/login?next={quote(target)}"
    if not sessions.check_login_token(request, csrf_token):
        return RedirectResponse(back + "&error=expired", status_code=303)
    try:
        user = guarded(
            request.app.state.sign_ins,
            username,
            client_address(request),
            lambda: accounts.authenticate(db, username, password),
        )
    except AuthenticationFailed:
        refused = LoginRefusal("refused", username)
    except TooManyAttempts as throttled:
        refused = LoginRefusal("throttled", username, throttled.retry_after_s)
    else:
        response = RedirectResponse(target, status_code=303)
        sessions.issue(response, user.id, generation=user.session_generation)
        return response
    response = RedirectResponse(back, status_code=303)
    sessions.set_login_refusal(response, refused)
    return response


@router.post("/logout")
def logout(request: Request, db: DbDep, csrf_token: Annotated[str, Form()] = "") -> Response:
    """Sign out: the cookie goes, and on the server every session of the user ends (a copied
    cookie, another browser's), so nothing signed in before answers after."""
    found = session_user(request, db)
    response = RedirectResponse("/login", status_code=303)
    if found is not None and csrf_ok(found[1], request, csrf_token):
        accounts.sign_out(db, found[0])
        request.app.state.sessions.clear(response)
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: DbDep) -> Response:
    user, csrf = _page_user(request, db)
    mine = projects.projects_for(db, user)
    return _render(
        request,
        "projects.html",
        user=user,
        csrf=csrf,
        projects=mine,
        alerts=insight.open_alerts(db, user, mine),
        is_admin=user.is_admin,
    )


@router.get("/p/{slug}", response_class=HTMLResponse)
def project_page(slug: str, request: Request, db: DbDep) -> Response:
    from labelloop.workflow.autolabel import MIN_EVAL  # numpy: not at import time
    from labelloop.workflow.learning import classifier_problem

    user, csrf = _page_user(request, db)
    ctx = projects.access(db, slug, user, Permission.VIEW_PROJECT)
    # The learning curve, the gain and the auto-label runs are for reviewers and managers; an
    # annotator's page shows their progress, the current model's version and the guideline.
    can_insight = ctx.allows(Permission.VIEW_INSIGHT)
    models = figured(status.models(db, ctx)) if can_insight else []
    can_edit_guideline = ctx.allows(Permission.MANAGE_PROJECT)
    can_autolabel = ctx.allows(Permission.MANAGE_PROJECT)
    return _render(
        request,
        "project.html",
        user=user,
        csrf=csrf,
        project=_detail(db, ctx, examples=True),
        status=status.status(db, ctx, features_dir=request.app.state.features.root),
        models=models,
        can_export=ctx.allows(Permission.EXPORT),
        export_formats=export_formats(ctx.schema),
        upload_limit=f"{yolo.MAX_STORED_IMAGES:,} images or {size_text(yolo.MAX_STORED_BYTES)}",
        # a spans or boxes target (or unusable settings): the coverage button could only fail
        coverage_problem=classifier_problem(ctx, "measured for a single-label classifier only"),
        can_annotate=ctx.allows(Permission.ANNOTATE),
        my_answers=_my_answers_link(ctx),
        can_import=ctx.allows(Permission.IMPORT),
        can_manage=ctx.allows(Permission.MANAGE_MEMBERS),
        can_audit=ctx.allows(Permission.VIEW_AUDIT),
        can_review=ctx.allows(Permission.REVIEW),
        can_adjudicate=ctx.allows(Permission.REVIEW) and review.is_expert(ctx),
        can_edit_guideline=can_edit_guideline,
        can_insight=can_insight,
        can_autolabel=can_autolabel,
        # Managers take back anyone's acknowledgement of an alert; others only their own.
        can_undo_any_ack=ctx.allows(Permission.MANAGE_PROJECT),
        autolabel_min_eval=MIN_EVAL,
        # the thresholds go to those who run auto-label only
        autolabel_floor=ctx.settings.auto_label_min_accuracy if can_autolabel else None,
        autolabel_confidence=ctx.settings.auto_label_confidence if can_autolabel else None,
        guideline_body=projects.guideline(db, ctx)["body"] if can_edit_guideline else None,
        simulate=simulations.form(ctx),
        settings_form=settings_form(db, ctx),
        model_file=_model_file(ctx, models),
        box_labels=box_labels(ctx),
        target=ctx.schema.target.type,
        # the header's strategy follows a saved setting only where the rounds record it
        strategy_is_setting=status.target_strategy(ctx) is None,
    )


def box_labels(ctx: projects.ProjectContext) -> dict[str, list[str]]:
    """Each boxes control -> its labels: the thumbnails colour a box by its label's place, as
    the labeling page does."""
    return {c.name: list(c.labels) for c in ctx.schema.controls if c.type == "boxes"}


def figure(value: float) -> str:
    """An eval figure as the project page writes it: three decimals, rounded as the CLI and
    the API's users round them (half to even: 0.8125 is 0.812)."""
    return f"{value:.3f}"


def figured(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The model versions with their eval figures written out (``figures``): the versions
    table shows them and the learning curve's points say them, so both read the same."""
    return [
        {**m, "figures": {k: figure(v) for k, v in m["metrics"].items() if k != "n_eval"}}
        for m in models
    ]


@router.get("/p/{slug}/model-cards", response_class=HTMLResponse)
def project_model_cards(slug: str, request: Request, db: DbDep) -> Response:
    """The project page's parts that show the current model (the Model and Eval cards, the
    Stop card's judgement, the model versions table and the Eval by cohort table), drawn as
    the page draws them: the open page fetches them when a round trained, so they read the
    same as on a reload. Each role gets its page's parts."""
    user, _ = _page_user(request, db)
    ctx = projects.access(db, slug, user, Permission.VIEW_PROJECT)
    can_insight = ctx.allows(Permission.VIEW_INSIGHT)
    return _render(
        request,
        "project_model.html",
        status=status.status(db, ctx),
        target=ctx.schema.target.type,
        models=figured(status.models(db, ctx)) if can_insight else None,
    )


def _model_file(ctx: Any, models: list[dict[str, Any]]) -> bool:
    """Whether the page offers the model file: a single-label project whose rounds have
    trained a model (labels of two classes), for those who may export."""
    from labelloop.workflow.learning import classifier_problem

    if not ctx.allows(Permission.EXPORT) or classifier_problem(ctx, "") is not None:
        return False
    return bool(models) and not models[-1]["cold_start"]


@router.get("/p/{slug}/label", response_class=HTMLResponse)
def label_page(slug: str, request: Request, db: DbDep) -> Response:
    user, csrf = _page_user(request, db)
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    return _render(
        request,
        "label.html",
        user=user,
        csrf=csrf,
        project=_detail(db, ctx, examples=True),
        my_answers=_my_answers_link(ctx),
        max_flag_note=flags.MAX_NOTE_CHARS,
    )


def _my_answers_link(ctx: projects.ProjectContext) -> str:
    """Where "My answers" opens: the Items page, which shows an annotator their own answers
    only, and a reviewer (who sees every item there) the items they answered."""
    query = "order=newest"
    if ctx.allows(Permission.REVIEW):
        query = f"annotator={quote(ctx.user.username)}&{query}"
    return f"/p/{quote(ctx.slug)}/items?{query}"


@router.get("/p/{slug}/review", response_class=HTMLResponse)
def review_page(slug: str, request: Request, db: DbDep) -> Response:
    user, csrf = _page_user(request, db)
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    return _render(
        request,
        "review.html",
        user=user,
        csrf=csrf,
        project=_detail(db, ctx),
        can_adjudicate=review.is_expert(ctx),
        can_pin=ctx.allows(Permission.MANAGE_PROJECT),
        max_comment=MAX_COMMENT_CHARS,
        max_pin_note=guidelines.MAX_NOTE_CHARS,
    )


@router.get("/p/{slug}/adjudicate", response_class=HTMLResponse)
def adjudicate_page(slug: str, request: Request, db: DbDep, item: Id | None = None) -> Response:
    user, csrf = _page_user(request, db)
    ctx = projects.access(db, slug, user, Permission.REVIEW)
    if not review.is_expert(ctx):
        raise PermissionDenied(f"only managers and the expert tier of '{ctx.slug}' adjudicate")
    return _render(
        request,
        "adjudicate.html",
        user=user,
        csrf=csrf,
        project=_detail(db, ctx),
        item=item,
        max_comment=MAX_COMMENT_CHARS,
    )


@router.get("/p/{slug}/quality", response_class=HTMLResponse)
def quality_page(slug: str, request: Request, db: DbDep, cohort_field: str = "cohort") -> Response:
    user, csrf = _page_user(request, db)
    ctx = projects.access(db, slug, user, Permission.VIEW_INSIGHT)
    count_report(request.app.state.reports, user.id)  # computes the report as its API twin
    return _render(
        request,
        "quality.html",
        user=user,
        csrf=csrf,
        project=_detail(db, ctx),
        report=quality.report(db, ctx, cohort_field=cohort_field[:100]),
        target=ctx.schema.target,
        can_manage=ctx.allows(Permission.MANAGE_PROJECT),
    )


@router.get("/p/{slug}/dashboard", response_class=HTMLResponse)
def dashboard_page(
    slug: str, request: Request, db: DbDep, days: int = insight.DEFAULT_DAYS
) -> Response:
    """Throughput, where work waits, the backlog forecast, drift and alerts."""
    return _dashboard(request, db, slug, days, "dashboard.html")


@router.get("/p/{slug}/dashboard-figures", response_class=HTMLResponse)
def dashboard_figures(
    slug: str, request: Request, db: DbDep, days: int = insight.DEFAULT_DAYS
) -> Response:
    """The dashboard's sections, drawn as the page draws them: the open page fetches them
    every 30 s while shown and puts each one that changed in place of its own, so it follows
    the team's work and reads as on a reload."""
    return _dashboard(request, db, slug, days, "dashboard_figures.html")


def _dashboard(request: Request, db: Any, slug: str, days: int, name: str) -> Response:
    """The dashboard page, or its figures alone (``name``), over the last ``days`` days."""
    user, csrf = _page_user(request, db)
    ctx = projects.access(db, slug, user, Permission.VIEW_INSIGHT)
    count_report(request.app.state.reports, user.id)  # computes the report as its API twin
    days = max(1, min(days, insight.MAX_DAYS))
    return _render(
        request,
        name,
        user=user,
        csrf=csrf,
        project=_detail(db, ctx),
        report=insight.report(db, ctx, cache=request.app.state.features, days=days),
        can_undo_any_ack=ctx.allows(Permission.MANAGE_PROJECT),
    )


ITEMS_FILTERS = ("status", "split", "label", "resolution", "annotator", "picked_by", "q", "order")
"""The Items page's filters, as its address names them."""


@router.get("/p/{slug}/items", response_class=HTMLResponse)
def items_page(slug: str, request: Request, db: DbDep) -> Response:
    """Every item with its label, filtered and paged, and one item's whole trace beside them.
    The filters come from the query string (the page keeps it current), so a view can be
    bookmarked or sent to a colleague. To an annotator it is My answers: the items they
    answered, their own answer on each, and a way back to change one."""
    user, csrf = _page_user(request, db)
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    mine = not ctx.allows(Permission.REVIEW)
    expert = not mine and review.is_expert(ctx)
    query = request.query_params
    target = ctx.schema.target
    if mine:
        statuses = list(browse.ANSWER_STATES)
        annotators: list[str] = []
    else:
        statuses = [s for s in browse.STATUSES if expert or s != "gold"]
        annotators = sorted(m["username"] for m in projects.members(db, ctx))
    return _render(
        request,
        "items.html",
        user=user,
        csrf=csrf,
        project=_detail(db, ctx),
        page={
            "slug": ctx.slug,
            "mine": mine,
            "data_type": ctx.schema.data_type,
            "target": target.name,
            "types": {c.name: c.type for c in ctx.schema.controls},  # what an empty answer says
            "labels": list(getattr(target, "labels", None) or []),
            "box_labels": box_labels(ctx),
            "annotators": annotators,
            "statuses": statuses,
            "state_words": browse.STATE_WORDS,
            "splits": list(browse.SPLITS),
            "resolutions": list(browse.RESOLUTIONS),
            "picks": [] if mine else browse.picked_by_choices(db, ctx),
            "expert": expert,
            "max_offset": browse.MAX_OFFSET,
            # the words whole: the list says how much of a long query it searched
            "filters": {k: query.get(k, "")[: None if k == "q" else 200] for k in ITEMS_FILTERS},
            "offset": query.get("offset", "0")[:10],
            "open": query.get("item", "")[:20],
        },
    )


@router.get("/p/{slug}/search", response_class=HTMLResponse)
def search_page(
    slug: str, request: Request, db: DbDep, q: str | None = None, like: Id | None = None
) -> Response:
    """Search the pool and send hits to the queue; ``?q=`` or ``?like=`` opens with results."""
    user, csrf = _page_user(request, db)
    ctx = projects.access(db, slug, user, Permission.ANNOTATE)
    initial, error = None, None
    words = (q or "").strip()
    try:
        if words:
            initial = seeding.search(db, ctx, q=words)
        elif like is not None:  # while its features are being prepared, the page asks again
            warmer = request.app.state.warmer
            initial = warming.search_like(db, ctx, warmer, like=like, limit=20, offset=0)
    except LabelloopError as exc:
        error = exc.message
    return _render(
        request,
        "search.html",
        user=user,
        csrf=csrf,
        project=_detail(db, ctx),
        page={
            "slug": ctx.slug,
            "q": words,  # whole: the results say how much of a long query they searched
            "initial": initial,
            "error": error,
            "data_type": ctx.schema.data_type,
        },
    )


def _detail(db: Any, ctx: projects.ProjectContext, *, examples: bool = False) -> dict[str, Any]:
    """What a project's pages know of it; ``examples`` adds the guideline's examples (the
    labeling and project pages show them)."""
    guideline = projects.guideline(db, ctx)
    detail = {
        "slug": ctx.slug,
        "name": ctx.name,
        "role": ctx.role,
        "schema": projects.visible_schema(ctx),
        "schema_version": ctx.schema_version,
        "settings": projects.visible_settings(ctx),
        "guideline_version": guideline["version"],
        "guideline_html": render_markdown(guideline["body"]),
    }
    if examples:
        shown = guidelines.examples(db, ctx, guideline["version"])["examples"]
        detail["guideline_examples"] = shown
    return detail
