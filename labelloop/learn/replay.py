"""One seed's replay: its pool/test split and seed set, and every strategy's learning curve on it.

Each strategy starts from the seed's shared seed set and goes in rounds of fit, test, stopping
rules and a query of the next batch, with the known labels as the oracle (Settles, "Active
Learning Literature Survey", 2009, §2.3). :func:`labelloop.learn.simulate.simulate` runs a
:class:`SeedJob` per seed, in turn or in spawned worker processes, so the job must pickle and
what it calls must sit at module top level.

PURE: numpy, scikit-learn and :mod:`labelloop.learn` only; no file, terminal or clock beyond
``time.perf_counter`` for the latencies and ``time.monotonic`` for the deadline.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from labelloop.domain import MISSING, Pool, RoundSummary
from labelloop.learn.gain import score
from labelloop.learn.model import fit_model, predict_proba_chunked
from labelloop.learn.round import choose_stop_set
from labelloop.learn.stopping import StoppingCriterion
from labelloop.learn.strategies import QueryStrategy

Features: TypeAlias = NDArray[np.floating] | csr_matrix

N_INITIAL = 20
"""Labels every strategy of a seed starts from (the same rows for each)."""
TEST_SIZE = 0.25
"""Share of the records held out to measure each model."""
MIN_PER_CLASS = 2
"""Records a class needs for the stratified pool/test split (scikit-learn's minimum); with
fewer, the split is plain random and may leave a class out of the pool."""
STOP_SET_SIZE = 1000
"""Pool rows whose predictions feed stabilizing-predictions style stopping rules."""
GROWTH = 1.15
"""Past the budget, the random control's next evaluation is at 1.15 times the labels."""


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
    stratify = y if counts[counts > 0].min() >= MIN_PER_CLASS else None
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
    return score(y, predicted, "accuracy"), score(y, predicted, "macro_f1")


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
                n_unlabeled=n_pool - int(rows.shape[0]),
                stop_labeled=labeled[stop_rows],
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
class SeedJob:
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
        """Every strategy on ``seed``; ``tick`` runs before each round and raises to stop it."""
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
