"""Round time on real text: one project round over the tweets' TF-IDF rows, as labels grow.

One command:  python bench/round_time.py [--labels 200,1000,5000] [--dataset tweets]
              [--representation tfidf|minilm|tfidf+minilm]

What a project's background learner does after each batch of labels, on one thread:
labelloop.learn.run_round with the default policy (``auto``) and re-label suggestions on — fit
the logistic regression, score the whole pool, pick a queue of 50, and fit the cross-validated
models whose probabilities find likely mislabels. The pool is a dataset of al_efficiency.py
(the tweets: 37,191 texts, TF-IDF 1-2-grams, ~70,000 columns; install as in bench/README.md)
with a seeded random labeled subset of each size. Best of ``--repeat`` runs per size.
``--representation`` times the same round on the project featurizers ``minilm`` or
``tfidf+minilm`` instead (their MiniLM rows come from al_efficiency.py's cache).
The table goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, log  # noqa: E402
from al_efficiency import features, load  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="tweets", help="a dataset of al_efficiency.py")
    p.add_argument("--labels", default="200,1000,5000", help="labeled rows, comma list")
    p.add_argument("--representation", default="tfidf", help="tfidf, minilm or tfidf+minilm")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "labelloop-bench")
    a = p.parse_args(argv)

    from labelloop.domain import MISSING, Pool
    from labelloop.learn import make_strategy
    from labelloop.learn.round import run_round

    ds = load(a.dataset)
    X = features(ds, a.representation, a.cache_dir)
    stored = f"{X.nnz:,} non-zeros" if hasattr(X, "nnz") else "dense"
    log(f"{a.dataset}: {X.shape[0]:,} rows x {X.shape[1]:,} {a.representation} columns, {stored}")
    rng = np.random.default_rng(0)
    rows_out = []
    for n in [int(x) for x in a.labels.split(",")]:
        y = np.full(X.shape[0], MISSING, dtype=np.int64)
        picked = rng.choice(X.shape[0], n, replace=False)
        y[picked] = ds.y[picked]
        pool = Pool(item_ids=np.arange(X.shape[0], dtype=np.int64), X=X, y=y, classes=ds.classes)
        times = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            run_round(pool, strategy=make_strategy("auto"), queue_size=50, rng=rng)
            times.append(time.perf_counter() - t0)
        rows_out.append({"labels": n, "round_s": round(min(times), 3)})
        log(f"  {n:>6,} labels: round {min(times):.2f} s (best of {a.repeat})")
    shape = list(X.shape)
    emit(
        {
            "benchmark": "round_time",
            "dataset": a.dataset,
            "representation": a.representation,
            "shape": shape,
            "rounds": rows_out,
        }
    )


if __name__ == "__main__":
    main()
