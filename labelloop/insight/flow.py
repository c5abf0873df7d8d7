"""How work flows through a project: labels a day, time to label, when the backlog is done, and
the stage where work waits longest.

The operations dashboard shows these numbers and sentences to a project's manager. The
functions take plain rows (timestamps, durations, per-stage counts) that the workflow reads from
the store, and return JSON-able dicts: dates as ISO strings, None where there is no number.

PURE: the standard library and numpy; never the store, the workflow or the server.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

INTERVAL = (10.0, 90.0)
"""Percentiles of the bootstrapped pace that bound the forecast: an 80% interval."""


@dataclass(frozen=True)
class Stage:
    """One stage where work waits (labeling, second opinion, review, ...) and its recent flow."""

    key: str
    """Identifier: ``"label"``, ``"overlap"``, ``"review"``, ``"escalated"``, ``"rework"``."""
    name: str
    """Words for a person: ``"Labeling"``, ``"Second opinion"``, ``"Review"``, ..."""
    unit: str
    """What waits, plural: ``"items"``, ``"annotations"``."""
    waiting: int
    """How many wait in this stage now."""
    oldest_s: float | None
    """Age in seconds of the oldest waiting one (None if unknown or none waits)."""
    arrived: int
    """How many entered the stage in the window."""
    cleared: int
    """How many left the stage in the window."""
    window_days: int
    """The window ``arrived`` and ``cleared`` were counted over, in days (e.g. 7)."""
    in_progress: int = 0
    """How many are being worked on right now (held by a live lease: an item leased to an
    annotator, an answer whose item a reviewer holds, a rejected item its annotator took up
    again), counted apart from ``waiting``: they do not wait, but are not done either."""
    doing: str = "being labeled"
    """What working on one is called, after "2 more are": ``"being reviewed"``, ..."""


# --- throughput and time --------------------------------------------------------------------


def per_day(times: Iterable[datetime], *, now: datetime, days: int) -> list[tuple[date, int]]:
    """Events per UTC calendar day over the ``days`` days ending with ``now``'s day.

    Oldest day first, exactly ``days`` entries, days without events as 0; times outside the
    range (and None) are left out. Naive datetimes are taken as UTC: the store gives naive UTC
    on SQLite and aware datetimes on PostgreSQL.
    """
    counts: Counter[date] = Counter(as_utc(t).date() for t in times if t is not None)
    return per_day_of(counts, now=now, days=days)


def per_day_of(counts: Mapping[date, int], *, now: datetime, days: int) -> list[tuple[date, int]]:
    """The series :func:`per_day` gives, from events already counted per UTC day (the store
    counts them in SQL): days outside the range are left out."""
    days = max(0, days)
    last = as_utc(now).date()
    first = last - timedelta(days=days - 1)
    return [
        (first + timedelta(days=i), int(counts.get(first + timedelta(days=i), 0)))
        for i in range(days)
    ]


def rate(series: Sequence[tuple[date, int]], *, window: int = 7) -> dict[str, Any]:
    """The mean per day over the last ``window`` days of ``series`` (over all of it when it is
    shorter) and its change from the ``window`` days before (None when the series is shorter
    than two windows, or the earlier mean was 0)."""
    if window < 1:
        raise ValueError(f"window must be at least 1 day, not {window}")
    counts = [n for _, n in series]
    recent = counts[-window:]
    mean = sum(recent) / len(recent) if recent else 0.0
    before = sum(counts[-2 * window : -window]) / window if len(counts) >= 2 * window else None
    return {
        "per_day": mean,
        "previous_per_day": before,
        "change": mean / before - 1 if before else None,
        "window_days": window,
    }


def time_to_label(active_ms: Sequence[int]) -> dict[str, Any]:
    """The active time annotators spent per annotation, in seconds (2 dp), and the labels an
    hour that makes; zero or missing times (not recorded) are left out."""
    kept = [v for v in active_ms if v is not None and v > 0 and math.isfinite(v)]
    # Sorted, so the mean is summed in one order whatever order the rows came in.
    seconds = np.sort(np.array(kept, dtype=np.float64)) / 1000.0
    if seconds.size == 0:
        return {"n": 0, "median_s": None, "p90_s": None, "mean_s": None, "labels_per_hour": None}
    mean = float(seconds.mean())
    return {
        "n": int(seconds.size),
        "median_s": round(float(np.median(seconds)), 2),
        "p90_s": round(float(np.percentile(seconds, 90)), 2),
        "mean_s": round(mean, 2),
        "labels_per_hour": round(3600.0 / mean, 2),
    }


def turnaround(pairs: Iterable[tuple[datetime, datetime]]) -> dict[str, Any]:
    """Hours from an item's first lease to its resolved label (median and 90th percentile, 2
    dp): time to label end to end, waiting included. Pairs with a missing time or that end
    before they start are left out."""
    spans = []
    for start, end in pairs:
        if start is not None and end is not None:
            spans.append((as_utc(end) - as_utc(start)) // timedelta(microseconds=1))
    return turnaround_of(spans)


def turnaround_of(spans_us: Iterable[int]) -> dict[str, Any]:
    """:func:`turnaround` from the spans in whole microseconds (the store measures them in
    SQL); negative spans are left out."""
    hours = np.array([us / 1_000_000 / 3600.0 for us in spans_us if us >= 0], dtype=np.float64)
    if hours.size == 0:
        return {"n": 0, "median_h": None, "p90_h": None}
    return {
        "n": int(hours.size),
        "median_h": round(float(np.median(hours)), 2),
        "p90_h": round(float(np.percentile(hours, 90)), 2),
    }


# --- the backlog ----------------------------------------------------------------------------


def forecast(
    remaining: int,
    series: Sequence[tuple[date, int]],
    *,
    now: datetime,
    window: int = 14,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """When ``remaining`` more labels will be done at the recent pace, with an 80% interval.

    The pace is the mean of the last ``window`` days of ``series`` (labels per UTC day, as
    :func:`per_day` gives), counted from the first of them with a label, so a project that
    began three days ago is judged on those three days. The interval is the 10th to 90th
    percentile of the mean over ``n_boot`` resamplings of those days (a percentile bootstrap,
    seeded): the fast end gives the early date, the slow end the late one (None when the slow
    end is no labels at all).

    Returns
    -------
    dict
        ``{"state": "done", "remaining": 0}`` when nothing remains; ``state`` "no_pace" with
        ``remaining`` and ``sentence`` when the days hold no label; else ``state``
        "forecast", ``remaining``, ``per_day``, ``per_day_low``, ``per_day_high`` (2 dp),
        ``days`` (1 dp), ``duration`` (the sentence's words for them: "about 3 days"),
        ``finish``, ``finish_early``, ``finish_late`` (ISO dates or None), ``based_on_days``
        and ``sentence``.
    """
    remaining = int(remaining)
    if remaining <= 0:
        return {"state": "done", "remaining": 0}
    counts = np.array([n for _, n in series[-window:]] if window > 0 else [], dtype=np.float64)
    started = np.flatnonzero(counts)
    left = f"the {remaining:,} left"
    if started.size == 0:
        since = f"in the last {_count(len(counts), 'days', one='day')}" if len(counts) else "yet"
        return {
            "state": "no_pace",
            "remaining": remaining,
            "sentence": f"No label resolved {since}, so there is no pace to tell when {left} "
            f"{'is' if remaining == 1 else 'are'} done.",
        }
    days_used = counts[started[0] :]
    pace = float(days_used.mean())
    rng = np.random.default_rng(seed)
    draws = days_used[rng.integers(0, days_used.size, size=(max(1, n_boot), days_used.size))]
    low, high = (float(v) for v in np.percentile(draws.mean(axis=1), INTERVAL))
    days = remaining / pace
    finish = _date_after(now, days)
    early = _date_after(now, remaining / high)
    late = _date_after(now, remaining / low) if low > 0 else None
    take = "takes" if remaining == 1 else "take"
    duration = "under a day" if days < 1 else f"about {_count(round(days), 'days')}"
    sentence = (
        f"At {_count(pace, 'labels')} a day (the last {_count(days_used.size, 'days', one='day')}"
        f"), {left} {take} {duration}"
    )
    if finish is None:  # beyond the calendar (year 9999): no date to give
        sentence += "."
    elif late is None:
        sentence += (
            f": done around {finish} ({early} at the earliest; the pace varies too much to "
            "name a latest date)."
        )
    elif early == late:
        sentence += f": done around {finish}."
    else:
        sentence += f": done around {finish} (between {early} and {late})."
    return {
        "state": "forecast",
        "remaining": remaining,
        "per_day": round(pace, 2),
        "per_day_low": round(low, 2),
        "per_day_high": round(high, 2),
        "days": round(days, 1),
        "duration": duration,
        "finish": finish,
        "finish_early": early,
        "finish_late": late,
        "based_on_days": int(days_used.size),
        "sentence": sentence,
    }


# --- stages ---------------------------------------------------------------------------------


def stage_table(stages: Sequence[Stage]) -> list[dict[str, Any]]:
    """One JSON row per stage, in order, with what waits and the oldest age in words ("1 item",
    "3 days") and the days the waiting work takes to clear at the window's pace (None when
    nothing was cleared)."""
    return [_row(stage) for stage in stages]


def bottleneck(stages: Sequence[Stage]) -> dict[str, Any] | None:
    """The stage where work waits longest at the current pace, or None when nothing waits.

    The expected wait is ``waiting / (cleared / window_days)`` days. A stage that cleared none
    over the window has no pace to divide by: it is taken to clear one in the time its oldest
    has waited (``window_days`` at most, and when the age is unknown), the most its record
    allows, so its waiting work takes ``waiting * min(oldest, window_days)`` days. One item
    rejected an hour ago is an hour's work and never outranks a pile that takes days, while 217
    annotations with no verdict for 2 days take 434. Ties go to the stage with more waiting,
    then to the one with the older work, then to the earlier stage.
    """
    waiting = [stage for stage in stages if stage.waiting > 0]
    if not waiting:
        return None

    def rank(stage: Stage) -> tuple[float, int, float]:
        oldest = _finite(stage.oldest_s)
        return (_expected_days(stage), stage.waiting, -1.0 if oldest is None else oldest)

    neck = max(waiting, key=rank)  # max keeps the first of equals
    row = _row(neck)
    return {
        "key": row["key"],
        "name": row["name"],
        "waiting": row["waiting"],
        "days_to_clear": row["days_to_clear"],
        "growing": row["growing"],
        "sentence": f"{row['name']} holds the work: {_describe(row, doing=neck.doing)}",
    }


def backlogs(
    stages: Sequence[Stage],
    *,
    after: Sequence[str] = ("label", "overlap"),
    at_least: int = 1,
) -> list[dict[str, Any]]:
    """The stages past ``after`` where work waits and more arrived than was cleared over the
    window: each a backlog that grows, with its sentence ("Review: 148 annotations wait, …").

    ``after`` is labeling (active learning never means to empty the pool) and the wait for
    another annotator: labeling's own work in progress, served from the same queue, which grows
    by every first answer to an item under overlap. Review, the expert tier and rework remain.
    A stage is a backlog only when ``at_least`` wait there and what waits is more than a day's
    work at the stage's pace over the window: three annotations in review, or fewer than its
    reviewers clear a day, are the everyday flow.
    """
    out = []
    for stage in stages:
        row = _row(stage)
        if stage.key in after or stage.waiting < max(at_least, 1) or not row["growing"]:
            continue
        days = _days_to_clear(stage)
        if days is not None and days < 1:
            continue
        out.append({**row, "sentence": f"{row['name']}: {_describe(row, doing=stage.doing)}"})
    return out


def _describe(row: Mapping[str, Any], *, doing: str) -> str:
    """What waits in a stage and how it moved: "9 annotations wait, the oldest for 2 days; in
    the last 7 days 10 arrived and 1 was cleared."."""
    n, unit = row["waiting"], row["unit"]
    wait = f"{_count(n, unit)} {'waits' if n == 1 else 'wait'}"
    if busy := row["in_progress"]:
        wait += f" ({busy:,} more {'is' if busy == 1 else 'are'} {doing} now)"
    if row["oldest"] is not None:
        wait += f", for {row['oldest']}" if n == 1 else f", the oldest for {row['oldest']}"
    arrived = _flow(row["arrived"], "arrived", "arrived")
    cleared = _flow(row["cleared"], "was cleared", "were cleared")
    window = _count(row["window_days"], "days", one="day")
    return f"{wait}; in the last {window} {arrived} and {cleared}."


