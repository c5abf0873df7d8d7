"""Reading a simulation: labels to reach a share of full-data accuracy, AUC, stops, mean curves.

Every figure is per strategy over the seeds of a :class:`~labelloop.learn.simulate.Simulation`;
labels to reach a share of full-data accuracy is the reporting of Zhang, Strubell & Hovy, "A
Survey of Active Learning for Natural Language Processing" (EMNLP 2022).

PURE: numpy and :mod:`labelloop.learn` only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from labelloop.learn.replay import Curve, StopPoint
from labelloop.learn.simulate import Simulation

LEVELS = (0.95, 0.98)
"""Shares of full-data accuracy the summaries report labels for."""


def labels_to_reach(curve: Curve, target: float, *, metric: str = "accuracy") -> int | None:
    """Labels at the first point whose ``metric`` reaches ``target``; ``None`` if none does."""
    hit = np.flatnonzero(curve.metric(metric) >= target - 1e-12)
    return int(curve.n_labels[hit[0]]) if hit.shape[0] else None


def curve_auc(curve: Curve, *, metric: str = "accuracy", up_to: int | None = None) -> float:
    """Learning-curve AUC: the mean ``metric`` over the points with at most ``up_to`` labels.

    The points are one batch apart up to the budget, so the mean is the area under the curve
    divided by its width (the normalised AUC of the active-learning literature). NaN when no
    point has at most ``up_to`` labels (a budget below the seed set).
    """
    keep = curve.n_labels <= (up_to if up_to is not None else curve.n_labels.max())
    values = curve.metric(metric)[keep]
    return float(values.mean()) if values.size else math.nan


def kept_at_budget(curve: Curve, full: float, *, budget: int, metric: str = "accuracy") -> float:
    """The ``metric`` of the last point with at most ``budget`` labels, as a share of ``full``;
    NaN when there is no such point (a budget below the seed set) or ``full`` is not positive.
    """
    values = curve.metric(metric)[curve.n_labels <= budget]
    return float(values[-1] / full) if values.size and full > 0 else math.nan


@dataclass(frozen=True)
class StopSummary:
    """One stopping rule on one strategy over the seeds (``None`` where it never fired)."""

    criterion: str
    points: tuple[StopPoint | None, ...]
    kept: tuple[float | None, ...]
    """Per seed, the metric at the stop as a share of the full-data metric."""

    @property
    def fired(self) -> int:
        return sum(p is not None for p in self.points)

    @property
    def mean_labels(self) -> float | None:
        values = [p.n_labels for p in self.points if p is not None]
        return float(np.mean(values)) if values else None

    @property
    def mean_kept(self) -> float | None:
        values = [k for k in self.kept if k is not None]
        return float(np.mean(values)) if values else None


@dataclass(frozen=True)
class StrategySummary:
    """What a strategy bought over the seeds: labels to each level, AUC, stops, latency."""

    strategy: str
    metric: str
    labels: Mapping[float, tuple[int | None, ...]]
    """Level -> labels to reach it per seed (``None``: not within the budget)."""
    auc: tuple[float, ...]
    stops: tuple[StopSummary, ...]
    query_ms: float
    fit_ms: float
    final: tuple[float, ...] = field(default=())
    """Per seed, the metric at the budget as a share of the full-data metric."""

    def reached(self, level: float) -> int:
        return sum(v is not None for v in self.labels[level])

    def mean_labels(self, level: float) -> float | None:
        """Mean over seeds, or ``None`` when any seed did not reach the level (censored)."""
        values = self.labels[level]
        if not values or any(v is None for v in values):
            return None
        return float(np.mean([v for v in values if v is not None]))

    @property
    def mean_auc(self) -> float:
        return float(np.mean(self.auc)) if self.auc else math.nan


def summarize(
    sim: Simulation, *, metric: str = "accuracy", levels: Sequence[float] = LEVELS
) -> list[StrategySummary]:
    """One :class:`StrategySummary` per strategy, in the order the strategies were given."""
    summaries = []
    for name in sim.strategies:
        curves = [run.curves[name] for run in sim.runs]
        fulls = [run.full(metric) for run in sim.runs]
        labels = {
            level: tuple(
                labels_to_reach(c, level * full, metric=metric)
                for c, full in zip(curves, fulls, strict=True)
            )
            for level in levels
        }
        stops = []
        for criterion in sim.stopping:
            points = tuple(c.stops.get(criterion) for c in curves)
            kept = tuple(
                None
                if p is None or full <= 0
                else (p.accuracy if metric == "accuracy" else p.macro_f1) / full
                for p, full in zip(points, fulls, strict=True)
            )
            stops.append(StopSummary(criterion, points, kept))
        final = [
            kept_at_budget(c, full, budget=sim.budget, metric=metric)
            for c, full in zip(curves, fulls, strict=True)
        ]
        query = np.concatenate([c.query_s for c in curves]) if curves else np.empty(0)
        fit = np.concatenate([c.fit_s for c in curves]) if curves else np.empty(0)
        summaries.append(
            StrategySummary(
                strategy=name,
                metric=metric,
                labels=labels,
                auc=tuple(curve_auc(c, metric=metric, up_to=sim.budget) for c in curves),
                stops=tuple(stops),
                query_ms=float(np.median(query) * 1000) if query.size else math.nan,
                fit_ms=float(np.median(fit) * 1000) if fit.size else math.nan,
                final=tuple(final),
            )
        )
    return summaries


@dataclass(frozen=True)
class MeanCurve:
    """A strategy's curve averaged over seeds, with the lowest and highest seed at each point."""

    strategy: str
    n_labels: NDArray[np.int64]
    mean: NDArray[np.float64]
    low: NDArray[np.float64]
    high: NDArray[np.float64]


