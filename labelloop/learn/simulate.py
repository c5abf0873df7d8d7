"""Simulation: replay the labeling loop with known labels as the oracle, to pick a strategy early.

The protocol is the pool-based one of Settles, "Active Learning Literature Survey" (2009), §2.3,
with the reporting of Zhang, Strubell & Hovy, "A Survey of Active Learning for Natural Language
Processing" (EMNLP 2022): per seed a stratified pool/test split, one shared seed set, every
strategy replayed from it, and the labels each needs to reach a share of the accuracy of a model
trained on the whole pool ("full-data accuracy").

PURE: numpy, scikit-learn and :mod:`labelloop.learn` only; no file, terminal or clock beyond
``time.monotonic`` for the time bound. Seeds may run in worker processes (``jobs``). One seed's
replay is in :mod:`labelloop.learn.replay`; the figures read from the curves are in
:mod:`labelloop.learn.simreport`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from labelloop.learn.model import default_model
from labelloop.learn.replay import (
    N_INITIAL,
    TEST_SIZE,
    Features,
    SeedJob,
    SeedRun,
    label_grid,
    make_split,
)
from labelloop.learn.stopping import StoppingCriterion
from labelloop.learn.strategies import QueryStrategy

RANDOM = "random"
"""The control strategy; the only one whose picks ignore the model, so it may run past the
budget on a coarser grid (``random_to_pool``)."""


class SimulationTimeout(Exception):
    """Raised inside :func:`simulate` when ``max_seconds`` has passed; never escapes it."""


@dataclass(frozen=True)
class Simulation:
    """The seeds that finished; ``timed_out`` says whether ``max_seconds`` cut the rest.

    ``budget`` is the labels the curves go to: ``budget_requested`` (the budget asked for;
    ``None``: the same), capped at the pool size.
    """

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
    budget_requested: int | None = None


def _run_in_turn(
    job: SeedJob,
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
ORPHAN_CHECK_S = 0.5
"""How often a worker process checks that the process that started it is still there."""
TICKS_PER_MESSAGE = 10
"""A worker reports its rounds to the parent this many at a time."""


def _start_worker(job: SeedJob, ticks: Any, abort: Any, parent: int) -> None:
    """Keep the job in the worker; leave Ctrl-C to the parent, which tells workers to stop;
    take the other signals as a process of its own does (a started program inherits the signals
    its parent blocks, and `labelloop worker` blocks its stop signals to wait for them in a
    thread: SIGTERM would not end this worker); end the worker when the parent is gone.

    ``parent`` is the pid the parent gave, not ``os.getppid()`` read here: a parent killed
    while this worker was still importing has already handed it to another process, and a
    watch started from that pid would never see a change.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
    _WORKER.update(job=job, ticks=ticks, abort=abort)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()


def _exit_when_orphaned(parent: int) -> None:
    """A parent killed hard (the OOM killer, a learner killed after its grace time) sends no
    abort, and a worker waiting for its next seed would wait forever: leave once the parent
    is gone."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(1)


def _worker_seed(seed: int) -> SeedRun | None:
    """One seed in a worker process; ``None`` when the deadline or the parent stopped it."""
    job: SeedJob = _WORKER["job"]
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
    job: SeedJob,
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
        initargs=(job, ticks, abort, os.getpid()),
    ) as pool:
        futures = [pool.submit(_worker_seed, seed) for seed in seeds]
        try:
            while True:
                finished, running = wait(futures, timeout=0, return_when=FIRST_EXCEPTION)
                if not running or any(f.exception() is not None for f in finished):
                    break
                # Every 0.2 s at least, so a caller's progress callback may stop the replay
                # (by raising) between the workers' reports.
                with contextlib.suppress(queue.Empty):
                    done += ticks.get(timeout=0.2)
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
    in_processes: bool = False,
) -> Simulation:
    """Replay the loop for every strategy on every seed, with ``y`` as the oracle.

    Per seed: a stratified pool/test split, one seed set of ``n_initial`` labels (at least two
    classes) shared by every strategy, then rounds of fit (logistic regression on one thread
    unless ``model`` says otherwise), test, stopping rules and a query of ``batch_size`` rows
    until ``budget`` labels, or the whole pool when that is fewer (the returned ``budget`` is
    then the pool size). The rules see the test metrics as a project sees its eval split.

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
        Called as ``progress(0, rounds_total)`` before the first round, then as
        ``progress(rounds_done, rounds_total)`` after every round (in worker processes: every
        0.2 s, with the rounds reported so far). An exception it raises stops
        the replay and the workers, and propagates.
    jobs : int
        Seeds replayed at once, each in its own spawned process on one thread; the curves are
        the same as with 1. ``strategies``, ``stopping`` and ``model`` must then pickle and be
        importable in a fresh interpreter (not defined in a notebook), and a script calling
        this must guard its entry with ``if __name__ == "__main__":``, as any multiprocessing
        code must. Past ``max_seconds`` the seeds that finished are kept, which need not be the
        first ones. Workers end within a second of the calling process's death.
    in_processes : bool
        Replay in worker processes even with one job or one seed, so the calling process (a
        server's learner) keeps its interpreter and thread pools to itself.

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
    # Every seed's pool has the same size; past it there is nothing left to buy.
    n_pool = min((split.pool.shape[0] for split in splits.values()), default=budget)
    requested, budget = budget, min(budget, n_pool)
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
    job = SeedJob(
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
    if progress is not None:  # the total from the start, not after the first round
        progress(0, total)
    if in_processes or (jobs > 1 and len(seeds) > 1):
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
        budget_requested=requested,
    )
