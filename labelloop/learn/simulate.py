"""Simulation: replay the labeling loop with known labels as the oracle, to pick a strategy early.

The protocol is the pool-based one of Settles, "Active Learning Literature Survey" (2009), §2.3,
with the reporting of Zhang, Strubell & Hovy, "A Survey of Active Learning for Natural Language
Processing" (EMNLP 2022): per seed a stratified pool/test split, one shared seed set, every
strategy replayed from it, and the labels each needs to reach a share of the accuracy of a model
trained on the whole pool ("full-data accuracy").

PURE: numpy, scikit-learn and :mod:`labelloop.learn` only; no file, terminal or clock beyond
``time.monotonic`` for the time bound. Seeds may run in worker processes (``jobs``).
"""

from __future__ import annotations

import math
import multiprocessing
import queue
import signal
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from labelloop.domain import MISSING, Pool, RoundSummary
from labelloop.learn.model import default_model, fit_model, predict_proba_chunked
from labelloop.learn.round import choose_stop_set
from labelloop.learn.stopping import StoppingCriterion
from labelloop.learn.strategies import QueryStrategy

Features: TypeAlias = NDArray[np.floating] | csr_matrix

N_INITIAL = 20
"""Labels every strategy of a seed starts from (the same rows for each)."""
TEST_SIZE = 0.25
"""Share of the records held out to measure each model."""
LEVELS = (0.95, 0.98)
"""Shares of full-data accuracy the summaries report labels for."""
STOP_SET_SIZE = 1000
"""Pool rows whose predictions feed stabilizing-predictions style stopping rules."""
RANDOM = "random"
"""The control strategy; the only one whose picks ignore the model, so it may run past the
budget on a coarser grid (``random_to_pool``)."""
GROWTH = 1.15
"""Past the budget, the random control's next evaluation is at 1.15 times the labels."""


class SimulationTimeout(Exception):
    """Raised inside :func:`simulate` when ``max_seconds`` has passed; never escapes it."""


@dataclass(frozen=True)
class Split:
    """One seed's rows: ``pool`` and ``test`` index the records; ``initial`` indexes ``pool``."""

    pool: NDArray[np.intp]
    test: NDArray[np.intp]
    initial: NDArray[np.intp]


@dataclass(frozen=True)
class StopPoint:
    """Where a stopping rule first said stop on one curve, and what the model had then."""

    n_labels: int
    accuracy: float
    macro_f1: float
    reason: str


@dataclass(frozen=True)
class Curve:
    """One strategy's learning curve on one seed.

    Attributes
    ----------
    n_labels : ndarray of shape (n_points,)
        Labels the model of each point was trained on, increasing.
    accuracy, macro_f1 : ndarray of shape (n_points,)
        Test-split metrics of each point's model.
    query_s, fit_s : ndarray of shape (n_queries,) and (n_points,)
        Seconds the strategy took per query and the model per fit.
    stops : mapping of str to StopPoint or None
        Per stopping rule, the first point where it fired (``None``: never did).
    """

    strategy: str
    seed: int
    n_labels: NDArray[np.int64]
    accuracy: NDArray[np.float64]
    macro_f1: NDArray[np.float64]
    query_s: NDArray[np.float64]
    fit_s: NDArray[np.float64]
    stops: Mapping[str, StopPoint | None]

    def metric(self, name: str) -> NDArray[np.float64]:
        """The ``"accuracy"`` or ``"macro_f1"`` values, shape (n_points,)."""
        if name not in ("accuracy", "macro_f1"):
            raise ValueError(f"unknown metric {name!r}; use 'accuracy' or 'macro_f1'")
        return self.accuracy if name == "accuracy" else self.macro_f1


@dataclass(frozen=True)
class SeedRun:
    """Every strategy's curve on one seed's split, and the full-data model's metrics."""

    seed: int
    n_pool: int
    n_test: int
    full_accuracy: float
    full_macro_f1: float
    curves: Mapping[str, Curve]

    def full(self, metric: str) -> float:
        """Full-data ``"accuracy"`` or ``"macro_f1"``."""
        return self.full_accuracy if metric == "accuracy" else self.full_macro_f1


@dataclass(frozen=True)
class Simulation:
    """The seeds that finished; ``timed_out`` says whether ``max_seconds`` cut the rest."""

    classes: tuple[str, ...]
    strategies: tuple[str, ...]
    stopping: tuple[str, ...]
    seeds_requested: tuple[int, ...]
    runs: tuple[SeedRun, ...]
    budget: int
    batch_size: int
    n_initial: int
    timed_out: bool
    elapsed_s: float


