"""Conformance checks every registered strategy, stopping criterion and featurizer must pass.

Like scikit-learn's ``check_estimator``: the contract of an extension point as code, run over
built-ins and plug-ins alike. Each check raises ``AssertionError`` naming what broke.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix, issparse

from labelloop.domain import MISSING, Pool, RoundSummary, Selection, StopDecision


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


MAX_REASON_CHARS = 300
"""Reasons are stored and shown up to this length."""


def _fixture_pool(
    n_rows: int = 40, n_classes: int = 3, n_labeled: int = 12, *, dense: bool = False
) -> Pool:
    rng = np.random.default_rng(7)
    values = rng.random((n_rows, 5))
    X = values if dense else csr_matrix(values)
    y = np.full(n_rows, MISSING, dtype=np.int64)
    labeled = rng.choice(n_rows, size=n_labeled, replace=False)
    y[labeled] = rng.integers(0, n_classes, size=n_labeled)
    return Pool(
        item_ids=np.arange(100, 100 + n_rows, dtype=np.int64),
        X=X,
        y=y,
        classes=tuple(f"class_{c}" for c in range(n_classes)),
    )


def _fixture_committee(pool: Pool, n_members: int = 4) -> np.ndarray:
    rng = np.random.default_rng(13)
    shape = (n_members, pool.y.shape[0])
    return rng.dirichlet(np.ones(len(pool.classes)), size=shape)


def _fixture_proba(pool: Pool) -> np.ndarray:
    rng = np.random.default_rng(11)
    proba = rng.dirichlet(np.ones(len(pool.classes)), size=pool.y.shape[0])
    # Labeled rows get the most uncertain probabilities of all, so a strategy that forgets to
    # exclude them is caught picking them.
    proba[pool.y != MISSING] = 1.0 / len(pool.classes)
    return proba


def _check_selection(sel: Any, pool: Pool, batch_size: int, who: str) -> None:
    _require(isinstance(sel, Selection), f"{who}: returned {type(sel).__name__}, not Selection")
    candidates = set(np.flatnonzero(pool.y == MISSING).tolist())
    expected = max(0, min(batch_size, len(candidates)))
    idx, scores = np.asarray(sel.indices), np.asarray(sel.scores)
    _require(idx.ndim == 1 and scores.ndim == 1, f"{who}: indices and scores must be 1-D")
    _require(
        idx.size == 0 or np.issubdtype(idx.dtype, np.integer), f"{who}: indices must be integers"
    )
    _require(isinstance(sel.reasons, tuple), f"{who}: reasons must be a tuple")
    sizes = (idx.shape[0], scores.shape[0], len(sel.reasons))
    _require(
        sizes == (expected,) * 3,
        f"{who}: batch_size={batch_size} with {len(candidates)} candidates gave "
        f"(indices, scores, reasons) sizes {sizes}; expected {expected} each",
    )
    _require(len(set(idx.tolist())) == idx.shape[0], f"{who}: duplicate indices")
    _require(set(idx.tolist()) <= candidates, f"{who}: returned labeled or out-of-range pool rows")
    _require(bool(np.all(np.isfinite(scores))), f"{who}: scores must be finite")
    _require(
        all(isinstance(r, str) and r.strip() for r in sel.reasons),
        f"{who}: every reason must be a non-empty string",
    )
    _require(
        all(len(r) <= MAX_REASON_CHARS and "\n" not in r for r in sel.reasons),
        f"{who}: every reason must be one line of at most {MAX_REASON_CHARS} characters",
    )


def _same(a: Selection, b: Selection) -> bool:
    return (
        np.array_equal(a.indices, b.indices)
        and np.array_equal(a.scores, b.scores)
        and a.reasons == b.reasons
    )


def check_strategy(strategy_cls: Callable[[], Any]) -> None:
    """Assert that a query strategy class honours the :class:`QueryStrategy` contract.

    The strategy is built without arguments (every parameter has a default, as in
    scikit-learn). Checked: a non-empty ``name``; only unlabeled rows, without duplicates;
    ``len(indices) == len(scores) == len(reasons) == min(batch_size, n_candidates)``, also for
    a batch larger than the pool and for a fully labeled pool; finite scores; non-empty reasons;
    the same selection for the same seed; inputs left unmodified, with sparse and with dense
    features; one-line reasons of at most ``MAX_REASON_CHARS`` characters; and with
    ``proba=None`` either a valid selection or a ``ValueError`` that mentions ``proba``.

    A strategy that declares ``needs_committee = True`` is also run with
    ``Pool.committee_proba`` set. One that declares ``cold_start = True`` must give a valid
    selection without ``proba``, also on a pool with no label at all.
    """
    strategy = strategy_cls()
    who = getattr(strategy_cls, "__qualname__", repr(strategy_cls))
    name = getattr(strategy, "name", None)
    _require(isinstance(name, str) and bool(name), f"{who}: needs a non-empty str 'name'")
    pools = [_fixture_pool(), _fixture_pool(dense=True)]
    if getattr(strategy, "needs_committee", False):
        pools.append(replace(pools[0], committee_proba=_fixture_committee(pools[0])))
    for pool in pools:
        proba = _fixture_proba(pool)
        before = (
            proba.copy(),
            pool.y.copy(),
            None if pool.committee_proba is None else pool.committee_proba.copy(),
        )
        n_candidates = int(np.sum(pool.y == MISSING))
        for batch_size in (0, 1, 5, n_candidates, n_candidates + 10):
            sel = strategy.query(pool, proba, batch_size, np.random.default_rng(3))
            _check_selection(sel, pool, batch_size, f"{who} (batch_size={batch_size})")
            again = strategy.query(pool, proba, batch_size, np.random.default_rng(3))
            _require(_same(sel, again), f"{who}: same rng seed gave a different selection")
        _require(
            np.array_equal(proba, before[0])
            and np.array_equal(pool.y, before[1])
            and (before[2] is None or np.array_equal(np.asarray(pool.committee_proba), before[2])),
            f"{who}: query modified its inputs",
        )
    pool = pools[0]

    full = Pool(pool.item_ids, pool.X, np.zeros_like(pool.y), pool.classes)
    sel = strategy.query(full, _fixture_proba(full), 5, np.random.default_rng(3))
    _check_selection(sel, full, 5, f"{who} (no unlabeled rows)")

    try:
        sel = strategy.query(pool, None, 5, np.random.default_rng(3))
    except ValueError as error:
        _require("proba" in str(error), f"{who}: ValueError for proba=None must mention proba")
    else:
        _check_selection(sel, pool, 5, f"{who} (proba=None)")

    if getattr(strategy, "cold_start", False):
        blank = replace(pool, y=np.full_like(pool.y, MISSING))
        for batch_size in (1, 7):
            sel = strategy.query(blank, None, batch_size, np.random.default_rng(3))
            _check_selection(sel, blank, batch_size, f"{who} (cold start, no labels)")


def _fixture_history(*, marked: bool) -> list[RoundSummary]:
    """A converging history; ``marked``: the rounds say which stop-set items they trained on
    (a growing share), as a project's and a simulation's do, where older histories do not."""
    rng = np.random.default_rng(5)
    base = rng.integers(0, 3, size=200)
    history = [RoundSummary(0, 10, np.empty(0, dtype=np.int64))]
    accuracy = (0.6, 0.7, 0.75, 0.78, 0.79, 0.79, 0.79)
    for version, flips in enumerate((80, 40, 10, 1, 0, 0, 0), start=1):
        predictions = base.copy()
        predictions[:flips] = (predictions[:flips] + 1) % 3
        metrics = {"accuracy": accuracy[version - 1]}
        labeled = np.arange(200) < 10 * version if marked else None
        history.append(
            RoundSummary(version, 10 + 50 * version, predictions, metrics, None, labeled)
        )
    return history


def _check_decision(decision: Any, name: str, who: str) -> None:
    _require(isinstance(decision, StopDecision), f"{who}: evaluate must return a StopDecision")
    _require(decision.criterion == name, f"{who}: decision.criterion must be '{name}'")
    _require(isinstance(decision.stop, bool), f"{who}: decision.stop must be a bool")
    _require(
        decision.value is None
        or (isinstance(decision.value, float) and np.isfinite(decision.value)),
        f"{who}: decision.value must be None or a finite float",
    )
    _require(
        isinstance(decision.reason, str) and bool(decision.reason.strip()),
        f"{who}: decision.reason must be a non-empty sentence",
    )
    more = getattr(decision, "more_labels", None)
    _require(
        more is None or (isinstance(more, int) and not isinstance(more, bool) and more >= 0),
        f"{who}: decision.more_labels must be None or a non-negative int",
    )


def check_stopping(criterion_factory: Callable[[], Any]) -> None:
    """Assert that a stopping criterion honours the :class:`StoppingCriterion` contract.

    ``criterion_factory`` is the class (built without arguments) or any callable returning a
    configured criterion. Checked: a non-empty ``name``; a well-formed :class:`StopDecision`
    for an empty history, a cold-start-only history and every prefix of a converging one, with
    and without the rounds' ``stop_labeled``; and purity: the same decision for an equal
    history, the history left unmodified.
    """
    criterion = criterion_factory()
    who = getattr(criterion_factory, "__qualname__", repr(criterion_factory))
    name = getattr(criterion, "name", None)
    _require(isinstance(name, str) and bool(name), f"{who}: needs a non-empty str 'name'")
    for marked in (False, True):
        history = _fixture_history(marked=marked)
        for end in range(len(history) + 1):
            prefix = history[:end]
            decision = criterion.evaluate(prefix)
            _check_decision(decision, str(name), f"{who} ({end} rounds)")
            fresh = criterion_factory().evaluate(list(prefix))
            _require(decision == fresh, f"{who}: decision depends on more than the history")
        copy = [
            (r.stop_predictions.copy(), None if r.stop_labeled is None else r.stop_labeled.copy())
            for r in history
        ]
        criterion.evaluate(history)
        _require(
            all(
                np.array_equal(r.stop_predictions, predictions)
                and (labeled is None or np.array_equal(r.stop_labeled, labeled))
                for r, (predictions, labeled) in zip(history, copy, strict=True)
            ),
            f"{who}: evaluate modified the history",
        )


def check_featurizer(featurizer_cls: Callable[[], Any]) -> None:
    """Assert that a featurizer class honours the :class:`Featurizer` contract.

    Checked: a non-empty ``version``; ``fit`` returns the featurizer; ``transform`` gives one
    row per payload, the same rows for the same payloads, ``fit_transform`` equal to ``fit``
    then ``transform``; unseen and empty payloads transform without error.
    """
    who = getattr(featurizer_cls, "__qualname__", repr(featurizer_cls))
    payloads = [
        {"text": f"item {i} about {'cats' if i % 2 else 'dogs'} and more"} for i in range(8)
    ]
    featurizer = featurizer_cls()
    version = getattr(featurizer, "version", None)
    _require(isinstance(version, str) and bool(version), f"{who}: needs a non-empty str version")
    _require(featurizer.fit(payloads) is featurizer, f"{who}: fit must return self")
    X = featurizer.transform(payloads)
    _require(X.shape[0] == len(payloads), f"{who}: transform must give one row per payload")
    dense = X.toarray() if issparse(X) else np.asarray(X)
    again = featurizer.transform(payloads)
    _require(
        np.array_equal(dense, again.toarray() if issparse(again) else np.asarray(again)),
        f"{who}: transform is not deterministic",
    )
    both = featurizer_cls().fit_transform(payloads)
    _require(
        np.allclose(dense, both.toarray() if issparse(both) else np.asarray(both)),
        f"{who}: fit_transform differs from fit then transform",
    )
    unseen = featurizer.transform([{"text": "never seen words"}, {"text": ""}])
    _require(unseen.shape[0] == 2, f"{who}: unseen or empty payloads must still give rows")
