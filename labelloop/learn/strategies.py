"""Query strategies: which unlabeled pool rows are most worth a human's time, and why.

The uncertainty strategies follow Settles, "Active Learning Literature Survey" (2009), §3.1:
least confidence (Culotta & McCallum 2005), margin (Scheffer et al. 2001) and entropy
(Shannon 1948; Settles & Craven 2008). Random sampling is the control every study compares to.
Query-by-committee lives in :mod:`~labelloop.learn.committee`, information density in
:mod:`~labelloop.learn.density`, batch-diverse strategies in :mod:`~labelloop.learn.batch`,
TypiClust in :mod:`~labelloop.learn.typicality` and the default policy in
:mod:`~labelloop.learn.policy`; all register here, in :data:`STRATEGIES`.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from labelloop.domain import MISSING, Pool, Selection
from labelloop.learn.registry import Registry
from labelloop.learn.space import shortlist


@runtime_checkable
class QueryStrategy(Protocol):
    """Ranks the unlabeled rows of a pool; ``name`` is the registry key.

    Two optional class attributes tell :func:`~labelloop.learn.round.run_round` what a strategy
    needs, without changing the one ``query`` signature:

    - ``needs_committee = True``: fill ``Pool.committee_proba`` with a bootstrap committee
      trained with the round's model (query-by-committee);
    - ``cold_start = True``: the strategy selects well without ``proba``, so it also fills the
      queue before the first model instead of the generic diverse selection.
    """

    name: ClassVar[str]

    def query(
        self,
        pool: Pool,
        proba: NDArray[np.floating] | None,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        """Pick up to ``batch_size`` rows with ``pool.y == MISSING``, best first.

        Parameters
        ----------
        pool : Pool
            The round's snapshot; only rows with ``pool.y == MISSING`` are candidates.
        proba : ndarray of shape (n_pool, n_classes) or None
            Class probabilities aligned with pool rows, columns in ``pool.classes`` order.
        batch_size : int
            How many rows to return at most.
        rng : numpy.random.Generator
            The only source of randomness (tie-breaking, sampling).

        Returns
        -------
        Selection
            ``min(batch_size, n_candidates)`` distinct rows with their utility and reason.
        """
        ...


STRATEGIES: Registry[QueryStrategy] = Registry("strategy", "strategies")
"""Registry of query strategy classes by ``name``; built-ins register exactly as plug-ins do."""

register_strategy = STRATEGIES.register
"""Class decorator that registers a strategy class under its ``name`` in :data:`STRATEGIES`."""


def make_strategy(name: str) -> QueryStrategy:
    """Build the registered strategy called ``name``.

    Raises
    ------
    SchemaError
        When no strategy of that name is registered; the message lists the known ones.
    """
    return STRATEGIES.make(name)


def candidate_rows(pool: Pool) -> NDArray[np.intp]:
    """Pool rows without a resolved label, ascending; shape (n_candidates,)."""
    return np.flatnonzero(np.asarray(pool.y) == MISSING)


def candidate_proba(
    name: str, pool: Pool, proba: NDArray[np.floating] | None, rows: NDArray[np.intp]
) -> NDArray[np.float64]:
    """Validated probabilities of the candidate ``rows``; shape (n_rows, n_classes).

    Raises
    ------
    ValueError
        When ``proba`` is ``None``, has the wrong shape or holds non-finite values.
    """
    if proba is None:
        raise ValueError(
            f"strategy '{name}' needs class probabilities (proba) from a trained model; "
            "got None. Use cold start or the 'random' strategy before the first model."
        )
    proba = np.asarray(proba)
    expected = (np.asarray(pool.y).shape[0], len(pool.classes))
    if proba.shape != expected:
        raise ValueError(
            f"proba has shape {proba.shape}; expected (n_pool, n_classes) = {expected}"
        )
    p = proba[rows].astype(np.float64, copy=False)
    if not np.all(np.isfinite(p)):
        raise ValueError("proba holds NaN or infinite values for unlabeled rows")
    return p


def uncertain_candidates(
    name: str,
    pool: Pool,
    proba: NDArray[np.floating] | None,
    rng: np.random.Generator,
    *,
    cap: int,
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Candidate rows worth an expensive score and their validated probabilities.

    Every candidate up to ``cap`` of them (``rng`` unused, so small pools select as without a
    cap); above, the :func:`~labelloop.learn.space.shortlist` of ``cap`` rows by margin
    utility: the ones the model is least sure of, plus a uniform share of the rest.

    Returns
    -------
    rows : ndarray of shape (n_rows,), ascending
    p : ndarray of shape (n_rows, n_classes)

    Raises
    ------
    ValueError
        As :func:`candidate_proba`.
    """
    rows = candidate_rows(pool)
    p = candidate_proba(name, pool, proba, rows)
    if rows.shape[0] <= cap:
        return rows, p
    keep = shortlist(margin_utility(p), cap, rng)
    return rows[keep], p[keep]