def split_pool_test(
    y: NDArray[np.int64], *, seed: int, test_size: float = TEST_SIZE
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Stratified pool/test split of record rows; plain random when a class has one record.

    Parameters
    ----------
    y : ndarray of shape (n_records,)
    seed : int
    test_size : float

    Returns
    -------
    pool, test : ndarray of shape (n_pool,) and (n_test,)
        Sorted record rows.
    """
    rows = np.arange(y.shape[0])
    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 else None
    pool, test = train_test_split(rows, test_size=test_size, random_state=seed, stratify=stratify)
    return np.sort(pool).astype(np.intp), np.sort(test).astype(np.intp)


def initial_labels(y_pool: NDArray[np.int64], n: int, rng: np.random.Generator) -> NDArray[np.intp]:
    """``n`` random pool positions that hold at least two classes (when the pool has two).

    Parameters
    ----------
    y_pool : ndarray of shape (n_pool,)
    n : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (min(n, n_pool),)
    """
    n = min(n, y_pool.shape[0])
    order = rng.permutation(y_pool.shape[0])
    chosen = order[:n].copy()
    if n >= 2 and np.unique(y_pool[chosen]).shape[0] < 2:
        other = order[n:][y_pool[order[n:]] != y_pool[chosen[0]]]
        if other.shape[0]:
            chosen[-1] = other[0]
    return np.sort(chosen).astype(np.intp)


def make_split(
    y: NDArray[np.int64], *, seed: int, test_size: float = TEST_SIZE, n_initial: int = N_INITIAL
) -> Split:
    """The split and seed set of ``seed``, shared by every strategy (and by peer libraries)."""
    pool, test = split_pool_test(y, seed=seed, test_size=test_size)
    initial = initial_labels(y[pool], n_initial, np.random.default_rng([seed, 20]))
    return Split(pool=pool, test=test, initial=initial)


def label_grid(
    *, n_initial: int, budget: int, batch_size: int, n_pool: int, to_pool: bool = False
) -> NDArray[np.int64]:
    """Label counts at which a curve is measured: the seed set, then one point per batch.

    With ``to_pool`` the grid continues past ``budget`` to the whole pool, each step
    ``GROWTH`` times the last (at least one batch), ending at exactly ``n_pool``.

    Returns
    -------
    ndarray of shape (n_points,)
    """
    end = min(budget, n_pool)
    start = min(n_initial, end)
    grid = list(range(start, end, max(1, batch_size))) + [end]
    if to_pool:
        n = end
        while n < n_pool:
            n = min(n_pool, max(n + batch_size, math.ceil(n * GROWTH)))
            grid.append(n)
    return np.unique(np.asarray(grid, dtype=np.int64))


def strategy_rng(seed: int, name: str) -> np.random.Generator:
    """A strategy's own generator in a seed: independent of which other strategies run."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _metrics(
    estimator: Any, X: Features, y: NDArray[np.int64], n_classes: int
) -> tuple[float, float]:
    predicted = predict_proba_chunked(estimator, X, n_classes=n_classes).argmax(axis=1)
    present = np.unique(y)
    return (
        float(accuracy_score(y, predicted)),
        float(f1_score(y, predicted, labels=present, average="macro", zero_division=0)),
    )


