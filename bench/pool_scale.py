"""Pool scale (BENCH.md section 3): pick a batch of 100 from 10k, 100k and 1M items, retrain.

One command:  python bench/pool_scale.py [--sizes 10000,100000,1000000] [--strategies ...]

Synthetic, seeded pools of 384-d float32 rows (unit length, like MiniLM embeddings) in six
classes. For each size, in a fresh worker process so each peak memory is that size's own:
  - score: labelloop.learn.predict_proba_chunked of a logistic regression (fitted on 1,000
    labels) over the whole pool, in chunks, on one thread;
  - select: the strategy's query for a batch of 100 (the default policy, the project
    setting's default, margin and random, or --strategies; "all" = every registered one);
  - select_s = score + select, the time a round spends choosing once the model exists;
  - at 100k, retrain + rescore: labelloop.learn.run_round end to end with 5,000 labels, a
    1,000-row eval split and the 1,000-row stop set (fit, score, select, evaluate).
Targets (issue 3): a batch of 100 from 1M x 384 in <= 1 s; retrain + rescore of 100k in <= 15 s.
The growth table and the load average go to stderr; the last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit, log, proc_status_mb  # noqa: E402

DIM = 384
N_CLASSES = 6
N_LABELED = 1000
BATCH = 100
CHUNK_ROWS = 65_536


def make_pool(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit rows of 384 float32 around six class centres, generated in chunks."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((N_CLASSES, DIM)).astype(np.float32)
    y = rng.integers(0, N_CLASSES, size=n)
    X = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        block = rng.standard_normal((stop - start, DIM), dtype=np.float32) * 3.0
        block += centres[y[start:stop]]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        X[start:stop] = block
    return X, y.astype(np.int64)


def reset_peak() -> bool:
    """Reset this process's VmHWM (Linux clear_refs "5"), so later peaks exclude set-up."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_mb() -> float:
    """Peak RSS of this process (VmHWM; ru_maxrss as the fallback)."""
    hwm = proc_status_mb(os.getpid(), "VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(n: int, strategies: list[str], repeats: int, retrain: bool) -> dict[str, Any]:
    """Measure one pool size in this process; returns its figures."""
    from threadpoolctl import threadpool_limits

    from labelloop.domain import MISSING, Pool
    from labelloop.learn import (
        choose_stop_set,
        default_model,
        fit_model,
        make_strategy,
        predict_proba_chunked,
        run_round,
    )

    t0 = time.perf_counter()
    X_all, truth_all = make_pool(n + 1000)
    # The last 1,000 rows, from the same classes, are the eval split of the retrain round.
    X, truth, eval_X, eval_y = X_all[:n], truth_all[:n], X_all[n:], truth_all[n:]
    gen_s = time.perf_counter() - t0
    reset = reset_peak()
    base_mb = proc_status_mb(os.getpid(), "VmRSS") or peak_mb()
    rng = np.random.default_rng(1)
    classes = tuple(f"class_{c}" for c in range(N_CLASSES))
    y = np.full(n, MISSING, dtype=np.int64)
    labeled = rng.choice(n, size=min(N_LABELED, n // 2), replace=False)
    y[labeled] = truth[labeled]
    pool = Pool(item_ids=np.arange(n, dtype=np.int64), X=X, y=y, classes=classes)
    out: dict[str, Any] = {
        "n": n,
        "generate_s": round(gen_s, 2),
        "features_mb": round(X.nbytes / 2**20, 1),
        "rss_after_features_mb": base_mb,
        "peak_reset": reset,
    }
    with threadpool_limits(limits=1):
        model = fit_model(default_model(), X[labeled], y[labeled])
        score_times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            proba = predict_proba_chunked(model, X, n_classes=N_CLASSES)
            score_times.append(time.perf_counter() - t0)
        out["score_s"] = round(float(np.median(score_times)), 3)
        out["select_s"] = {}
        out["query_s"] = {}
        for name in strategies:
            strategy = make_strategy(name)
            times = []
            for i in range(repeats):
                t0 = time.perf_counter()
                sel = strategy.query(pool, proba, BATCH, np.random.default_rng(i))
                times.append(time.perf_counter() - t0)
            assert len(sel.indices) == BATCH and not np.isin(sel.indices, labeled).any()
            q = float(np.median(times))
            out["query_s"][name] = round(q, 3)
            out["select_s"][name] = round(q + out["score_s"], 3)
        if retrain:
            # A later round: 5,000 labels, an eval split and the stop set, as the learner runs it.
            y5 = np.full(n, MISSING, dtype=np.int64)
            five = rng.choice(n, size=min(5000, n // 2), replace=False)
            y5[five] = truth[five]
            stop_rows = choose_stop_set(n, np.random.default_rng(3), size=1000)
            times = []
            for i in range(max(1, repeats // 2)):
                t0 = time.perf_counter()
                result = run_round(
                    Pool(pool.item_ids, X, y5, classes),
                    strategy=make_strategy(strategies[0]),
                    queue_size=BATCH,
                    rng=np.random.default_rng(i),
                    eval_X=eval_X,
                    eval_y=eval_y,
                    stop_X=X[stop_rows],
                )
                times.append(time.perf_counter() - t0)
            out["retrain_rescore_s"] = round(float(np.median(times)), 3)
            out["retrain_eval_accuracy"] = round(result.metrics.get("accuracy", float("nan")), 3)
    out["peak_rss_mb"] = peak_mb()
    out["overhead_mb"] = round(out["peak_rss_mb"] - base_mb, 1)
    out["loadavg_1m"] = round(os.getloadavg()[0], 2)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument(
        "--strategies",
        default=None,
        help="comma list or 'all' (default: the project default, margin, random)",
    )
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-seconds", type=float, default=900.0)
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)

    import labelloop.learn as learn
    from labelloop.learn import STRATEGIES
    from labelloop.schema.settings import ProjectSettings

    # The default is the learner's adaptive policy when one is registered, else the setting's.
    setting = ProjectSettings().strategy
    policy = getattr(learn, "DEFAULT_STRATEGY", None)
    default = policy if policy in STRATEGIES else setting
    if a.strategies == "all":
        names = [default, *STRATEGIES.names()]
    elif a.strategies:
        names = [default, *a.strategies.split(",")]
    else:
        names = [default, setting, "margin", "random"]
    names = list(dict.fromkeys(names))

    if a.worker is not None:
        print(json.dumps(worker(a.worker, names, a.repeats, a.worker == 100_000)), flush=True)
        return

    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for n in [int(s) for s in a.sizes.split(",")]:
        left = a.max_seconds - (time.monotonic() - started)
        if left <= 5:
            notes.append(f"{n:,} skipped: out of time (--max-seconds {a.max_seconds:g})")
            continue
        log(f"pool of {n:,} x {DIM} ...")
        cmd = [sys.executable, __file__, "--worker", str(n), "--repeats", str(a.repeats)]
        if a.strategies:
            cmd += ["--strategies", a.strategies]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=left, check=True)
        except subprocess.TimeoutExpired:
            notes.append(f"{n:,} stopped at --max-seconds")
            continue
        except subprocess.CalledProcessError as exc:
            notes.append(f"{n:,} failed: {exc.stderr.strip().splitlines()[-1:]}")
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))

    err = sys.stderr
    print(
        f"\n{'pool':>10} {'features MB':>12} {'score s':>8} "
        + " ".join(f"{'select ' + s + ' s':>20}" for s in names)
        + f" {'retrain+rescore s':>18} {'peak RSS MB':>12} {'over features':>14} {'load':>5}",
        file=err,
    )
    for row in rows:
        print(
            f"{row['n']:>10,} {row['features_mb']:>12,.0f} {row['score_s']:>8.3f} "
            + " ".join(f"{row['select_s'][s]:>20.3f}" for s in names)
            + f" {row.get('retrain_rescore_s', float('nan')):>18.2f} "
            f"{row['peak_rss_mb']:>12,.0f} {row['overhead_mb']:>14,.0f} {row['loadavg_1m']:>5.2f}",
            file=err,
        )
    for n in notes:
        print(f"note: {n}", file=err)
    by_n = {row["n"]: row for row in rows}
    big = by_n.get(1_000_000, {})
    over = [s for s, t in big.get("select_s", {}).items() if t > 1.0]
    if big:
        print(f"1M over the 1 s target: {', '.join(over) or 'none'}", file=err)
    mid = by_n.get(100_000, {})
    result: dict[str, Any] = {
        "benchmark": "pool_scale",
        "dim": DIM,
        "batch": BATCH,
        "default_strategy": default,
        "select_1m_s": big.get("select_s", {}).get(default),
        "score_1m_s": big.get("score_s"),
        "query_1m_s": big.get("query_s", {}).get(default),
        "retrain_rescore_100k_s": mid.get("retrain_rescore_s"),
        "peak_rss_mb": max((row["peak_rss_mb"] for row in rows), default=None),
        "peak_rss_over_features_1m_mb": big.get("overhead_mb"),
        "select_1m_target_met": (big.get("select_s", {}).get(default) or 1e9) <= 1.0,
        "select_1m_over_target": over if big else None,
        "retrain_100k_target_met": (mid.get("retrain_rescore_s") or 1e9) <= 15.0,
        "sizes": rows,
        "notes": notes,
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    emit(result)


if __name__ == "__main__":
    main()