def empty_selection() -> Selection:
    """A selection of no rows."""
    return Selection(np.empty(0, dtype=np.intp), np.empty(0, dtype=np.float64), ())


def rank(
    primary: NDArray[np.floating],
    secondary: NDArray[np.floating],
    k: int,
    rng: np.random.Generator,
) -> NDArray[np.intp]:
    """Positions of the ``k`` best rows by ``primary``, then ``secondary``, then ``rng``.

    For utilities with many exact ties (vote counts), where a second score orders the ties.

    Parameters
    ----------
    primary, secondary : ndarray of shape (n,)
    k : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (min(k, n),)
    """
    n = primary.shape[0]
    k = max(0, min(k, n))
    tiebreak = rng.random(size=(n,))
    return np.lexsort((tiebreak, -secondary, -primary))[:k].astype(np.intp)


def top_k(utility: NDArray[np.floating], k: int, rng: np.random.Generator) -> NDArray[np.intp]:
    """Positions of the ``k`` largest utilities, best first, ties broken by ``rng``.

    Runs in O(n + k log k): one partition instead of a full sort, so a million rows stay cheap.

    Parameters
    ----------
    utility : ndarray of shape (n,)
    k : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (min(k, n),)
    """
    n = utility.shape[0]
    k = max(0, min(k, n))
    tiebreak = rng.random(size=(n,))
    if k == 0:
        return np.empty(0, dtype=np.intp)
    if k == n:
        chosen = np.arange(n)
    else:
        threshold = np.partition(utility, n - k)[n - k]
        above = np.flatnonzero(utility > threshold)
        tied = np.flatnonzero(utility == threshold)
        need = k - above.shape[0]
        if need < tied.shape[0]:
            tied = tied[np.argpartition(tiebreak[tied], need - 1)[:need]]
        chosen = np.concatenate([above, tied])
    order = np.lexsort((tiebreak[chosen], -utility[chosen]))
    return chosen[order].astype(np.intp)


def _fmt(p: float) -> str:
    return f"{p:.2f}"