def mean_curves(
    sim: Simulation, *, metric: str = "accuracy", up_to: int | None = None
) -> list[MeanCurve]:
    """Per strategy, the seeds' curves averaged on the label counts every seed measured."""
    out = []
    for name in sim.strategies:
        curves = [run.curves[name] for run in sim.runs]
        if not curves:
            continue
        common = curves[0].n_labels
        for c in curves[1:]:
            common = np.intersect1d(common, c.n_labels)
        if up_to is not None:
            common = common[common <= up_to]
        values = np.stack([c.metric(metric)[np.searchsorted(c.n_labels, common)] for c in curves])
        out.append(
            MeanCurve(name, common, values.mean(axis=0), values.min(axis=0), values.max(axis=0))
        )
    return out


def _num(value: float | None, digits: int = 4) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def to_json(sim: Simulation, *, levels: Sequence[float] = LEVELS) -> dict[str, Any]:
    """Everything a script needs: settings, full-data metrics, per-strategy figures, curves."""
    summaries = {m: summarize(sim, metric=m, levels=levels) for m in ("accuracy", "macro_f1")}
    strategies = []
    for acc, f1 in zip(summaries["accuracy"], summaries["macro_f1"], strict=True):
        entry: dict[str, Any] = {"strategy": acc.strategy}
        for level in levels:
            pct = round(level * 100)
            entry[f"labels_to_{pct}"] = _num(acc.mean_labels(level), 1)
            entry[f"reached_{pct}"] = acc.reached(level)
            entry[f"labels_to_{pct}_per_seed"] = list(acc.labels[level])
            entry[f"labels_to_{pct}_macro_f1"] = _num(f1.mean_labels(level), 1)
        entry["auc"] = _num(acc.mean_auc)
        entry["auc_per_seed"] = [_num(v) for v in acc.auc]
        entry["auc_macro_f1"] = _num(f1.mean_auc)
        entry["kept_at_budget"] = _num(float(np.mean(acc.final)) if acc.final else None)
        entry["query_ms_median"] = _num(acc.query_ms, 2)
        entry["fit_ms_median"] = _num(acc.fit_ms, 2)
        entry["stopping"] = {
            s.criterion: {
                "fired": s.fired,
                "labels_mean": _num(s.mean_labels, 1),
                "kept_mean": _num(s.mean_kept),
                "labels_per_seed": [None if p is None else p.n_labels for p in s.points],
            }
            for s in acc.stops
        }
        strategies.append(entry)
    return {
        "classes": list(sim.classes),
        "seeds": [run.seed for run in sim.runs],
        "seeds_requested": list(sim.seeds_requested),
        "timed_out": sim.timed_out,
        "elapsed_s": round(sim.elapsed_s, 2),
        "budget": sim.budget,
        "budget_requested": sim.budget if sim.budget_requested is None else sim.budget_requested,
        "batch_size": sim.batch_size,
        "n_initial": sim.n_initial,
        "n_pool": sim.runs[0].n_pool if sim.runs else None,
        "n_test": sim.runs[0].n_test if sim.runs else None,
        "full_accuracy": _num(float(np.mean([r.full_accuracy for r in sim.runs])))
        if sim.runs
        else None,
        "full_macro_f1": _num(float(np.mean([r.full_macro_f1 for r in sim.runs])))
        if sim.runs
        else None,
        "levels": list(levels),
        "stopping": list(sim.stopping),
        "strategies": strategies,
        "curves": {
            metric: [
                {
                    "strategy": c.strategy,
                    "n_labels": c.n_labels.tolist(),
                    "mean": [round(float(v), 4) for v in c.mean],
                    "low": [round(float(v), 4) for v in c.low],
                    "high": [round(float(v), 4) for v in c.high],
                }
                for c in mean_curves(sim, metric=metric, up_to=sim.budget)
            ]
            for metric in ("accuracy", "macro_f1")
        },
    }