def _row(stage: Stage) -> dict[str, Any]:
    days = _days_to_clear(stage)
    oldest = _finite(stage.oldest_s)
    waiting_text = _count(stage.waiting, stage.unit)
    if stage.in_progress:
        waiting_text += f", {stage.in_progress:,} more {stage.doing} now"
    return {
        "key": stage.key,
        "name": stage.name,
        "unit": stage.unit,
        "waiting": stage.waiting,
        "in_progress": stage.in_progress,
        "waiting_text": waiting_text,
        "oldest_s": oldest,
        "oldest": None if oldest is None else _age(oldest),
        "arrived": stage.arrived,
        "cleared": stage.cleared,
        "window_days": stage.window_days,
        "days_to_clear": None if days is None else round(days, 1),
        "growing": stage.arrived > stage.cleared,
    }


def _expected_days(stage: Stage) -> float:
    """Days the waiting work takes to clear: at the window's pace, or, where none was cleared,
    at one in the time the oldest has waited (the window at most): see :func:`bottleneck`."""
    days = _days_to_clear(stage)
    if days is not None:
        return days
    window = max(stage.window_days, 0)
    oldest = _finite(stage.oldest_s)
    waited = window if oldest is None else min(max(oldest, 0.0) / 86_400.0, window)
    return stage.waiting * waited


