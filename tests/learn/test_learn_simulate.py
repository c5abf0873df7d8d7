"""Simulation: the loop replayed with known labels, on two topics of made-up words."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from labelloop.domain import Pool, RoundSummary, Selection, StopDecision
from labelloop.learn import TfidfFeaturizer, make_strategy
from labelloop.learn.replay import Curve, initial_labels, label_grid, make_split
from labelloop.learn.simreport import curve_auc, labels_to_reach, mean_curves, summarize, to_json
from labelloop.learn.simulate import simulate
from labelloop.learn.stopping import StabilizingPredictions
from tests.processes import AT_ONCE_S, running

CLASSES = ("sports", "cooking")


def two_topics(
    n: int = 600, *, seed: int = 0, vocabulary: int = 120
) -> tuple[list[str], np.ndarray]:
    """Texts of two topic words (from 120 per topic) among five shared filler words.

    A model needs to have seen most topic words to be accurate, so labels that cover new words
    (the uncertain items) pay off far more than random ones: the case active learning is for.
    """
    rng = np.random.default_rng(seed)
    topics = [[f"sport{i}" for i in range(vocabulary)], [f"cook{i}" for i in range(vocabulary)]]
    filler = [f"word{i}" for i in range(40)]
    y = rng.integers(0, 2, size=n)
    texts = []
    for c in y:
        words = [*rng.choice(topics[int(c)], size=2, replace=False), *rng.choice(filler, size=5)]
        rng.shuffle(words)
        texts.append(" ".join(words))
    return texts, y.astype(np.int64)


@pytest.fixture(scope="module")
def data() -> tuple[object, np.ndarray]:
    texts, y = two_topics()
    payloads = [{"text": t} for t in texts]
    return TfidfFeaturizer().fit(payloads).transform(payloads), y


def random_and_margin(data: tuple[object, np.ndarray], **options: object) -> object:
    """Random and margin over seeds 0-2 to 300 labels, with stabilizing predictions."""
    X, y = data
    return simulate(
        X,
        y,
        classes=CLASSES,
        strategies={"random": make_strategy("random"), "margin": make_strategy("margin")},
        seeds=[0, 1, 2],
        budget=300,
        batch_size=10,
        stopping=[StabilizingPredictions()],
        **options,
    )


@pytest.fixture(scope="module")
def run(data: tuple[object, np.ndarray]) -> object:
    return random_and_margin(data)


def test_margin_reaches_95_percent_of_full_accuracy_with_fewer_labels_than_random(run) -> None:
    random, margin = summarize(run)
    assert [s.strategy for s in (random, margin)] == ["random", "margin"]
    assert all(r.full_accuracy > 0.95 for r in run.runs)  # the task is learnable
    assert margin.reached(0.95) == 3
    # A seed where random never got there counts as more than the budget.
    for seed, (m, r) in enumerate(zip(margin.labels[0.95], random.labels[0.95], strict=True)):
        assert m is not None and m < (r if r is not None else run.budget + 1), seed
    assert margin.mean_auc > random.mean_auc + 0.03


def test_every_strategy_of_a_seed_starts_from_the_same_labels(run) -> None:
    for seed_run in run.runs:
        first = {name: (c.n_labels[0], c.accuracy[0]) for name, c in seed_run.curves.items()}
        assert len(set(first.values())) == 1, first
        assert next(iter(first.values()))[0] == 20


def test_curves_are_measured_once_per_batch_up_to_the_budget(run) -> None:
    for seed_run in run.runs:
        for curve in seed_run.curves.values():
            assert curve.n_labels.tolist() == list(range(20, 301, 10))
            assert curve.query_s.shape == (28,) and curve.fit_s.shape == (29,)


def test_the_stop_point_keeps_its_labels_and_accuracy(run) -> None:
    for seed_run in run.runs:
        curve = seed_run.curves["margin"]
        stop = curve.stops["stabilizing_predictions"]
        assert stop is not None, "margin's predictions stabilise long before 300 labels here"
        at = int(np.flatnonzero(curve.n_labels == stop.n_labels)[0])
        assert stop.accuracy == curve.accuracy[at]
        assert "stable" in stop.reason


def test_json_has_the_figures_a_script_needs(run) -> None:
    data = to_json(run)
    assert data["seeds"] == [0, 1, 2] and data["timed_out"] is False
    margin = next(s for s in data["strategies"] if s["strategy"] == "margin")
    assert margin["reached_95"] == 3 and margin["labels_to_95"] is not None
    assert set(margin["stopping"]) == {"stabilizing_predictions"}
    assert {c["strategy"] for c in data["curves"]["accuracy"]} == {"random", "margin"}


def test_split_is_stratified_and_the_seed_set_has_two_classes() -> None:
    y = np.array([0] * 380 + [1] * 20, dtype=np.int64)
    split = make_split(y, seed=3)
    assert split.test.shape == (100,) and split.pool.shape == (300,)
    assert np.intersect1d(split.pool, split.test).size == 0
    assert int(y[split.test].sum()) == 5  # 25% of the 20 rare rows
    # Rare class: a draw of 20 from 95% majority often holds one class only; it is repaired.
    y_pool = np.array([0] * 99 + [1], dtype=np.int64)
    for seed in range(20):
        chosen = initial_labels(y_pool, 20, np.random.default_rng(seed))
        assert chosen.shape == (20,) and np.unique(chosen).shape == (20,)
        assert set(y_pool[chosen].tolist()) == {0, 1}


def test_label_grid_with_and_without_the_whole_pool() -> None:
    assert label_grid(n_initial=20, budget=60, batch_size=10, n_pool=1000).tolist() == [
        20,
        30,
        40,
        50,
        60,
    ]
    assert label_grid(n_initial=20, budget=55, batch_size=10, n_pool=40).tolist() == [20, 30, 40]
    full = label_grid(n_initial=20, budget=60, batch_size=10, n_pool=200, to_pool=True)
    assert full[:5].tolist() == [20, 30, 40, 50, 60] and full[-1] == 200
    steps = np.diff(full[4:])
    # At least a batch, about 15% more each step, the last one cut at the pool size.
    assert (steps[:-1] >= 10).all() and (full[5:] <= np.ceil(full[4:-1] * 1.15) + 10).all()


def test_random_to_pool_measures_random_instead_of_censoring_it(data) -> None:
    X, y = data
    sim = simulate(
        X,
        y,
        classes=CLASSES,
        strategies={"random": make_strategy("random"), "margin": make_strategy("margin")},
        seeds=[5],
        budget=60,
        batch_size=10,
        random_to_pool=True,
    )
    seed_run = sim.runs[0]
    random, margin = seed_run.curves["random"], seed_run.curves["margin"]
    assert margin.n_labels[-1] == 60
    assert random.n_labels[-1] == seed_run.n_pool
    # With every pool row labeled, random's model is the full-data model.
    assert random.accuracy[-1] == pytest.approx(seed_run.full_accuracy)
    assert labels_to_reach(random, 0.98 * seed_run.full_accuracy) is not None
    # AUC and the chart stop at the budget so strategies compare on the same range.
    assert curve_auc(random, up_to=60) == pytest.approx(float(random.accuracy[:5].mean()))
    assert mean_curves(sim, up_to=60)[0].n_labels[-1] == 60


def test_reading_a_curve_by_hand() -> None:
    curve = Curve(
        strategy="x",
        seed=0,
        n_labels=np.array([20, 30, 40, 50]),
        accuracy=np.array([0.5, 0.7, 0.69, 0.9]),
        macro_f1=np.array([0.4, 0.6, 0.8, 0.85]),
        query_s=np.zeros(3),
        fit_s=np.zeros(4),
        stops={},
    )
    assert labels_to_reach(curve, 0.7) == 30  # the first point that reaches it
    assert labels_to_reach(curve, 0.8, metric="macro_f1") == 40
    assert labels_to_reach(curve, 0.95) is None
    assert curve_auc(curve) == pytest.approx(0.6975)
    assert curve_auc(curve, up_to=30) == pytest.approx(0.6)


def test_max_seconds_stops_cleanly_and_says_so(data) -> None:
    X, y = data
    sim = simulate(
        X,
        y,
        classes=CLASSES,
        strategies={"random": make_strategy("random")},
        seeds=[0, 1],
        budget=300,
        batch_size=10,
        max_seconds=0.0,
    )
    assert sim.timed_out and sim.runs == ()
    assert to_json(sim)["seeds"] == [] and to_json(sim)["full_accuracy"] is None


def test_progress_reaches_the_total(data) -> None:
    X, y = data
    seen: list[tuple[int, int]] = []
    simulate(
        X,
        y,
        classes=CLASSES,
        strategies={"random": make_strategy("random")},
        seeds=[0],
        budget=50,
        batch_size=10,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1] == (4, 4) and [d for d, _ in seen] == sorted(d for d, _ in seen)


class _Cheat:
    """Returns a row that is already labeled: the replay must refuse it."""

    name = "cheat"

    def query(self, pool: Pool, proba: object, batch_size: int, rng: object) -> Selection:
        labeled = np.flatnonzero(pool.y >= 0)[:1]
        return Selection(labeled.astype(np.intp), np.zeros(1), ("already labeled",))


def test_a_strategy_that_picks_labeled_rows_is_an_error(data) -> None:
    X, y = data
    with pytest.raises(ValueError, match="cheat"):
        simulate(X, y, classes=CLASSES, strategies={"cheat": _Cheat()}, seeds=[0], budget=40,
                 batch_size=10)  # fmt: skip


def test_a_single_class_is_an_error(data) -> None:
    X, _ = data
    with pytest.raises(ValueError, match="single class"):
        simulate(
            X,
            np.zeros(X.shape[0], dtype=np.int64),
            classes=CLASSES,
            strategies={"random": make_strategy("random")},
            seeds=[0],
            budget=40,
            batch_size=10,
        )


class _StopAtSecond:
    name = "second_round"

    def evaluate(self, history: Sequence[RoundSummary]) -> StopDecision:
        return StopDecision(self.name, len(history) >= 2, float(len(history)), "two rounds seen")


def test_stop_points_are_where_the_rule_first_fires(data) -> None:
    X, y = data
    sim = simulate(
        X,
        y,
        classes=CLASSES,
        strategies={"margin": make_strategy("margin")},
        seeds=[0, 1],
        budget=60,
        batch_size=10,
        stopping=[_StopAtSecond()],
    )
    (summary,) = summarize(sim)
    (stop,) = summary.stops
    assert [p.n_labels for p in stop.points if p] == [30, 30] and stop.fired == 2
    for p, kept, seed_run in zip(stop.points, stop.kept, sim.runs, strict=True):
        assert kept == pytest.approx(p.accuracy / seed_run.full_accuracy)


def test_summary_of_no_runs_is_empty_not_an_error() -> None:
    from labelloop.learn.simulate import Simulation

    empty = Simulation(("a", "b"), ("random",), (), (0,), (), 10, 10, 20, True, 0.0)
    (summary,) = summarize(empty)
    assert summary.mean_labels(0.95) is None and math.isnan(summary.mean_auc)


def test_seeds_in_worker_processes_give_the_same_curves_and_stops(data, run) -> None:
    seen: list[tuple[int, int]] = []
    parallel = random_and_margin(
        data, jobs=2, progress=lambda done, total: seen.append((done, total))
    )
    assert [r.seed for r in parallel.runs] == [0, 1, 2] and not parallel.timed_out
    for mine, theirs in zip(parallel.runs, run.runs, strict=True):
        assert mine.full_accuracy == theirs.full_accuracy
        for name in ("random", "margin"):
            assert np.array_equal(mine.curves[name].n_labels, theirs.curves[name].n_labels)
            assert np.array_equal(mine.curves[name].accuracy, theirs.curves[name].accuracy)
            assert mine.curves[name].stops == theirs.curves[name].stops
    total = seen[-1][1]
    assert seen[-1] == (total, total) and [d for d, _ in seen] == sorted(d for d, _ in seen)


class _FailsOnSeedZero:
    """Fails at once on seed 0's pool, writing the time it failed (``time.time()``) to
    ``failed_at``; on any other seed it takes a second per query."""

    name = "fails_on_seed_zero"

    def __init__(self, pool_of_seed_zero: np.ndarray, failed_at: Path) -> None:
        self.pool_of_seed_zero = pool_of_seed_zero
        self.failed_at = failed_at

    def query(self, pool: Pool, proba: object, batch_size: int, rng: object) -> Selection:
        if np.array_equal(pool.item_ids, self.pool_of_seed_zero):
            self.failed_at.write_text(repr(time.time()))
            raise ValueError("seed zero's strategy failed")
        time.sleep(1.0)
        free = np.flatnonzero(pool.y < 0)[:batch_size].astype(np.intp)
        return Selection(free, np.zeros(free.shape[0]), ("first unlabeled",) * free.shape[0])


def test_an_error_in_a_worker_process_stops_the_other_seeds_and_reaches_the_caller(
    data, tmp_path: Path
) -> None:
    X, y = data
    failed_at = tmp_path / "failed_at"
    strategy = _FailsOnSeedZero(make_split(y, seed=0).pool.astype(np.int64), failed_at)
    with pytest.raises(ValueError, match="seed zero's strategy failed"):
        simulate(X, y, classes=CLASSES, strategies={"slow": strategy}, seeds=[0, 1, 2, 3],
                 budget=300, batch_size=10, jobs=2)  # fmt: skip
    # Seeds 1-3 would take about 28 s each; the other worker stops at its next round (a second)
    # instead, and the workers end. Counted from the failure: starting the worker processes
    # takes seconds more on a loaded machine, before it.
    assert time.time() - float(failed_at.read_text()) < 15


def test_max_seconds_bounds_worker_processes_too(data) -> None:
    X, y = data
    # One worker process for both seeds (a second would start the same code again, for seconds).
    sim = simulate(X, y, classes=CLASSES, strategies={"random": make_strategy("random")},
                   seeds=[0, 1], budget=300, batch_size=10, max_seconds=0.0,
                   in_processes=True)  # fmt: skip
    assert sim.timed_out and sim.runs == ()


def test_a_budget_over_the_pool_is_capped_at_the_pool(data, run) -> None:
    X, y = data
    sim = simulate(
        X[:80],
        y[:80],
        classes=CLASSES,
        strategies={"random": make_strategy("random")},
        seeds=[0],
        budget=1000,
        batch_size=20,
    )
    (seed_run,) = sim.runs
    assert sim.budget == seed_run.n_pool == 60 and sim.budget_requested == 1000
    assert seed_run.curves["random"].n_labels[-1] == 60
    figures = to_json(sim)
    assert figures["budget"] == 60 and figures["budget_requested"] == 1000
    assert run.budget == 300 and to_json(run)["budget_requested"] == 300  # within the pool


ORPHAN_SCRIPT = """
import multiprocessing, sys
import numpy as np
from labelloop.learn import TfidfFeaturizer, make_strategy
from labelloop.learn.simulate import simulate
sys.path.insert(0, {tests!r})
from test_learn_simulate import two_topics

