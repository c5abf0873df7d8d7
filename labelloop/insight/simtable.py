"""A simulation's summary table and chart: the terminal, the HTML file and the project page
show the same cells.

PURE: reads a :class:`~labelloop.learn.simulate.Simulation` and its
:func:`~labelloop.learn.simreport.to_json` figures; writes nothing.
"""

from __future__ import annotations

from typing import Any

from labelloop.insight.curves import Chart
from labelloop.learn import simreport
from labelloop.learn.simulate import Simulation

TEXT_COLUMNS = (0, 5)
"""Columns of :func:`summary_rows` holding words (the others hold numbers)."""


def summary_rows(data: dict[str, Any]) -> list[list[str]]:
    """The figures of :func:`~labelloop.learn.simreport.to_json` as text cells, header first."""
    n = len(data["seeds"])

    def number(value: float | None, spec: str) -> str:  # None: nothing measured, or queried
        return "–" if value is None else format(value, spec)

    def reach(entry: dict[str, Any], pct: int) -> str:
        mean, hit = entry[f"labels_to_{pct}"], entry[f"reached_{pct}"]
        if mean is not None:
            return f"{mean:,.0f}"
        return "not reached" if hit == 0 else f"not reached ({hit}/{n})"

    def stops(entry: dict[str, Any]) -> str:
        lines = []
        for rule, s in entry["stopping"].items():
            if not s["fired"]:
                lines.append(f"{rule}: never")
            else:
                lines.append(
                    f"{rule}: {s['labels_mean']:,.0f} labels, {s['kept_mean']:.1%} of full"
                    + (f" ({s['fired']}/{n} seeds)" if s["fired"] < n else "")
                )
        return "\n".join(lines) or "none registered"

    rows = [
        ["strategy", "labels to 95%", "labels to 98%", "AUC", "at budget", "stopping", "query ms"]
    ]
    for e in data["strategies"]:
        rows.append(
            [
                e["strategy"],
                reach(e, 95),
                reach(e, 98),
                number(e["auc"], ".3f"),
                number(e["kept_at_budget"], ".1%"),
                stops(e),
                number(e["query_ms_median"], ".1f"),
            ]
        )
    return rows


def chart(result: Simulation, data: dict[str, Any], *, title: str) -> Chart:
    """The learning curves (accuracy and macro-F1, mean and range over seeds) with the table."""
    return Chart(
        title=title,
        subtitle=(
            f"{len(result.runs)} seeds, batch {result.batch_size}, budget {result.budget}, "
            f"featurizer {data['featurizer']}; {data['n_pool']:,} pool / {data['n_test']:,} test"
        ),
        curves={
            m: simreport.mean_curves(result, metric=m, up_to=result.budget)
            for m in ("accuracy", "macro_f1")
        },
        full={"accuracy": data["full_accuracy"], "macro_f1": data["full_macro_f1"]},
        table=summary_rows(data),
        text_columns=TEXT_COLUMNS,
    )
