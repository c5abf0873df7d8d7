"""The dashboard's per-day and per-annotator figures, which the database counts, are the ones
a plain Python count over the same rows gives, on both engines and across UTC midnight."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select

from labelloop.insight import flow
from labelloop.store.tables import annotation, assignment, item, item_label, review, user
from labelloop.workflow import insight
from tests.conftest import Lab, make_rows

AT = datetime(2026, 12, 5, 15, 30, tzinfo=UTC)
"""A Saturday afternoon: the window's ISO weeks are cut at both ends."""
MIDNIGHT = datetime(2026, 12, 3, tzinfo=UTC)


def _history(lab: Lab) -> Any:
    """A project whose annotations, labels and verdicts fall on both sides of UTC midnights,
    with active times that are odd, even, zero; labels decided before their lease; an
    annotator whose times were not recorded."""
    ctx = lab.project("p", review_policy="all")
    lab.import_rows(ctx, make_rows(14))
    people = [lab.user(name).id for name in ("ann", "bea", "cy")]
    with lab.db.read() as conn:
        ids = [i for (i,) in conn.execute(select(item.c.id).order_by(item.c.id))]
    second = timedelta(seconds=1)
    made = [  # (when, annotator, active ms, the label's delay after it; None: no label)
        (MIDNIGHT - second, 0, 1500, timedelta(0)),  # 23:59:59 on Dec 2
        (MIDNIGHT, 0, 2500, timedelta(0)),  # 00:00:00 on Dec 3
        (MIDNIGHT - timedelta(microseconds=1), 1, 4001, timedelta(hours=3)),  # 23:59:59.999999
        (MIDNIGHT + timedelta(days=1), 1, 0, timedelta(minutes=7, microseconds=3)),
        (MIDNIGHT + timedelta(days=1, hours=23, minutes=59, seconds=59), 0, 3333, None),
        (AT - timedelta(days=7), 0, 1200, timedelta(days=2)),  # the 7 days' very first moment
        (AT - timedelta(days=7) - timedelta(microseconds=1), 1, 777, timedelta(hours=30)),
        (AT - timedelta(days=12, hours=4), 2, 0, timedelta(seconds=1)),
        (AT - timedelta(days=20), 2, 0, None),  # before a 14-day window, inside the 30-day one
        (AT - timedelta(minutes=5), 1, 9999, timedelta(minutes=1)),
        (AT - timedelta(hours=20), 0, 61000, -timedelta(hours=2)),  # labeled before its lease
        (AT - timedelta(days=40), 0, 5000, timedelta(0)),  # outside every window
        (AT + timedelta(hours=2), 1, 1234, timedelta(0)),  # after the report's time
    ]
    leases, notes, labels, verdicts = [], [], [], []
    for k, (when, who, ms, delay) in enumerate(made):
        leased = when - timedelta(milliseconds=ms, minutes=k)
        leases.append(
            {"id": k + 1, "project_id": ctx.id, "item_id": ids[k], "user_id": people[who],
             "state": "submitted", "leased_at": leased,
             "lease_expires_at": leased + timedelta(hours=1), "strategy": "margin"}
        )  # fmt: skip
        notes.append(
            {"id": k + 1, "project_id": ctx.id, "item_id": ids[k], "user_id": people[who],
             "assignment_id": k + 1, "value": {"sentiment": lab.classes[k % 3]},
             "status": "submitted", "schema_version": 1, "guideline_version": 1,
             "active_ms": ms, "created_at": when, "updated_at": when}
        )  # fmt: skip
        if delay is not None:
            decided = when + delay if delay >= timedelta(0) else leased + delay
            labels.append(
                {"item_id": ids[k], "project_id": ctx.id,
                 "value": {"sentiment": lab.classes[k % 3]},
                 "label": lab.classes[k % 3] if k != 3 else None, "resolution": "single",
                 "annotation_id": k + 1, "decided_by": people[who], "decided_at": decided}
            )  # fmt: skip
        if k % 2 == 0:
            verdicts.append(
                {"annotation_id": k + 1, "reviewer_id": lab.admin.id, "verdict": "accept",
                 "tier": 1, "created_at": when + timedelta(seconds=30)}
            )  # fmt: skip
    labels.append(  # an imported label: nobody's work
        {"item_id": ids[13], "project_id": ctx.id, "value": {"sentiment": "neutral"},
         "label": "neutral", "resolution": "imported", "annotation_id": None,
         "decided_by": None, "decided_at": MIDNIGHT}
    )  # fmt: skip
    with lab.db.write() as conn:
        for table, rows in (
            (assignment, leases),
            (annotation, notes),
            (item_label, labels),
            (review, verdicts),
        ):
            conn.execute(table.insert(), rows)
    return ctx