def _replay(
    *,
    name: str,
    strategy: QueryStrategy,
    seed: int,
    X_pool: Features,
    y_pool: NDArray[np.int64],
    X_test: Features,
    y_test: NDArray[np.int64],
    split: Split,
    grid: NDArray[np.int64],
    stop_rows: NDArray[np.intp],
    stopping: Sequence[StoppingCriterion],
    classes: tuple[str, ...],
    model: Any,
    tick: Callable[[], None],
) -> Curve:
    """One strategy's curve: fit, measure, judge stopping, query the next batch, repeat."""
    rng = strategy_rng(seed, name)
    n_pool, n_classes = y_pool.shape[0], len(classes)
    labeled = np.zeros(n_pool, dtype=bool)
    labeled[split.initial] = True
    item_ids = split.pool.astype(np.int64)
    points: list[tuple[int, float, float]] = []
    query_s: list[float] = []
    fit_s: list[float] = []
    history: list[RoundSummary] = []
    stops: dict[str, StopPoint | None] = {c.name: None for c in stopping}
    proba: NDArray[np.float64] | None = None
    for target in grid:
        tick()
        need = int(target) - int(labeled.sum())
        if need > 0 and proba is not None:
            y_now = np.where(labeled, y_pool, MISSING).astype(np.int64)
            pool = Pool(item_ids=item_ids, X=X_pool, y=y_now, classes=classes)
            t0 = time.perf_counter()
            selection = strategy.query(pool, proba, need, rng)
            query_s.append(time.perf_counter() - t0)
            picked = np.asarray(selection.indices, dtype=np.intp)
            if picked.shape[0] == 0:
                break
            if labeled[picked].any() or np.unique(picked).shape[0] != picked.shape[0]:
                raise ValueError(f"strategy '{name}' picked labeled or repeated pool rows")
            labeled[picked] = True
        rows = np.flatnonzero(labeled)
        t0 = time.perf_counter()
        estimator = fit_model(model, X_pool[rows], y_pool[rows])
        fit_s.append(time.perf_counter() - t0)
        proba = predict_proba_chunked(estimator, X_pool, n_classes=n_classes)
        accuracy, macro_f1 = _metrics(estimator, X_test, y_test, n_classes)
        points.append((int(rows.shape[0]), accuracy, macro_f1))
        history.append(
            RoundSummary(
                model_version=len(history) + 1,
                n_labeled=int(rows.shape[0]),
                stop_predictions=proba[stop_rows].argmax(axis=1).astype(np.int64),
                eval_metrics={"accuracy": accuracy, "macro_f1": macro_f1},
            )
        )
        for criterion in stopping:
            if stops[criterion.name] is None:
                decision = criterion.evaluate(history)
                if decision.stop:
                    stops[criterion.name] = StopPoint(
                        int(rows.shape[0]), accuracy, macro_f1, decision.reason
                    )
    n, acc, f1 = (np.asarray(v) for v in zip(*points, strict=True))
    return Curve(
        strategy=name,
        seed=seed,
        n_labels=n.astype(np.int64),
        accuracy=acc.astype(np.float64),
        macro_f1=f1.astype(np.float64),
        query_s=np.asarray(query_s, dtype=np.float64),
        fit_s=np.asarray(fit_s, dtype=np.float64),
        stops=stops,
    )


@dataclass(frozen=True)
class _SeedJob:
    """Everything a seed's replay reads; built once, sent whole to each worker process."""

    X: Features
    y: NDArray[np.int64]
    classes: tuple[str, ...]
    strategies: dict[str, QueryStrategy]
    stopping: tuple[StoppingCriterion, ...]
    model: Any
    splits: dict[int, Split]
    grids: dict[tuple[int, str], NDArray[np.int64]]
    deadline: float | None

    def run(self, seed: int, tick: Callable[[], None]) -> SeedRun:
        """Every strategy on ``seed``; raises :class:`SimulationTimeout` past the deadline."""
        split = self.splits[seed]
        X_pool, X_test = self.X[split.pool], self.X[split.test]
        y_pool, y_test = self.y[split.pool], self.y[split.test]
        with threadpool_limits(limits=1):
            full = fit_model(self.model, X_pool, y_pool)
            full_accuracy, full_macro_f1 = _metrics(full, X_test, y_test, len(self.classes))
            stop_rows = choose_stop_set(
                y_pool.shape[0], np.random.default_rng([seed, 30]), size=STOP_SET_SIZE
            )
            curves = {
                name: _replay(
                    name=name,
                    strategy=strategy,
                    seed=seed,
                    X_pool=X_pool,
                    y_pool=y_pool,
                    X_test=X_test,
                    y_test=y_test,
                    split=split,
                    grid=self.grids[seed, name],
                    stop_rows=stop_rows,
                    stopping=self.stopping,
                    classes=self.classes,
                    model=self.model,
                    tick=tick,
                )
                for name, strategy in self.strategies.items()
            }
        return SeedRun(
            seed=seed,
            n_pool=int(split.pool.shape[0]),
            n_test=int(split.test.shape[0]),
            full_accuracy=full_accuracy,
            full_macro_f1=full_macro_f1,
            curves=curves,
        )

    def past_deadline(self) -> bool:
        """Whether ``max_seconds`` has passed (the clock is the system's, so workers share it)."""
        return self.deadline is not None and time.monotonic() > self.deadline


