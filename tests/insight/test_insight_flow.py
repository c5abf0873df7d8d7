"""The operations dashboard's numbers: labels a day, time to label, the backlog forecast and the
stage that holds the work, each as a manager reads them."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from labelloop.insight.flow import (
    Stage,
    backlogs,
    bottleneck,
    forecast,
    per_day,
    rate,
    stage_table,
    time_to_label,
    turnaround,
)

NOW = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)
DAY = 86_400


def series(counts: list[int]) -> list[tuple[date, int]]:
    """Counts per day, the last one on NOW's day."""
    first = NOW.date() - timedelta(days=len(counts) - 1)
    return [(first + timedelta(days=i), n) for i, n in enumerate(counts)]


def as_json(value: object) -> object:
    """What the API sends: fails on NaN, infinity, dates or numpy numbers."""
    return json.loads(json.dumps(value, allow_nan=False))


# --- per_day and rate -----------------------------------------------------------------------


def test_per_day_counts_utc_days_zero_filled_and_mixes_naive_and_aware_times() -> None:
    times = [
        datetime(2026, 12, 5, 8, 0),  # naive: UTC, as SQLite gives it
        datetime(2026, 12, 4, 23, 30, tzinfo=timezone(timedelta(hours=-2))),  # 01:30 UTC on the 5th
        datetime(2026, 12, 4, 5, 0, tzinfo=timezone(timedelta(hours=9))),  # 20:00 UTC on the 3rd
        datetime(2026, 11, 20, 12, 0),  # before the range
        datetime(2026, 12, 6, 0, 10, tzinfo=UTC),  # after now's day
    ]
    expected = [
        (date(2026, 12, 2), 0),
        (date(2026, 12, 3), 1),
        (date(2026, 12, 4), 0),
        (date(2026, 12, 5), 2),
    ]
    assert per_day(times, now=NOW, days=4) == expected
    assert per_day(times, now=NOW.replace(tzinfo=None), days=4) == expected  # naive now too
    # now's UTC day is the last one, whatever the zone now is given in
    tokyo_now = datetime(2026, 12, 6, 0, 30, tzinfo=timezone(timedelta(hours=9)))
    assert per_day([], now=tokyo_now, days=2) == [(date(2026, 12, 4), 0), (date(2026, 12, 5), 0)]


def test_rate_compares_the_last_window_with_the_one_before() -> None:
    result = rate(series([10] * 7 + [15] * 7), window=7)
    assert result == {"per_day": 15.0, "previous_per_day": 10.0, "change": 0.5, "window_days": 7}
    slower = rate(series([0] * 3 + [20] * 7 + [5] * 7), window=7)
    assert slower["change"] == pytest.approx(-0.75)


def test_rate_gives_no_change_without_a_full_earlier_window_or_from_zero() -> None:
    short = rate(series([4] * 10), window=7)
    assert short["per_day"] == 4.0
    assert short["previous_per_day"] is None and short["change"] is None
    from_zero = rate(series([0] * 7 + [3] * 7), window=7)
    assert from_zero["previous_per_day"] == 0.0 and from_zero["change"] is None
    assert rate([], window=7)["per_day"] == 0.0


# --- time to label --------------------------------------------------------------------------


def test_time_to_label_skips_unrecorded_times() -> None:
    result = time_to_label([0, None, 4000, 2000, 6000])  # type: ignore[list-item]
    assert result == {
        "n": 3,
        "median_s": 4.0,
        "p90_s": 5.6,
        "mean_s": 4.0,
        "labels_per_hour": 900.0,
    }
    assert time_to_label([1234, 1000, 1000])["mean_s"] == 1.08  # 2 dp
    assert time_to_label([0, None]) == {  # type: ignore[list-item]
        "n": 0,
        "median_s": None,
        "p90_s": None,
        "mean_s": None,
        "labels_per_hour": None,
    }


def test_turnaround_in_hours_over_naive_and_aware_pairs() -> None:
    start = datetime(2026, 12, 1, 9, 0)
    pairs = [
        (start, start + timedelta(hours=2)),
        (start.replace(tzinfo=UTC), datetime(2026, 12, 1, 13, 0)),  # aware start, naive end: 4 h
        (start, start + timedelta(hours=10)),
        (start, start - timedelta(minutes=5)),  # clock skew: skipped
    ]
    assert turnaround(pairs) == {"n": 3, "median_h": 4.0, "p90_h": 8.8}
    assert turnaround([]) == {"n": 0, "median_h": None, "p90_h": None}