def _days_to_clear(stage: Stage) -> float | None:
    """Days the waiting work takes to clear at the window's pace; None when none was cleared."""
    if stage.cleared <= 0 or stage.window_days <= 0:
        return None
    return stage.waiting * stage.window_days / stage.cleared


# --- what the labels bought -----------------------------------------------------------------


def model_progress(
    versions: Sequence[Mapping[str, Any]], *, since: datetime, metric: str
) -> dict[str, Any] | None:
    """How far the model's eval score moved over a window, and per how many labels.

    ``versions`` are the project's model versions oldest first, each with ``version``,
    ``n_train``, ``created_at``, ``value`` (the eval ``metric``, None when unmeasured) and
    ``n_eval`` (how many eval items measured it). Only versions measured on as many eval items
    as the newest are compared: a score on another eval set says nothing of the labels. The
    start is the model in use when the window began (the newest before ``since``), or the first
    one inside it; the end is the newest. When the window trained no newer model, ``state`` is
    ``"unchanged"``. None until a version is measured. The rate per 100 labels is given once
    100 labels or more lie between them.
    """
    measured = [v for v in versions if v.get("value") is not None]
    if not measured:
        return None
    end = measured[-1]
    same = [v for v in measured if v.get("n_eval") == end.get("n_eval")]
    before = [v for v in same if as_utc(v["created_at"]) < as_utc(since)]
    start = before[-1] if before else same[0]
    name = {"accuracy": "eval accuracy", "span_f1": "eval span F1"}.get(metric, metric)
    base = {
        "metric": metric,
        "to_version": int(end["version"]),
        "to_value": round(float(end["value"]), 4),
    }
    if start is end:
        scores = (
            f"v{end['version']} scores {float(end['value']):.3f} {name} on "
            f"{_count(int(end['n_train']), 'labels')}"
        )
        if before:
            sentence = f"No newer model in these days: {scores}."
        else:  # the first model measured on this eval set came in the window
            sentence = f"Nothing to compare with yet: {scores}, the first model measured."
        return {**base, "state": "unchanged", "sentence": sentence}
    labels = int(end["n_train"]) - int(start["n_train"])
    points = 100.0 * (float(end["value"]) - float(start["value"]))
    per_100 = 100.0 * points / labels if labels >= 100 else None  # per 100 of fewer is noise
    sign = "+" if points >= 0 else "−"
    sentence = (
        f"The model went from v{start['version']} ({float(start['value']):.3f} on "
        f"{_count(int(start['n_train']), 'labels')}) to v{end['version']} "
        f"({float(end['value']):.3f} on {_count(int(end['n_train']), 'labels')}): "
        f"{sign}{abs(points):.1f} points of {name}"
    )
    if labels > 0:
        sentence += f" for {_count(labels, 'more labels', one='1 more label')}"
    if per_100 is not None:
        sentence += f", {sign}{abs(per_100):.2f} points per 100 labels"
    sentence += "."
    if len(same) < len(measured) and not before:
        sentence += f" (Since v{start['version']}, measured on the current eval set.)"
    return {
        **base,
        "state": "progress",
        "from_version": int(start["version"]),
        "from_value": round(float(start["value"]), 4),
        "labels": labels,
        "points": round(points, 2),
        "points_per_100_labels": None if per_100 is None else round(per_100, 3),
        "sentence": sentence,
    }


