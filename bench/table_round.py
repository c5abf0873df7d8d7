"""Round time on a large table project: the first and a later training round over N table rows.

One command:  python bench/table_round.py [--rows 384000] [--labels 2000] [--profile]

Generates N rows of 15 columns (8 numeric with ~2% empty cells, one integer count, six
categorical: 3, 12 and 40 values, 300 values, ~20,000 "postcodes" and a free-form code that is
nearly unique per row) and a label for ``--labels`` of them, writes them as CSV, imports them into
a fresh SQLite table project in this process (``labelloop.workflow.imports.import_items``), then
times ``labelloop.workflow.learning.train`` as the background learner runs it: the first round
(nothing cached: read every payload, fit the table featurizer, fit the model, score and rank the
pool, save the queue) and a second one with the same items (the learner's feature cache kept).
``--profile`` prints the first round's top functions by cumulative time (cProfile) to stderr.
The table goes to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, log  # noqa: E402

NUMERIC = [f"x{i}" for i in range(8)]
CATEGORIES = {"colour": 3, "month": 12, "region": 40, "product": 300}
SCHEMA = {
    "name": "Loans",
    "data": {"type": "table", "field": "row"},
    "controls": [{"name": "risk", "type": "choice", "labels": ["low", "high"], "target": True}],
}


def write_table(path: Path, n: int, n_labels: int, seed: int = 0) -> None:
    """N rows as CSV: id, the 15 columns and a label cell filled for ``n_labels`` rows."""
    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(n, len(NUMERIC))) * [1, 10, 100, 0.1, 5, 50, 2, 1000]
    blank = rng.random(size=numbers.shape) < 0.02
    count = rng.poisson(3, size=n)
    cats = {name: rng.integers(0, k, size=n) for name, k in CATEGORIES.items()}
    postcode = rng.zipf(1.3, size=n) % 20000
    code = rng.integers(0, 10 * n, size=n)
    score = numbers[:, 0] + 0.5 * numbers[:, 1] / 10 + (cats["region"] % 3 == 0) - 0.3
    labeled = set(rng.choice(n, n_labels, replace=False).tolist())
    with path.open("w", encoding="utf-8") as out:
        out.write(",".join(["id", *NUMERIC, "count", *CATEGORIES, "postcode", "code", "risk"]))
        out.write("\n")
        for i in range(n):
            cells = ["" if blank[i, j] else f"{numbers[i, j]:.4g}" for j in range(len(NUMERIC))]
            cells.append(str(count[i]))
            cells += [f"{name[0]}{cats[name][i]}" for name in CATEGORIES]
            cells += [f"P{postcode[i]:05d}", f"C{code[i]:x}"]
            label = ("high" if score[i] > 0 else "low") if i in labeled else ""
            out.write(",".join([f"r{i}", *cells, label]) + "\n")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=384_000)
    p.add_argument("--labels", type=int, default=2000)
    p.add_argument("--profile", action="store_true", help="cProfile the first round")
    a = p.parse_args(argv)

    from labelloop.store.db import Database
    from labelloop.store.migrate import upgrade
    from labelloop.workflow import imports, learning, projects
    from labelloop.workflow.features import FeatureCache

    with tempfile.TemporaryDirectory(prefix="labelloop-table-round-") as tmp:
        folder = Path(tmp)
        csv_path = folder / "rows.csv"
        t0 = time.perf_counter()
        write_table(csv_path, a.rows, a.labels)
        log(
            f"wrote {a.rows:,} rows ({csv_path.stat().st_size / 1e6:.0f} MB) in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        db = Database(f"sqlite:///{folder / 'bench.db'}")
        upgrade(db)
        projects.create_project(db, "loans", SCHEMA, actor=None)
        ctx = projects.system_context(db, "loans")
        t0 = time.perf_counter()
        with csv_path.open("rb") as source:
            report = imports.import_items(
                db,
                ctx,
                source,
                fmt="csv",
                filename=csv_path.name,
                id_field="id",
                label_field="risk",
            )
        import_s = time.perf_counter() - t0
        log(f"imported {report.n_items:,} items ({report.n_labeled:,} labeled) in {import_s:.1f} s")
        ctx = projects.system_context(db, "loans")
        cache = FeatureCache()
        profiler = cProfile.Profile() if a.profile else None
        t0 = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        learning.train(db, ctx, cache=cache)
        if profiler is not None:
            profiler.disable()
        first_s = time.perf_counter() - t0
        log(f"first round: {first_s:.1f} s")
        t0 = time.perf_counter()
        learning.train(db, ctx, cache=cache)
        second_s = time.perf_counter() - t0
        log(f"second round (features kept): {second_s:.1f} s")
        if profiler is not None:
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(45)
            pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
            log(text.getvalue())
        db.dispose()
    emit(
        {
            "benchmark": "table_round",
            "rows": a.rows,
            "labels": report.n_labeled,
            "columns": len(NUMERIC) + 1 + len(CATEGORIES) + 2,
            "import_s": round(import_s, 2),
            "first_round_s": round(first_s, 2),
            "second_round_s": round(second_s, 2),
        }
    )


if __name__ == "__main__":
    main()