# --- forecast -------------------------------------------------------------------------------


def test_a_steady_ten_a_day_finishes_a_hundred_in_ten_days() -> None:
    result = forecast(100, series([10] * 20), now=NOW)
    assert result["state"] == "forecast"
    assert result["per_day"] == 10.0 and result["days"] == 10.0 and result["based_on_days"] == 14
    assert result["finish"] == "2026-12-15"
    assert result["finish_early"] <= result["finish"] <= result["finish_late"]
    assert result["sentence"] == (
        "At 10 labels a day (the last 14 days), the 100 left take about 10 days: "
        "done around 2026-12-15."
    )
    assert as_json(result) == result


def test_an_uneven_pace_gives_an_interval_around_the_date() -> None:
    counts = [12, 3, 25, 0, 9, 14, 30, 2, 8, 11, 19, 5, 7, 15]  # mean 11.43
    result = forecast(1260, series(counts), now=NOW)
    assert result["per_day"] == pytest.approx(11.43)
    assert result["per_day_low"] < result["per_day"] < result["per_day_high"]
    assert result["finish_early"] < result["finish"] < result["finish_late"]
    assert result["finish"] == (NOW + timedelta(days=1260 / (160 / 14))).date().isoformat()
    assert "the 1,260 left take about 110 days" in result["sentence"]
    assert f"(between {result['finish_early']} and {result['finish_late']})" in result["sentence"]
    assert forecast(1260, series(counts), now=NOW) == result  # seeded
    assert forecast(1260, series(counts), now=NOW, seed=1)["finish"] == result["finish"]


def test_the_interval_holds_four_in_five_of_the_likely_paces() -> None:
    # 7 days of 20 and 6 of none after the first label: mean 10.8, standard error 2.8, so an
    # 80% interval spans about 7.2 to 14.3 a day (a 95% one would reach 5.3 to 16.2).
    result = forecast(1000, series([0, 20] * 7), now=NOW)
    assert result["based_on_days"] == 13 and result["per_day"] == pytest.approx(10.77)
    assert 7.0 <= result["per_day_low"] <= 8.5 and 13.0 <= result["per_day_high"] <= 14.5
    assert (
        result["finish_late"]
        == (NOW + timedelta(days=1000 / result["per_day_low"])).date().isoformat()
    )


def test_a_project_three_days_old_is_judged_on_those_three_days() -> None:
    result = forecast(300, series([0] * 11 + [20, 40, 30]), now=NOW)
    assert result["based_on_days"] == 3
    assert result["per_day"] == 30.0 and result["days"] == 10.0  # not 90 / 14 a day
    assert "(the last 3 days)" in result["sentence"]
    # days older than the window do not count, even when they were busy
    old_rush = forecast(300, series([500] * 5 + [30] * 14), now=NOW)
    assert old_rush["per_day"] == 30.0 and old_rush["based_on_days"] == 14


def test_no_labels_lately_means_no_pace_and_nothing_left_means_done() -> None:
    idle = forecast(1260, series([50] * 5 + [0] * 14), now=NOW)
    assert idle["state"] == "no_pace" and idle["remaining"] == 1260
    assert idle["sentence"] == (
        "No label resolved in the last 14 days, so there is no pace to tell when the 1,260 "
        "left are done."
    )
    assert forecast(10, [], now=NOW)["state"] == "no_pace"
    assert forecast(0, series([10] * 14), now=NOW) == {"state": "done", "remaining": 0}
    assert forecast(-3, [], now=NOW) == {"state": "done", "remaining": 0}


def test_a_slow_end_of_no_labels_has_no_latest_date() -> None:
    # One label on the first day, none since: a third of the resamples hold no label at all.
    result = forecast(5, series([1] + [0] * 13), now=NOW)
    assert result["per_day_low"] == 0.0 and result["finish_late"] is None
    assert result["finish_early"] <= result["finish"]
    assert "at the earliest" in result["sentence"] and "0.07 labels a day" in result["sentence"]
    assert as_json(result) == result


def test_forecast_sentence_counts_in_the_singular_and_with_separators() -> None:
    one = forecast(1, series([1] * 14), now=NOW)["sentence"]
    assert one.startswith("At 1 label a day (the last 14 days), the 1 left takes about 1 day:")
    first_day = forecast(12_600, series([0] * 13 + [42]), now=NOW)["sentence"]
    assert first_day.startswith(
        "At 42 labels a day (the last day), the 12,600 left take about 300 days"
    )


