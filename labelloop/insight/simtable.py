"""A simulation's summary table and chart: the terminal, the HTML file and the project page
show the same cells.

PURE: reads a simulation's :func:`~labelloop.learn.simreport.to_json` figures; writes nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labelloop.insight.curves import Chart
from labelloop.learn.simreport import MeanCurve

TEXT_COLUMNS = (0, 5)
"""Columns of :func:`summary_rows` holding words (the others hold numbers)."""
NOT_REACHED = "not reached (k/n): k of n seeds reached the level within the budget"
"""What a "not reached (1/2)" cell means; said under every table that holds one."""
AUC_TIE = 0.001
"""Learning-curve AUCs closer than this are read as a tie."""


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


def not_reached_note(rows: list[list[str]]) -> str:
    """:data:`NOT_REACHED` when a cell of :func:`summary_rows` reads "not reached (k/n)"."""
    return NOT_REACHED if any("not reached (" in cell for row in rows for cell in row) else ""


def best_strategy(data: dict[str, Any]) -> str | None:
    """One sentence from the :func:`~labelloop.learn.simreport.to_json` figures: which strategy
    learned fastest (learning-curve AUC), against random; the file's replay and a project's say
    it alike."""
    entries = [e for e in data["strategies"] if e["auc"] is not None]
    control = next((e for e in entries if e["strategy"] == "random"), None)
    others = [e for e in entries if e is not control]
    if not others:
        return None
    top = max(others, key=lambda e: e["auc"])
    if control is None:
        return f"{top['strategy']} has the best learning curve (AUC {top['auc']:.3f})"
    if top["auc"] <= control["auc"] + AUC_TIE:
        return (
            f"no strategy learned faster than random on these labels (random: AUC "
            f"{control['auc']:.3f}; the closest, {top['strategy']}: {top['auc']:.3f})"
        )
    sentence = (
        f"{top['strategy']} has the best learning curve: AUC {top['auc']:.3f} against "
        f"{control['auc']:.3f} for random"
    )
    # Seeds share their splits and first labels across strategies: compared seed by seed, a
    # mean lead of 0.001 shows for the noise it is.
    pairs = list(
        zip(top.get("auc_per_seed") or [], control.get("auc_per_seed") or [], strict=False)
    )
    if len(pairs) > 1:
        ahead = sum(1 for a, b in pairs if a is not None and b is not None and a > b)
        sentence += f" (ahead in {ahead} of {len(pairs)} seeds)"
    mine, theirs = top.get("labels_to_98"), control.get("labels_to_98")
    if mine and theirs:
        sentence += (
            f"; it reaches 98% of full-data accuracy with {mine:,.0f} labels, "
            f"random with {theirs:,.0f}"
        )
    return sentence


def chart(data: dict[str, Any], *, title: str) -> Chart:
    """The learning curves (accuracy and macro-F1, mean and range over seeds) with the table,
    from the :func:`~labelloop.learn.simreport.to_json` figures alone: a simulation stored
    long ago is drawn as a new one is."""
    rows = summary_rows(data)
    return Chart(
        title=title,
        subtitle=(
            f"{len(data['seeds'])} seeds, batch {data['batch_size']}, budget {data['budget']}, "
            f"featurizer {data['featurizer']}; {data['n_pool']:,} pool / {data['n_test']:,} test"
        ),
        curves={
            metric: [
                MeanCurve(
                    c["strategy"],
                    np.asarray(c["n_labels"], dtype=np.int64),
                    np.asarray(c["mean"], dtype=np.float64),
                    np.asarray(c["low"], dtype=np.float64),
                    np.asarray(c["high"], dtype=np.float64),
                )
                for c in data["curves"][metric]
            ]
            for metric in ("accuracy", "macro_f1")
        },
        full={"accuracy": data["full_accuracy"], "macro_f1": data["full_macro_f1"]},
        table=rows,
        text_columns=TEXT_COLUMNS,
        verdict=best_strategy(data) or "",
        caption=not_reached_note(rows),
    )