# --- words ----------------------------------------------------------------------------------


def _age(seconds: float) -> str:
    """An age in the largest unit it fills at least once, whole: "3 days", "1 hour"."""
    for size, unit in ((86_400, "days"), (3_600, "hours"), (60, "minutes")):
        if seconds >= size:
            return _count(seconds // size, unit)
    return "less than a minute"


def _count(n: float, plural: str, *, one: str | None = None) -> str:
    """``n`` with thousands separators and the noun it agrees with: "1 label", "1,260 labels",
    "2.5 labels", "0.07 labels"; ``one`` replaces "1 <singular>" (``_count(1, "days",
    one="day")`` is "day", for "the last day")."""
    if n >= 10 or float(n).is_integer():
        shown = f"{round(n):,}"
    elif n >= 1:  # 9.96 shows as "10"
        shown = f"{n:.1f}".removesuffix(".0")
    else:  # a label in two weeks is "0.07" a day, not "0"
        shown = f"{n:.2f}".rstrip("0").rstrip(".")
        shown = f"{n:.1g}" if shown == "0" else shown
    if shown != "1":
        return f"{shown} {plural}"
    return one if one is not None else f"1 {plural.removesuffix('s')}"


def _flow(n: int, singular: str, plural: str) -> str:
    """How many moved in the window: "none were cleared", "1 was cleared", "60 arrived"."""
    if n == 0:
        return f"none {plural}"
    return f"{n:,} {singular if n == 1 else plural}"


# --- time -----------------------------------------------------------------------------------


def as_utc(t: datetime) -> datetime:
    """``t`` as an aware UTC datetime; naive ones are UTC already (SQLite), aware ones are in the
    session's time zone (PostgreSQL)."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def iso_week(at: datetime | date) -> str:
    """The ISO week of ``at`` in UTC (of a UTC day), as the dashboard and the Quality page name
    it: "2026-W49"."""
    year, week, _ = (as_utc(at) if isinstance(at, datetime) else at).isocalendar()
    return f"{year}-W{week:02d}"


def _date_after(now: datetime, days: float) -> str | None:
    """The ISO UTC date ``days`` after ``now``; None past the calendar's end."""
    try:
        return (as_utc(now) + timedelta(days=days)).date().isoformat()
    except OverflowError:
        return None


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)