# --- stages and the bottleneck --------------------------------------------------------------


def worst(stages: list[Stage]) -> dict[str, Any]:
    """The bottleneck of ``stages``, which must have one."""
    result = bottleneck(stages)
    assert result is not None
    return result


def labeling(**changes: object) -> Stage:
    fields: dict[str, object] = dict(
        key="label",
        name="Labeling",
        unit="items",
        waiting=500,
        oldest_s=2 * DAY,
        arrived=600,
        cleared=700,
        window_days=7,
    )  # 500 at 100 a day: 5 days
    return Stage(**{**fields, **changes})  # type: ignore[arg-type]


def review(**changes: object) -> Stage:
    fields: dict[str, object] = dict(
        key="review",
        name="Review",
        unit="annotations",
        waiting=120,
        oldest_s=3 * DAY + 4 * 3600,
        arrived=60,
        cleared=20,
        window_days=7,
    )  # 120 at 20 a week: 42 days
    return Stage(**{**fields, **changes})  # type: ignore[arg-type]


def test_review_holds_the_work_when_reviewers_clear_less_than_labelers() -> None:
    result = bottleneck([labeling(), review()])
    assert result == {
        "key": "review",
        "name": "Review",
        "waiting": 120,
        "days_to_clear": 42.0,
        "growing": True,
        "sentence": "Review holds the work: 120 annotations wait, the oldest for 3 days; "
        "in the last 7 days 60 arrived and 20 were cleared.",
    }
    # more waiting in labeling, but it clears fast: still review
    assert worst([labeling(waiting=2000), review()])["key"] == "review"  # 20 < 42 days
    assert worst([labeling(waiting=5000), review()])["key"] == "label"  # 50 > 42 days


def test_one_rejected_item_does_not_outrank_the_pile_waiting_for_review() -> None:
    """One item rejected two hours ago, none cleared from rework yet, beside 217 annotations
    waiting in review: review holds the work. Rework was named while a stage that cleared
    nothing ranked first whatever waited there."""
    rework = Stage("rework", "Back with the annotator", "items", 1, 2 * 3600.0, 1, 0, 7)
    piled = review(waiting=217, arrived=260, cleared=155)  # 217 at 22 a day: 9.8 days
    result = worst([labeling(), piled, rework])
    assert result["key"] == "review" and result["days_to_clear"] == 9.8
    assert result["sentence"].startswith("Review holds the work: 217 annotations wait")
    # reviewers who would clear the pile in less than the two hours the item waited: rework
    fast = review(waiting=217, arrived=260, cleared=217 * 7 * 24)  # 217 in an hour
    assert worst([fast, rework])["key"] == "rework"


def test_a_stage_that_clears_nothing_holds_the_work_by_its_pile_and_its_age() -> None:
    """With nothing cleared in the window, a stage's work takes a day per item for each day its
    oldest has waited (the 7-day window at most): the slower stage is named."""
    # 217 annotations in review with no verdict for 2 days: 434 days against labeling's 5
    stuck = review(waiting=217, oldest_s=2 * DAY, cleared=0)
    assert worst([labeling(), stuck])["key"] == "review"
    # three items rejected 6 days ago and never redone: 18 days against review's 4
    rework = Stage("rework", "Back with the annotator", "items", 3, 6 * DAY, 3, 0, 7)
    keeping_up = review(waiting=40, arrived=70, cleared=70)  # 40 at 10 a day: 4 days
    result = worst([labeling(), keeping_up, rework])
    assert result["key"] == "rework" and result["days_to_clear"] is None
    assert result["sentence"] == (
        "Back with the annotator holds the work: 3 items wait, the oldest for 6 days; "
        "in the last 7 days 3 arrived and none were cleared."
    )
    # the age counts up to the window: 3 items 30 days old are 21 days, not 90
    old = dataclasses.replace(rework, oldest_s=30 * DAY)
    assert worst([review(waiting=100, cleared=35), old])["key"] == "rework"  # 20 < 21
    assert worst([review(waiting=110, cleared=35), old])["key"] == "review"  # 22 > 21
    # an unknown age counts as the whole window
    unknown = dataclasses.replace(rework, oldest_s=None)
    assert worst([review(waiting=100, cleared=35), unknown])["key"] == "rework"
    # between two stages that take as long: the larger pile, then the older work
    twin = Stage("escalated", "Expert tier", "items", 9, 2 * DAY, 9, 0, 7)
    assert worst([rework, twin])["key"] == "escalated"  # 18 days each, 9 > 3 waiting
    older = dataclasses.replace(old, key="older", oldest_s=40 * DAY)  # 21 days each
    assert worst([old, older])["key"] == "older"
    same = dataclasses.replace(rework, key="same")
    assert worst([rework, same])["key"] == "rework"  # a full tie: the earlier stage
    assert worst([same, rework])["key"] == "same"