def _by_python(lab: Lab, *, days: int) -> dict[str, Any]:
    """The figures counted the plain way: every row read, bucketed by its UTC day in Python."""
    first_day = (AT - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    week_ago = AT - timedelta(days=7)
    with lab.db.read() as conn:
        notes = conn.execute(
            select(user.c.username, annotation.c.created_at, annotation.c.active_ms)
            .join(user, user.c.id == annotation.c.user_id)
            .where(annotation.c.created_at >= first_day)
        ).all()
        first_served = (
            select(assignment.c.leased_at)
            .where(assignment.c.item_id == item_label.c.item_id)
            .scalar_subquery()
            .label("leased_at")
        )
        labels = conn.execute(
            select(item_label.c.decided_at, item_label.c.label, first_served).where(
                item_label.c.resolution != "imported",
                item_label.c.decided_at >= min(first_day, AT - timedelta(days=14)),
            )
        ).all()
        verdicts = conn.execute(
            select(review.c.created_at).where(review.c.created_at >= first_day)
        ).all()
    in_window = [r for r in labels if r.decided_at >= first_day]
    mine: dict[str, list[Any]] = defaultdict(list)
    for r in notes:
        mine[r.username].append(r)
    weeks: dict[str, Counter[str]] = defaultdict(Counter)
    for r in in_window:
        if r.label is not None:
            weeks[flow.iso_week(r.decided_at)][r.label] += 1

    def counts(times: Any, n: int = days) -> list[int]:
        return [c for _, c in flow.per_day(times, now=AT, days=n)]

    return {
        "annotations": counts(r.created_at for r in notes),
        "resolved": counts(r.decided_at for r in labels),
        "last_14_days": flow.per_day((r.decided_at for r in labels), now=AT, days=14),
        "reviews": counts(r.created_at for r in verdicts),
        "active": flow.time_to_label([r.active_ms for r in notes]),
        "turnaround": flow.turnaround((r.leased_at, r.decided_at) for r in in_window),
        "weeks": {w: dict(c) for w, c in weeks.items()},
        "annotators": {
            name: {
                "annotations": len(rows),
                "last_7_days": sum(r.created_at >= week_ago for r in rows),
                "per_day": counts(r.created_at for r in rows),
                **flow.time_to_label([r.active_ms for r in rows]),
            }
            for name, rows in mine.items()
        },
    }


def test_the_counts_per_day_and_annotator_are_a_plain_count_of_the_rows(lab: Lab) -> None:
    ctx = _history(lab)
    if not lab.db.is_sqlite:
        # Days are UTC days whatever the session's time zone shows.
        lab.db.engine.dispose()
        event.listen(
            lab.db.engine,
            "connect",
            lambda conn, _: conn.execute("SET TIME ZONE 'America/New_York'"),
        )
    for days in (1, 7, 14, 30, 90):
        found = insight.report(lab.db, ctx, days=days, at=AT)
        want = _by_python(lab, days=days)
        t = found["throughput"]
        assert t["annotations"] == want["annotations"], days
        assert t["resolved"] == want["resolved"], days
        assert t["reviews"] == want["reviews"], days
        assert found["time"]["active"] == want["active"], days
        assert found["time"]["turnaround"] == want["turnaround"], days
        mix = {
            w["week"]: {k: n for k, n in w["counts"].items() if n}
            for w in found["label_mix"]["weeks"]
        }
        assert mix == want["weeks"], days
        annotators = {
            a["username"]: {k: a[k] for k in want["annotators"].get(a["username"], a)}
            for a in found["annotators"]
        }
        assert annotators == want["annotators"], days
        remaining = found["counts"]["remaining"]
        pace = flow.forecast(remaining, want["last_14_days"], now=AT, window=14)
        assert found["forecast"]["pool"] == pace and pace["state"] == "forecast", days

    found = insight.report(lab.db, ctx, days=30, at=AT)
    by_day = dict(zip(found["throughput"]["days"], found["throughput"]["annotations"], strict=True))
    # 23:59:59 and 23:59:59.999999 count on Dec 2, 00:00:00 on Dec 3.
    assert by_day["2026-12-02"] == 2 and by_day["2026-12-03"] == 1
    assert by_day["2026-12-04"] == 3 and by_day["2026-12-05"] == 2  # one after AT, that day
    ann, bea, cy = sorted(found["annotators"], key=lambda a: a["username"])
    assert ann["per_day"][-4:] == [1, 1, 2, 0]
    # The moment 7 days before the report counts in the last 7 days, a microsecond earlier
    # does not; an annotation after the report's time counts (as it always did).
    assert ann["annotations"] == 5 and ann["last_7_days"] == 5
    assert bea["annotations"] == 5 and bea["last_7_days"] == 4
    assert cy["annotations"] == 2 and cy["last_7_days"] == 0 and cy["n"] == 0
    assert ann["n"] == 5 and bea["n"] == 4  # times of 0 ms were not recorded
    turnaround = found["time"]["turnaround"]
    assert turnaround["n"] == 9  # the label decided before its lease is left out
    resolved = dict(zip(found["throughput"]["days"], found["throughput"]["resolved"], strict=True))
    assert resolved["2026-12-02"] == 1 and resolved["2026-12-03"] == 2  # the import's is not
