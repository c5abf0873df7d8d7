"""The operations dashboard: throughput, where work waits, when the backlog will be done, whether
new data drifts from what was labeled, and what needs a manager's attention now."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from labelloop.govern.permissions import Permission
from labelloop.insight.flow import as_utc, iso_week
from labelloop.memo import Recent
from labelloop.schema.project import STRUCTURED_TYPES
from labelloop.store import insight as store_insight
from labelloop.store import learning as store_learning
from labelloop.store import throughput as store_throughput
from labelloop.store import users as store_users
from labelloop.store.db import Database
from labelloop.store.users import now as store_now
from labelloop.workflow.projects import ProjectContext

DEFAULT_DAYS = 30
MAX_DAYS = 365
STAGE_WINDOW = 7
"""Days over which each stage's arrivals and departures are counted (the bottleneck's pace)."""
DRIFT_ROWS = 2000
"""Items read from each side when the newest import is compared with the labeled items."""
DRIFT_BATCHES = 3
"""The newest imports checked for drift: a shifted one among them is reported while it still
holds items to label, though ordinary imports came after it."""
MARKERS = 8
"""Words listed as marking a shifted import."""
FORECAST_DAYS = 14
"""Days of resolved labels the backlog forecast reads its pace from."""
IDLE_DAYS = 3
"""Days without a resolved label after which an unfinished project is reported idle."""
MAX_WEEKS = 12
ALERT_HISTORY = 10
"""Stored alerts the dashboard lists, open and resolved."""
ALERTS_EVERY_S = 300.0
"""Seconds between the learner's alert checks of a project that trained no round meanwhile."""
LOW_ALPHA = 0.667
"""Krippendorff's alpha below which agreement is reported: the lowest value Krippendorff
(Content Analysis, 2004, 12.2) accepts even for tentative conclusions."""
MIN_COMPARED = 20
"""Items labeled by two annotators or more before agreement is judged at all."""
OPEN_QUESTIONS = 5
"""Open "ambiguous" flags from which the annotators' unanswered questions are reported: a few
are the everyday flow, more mean the guideline leaves something open."""
ALERT_KINDS = (
    "training",
    "drift",
    "backlog",
    "stop",
    "agreement",
    "label_issues",
    "ambiguous",
    "idle",
)
"""Every kind :func:`alerts` raises, most pressing first."""

_drift_memo = Recent(32)
"""Drift checks by database, project, featurizer, newest import and the labeled items read."""