def test_nothing_waiting_is_no_bottleneck() -> None:
    idle = [labeling(waiting=0, oldest_s=None), review(waiting=0, cleared=0, oldest_s=None)]
    assert bottleneck(idle) is None
    assert bottleneck([]) is None
    # a stage with nothing waiting never is the bottleneck, even with nothing cleared
    assert worst([review(waiting=0, cleared=0), labeling()])["key"] == "label"


def test_bottleneck_sentence_in_the_singular() -> None:
    lone = Stage("overlap", "Second opinion", "items", 1, 3_700.0, 1, 1, 1)
    assert worst([lone])["sentence"] == (
        "Second opinion holds the work: 1 item waits, for 1 hour; "
        "in the last day 1 arrived and 1 was cleared."
    )
    unknown_age = review(oldest_s=None, arrived=0, cleared=1_500, waiting=3_000)
    assert worst([unknown_age])["sentence"] == (
        "Review holds the work: 3,000 annotations wait; "
        "in the last 7 days none arrived and 1,500 were cleared."
    )


@pytest.mark.parametrize(
    ("waiting", "busy", "table", "sentence"),
    [
        (221, 2, "221 items, 2 more being labeled now", "221 items wait (2 more are being"),
        (1, 1, "1 item, 1 more being labeled now", "1 item waits (1 more is being"),
        (1_200, 0, "1,200 items", "1,200 items wait, the oldest"),
    ],
)
def test_items_being_labeled_now_are_named_beside_those_that_wait(
    waiting: int, busy: int, table: str, sentence: str
) -> None:
    stage = labeling(waiting=waiting, in_progress=busy, cleared=0)
    assert stage_table([stage])[0]["waiting_text"] == table
    assert stage_table([stage])[0]["in_progress"] == busy
    assert worst([stage])["sentence"].startswith(f"Labeling holds the work: {sentence}")


def test_work_in_progress_is_named_by_what_the_stage_does() -> None:
    held = review(in_progress=2, doing="being reviewed")
    assert stage_table([held])[0]["waiting_text"] == "120 annotations, 2 more being reviewed now"
    assert worst([held])["sentence"].startswith(
        "Review holds the work: 120 annotations wait (2 more are being reviewed now), the oldest"
    )
    # as a backlog too; the work in progress does not wait, nor count towards the days
    (grown,) = backlogs([held])
    assert grown["sentence"].startswith("Review: 120 annotations wait (2 more are being reviewed")
    assert grown["days_to_clear"] == 42.0


def test_stage_table_one_row_per_stage_with_ages_in_words() -> None:
    stages = [
        labeling(oldest_s=59.0),
        review(oldest_s=61.0, cleared=0),
        Stage("rework", "Rework", "annotations", 3, 2 * 3600 + 59, 0, 4, 7),
        Stage("escalated", "Escalated", "annotations", 0, float("nan"), 0, 0, 7),
        Stage("overlap", "Second opinion", "items", 4, 1.9 * DAY, 4, 4, 7),
    ]
    rows = stage_table(stages)
    assert [r["key"] for r in rows] == ["label", "review", "rework", "escalated", "overlap"]
    assert [r["oldest"] for r in rows] == [
        "less than a minute",
        "1 minute",
        "2 hours",
        None,
        "1 day",
    ]
    assert rows[0] == {
        "key": "label",
        "name": "Labeling",
        "unit": "items",
        "waiting": 500,
        "in_progress": 0,
        "waiting_text": "500 items",
        "oldest_s": 59.0,
        "oldest": "less than a minute",
        "arrived": 600,
        "cleared": 700,
        "window_days": 7,
        "days_to_clear": 5.0,
        "growing": False,
    }
    assert [r["days_to_clear"] for r in rows] == [5.0, None, 5.2, None, 7.0]
    assert [r["waiting_text"] for r in rows][2:] == ["3 annotations", "0 annotations", "4 items"]
    assert (
        stage_table([Stage("review", "Review", "annotations", 1, 5.0, 1, 0, 7)])[0]["waiting_text"]
        == "1 annotation"
    )
    assert [r["growing"] for r in rows] == [False, True, False, False, False]
    assert rows[3]["oldest_s"] is None  # NaN is no age
    assert as_json(rows) == rows
    # the bottleneck reads the same row: the second opinion's 7 days (review's 120, a minute
    # old with none cleared, are two hours' work)
    neck = worst(stages)
    assert neck["key"] == "overlap" and neck["days_to_clear"] == rows[4]["days_to_clear"] == 7.0