def _run_in_turn(
    job: _SeedJob,
    seeds: Sequence[int],
    *,
    total: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[SeedRun], bool]:
    """The seeds one after another in this process; a timeout drops the seed in progress."""
    done = 0

    def tick() -> None:
        nonlocal done
        if job.past_deadline():
            raise SimulationTimeout
        if progress is not None and done:
            progress(done, total)
        done += 1

    runs: list[SeedRun] = []
    for seed in seeds:
        try:
            runs.append(job.run(seed, tick))
        except SimulationTimeout:
            return runs, True
    return runs, False


_WORKER: dict[str, Any] = {}
"""A worker process's job, progress queue and abort flag, set once by :func:`_start_worker`."""
TICKS_PER_MESSAGE = 10
"""A worker reports its rounds to the parent this many at a time."""


def _start_worker(job: _SeedJob, ticks: Any, abort: Any) -> None:
    """Keep the job in the worker; leave Ctrl-C to the parent, which tells workers to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER.update(job=job, ticks=ticks, abort=abort)


def _worker_seed(seed: int) -> SeedRun | None:
    """One seed in a worker process; ``None`` when the deadline or the parent stopped it."""
    job: _SeedJob = _WORKER["job"]
    ticks, abort = _WORKER["ticks"], _WORKER["abort"]
    pending = 0

    def tick() -> None:
        nonlocal pending
        if job.past_deadline() or abort.is_set():
            raise SimulationTimeout
        pending += 1
        if pending >= TICKS_PER_MESSAGE:
            ticks.put(pending)
            pending = 0

    if job.past_deadline() or abort.is_set():  # before the full-pool fit, not after
        return None
    try:
        return job.run(seed, tick)
    except SimulationTimeout:
        return None
    finally:
        if pending:
            ticks.put(pending)


def _run_in_processes(
    job: _SeedJob,
    seeds: Sequence[int],
    *,
    jobs: int,
    total: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[SeedRun], bool]:
    """The seeds spread over ``jobs`` fresh worker processes, each with one thread.

    Workers are spawned, not forked: a fork would copy the parent's thread pools (BLAS, OpenMP,
    torch after an embedding step) in whatever state they are in. Each seed's replay depends on
    its seed alone, so the curves are the ones :func:`_run_in_turn` gives; a seed the deadline
    cut is dropped, the others are kept. When a seed fails or the user interrupts, the workers
    are told to stop at their next round, the seeds not started are cancelled, and the error
    is raised here.
    """
    context = multiprocessing.get_context("spawn")
    ticks, abort = context.Queue(), context.Event()
    done = 0
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(seeds)),
        mp_context=context,
        initializer=_start_worker,
        initargs=(job, ticks, abort),
    ) as pool:
        futures = [pool.submit(_worker_seed, seed) for seed in seeds]
        try:
            while True:
                finished, running = wait(futures, timeout=0, return_when=FIRST_EXCEPTION)
                if not running or any(f.exception() is not None for f in finished):
                    break
                try:
                    done += ticks.get(timeout=0.2)
                except queue.Empty:
                    continue
                if progress is not None:
                    progress(min(done, total), total)
            results = [f.result() for f in futures]
        except BaseException:
            abort.set()
            for f in futures:
                f.cancel()
            raise
    runs = [run for run in results if run is not None]
    return runs, len(runs) < len(results)


def simulate(
    X: Features,
    y: NDArray[np.int64],
    *,
    classes: tuple[str, ...],
    strategies: Mapping[str, QueryStrategy],
    seeds: Sequence[int],
    budget: int,
    batch_size: int,
    n_initial: int = N_INITIAL,
    test_size: float = TEST_SIZE,
    stopping: Sequence[StoppingCriterion] = (),
    model: Any = None,
    random_to_pool: bool = False,
    max_seconds: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    jobs: int = 1,
) -> Simulation:
    """Replay the loop for every strategy on every seed, with ``y`` as the oracle.

    Per seed: a stratified pool/test split, one seed set of ``n_initial`` labels (at least two
    classes) shared by every strategy, then rounds of fit (logistic regression on one thread
    unless ``model`` says otherwise), test, stopping rules and a query of ``batch_size`` rows
    until ``budget`` labels. The rules see the test metrics as a project sees its eval split.

    Parameters
    ----------
    X : ndarray or csr_matrix of shape (n_records, n_features)
    y : ndarray of shape (n_records,)
        Class indices into ``classes``: the oracle.
    classes : tuple of str
    strategies : mapping of str to QueryStrategy
        Name shown in the results -> strategy (a registered one or any object with ``query``).
    seeds : sequence of int
    budget, batch_size, n_initial : int
    test_size : float
    stopping : sequence of StoppingCriterion
        Judged after every round; where each first fires is recorded, the replay goes on.
    model : scikit-learn classifier, optional
        :func:`~labelloop.learn.model.default_model` when ``None``.
    random_to_pool : bool
        Continue the ``"random"`` strategy past the budget to the whole pool on a coarser grid
        (its picks ignore the model, so this measures its label counts instead of censoring).
    max_seconds : float, optional
        Stop after this long; the seed in progress is dropped and ``timed_out`` is set.
    progress : callable, optional
        Called as ``progress(rounds_done, rounds_total)`` after every round (with ``jobs``,
        every few rounds).
    jobs : int
        Seeds replayed at once, each in its own spawned process on one thread; the curves are
        the same as with 1. ``strategies``, ``stopping`` and ``model`` must then pickle and be
        importable in a fresh interpreter (not defined in a notebook), and a script calling
        this must guard its entry with ``if __name__ == "__main__":``, as any multiprocessing
        code must. Past ``max_seconds`` the seeds that finished are kept, which need not be the
        first ones.

    Returns
    -------
    Simulation
    """
    y = np.asarray(y, dtype=np.int64)
    if np.unique(y).shape[0] < 2:
        raise ValueError("the labels hold a single class; a classifier needs at least two")
    if budget < 1 or batch_size < 1:
        raise ValueError("budget and batch_size must be at least 1")
    if jobs < 1:
        raise ValueError("jobs must be at least 1")
    model = default_model() if model is None else model
    started = time.monotonic()
    deadline = None if max_seconds is None else started + max_seconds
    splits = {
        seed: make_split(y, seed=seed, test_size=test_size, n_initial=n_initial) for seed in seeds
    }
    grids = {
        (seed, name): label_grid(
            n_initial=splits[seed].initial.shape[0],
            budget=budget,
            batch_size=batch_size,
            n_pool=splits[seed].pool.shape[0],
            to_pool=random_to_pool and name == RANDOM,
        )
        for seed in seeds
        for name in strategies
    }
    total = sum(g.shape[0] for g in grids.values())
    job = _SeedJob(
        X=X,
        y=y,
        classes=tuple(classes),
        strategies=dict(strategies),
        stopping=tuple(stopping),
        model=model,
        splits=splits,
        grids=grids,
        deadline=deadline,
    )
    if jobs > 1 and len(seeds) > 1:
        runs, timed_out = _run_in_processes(job, seeds, jobs=jobs, total=total, progress=progress)
    else:
        runs, timed_out = _run_in_turn(job, seeds, total=total, progress=progress)
    if progress is not None and not timed_out:
        progress(total, total)
    return Simulation(
        classes=tuple(classes),
        strategies=tuple(strategies),
        stopping=tuple(c.name for c in stopping),
        seeds_requested=tuple(seeds),
        runs=tuple(runs),
        budget=budget,
        batch_size=batch_size,
        n_initial=n_initial,
        timed_out=timed_out,
        elapsed_s=time.monotonic() - started,
    )


# --- reading the curves ------------------------------------------------------------------------


def labels_to_reach(curve: Curve, target: float, *, metric: str = "accuracy") -> int | None:
    """Labels at the first point whose ``metric`` reaches ``target``; ``None`` if none does."""
    hit = np.flatnonzero(curve.metric(metric) >= target - 1e-12)
    return int(curve.n_labels[hit[0]]) if hit.shape[0] else None


def curve_auc(curve: Curve, *, metric: str = "accuracy", up_to: int | None = None) -> float:
    """Learning-curve AUC: the mean ``metric`` over the points with at most ``up_to`` labels.

    The points are one batch apart up to the budget, so the mean is the area under the curve
    divided by its width (the normalised AUC of the active-learning literature).
    """
    keep = curve.n_labels <= (up_to if up_to is not None else curve.n_labels.max())
    return float(curve.metric(metric)[keep].mean())


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
        at_budget = [
            float(c.metric(metric)[c.n_labels <= sim.budget][-1] / full) if full > 0 else math.nan
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
                final=tuple(at_budget),
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