def report(done, total):
    pids = [p.pid for p in multiprocessing.active_children() if p.name.startswith("Spawn")]
    if len(pids) == 2:
        print(*pids, flush=True)

if __name__ == "__main__":
    texts, y = two_topics(3000)
    payloads = [{{"text": t}} for t in texts]
    X = TfidfFeaturizer().fit(payloads).transform(payloads)
    simulate(X, y, classes=("sports", "cooking"), strategies={{"margin": make_strategy("margin")}},
             seeds=[0, 1], budget=2000, batch_size=1, jobs=2, progress=report)
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_worker_processes_stop_when_the_process_that_started_them_is_killed(
    tmp_path: Path,
) -> None:
    """A learner killed hard (OOM killer, a kill after its grace time) sends no abort: its
    replay's workers notice they are orphans at their next round instead of running on."""
    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN_SCRIPT.format(tests=str(Path(__file__).parent)))
    root = str(Path(__file__).resolve().parents[2])  # this checkout's labelloop, not another
    parent = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": root},
    )
    try:
        assert parent.stdout is not None
        workers = [int(p) for p in parent.stdout.readline().split()]
        assert len(workers) == 2 and all(running(p) for p in workers)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 30
    while any(running(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(running(p) for p in workers), "worker processes outlived their parent"


def test_a_worker_whose_parent_died_while_it_started_up_stops_too(tmp_path: Path) -> None:
    """The parent can be killed while a spawned worker is still importing; by the time the
    worker starts its watch it already belongs to another process. It still leaves, at once."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a parent that no longer exists
    root = str(Path(__file__).resolve().parents[2])
    code = (
        "import time\n"
        "from labelloop.learn.simulate import _start_worker\n"
        "print(time.time(), flush=True)\n"
        f"_start_worker(None, None, None, {gone.pid})\n"
        "time.sleep(60)\n"
    )
    worker = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": root},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,  # imports take seconds on a loaded machine; the sleep runs out in 60 s
    )
    assert worker.stderr == ""  # it left by its watch (exit 1), not by an error
    # Counted from its watch's start, not from before its imports.
    assert worker.returncode == 1 and time.time() - float(worker.stdout) < AT_ONCE_S


def test_a_worker_takes_sigterm_though_the_process_that_started_it_blocked_it(
    tmp_path: Path,
) -> None:
    """`labelloop worker` blocks its stop signals (a thread of its own waits for them), and a
    started program inherits the blocked set: its replay's worker processes kept SIGTERM
    blocked, so a service manager's SIGTERM to the whole group left them running."""
    root = str(Path(__file__).resolve().parents[2])
    code = (
        "import os, time\n"
        "from labelloop.learn.simulate import _start_worker\n"
        "_start_worker(None, None, None, os.getppid())\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": root},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM}),
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "started"
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)  # the sleep would run on for 60 s
    finally:
        worker.kill()
        worker.wait()
    assert worker.returncode == -signal.SIGTERM