def test_model_progress_from_the_model_in_use_when_the_window_began() -> None:
    from labelloop.insight.flow import model_progress

    def v(version: int, n: int, value: float | None, days_ago: float, n_eval: int = 30) -> Any:
        return {"version": version, "n_train": n, "value": value, "n_eval": n_eval,
                "created_at": NOW - timedelta(days=days_ago)}  # fmt: skip

    versions = [v(1, 20, 0.50, 40), v(2, 200, 0.61, 35), v(3, 400, None, 20), v(4, 1450, 0.70, 1)]
    got = model_progress(versions, since=NOW - timedelta(days=30), metric="accuracy")
    assert got is not None and got["state"] == "progress"
    assert (got["from_version"], got["to_version"], got["labels"]) == (2, 4, 1250)
    assert got["points"] == 9.0 and got["points_per_100_labels"] == 0.72
    assert got["sentence"] == (
        "The model went from v2 (0.610 on 200 labels) to v4 (0.700 on 1,450 labels): "
        "+9.0 points of eval accuracy for 1,250 more labels, +0.72 points per 100 labels."
    )
    # A window that began before any model: from the first measured one.
    early = model_progress(versions, since=NOW - timedelta(days=90), metric="accuracy")
    assert early is not None and early["from_version"] == 1
    worse = [v(1, 100, 0.70, 3), v(2, 101, 0.69, 1)]
    assert model_progress(worse, since=NOW - timedelta(days=7), metric="accuracy")[
        "sentence"
    ].endswith("−1.0 points of eval accuracy for 1 more label.")  # too few for a rate
    assert model_progress([v(1, 20, None, 1)], since=NOW, metric="accuracy") is None


def test_model_progress_without_a_newer_model_or_on_another_eval_set() -> None:
    from labelloop.insight.flow import model_progress

    def v(version: int, n: int, value: float, days_ago: float, n_eval: int = 30) -> Any:
        return {"version": version, "n_train": n, "value": value, "n_eval": n_eval,
                "created_at": NOW - timedelta(days=days_ago)}  # fmt: skip

    old = [v(1, 20, 0.5, 20), v(2, 400, 0.8, 10)]
    same = model_progress(old, since=NOW - timedelta(days=7), metric="accuracy")
    assert same is not None and same["state"] == "unchanged"
    assert (
        same["sentence"]
        == "No newer model in these days: v2 scores 0.800 eval accuracy on 400 labels."
    )
    first = model_progress([v(1, 20, 0.5, 1)], since=NOW - timedelta(days=7), metric="accuracy")
    assert first is not None and first["sentence"] == (
        "Nothing to compare with yet: v1 scores 0.500 eval accuracy on 20 labels, the first "
        "model measured."
    )
    # 60 harder eval items came with v3: v1 and v2 were measured on another set.
    harder = [*old, v(3, 420, 0.40, 2, n_eval=90), v(4, 620, 0.45, 1, n_eval=90)]
    got = model_progress(harder, since=NOW - timedelta(days=30), metric="accuracy")
    assert got is not None and (got["from_version"], got["to_version"]) == (3, 4)
    assert got["sentence"].endswith("(Since v3, measured on the current eval set.)")
    assert got["points"] == 5.0


def test_a_backlog_is_work_enough_to_matter_at_the_stages_pace() -> None:
    def growing(waiting: int, cleared: int) -> list[str]:
        stage = Stage("review", "Review", "annotations", waiting, 600.0, cleared + 5, cleared, 7)
        return [b["key"] for b in backlogs([stage], at_least=10)]

    assert growing(3, 0) == []  # three waiting: the everyday flow, whatever the pace
    assert growing(10, 0) == ["review"]  # nobody reviews: ten wait without end
    assert growing(30, 70) == ["review"]  # three days of work at 10 a day
    assert growing(12, 140) == []  # reviewers clear 20 a day: less than a day's work