def margin_utility(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """``1 - (p_1 - p_2)`` of each row of ``p`` (shape (n, n_classes)); shape (n,)."""
    first, second = _top_two(p)
    return 1.0 - (first - second)


UNSURE_GAP = 0.2
"""Top-two gap below which the model is called unsure between its two likeliest classes."""

SURE_GAP = 0.5
"""Top-two gap from which the model is said to favour its best guess, not merely lean to it."""


def margin_reason(p: NDArray[np.float64], classes: tuple[str, ...]) -> str:
    """The model's two likeliest classes for one row ``p`` of shape (n_classes,), worded by the
    gap between them: "model unsure between A (0.50) and B (0.45)" below :data:`UNSURE_GAP`,
    "model leans to A (0.62) over B (0.31)" below :data:`SURE_GAP`, else "model favours A
    (0.89) over B (0.07)"; a fairly sure model is never called unsure."""
    order = np.argsort(-p, kind="stable")
    if len(order) < 2:
        return f"model knows only {classes[order[0]]} ({_fmt(p[order[0]])})"
    a, b = order[0], order[1]
    first, second = f"{classes[a]} ({_fmt(p[a])})", f"{classes[b]} ({_fmt(p[b])})"
    gap = float(p[a] - p[b])
    if gap < UNSURE_GAP:
        return f"model unsure between {first} and {second}"
    return f"model {'leans to' if gap < SURE_GAP else 'favours'} {first} over {second}"


class _UncertaintyStrategy:
    """Shared plumbing: validate ``proba``, score candidates, take the top k, explain each."""

    name: ClassVar[str] = ""

    def query(
        self,
        pool: Pool,
        proba: NDArray[np.floating] | None,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        rows = candidate_rows(pool)
        p = candidate_proba(self.name, pool, proba, rows)
        utility = self.utility(p)
        picked = top_k(utility, batch_size, rng)
        reasons = tuple(self.reason(p[i], pool.classes) for i in picked)
        return Selection(indices=rows[picked], scores=utility[picked], reasons=reasons)

    def utility(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        """Utility of each row of ``p`` (shape (n, n_classes)); higher is more useful."""
        raise NotImplementedError

    def reason(self, p: NDArray[np.float64], classes: tuple[str, ...]) -> str:
        """One sentence for an annotator about a row's probabilities ``p`` (shape (n_classes,))."""
        raise NotImplementedError


def _top_two(p: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Largest and second-largest probability per row; the second is 0 with a single class."""
    if p.shape[1] < 2:
        return p[:, 0] if p.shape[1] else np.zeros(p.shape[0]), np.zeros(p.shape[0])
    two = np.partition(p, p.shape[1] - 2, axis=1)[:, -2:]
    return two[:, 1], two[:, 0]


@register_strategy
class LeastConfidence(_UncertaintyStrategy):
    """Utility ``1 - max_c p(c|x)`` (Culotta & McCallum, AAAI 2005)."""

    name: ClassVar[str] = "least_confidence"

    def utility(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        return 1.0 - _top_two(p)[0]

    def reason(self, p: NDArray[np.float64], classes: tuple[str, ...]) -> str:
        # Served least sure first: a fairly sure guess comes only once the weaker ones are
        # taken, and "only 0.89 likely" would not say why it was picked.
        best = int(np.argmax(p))
        if p[best] < 0.5:
            return f"model's best guess {classes[best]} is only {_fmt(p[best])} likely"
        return f"least sure guess left: model says {classes[best]} ({_fmt(p[best])})"


@register_strategy
class Margin(_UncertaintyStrategy):
    """Utility ``1 - (p_1 - p_2)`` of the two likeliest classes (Scheffer et al., IDA 2001)."""

    name: ClassVar[str] = "margin"

    def utility(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        return margin_utility(p)

    def reason(self, p: NDArray[np.float64], classes: tuple[str, ...]) -> str:
        # The queue is served in margin order, so a clear-cut item is served only once the
        # closer calls before it are taken: say so, or "why this item" would go unanswered.
        said = margin_reason(p, classes)
        top = np.sort(p)[::-1]
        clear_cut = len(top) > 1 and top[0] - top[1] >= UNSURE_GAP
        return f"closest call left: {said}" if clear_cut else said


@register_strategy
class Entropy(_UncertaintyStrategy):
    """Shannon entropy of ``p(c|x)``, divided by ``log(n_classes)`` so it lies in [0, 1].

    Settles & Craven, "An Analysis of Active Learning Strategies for Sequence Labeling
    Tasks" (EMNLP 2008).
    """

    name: ClassVar[str] = "entropy"
    shown: ClassVar[int] = 3

    def utility(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
        entropy = -terms.sum(axis=1)
        n_classes = p.shape[1]
        return entropy / np.log(n_classes) if n_classes > 1 else entropy

    def reason(self, p: NDArray[np.float64], classes: tuple[str, ...]) -> str:
        order = np.argsort(-p, kind="stable")
        parts = ", ".join(f"{classes[c]} ({_fmt(p[c])})" for c in order[: self.shown])
        rest = len(order) - self.shown
        return f"model spread over {parts}" + (f" and {rest} more" if rest > 0 else "")


@register_strategy
class RandomSampling:
    """Uniform sampling without replacement: the control every active-learning study needs."""

    name: ClassVar[str] = "random"

    def query(
        self,
        pool: Pool,
        proba: NDArray[np.floating] | None,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        rows = candidate_rows(pool)
        k = max(0, min(batch_size, rows.shape[0]))
        picked = rng.choice(rows.shape[0], size=k, replace=False) if k else np.empty(0, int)
        return Selection(
            indices=rows[picked].astype(np.intp),
            scores=np.zeros(k, dtype=np.float64),
            reasons=("picked at random",) * k,
        )