def report(
    db: Database,
    ctx: ProjectContext,
    *,
    cache: Any | None = None,
    days: int = DEFAULT_DAYS,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Every figure the dashboard shows, over the last ``days`` days up to ``at`` (now).

    ``cache`` (the app's :class:`~labelloop.workflow.features.FeatureCache`) lets the drift
    check read non-text items through the project's featurizer; text is compared on words.
    """
    from labelloop.insight import flow
    from labelloop.workflow.status import status

    ctx.require(Permission.VIEW_INSIGHT)
    days = max(1, min(int(days), MAX_DAYS))
    at = at or store_now()
    first_day = (at.astimezone(UTC) - timedelta(days=days - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    stage_since = at - timedelta(days=STAGE_WINDOW)
    # The forecast reads the last FORECAST_DAYS days whatever window is shown, so 7, 30 and 90
    # days give the same forecast.
    read_since = min(first_day, at - timedelta(days=FORECAST_DAYS))
    with db.read() as conn:
        # Counted per day and annotator by the database: the window's rows are not read.
        made = store_throughput.annotations_per_day(
            conn, ctx.id, first_day, recent_since=stage_since
        )
        active = store_throughput.active_times(conn, ctx.id, first_day)
        shared = store_insight.shared_annotations(conn, ctx.id, min(first_day, stage_since))
        resolved = store_throughput.resolved_per_day(conn, ctx.id, read_since)
        imported = store_throughput.imported_labels(conn, ctx.id, first_day)
        regions = None
        if ctx.schema.target.type in STRUCTURED_TYPES:  # its label is a digest of the regions
            regions = store_throughput.resolved_values_per_day(conn, ctx.id, first_day)
        spans = store_throughput.turnaround_spans(conn, ctx.id, first_day)
        verdicts = store_throughput.reviews_per_day(conn, ctx.id, first_day)
        waiting = store_insight.waiting(conn, ctx.id, at=at)
        arrived = store_insight.arrivals(conn, ctx.id, stage_since)
        cleared = store_insight.departures(conn, ctx.id, stage_since)
        last_active = store_insight.last_active(conn, ctx.id)
        working = store_users.still_working(conn, ctx.id, (r["user_id"] for r in made))
        began = store_insight.first_annotation(conn, ctx.id)
        last_label = store_insight.last_resolved(conn, ctx.id)
        batches = store_insight.batches(conn, ctx.id)
        # The drift check's reference: the labeled items before the newest import, read once
        # for every import it checks.
        labeled = (
            store_insight.labeled_by_batch(conn, ctx.id, before_batch=batches[-1]["id"])
            if len(batches) >= 2
            else []
        )
        versions = store_learning.history(conn, ctx.id)
        history = store_insight.alert_history(conn, ctx.id, limit=ALERT_HISTORY)
        stored = store_insight.open_alerts(conn, [ctx.id]).get(ctx.id, [])

    # A project that began labeling three days ago is judged on those three days, not seven.
    pace_days = STAGE_WINDOW
    if began is not None:
        pace_days = max(1, min(STAGE_WINDOW, (as_utc(at).date() - as_utc(began).date()).days + 1))

    def series(counts: Mapping[date, int], n: int = days) -> list[tuple[date, int]]:
        return flow.per_day_of(counts, now=at, days=n)

    # Alerts judge agreement on the last 7 days whatever window is shown, so the projects list's
    # stored alerts and every window of the dashboard say the same.
    week_agreement = _agreement(ctx, [r for r in shared if as_utc(r["created_at"]) >= stage_since])
    window_agreement = _agreement(ctx, [r for r in shared if as_utc(r["created_at"]) >= first_day])
    labels_per_day, made_per_day = _summed_by_day(resolved), _summed_by_day(made)
    done = series(labels_per_day)
    recent = series(labels_per_day, FORECAST_DAYS)
    # first_day is a UTC midnight: the days from its own on are the labels since it.
    resolved = [r for r in resolved if r["day"] >= first_day.date()]
    throughput = {
        "days": [d.isoformat() for d, _ in done],
        "resolved": [n for _, n in done],
        "annotations": [n for _, n in series(made_per_day)],
        "reviews": [n for _, n in series(verdicts)],
        "rate": flow.rate(done, window=min(pace_days, days)),
        "imported": _imported(imported),
    }
    stages = _stages(ctx, waiting, arrived, cleared, at=at, window_days=pace_days)
    state = status(db, ctx)  # its counts are the project page's; read them once
    counts = state["counts"]
    remaining = counts["remaining"]
    forecasts = {"pool": flow.forecast(remaining, recent, now=at, window=FORECAST_DAYS)}
    if counts["pool"] == 0:
        forecasts["pool"] = {
            "state": "empty",
            "remaining": 0,
            "sentence": "Nothing to label yet: import items into the pool.",
        }
    budget = ctx.settings.budget
    if budget is not None:
        forecasts["budget"] = flow.forecast(
            budget - counts["labeled"], recent, now=at, window=FORECAST_DAYS
        )
    time_active = flow.time_to_label([ms for times in active.values() for ms in times])
    found = {
        "project": {"slug": ctx.slug, "name": ctx.name},
        "at": at.isoformat(),
        "window_days": days,
        "counts": counts,
        "throughput": throughput,
        "time": {
            "active": time_active,
            "turnaround": flow.turnaround_of(spans),
        },
        "annotators": _annotators(
            made, active, last_active, working, days=days, at=at, agreement=window_agreement
        ),
        "stages": flow.stage_table(stages),
        "bottleneck": flow.bottleneck(stages),
        "backlogs": flow.backlogs(stages, at_least=ctx.settings.backlog_alert_min),
        "forecast": forecasts,
        "label_mix": _label_mix(
            resolved if regions is None else _region_counts(regions, ctx.schema.target.name),
            ctx.schema.target.labels,
            first_day=first_day,
            at=at,
        ),
        "agreement": {k: v for k, v in window_agreement.items() if k != "per_user"},
        "model": _progress(
            ctx,
            versions,
            since=first_day,
            has_eval=counts["eval_labeled"] > 0,
            training=state["training"],
        ),
        "auto_labels": _auto_labels(
            counts["auto_labeled"], time_active, answers=ctx.settings.overlap
        ),
        "drift": drift(db, ctx, cache=cache, batches=batches, labeled=labeled),
    }
    idle = last_label is not None and at - as_utc(last_label) > timedelta(days=IDLE_DAYS)
    names = {r["user_id"]: r["username"] for r in shared}
    # An alert a reviewer acknowledged (its stored open row) stays listed, marked so.
    acks = {a["kind"]: _acknowledgement(a) for a in stored}
    found["alerts"] = [
        {**a, **acks.get(a["kind"], _acknowledgement(None))}
        for a in alerts(
            found, state, remaining=remaining, idle=idle, agreement=week_agreement, names=names
        )
    ]
    found["alert_history"] = [
        {
            "kind": h["kind"],
            "message": h["message"],
            "raised_at": as_utc(h["created_at"]).isoformat(),
            "resolved_at": None
            if h["resolved_at"] is None
            else as_utc(h["resolved_at"]).isoformat(),
            **_acknowledgement(h),
        }
        for h in history
    ]
    return found


def _acknowledgement(row: dict[str, Any] | None) -> dict[str, Any]:
    """Who acknowledged a stored alert, when and with what note (all None when nobody did;
    ``acknowledged_by`` None with a time: the local operator)."""
    if row is None or row["acknowledged_at"] is None:
        return {"acknowledged_by": None, "acknowledged_at": None, "acknowledged_note": None}
    return {
        "acknowledged_by": row["acknowledged_by"],
        "acknowledged_at": as_utc(row["acknowledged_at"]).isoformat(),
        "acknowledged_note": row["acknowledged_note"] or None,
    }


def _imported(n: int) -> dict[str, Any]:
    """The labels that came with imported items in the window, which the pace leaves out (they
    are nobody's work here, and would make one day of importing look like weeks of labeling),
    though the project page counts them as labeled."""
    sentence = None
    if n:
        labels = "label" if n == 1 else "labels"
        sentence = (
            f"Not counted here: {n:,} {labels} that came with imported items in these days, "
            "which the project page counts as labeled."
        )
    return {"n": n, "sentence": sentence}


def _auto_labels(n: int, active: dict[str, Any], *, answers: int = 1) -> dict[str, Any]:
    """The labels the model gave in auto-label runs still standing, and the labeling time they
    stand for: ``answers`` a label (the project's overlap) at the median active time people
    spent per answer in the window."""
    median = active["median_s"]
    seconds = n * answers * median if n and median else None
    sentence = None
    if n:
        sentence = f"The model labeled {n:,} {'item' if n == 1 else 'items'} in auto-label runs"
        if seconds is None:
            sentence += "."
        else:
            took = (
                f"{seconds / 3600:,.1f} hours"
                if seconds >= 3600
                else f"{round(seconds / 60):,} minutes"
                if seconds >= 90
                else f"{round(seconds):,} seconds"
            )
            each = f" and {answers} answers a label" if answers > 1 else ""
            sentence += (
                f": at the {median:g} s people spent per answer here{each}, about {took} of "
                "labeling."
            )
    hours = round(seconds / 3600.0, 2) if seconds is not None else None
    return {"n": n, "hours": hours, "sentence": sentence}


def refresh_alerts(
    db: Database, ctx: ProjectContext, *, cache: Any | None = None
) -> dict[str, Any]:
    """Store what needs attention now (the background learner calls this after each round and
    every few minutes), so the projects list can show it without computing any report."""
    read_at = store_now()
    found = report(db, ctx, cache=cache, days=STAGE_WINDOW)
    with db.write(project_id=ctx.id) as conn:
        return store_insight.sync_alerts(
            conn, ctx.id, found["alerts"], at=store_now(), read_at=read_at
        )


def open_alerts(
    db: Database, user: Any, project_rows: list[dict[str, Any]]
) -> dict[int, list[dict[str, Any]]]:
    """The stored open alerts per project, for the projects this user reads dashboards of: each
    one's kind and who acknowledged it (an acknowledged one no longer needs attention)."""
    from labelloop.govern.permissions import role_allows

    ids = [
        int(p["id"])
        for p in project_rows
        if role_allows(p.get("role"), Permission.VIEW_INSIGHT, is_admin=user.is_admin)
    ]
    with db.read() as conn:
        found = store_insight.open_alerts(conn, ids)
    return {
        pid: [{"kind": a["kind"], **_acknowledgement(a)} for a in rows]
        for pid, rows in found.items()
    }


def _stages(
    ctx: ProjectContext,
    waiting: dict[str, dict[str, Any]],
    arrived: dict[str, int],
    cleared: dict[str, int],
    *,
    at: datetime,
    window_days: int,
) -> list[Any]:
    """The stages this project's settings send work through (and any where work waits), their
    pace counted over the last ``window_days`` days (fewer than 7 while the project is young)."""
    from labelloop.insight.flow import Stage

    s = ctx.settings
    uses = {
        "label": True,
        "overlap": s.overlap > 1 or s.double_label_share > 0,
        "review": s.review_policy != "none",
        "escalated": s.review_policy != "none" or s.resolution == "adjudication",
        "rework": s.review_policy != "none",
    }
    names = {
        "label": ("Labeling", "items", "being labeled"),
        "overlap": ("Another annotator", "items", "being labeled"),
        "review": ("Review", "annotations", "being reviewed"),
        "escalated": ("Expert tier", "items", "being decided"),
        "rework": ("Back with the annotator", "items", "being redone"),
    }
    out = []
    for key, (name, unit, doing) in names.items():
        w = waiting[key]
        if not (uses[key] or w["waiting"] or w["in_progress"]):
            continue
        since = w["since"]
        out.append(
            Stage(
                key=key,
                name=name,
                unit=unit,
                waiting=w["waiting"],
                oldest_s=None if since is None else max(0.0, (at - as_utc(since)).total_seconds()),
                arrived=arrived[key],
                cleared=cleared[key],
                window_days=window_days,
                in_progress=w["in_progress"],
                doing=doing,
            )
        )
    return out


def _summed_by_day(rows: list[dict[str, Any]]) -> Counter[date]:
    """Counts per ``day`` added up over the rows' other keys (label, annotator)."""
    total: Counter[date] = Counter()
    for r in rows:
        total[r["day"]] += r["n"]
    return total


def _annotators(
    made: list[dict[str, Any]],
    active: dict[int, list[int]],
    last_active: dict[int, datetime],
    working: set[int],
    *,
    days: int,
    at: datetime,
    agreement: dict[str, Any],
) -> list[dict[str, Any]]:
    """Per annotator in the window: labels per day, this week's, active time per label, and
    how often their answers match the other annotators' on the items they shared.

    ``made`` holds each annotator's annotations counted per UTC day (with how many of them
    came in the last 7 days), ``active`` their recorded active times; ``member`` is False for
    one no longer in the project (``working`` holds those who are)."""
    from labelloop.insight import flow

    by_user: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in made:
        by_user[r["user_id"]].append(r)
    table = []
    for user_id, mine in by_user.items():
        per_day = flow.per_day_of({r["day"]: r["n"] for r in mine}, now=at, days=days)
        table.append(
            {
                "username": mine[0]["username"],
                "member": user_id in working,
                "annotations": sum(r["n"] for r in mine),
                "last_7_days": sum(r["recent"] for r in mine),
                "per_day": [n for _, n in per_day],
                **flow.time_to_label(active.get(user_id, [])),
                "agrees_with_others": agreement["per_user"].get(user_id),
                "last_active": as_utc(last_active[user_id]).isoformat()
                if user_id in last_active
                else None,
            }
        )
    table.sort(key=lambda r: (-r["annotations"], r["username"]))
    return table


def _progress(
    ctx: ProjectContext,
    versions: list[Any],
    *,
    since: datetime,
    has_eval: bool,
    training: Mapping[str, Any],
) -> dict[str, Any]:
    """What the window's labels bought the model: its eval score from the window's start to now
    (accuracy, or span F1 for span projects), on the eval set the newest model was measured on;
    or, in ``sentence``, why there is nothing to compare (``training``: the status's, for when
    the next round trains)."""
    from labelloop.insight.flow import model_progress

    metric = "span_f1" if ctx.schema.target.type == "spans" else "accuracy"
    rows = [
        {
            "version": v["version"],
            "n_train": v["n_train"],
            "created_at": v["created_at"],
            "value": v["metrics"].get(metric),
            "n_eval": v["metrics"].get("n_eval"),
        }
        for v in versions
    ]
    found = model_progress(rows, since=since, metric=metric)
    if found is not None:
        return found
    if ctx.schema.target.type not in ("choice", "spans"):
        why = f"the rounds of a {ctx.schema.target.type} project measure no eval score"
    elif not has_eval:
        why = "the models need labeled eval items to be measured: import some with --split eval"
    else:
        every, since_model = training["retrain_every"], training["labels_since_model"]
        why = (
            f"no model has been measured yet: a round trains after every {every:,} new "
            f"{'label' if every == 1 else 'labels'} ({since_model:,} since the last) and is "
            "measured once its labels hold two classes"
        )
    return {"state": "unmeasured", "sentence": f"Nothing to compare: {why}."}


def _agreement(ctx: ProjectContext, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Krippendorff's alpha of the target control over the window's items labeled twice or more
    (each annotator's first answer, before review), or None while fewer than two annotators overlap.

    Gold checks two annotators answered are compared too: their answers are as independent as
    any (in a project without overlap they may be all it has), and ``n_gold`` says how many."""
    from labelloop.quality import (
        UndefinedStatistic,
        agreement_with_others,
        krippendorff_alpha,
        reliability_of,
    )
    from labelloop.workflow.review import first_answers

    target = ctx.schema.target
    if target.type not in ("choice", "multi_choice", "rating"):
        return {"n_items": 0, "n_gold": 0, "items": "", "alpha": None, "per_user": {}}

    def answer(r: Mapping[str, Any]) -> Any:
        return (r["value"] or {}).get(target.name)

    first = first_answers(
        sorted(rows, key=lambda r: as_utc(r["created_at"])), lambda r: answer(r) is not None
    )
    ratings = reliability_of(
        (
            (u, i, json.dumps(sorted(answer(r)) if isinstance(answer(r), list) else answer(r)))
            for (u, i), r in first.items()
        ),
        min_raters=2,
    )
    if not ratings.items:
        return {"n_items": 0, "n_gold": 0, "items": "", "alpha": None, "per_user": {}}
    try:
        alpha: float | None = round(float(krippendorff_alpha(ratings.R)), 3)
    except UndefinedStatistic:  # one value among all paired answers: chance is undefined
        alpha = None
    share = agreement_with_others(ratings.R)
    per_user = {u: round(float(v), 3) for u, v in zip(ratings.raters, share, strict=True)}
    gold = {r["item_id"] for r in rows if r["gold"]}
    n_gold = sum(1 for i in ratings.items if i in gold)
    n = len(ratings.items)
    return {
        "n_items": n,
        "n_gold": n_gold,
        "items": f"{n:,} {'item' if n == 1 else 'items'} labeled twice or more{gold_among(n_gold)}",
        "alpha": alpha,
        "per_user": per_user,
    }


def gold_among(n_gold: int, *, of: str = "them") -> str:
    """ ", 3 of them gold checks": how many of the items agreement compares are gold checks."""
    if not n_gold:
        return ""
    return f", {n_gold:,} of {of} {'a gold check' if n_gold == 1 else 'gold checks'}"


def _lowest(agreement: dict[str, Any], names: dict[int, str]) -> str:
    """ ", least of all X (41% of their answers match the others')" when one annotator agrees
    with the others clearly less than the rest do, else nothing."""
    per_user = agreement["per_user"]
    if len(per_user) < 2:
        return ""
    low = min(per_user, key=per_user.__getitem__)
    rest = [v for u, v in per_user.items() if u != low]
    if per_user[low] > min(rest) - 0.1:
        return ""
    who = names.get(low, f"user {low}")
    return f", least of all {who} ({per_user[low]:.0%} of their answers match the others')"


def _region_counts(rows: list[dict[str, Any]], target: str) -> list[dict[str, Any]]:
    """Resolved spans or boxes values as the regions of each label per day (``day``,
    ``label``, ``n``), the label mix of such a project."""
    counts: Counter[tuple[date, str]] = Counter()
    for r in rows:
        for region in (r["value"] or {}).get(target) or ():
            counts[(r["day"], str(region.get("label")))] += 1
    return [{"day": day, "label": label, "n": n} for (day, label), n in counts.items()]


def _label_mix(
    resolved: list[dict[str, Any]], labels: Any, *, first_day: datetime, at: datetime
) -> dict[str, Any]:
    """Resolved labels per ISO week and class (the newest weeks), to see the mix move; a week
    the window cuts or that is not over yet is marked ``partial``. ``resolved`` holds the
    labels counted per UTC day and label."""
    weeks: dict[str, Counter[str]] = defaultdict(Counter)
    for r in resolved:
        if r["label"] is None:
            continue
        weeks[iso_week(r["day"])][r["label"]] += r["n"]
    names = list(labels or [])
    names += sorted({k for c in weeks.values() for k in c} - set(names))
    cut = {iso_week(first_day), iso_week(at)}
    rows = [
        {
            "week": w,
            "counts": {k: weeks[w][k] for k in names},
            "total": sum(weeks[w].values()),
            "partial": w in cut,
        }
        for w in sorted(weeks)[-MAX_WEEKS:]
    ]
    return {"labels": names, "weeks": rows}


def drift(
    db: Database,
    ctx: ProjectContext,
    *,
    cache: Any | None,
    batches: list[dict[str, Any]],
    labeled: list[tuple[int, int]],
) -> dict[str, Any]:
    """Does the newest import look like the labeled items imported before it? A shifted one
    among the last few that still holds items to label is reported instead of a newer one
    that looks ordinary. ``labeled``: the labeled items imported before the newest import,
    as ``store.insight.labeled_by_batch`` reads them."""
    from labelloop.insight.drift import MIN_ROWS

    if len(batches) < 2:
        so_far = "one pool import so far" if batches else "no pool import yet"
        return {
            "state": "one_import",
            "sentence": "Each new import into the pool is compared with the labeled items "
            f"imported before it (eval imports are not); this project has {so_far}.",
        }
    # A shifted import stays reported while it holds items to label, even after ordinary ones
    # came in: the newest few imports are checked, newest first.
    newest = _batch_drift(db, ctx, cache, batches[-1], labeled=labeled)
    if newest.get("state") == "shifted":
        return newest
    for older in reversed(batches[-DRIFT_BATCHES:-1]):
        if older is batches[0]:
            break
        with db.read() as conn:
            left = store_insight.unlabeled_in_batch(conn, older["id"])
        if left >= MIN_ROWS:
            found = _batch_drift(db, ctx, cache, older, labeled=labeled)
            if found.get("state") == "shifted":
                return found
    return newest


def _batch_drift(
    db: Database,
    ctx: ProjectContext,
    cache: Any | None,
    newest: dict[str, Any],
    *,
    labeled: list[tuple[int, int]],
) -> dict[str, Any]:
    """Does this import look like the labeled items imported before it? ``labeled``: the
    labeled items' ids with their import batch, in id order."""
    from labelloop.insight.drift import MIN_ROWS

    batch = {
        "id": newest["id"],
        "filename": newest["filename"],
        "n_items": newest["n_items"],
        "created_at": as_utc(newest["created_at"]).isoformat(),
    }
    with db.read() as conn:
        new = store_insight.batch_sample(conn, newest["id"], limit=DRIFT_ROWS)
    before = [i for i, b in labeled if b < newest["id"]]
    ref = store_insight.spread(before, limit=DRIFT_ROWS)
    if len(new) < MIN_ROWS or len(ref) < MIN_ROWS:
        have = f"{len(ref):,} labeled before it and {len(new):,} in it"
        return {
            "state": "too_few",
            "batch": batch,
            "n_ref": len(ref),
            "n_new": len(new),
            "sentence": f"Too few items to compare the newest import with the labeled ones "
            f"(needs {MIN_ROWS} on each side; has {have}).",
        }
    key = (str(db.engine.url), ctx.id, ctx.settings.featurizer, newest["id"], tuple(ref))

    def measure() -> dict[str, Any]:
        with db.read() as conn:  # the payloads only when the check is not memoized
            rows = store_insight.payloads(conn, ref + new)
        return {"batch": batch, **_shift(ctx, cache, rows[: len(ref)], rows[len(ref) :])}

    return _drift_memo.get(key, measure)


def _shift(
    ctx: ProjectContext, cache: Any | None, ref: list[dict[str, Any]], new: list[dict[str, Any]]
) -> dict[str, Any]:
    """The domain-classifier check on words for text, on the project's features otherwise."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from labelloop.insight.drift import domain_shift
    from labelloop.learn.featurize import TfidfFeaturizer, fit_rows

    rows = ref + new
    names = None
    try:
        if ctx.schema.data_type in ("text", "html") or cache is None:
            featurizer = TfidfFeaturizer(ngram_range=(1, 1))
            X = fit_rows(featurizer, [r["payload"] for r in rows])
            names = [str(t) for t in featurizer.vectorizer_.get_feature_names_out()]
        else:
            X, _ = cache.stored_or_refitted(ctx, ctx.settings.featurizer, rows)
    except ValueError as exc:  # e.g. HTML items that hold images and no text
        return {
            "state": "cannot_compare",
            "n_ref": len(ref),
            "n_new": len(new),
            "sentence": f"The newest import cannot be compared with the labeled items: {exc}.",
        }
    found = domain_shift(X[: len(ref)], X[len(ref) :], feature_names=names, top=3 * MARKERS)
    # "for", "to" mark nothing a lead can act on; the words that stay do.
    found["markers"] = [m for m in found["markers"] if m not in ENGLISH_STOP_WORDS][:MARKERS]
    if found["state"] == "shifted":
        head = found["sentence"].split("; they stand out by:")[0].removesuffix(").")
        by = f"; they stand out by: {', '.join(found['markers'])}" if found["markers"] else ""
        found["sentence"] = f"{head}{by})."
    return found


def alerts(
    found: dict[str, Any],
    state: dict[str, Any],
    *,
    remaining: int,
    idle: bool,
    agreement: dict[str, Any],
    names: dict[int, str],
) -> list[dict[str, Any]]:
    """What needs attention now, most pressing first: each with its kind and a sentence. Each
    reads a fixed span (the last 7 days, the last 3), never the window the page shows."""
    out = []
    error = state["training"]["error"]
    failure = state["training"].get("failure")
    if error:
        out.append({"kind": "training", "message": f"Rounds cannot train: {error}"})
    elif failure:
        out.append({"kind": "training", "message": failure["sentence"]})
    if found["drift"].get("state") == "shifted":
        out.append({"kind": "drift", "message": found["drift"]["sentence"]})
    growing = found["backlogs"]
    if growing:
        out.append({"kind": "backlog", "message": " ".join(b["sentence"] for b in growing)})
    if state["stop_recommended"] and remaining > 0:
        model = state["model"] or {}
        message = (
            f"Stop recommended: the label budget is spent (model v{model.get('version')})."
            if model.get("stop_by_budget")
            else f"Stop recommended: model v{model.get('version')}'s stopping rule "
            "says more labels would change little."
        )
        out.append({"kind": "stop", "message": message})
    if (
        agreement["alpha"] is not None
        and agreement["n_items"] >= MIN_COMPARED
        and agreement["alpha"] < LOW_ALPHA
    ):
        out.append(
            {
                "kind": "agreement",
                "message": f"Annotators agree little: Krippendorff's α {agreement['alpha']:.2f} "
                f"on the {agreement['n_items']:,} items labeled twice or more in the last 7 days"
                f"{gold_among(agreement['n_gold'])} (below {LOW_ALPHA}){_lowest(agreement, names)}"
                "; the Quality page shows where.",
            }
        )
    issues = state["open_label_issues"]
    if issues:
        out.append(
            {
                "kind": "label_issues",
                "message": f"{issues:,} {'label' if issues == 1 else 'labels'} the model "
                f"contradicts {'waits' if issues == 1 else 'wait'} for a second look.",
            }
        )
    questions = state["open_ambiguous"]
    if questions >= OPEN_QUESTIONS:
        out.append(
            {
                "kind": "ambiguous",
                "message": f"{questions:,} flags from annotators who found an item ambiguous "
                "wait for an answer: pin the item as an example with a note (review page or "
                "'labelloop guidelines pin'), or answer them in a new guideline version (its "
                "'answers the open flags' box).",
            }
        )
    if idle and remaining > 0:
        items = f"{remaining:,} {'item remains' if remaining == 1 else 'items remain'}"
        out.append(
            {"kind": "idle", "message": f"No label resolved in the last {IDLE_DAYS} days; {items}."}
        )
    return out
