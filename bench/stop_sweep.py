"""Settled predictions' thresholds and lag, swept on real replays of the default policy.

One command:  python bench/stop_sweep.py [--tracks digits:pixels:1300,sms:tfidf:600,...] [--jobs N]

Each track is ``dataset:representation:budget`` from bench/al_efficiency.py's datasets, or
``dataset:representation:budget:records`` for a project of that many records drawn from it
(seeded, TF-IDF fitted on them as a project's is): ``tweets:tfidf:1500:3000`` is 3,000 tweets,
where the stop set is 1,000 of a 2,250-item pool. The
default policy (``auto``) is replayed as al_efficiency replays it (10 seeds, batch 10, the same
splits and seed sets), with every variant of the project's stopping rule judged after every
round. Per track and variant: on how many seeds it fired within the budget, where, as a multiple
of the oracle point (the labels where the curve first reaches 98% of the full-data accuracy; of
macro-F1 in brackets), and the share of the full-data accuracy kept there (mean and worst seed).
The target (issue 3): ≤ 1.5× the oracle while keeping ≥ 98%.

The rule stops when at most a share of the stop-set predictions changed against the model
trained on a fifth fewer labels and Cohen's κ between the two reaches a threshold. "κ alone" is
the rule before the share was added (share 100%); "changed alone" is plain agreement (κ ≥ -1),
to show what κ's correction for chance does on an imbalanced set. "Without the unseen items"
is the rule before 2026-12-07, which judged only the whole stop set, labeled items included.

``--jobs N`` replays N seeds at once in worker processes (``simulate(jobs=N)``): the same
stops as one by one, since the rules judge each round's history and keep nothing between seeds.

Progress goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, log  # noqa: E402
from al_efficiency import Dataset, features, level_labels, load, r, stop_figures  # noqa: E402

from labelloop.learn import SettledPredictions, make_strategy  # noqa: E402
from labelloop.learn.simulate import simulate  # noqa: E402

# Budgets past each track's oracle point on every seed where the rule can get there: TREC's lies
# at ~1,200 labels and movies/TF-IDF's at ~3,600, so 1.5x needs ~1,800 and ~5,400.
TRACKS = (
    "digits:pixels:1300,sms:tfidf:600,sms:minilm:400,trec:tfidf:3000,trec:minilm:3000,"
    "movies:tfidf:6000,movies:minilm:3500,tweets:minilm:3000,tweets:tfidf:1500:3000"
)
# (label, parameters of SettledPredictions); min_rounds stays the rule's default
VARIANTS: tuple[tuple[str, dict[str, float]], ...] = (
    ("changed <= 1.75%, kappa 0.93 (default)", {}),
    ("without the unseen items (until 2026-12-07)", {"unseen_changed": -1.0}),
    ("unseen items held over 20% more labels", {"hold": 0.2}),
    ("unseen items <= 0.5% changed", {"unseen_changed": 0.005}),
    ("changed <= 1.5% (until 2026-12-04)", {"changed": 0.015}),
    ("kappa 0.98 alone (until 2026-12-03)", {"threshold": 0.98, "changed": 1.0}),
    ("changed <= 1.75%, kappa 0.90", {"threshold": 0.90}),
    ("changed <= 1.75%, kappa 0.95", {"threshold": 0.95}),
    ("changed <= 1%", {"changed": 0.01}),
    ("changed <= 2%", {"changed": 0.02}),
    ("changed <= 1.75%, lag 0.1", {"lag": 0.1}),
    ("changed <= 1.75%, lag 0.3", {"lag": 0.3}),
    ("changed <= 1% alone", {"threshold": -1.0, "changed": 0.01}),
)


def subset(ds: Dataset, records: int) -> Dataset:
    """``records`` of the dataset's records, drawn with a fixed seed: a smaller project's data."""
    rows = np.sort(np.random.default_rng(0).choice(len(ds.y), size=records, replace=False))
    texts = [ds.texts[i] for i in rows] if ds.texts is not None else None
    pixels = ds.pixels[rows] if ds.pixels is not None else None
    return replace(ds, texts=texts, y=ds.y[rows], n_raw=records, pixels=pixels)


class Variant(SettledPredictions):
    """The project's rule with other parameters, under its own name."""

    def __init__(self, label: str, params: dict[str, float]) -> None:
        super().__init__(**params)  # type: ignore[arg-type]
        self.name = label  # type: ignore[misc]  # one name per variant in Curve.stops


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tracks", default=TRACKS, help=f"dataset:representation:budget,... ({TRACKS})")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "labelloop-bench")
    p.add_argument("--max-seconds", type=float, default=3600.0, help="bound of each track")
    p.add_argument("--jobs", type=int, default=1, help="seeds replayed at once (processes)")
    a = p.parse_args(argv)
    if a.jobs < 1:
        p.error("--jobs must be at least 1")
    started = time.monotonic()
    results: dict[str, Any] = {}
    for spec in a.tracks.split(","):
        name, rep, budget, *records = spec.strip().split(":")
        ds = load(name)
        if records:
            ds = subset(ds, int(records[0]))
        X = features(ds, rep, a.cache_dir)
        rules = [Variant(*v) for v in VARIANTS]
        t0 = time.monotonic()
        sim = simulate(
            X,
            ds.y,
            classes=ds.classes,
            strategies={"auto": make_strategy("auto")},
            seeds=list(range(a.seeds)),
            budget=int(budget),
            batch_size=10,
            stopping=rules,
            max_seconds=a.max_seconds,
            jobs=a.jobs,
        )
        key = f"{name}/{rep}" + (f"/{records[0]}" if records else "")
        labels = level_labels(sim, "auto", levels=(0.98,))  # the oracle point per seed
        reached = [o for o in labels[("accuracy", 0.98)] if o]
        results[key] = {
            "budget": int(budget),
            "seeds": len(sim.runs),
            "oracle_labels": r(float(np.mean(reached)), 1) if reached else None,
            "variants": {
                label: stop_figures(
                    [run.curves["auto"].stops.get(label) for run in sim.runs], sim.runs, labels
                )
                for label, _ in VARIANTS
            },
        }
        log(
            f"== {key}, budget {budget}: {len(sim.runs)} seeds in "
            f"{time.monotonic() - t0:.0f} s; oracle point {results[key]['oracle_labels']} labels"
        )
        for label, v in results[key]["variants"].items():
            where = (
                f"x{v['vs_oracle']} (macro-F1 x{v['vs_oracle_f1']}), kept {v['kept']:.1%} "
                f"(min {v['kept_min']:.1%})"
                if v["fired"]
                else "-"
            )
            log(f"  {label:40} fired {v['fired']}/{len(sim.runs)}  {where}")
    emit(
        {
            "benchmark": "stop_sweep",
            "elapsed_s": round(time.monotonic() - started, 1),
            "tracks": results,
        }
    )


if __name__ == "__main__":
    main()
