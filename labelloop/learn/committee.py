"""Query-by-committee: ask where models trained on resamples of the labels disagree.

Seung, Opper & Sompolinsky, "Query by Committee" (COLT 1992), with the committee built by
bagging (Abe & Mamitsuka, "Query Learning Strategies Using Boosting and Bagging", ICML 1998).
Disagreement is measured as vote entropy (Dagan & Engelson, ICML 1995) or as the mean
Kullback-Leibler divergence of each member from the consensus (McCallum & Nigam, ICML 1998).
Pools above ``MAX_CANDIDATES`` unlabeled rows ask the committee about a shortlist only.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix

from labelloop.domain import MISSING, Pool, Selection
from labelloop.learn.model import default_model, fit_model, predict_proba_chunked
from labelloop.learn.space import MAX_CANDIDATES, sample_rows, shortlist
from labelloop.learn.strategies import (
    candidate_proba,
    candidate_rows,
    empty_selection,
    margin_utility,
    rank,
    register_strategy,
)

N_MEMBERS = 5
"""Committee size; Settles (2009) notes small committees of 2-5 already work well."""


def bootstrap_committee(
    model: Any,
    X: NDArray[np.floating] | csr_matrix,
    y: NDArray[np.int64],
    *,
    n_classes: int,
    rng: np.random.Generator,
    n_members: int = N_MEMBERS,
    rows: NDArray[np.intp] | None = None,
) -> NDArray[np.float64]:
    """Class probabilities of ``n_members`` clones of ``model``, each fitted on a bootstrap sample.

    Each bootstrap resamples every labeled class with replacement to its own size (a stratified
    bootstrap), so no member loses a rare class and every member can be fitted.

    Parameters
    ----------
    model : scikit-learn classifier
        Template; cloned per member (see :func:`~labelloop.learn.model.fit_model`).
    X : ndarray or csr_matrix of shape (n_pool, n_features)
    y : ndarray of shape (n_pool,)
        Class indices or ``MISSING``; at least two classes must be labeled.
    n_classes : int
        ``len(Pool.classes)``.
    rng : numpy.random.Generator
    n_members : int
    rows : ndarray of shape (n_rows,), optional
        The pool rows to predict; all of them when omitted (``n_rows = n_pool``).

    Returns
    -------
    ndarray of shape (n_members, n_rows, n_classes)
    """
    y = np.asarray(y)
    labeled = np.flatnonzero(y != MISSING)
    present = np.unique(y[labeled])
    if present.shape[0] < 2:
        raise ValueError("a committee needs labels of at least two classes")
    by_class = [labeled[y[labeled] == c] for c in present]
    scored = X if rows is None else X[rows]
    out = np.empty((n_members, scored.shape[0], n_classes), dtype=np.float64)
    for m in range(n_members):
        sample = np.sort(np.concatenate([rng.choice(r, size=r.shape[0]) for r in by_class]))
        member = fit_model(model, X[sample], y[sample])
        out[m] = predict_proba_chunked(member, scored, n_classes=n_classes)
    return out


def _committee(
    pool: Pool,
    proba: NDArray[np.floating] | None,
    rng: np.random.Generator,
    name: str,
    rows: NDArray[np.intp] | None = None,
) -> NDArray[np.float64]:
    """The committee's probabilities of pool ``rows``, shape (n_members, n_rows, n_classes).

    ``pool.committee_proba`` when given; otherwise a committee of default models fitted on the
    pool's labels; with labels of a single class, the model's ``proba`` alone (a committee of
    one, so the ranking falls back to the consensus entropy, i.e. uncertainty sampling). Only
    ``rows`` (all rows when ``None``) are predicted and checked.
    """
    n_pool, n_classes = np.asarray(pool.y).shape[0], len(pool.classes)
    if pool.committee_proba is None:
        try:
            return bootstrap_committee(
                default_model(), pool.X, pool.y, n_classes=n_classes, rng=rng, rows=rows
            )
        except ValueError:
            if proba is None:
                raise ValueError(
                    f"strategy '{name}' needs a committee (Pool.committee_proba), labels of two "
                    "classes to train one, or class probabilities (proba); got none of them"
                ) from None
            committee = np.asarray(proba)[None]
    else:
        committee = np.asarray(pool.committee_proba)
    if committee.ndim != 3 or committee.shape[1:] != (n_pool, n_classes):
        raise ValueError(
            f"committee probabilities have shape {committee.shape}; expected "
            f"(n_members, n_pool, n_classes) with n_pool={n_pool}, n_classes={n_classes}"
        )
    committee = (committee if rows is None else committee[:, rows, :]).astype(
        np.float64, copy=False
    )
    if not np.all(np.isfinite(committee)):
        raise ValueError("committee probabilities hold NaN or infinite values")
    return committee


def _entropy(p: NDArray[np.float64], axis: int = -1) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -terms.sum(axis=axis)


class _QueryByCommittee:
    """Shared plumbing: shortlist, get the committee, score candidates, rank, explain.

    Pools of more than ``max_candidates`` unlabeled rows are scored on a
    :func:`~labelloop.learn.space.shortlist` of that many: the rows of least margin by ``proba``
    (by the committee's mean without it) plus a uniform share of the rest, so a committee
    trained here predicts those rows only.

    Parameters
    ----------
    max_candidates : int
    """

    name: ClassVar[str] = ""
    needs_committee: ClassVar[bool] = True

    def __init__(self, max_candidates: int = MAX_CANDIDATES) -> None:
        self.max_candidates = max_candidates

    def query(
        self,
        pool: Pool,
        proba: NDArray[np.floating] | None,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        """Rank candidates by committee disagreement; ``proba`` is not needed.

        Parameters
        ----------
        pool : Pool
            ``pool.committee_proba`` of shape (n_members, n_pool, n_classes) when given;
            otherwise a committee of :data:`N_MEMBERS` default models is fitted on the labeled
            rows of ``pool``.
        proba : ndarray of shape (n_pool, n_classes) or None
            Used when no committee can be had (labels of a single class), and to shortlist
            the candidates of a pool above ``max_candidates``.
        batch_size : int
        rng : numpy.random.Generator

        Returns
        -------
        Selection
        """
        rows = candidate_rows(pool)
        if min(batch_size, rows.shape[0]) <= 0:
            return empty_selection()
        cap = max(self.max_candidates, batch_size)  # a larger batch needs as many rows
        if rows.shape[0] > cap:
            rows = self._shortlist(pool, proba, rows, cap, rng)
            votes = _committee(pool, proba, rng, self.name, rows)
        else:
            votes = _committee(pool, proba, rng, self.name)[:, rows, :]
        # votes: (n_members, n_rows, n_classes)
        score, secondary = self.utility(votes)
        picked = rank(score, secondary, batch_size, rng)
        reasons = tuple(self.reason(votes[:, i, :], score[i], pool.classes) for i in picked)
        return Selection(indices=rows[picked], scores=score[picked], reasons=reasons)

    def _shortlist(
        self,
        pool: Pool,
        proba: NDArray[np.floating] | None,
        rows: NDArray[np.intp],
        cap: int,
        rng: np.random.Generator,
    ) -> NDArray[np.intp]:
        """``cap`` of the candidate ``rows``, ascending; shape (cap,)."""
        committee = pool.committee_proba
        expected = (np.asarray(pool.y).shape[0], len(pool.classes))
        if proba is not None:
            uncertainty = margin_utility(candidate_proba(self.name, pool, proba, rows))
        elif committee is not None and np.shape(committee)[1:] == expected:
            consensus = np.asarray(committee).mean(axis=0)[rows]
            uncertainty = margin_utility(np.asarray(consensus, dtype=np.float64))
        else:  # nothing to rank by before a committee exists (or a malformed one, refused later)
            return sample_rows(rows, cap, rng)
        return rows[shortlist(uncertainty, cap, rng)]

    def utility(
        self, votes: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Disagreement and a tie-breaking second score per row, each shape (n_rows,)."""
        raise NotImplementedError

    def reason(self, member_p: NDArray[np.float64], score: float, classes: tuple[str, ...]) -> str:
        """One sentence about a row's member probabilities ``member_p`` (n_members, n_classes)."""
        raise NotImplementedError


@register_strategy
class QBCVoteEntropy(_QueryByCommittee):
    """Vote entropy of the members' hard predictions, over ``log(min(n_members, n_classes))``.

    Dagan & Engelson, "Committee-Based Sampling for Training Probabilistic Classifiers"
    (ICML 1995). Votes tie often in a small committee; ties are ordered by the entropy of the
    consensus (mean) probabilities.
    """

    name: ClassVar[str] = "qbc_vote_entropy"

    def utility(
        self, votes: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        n_members, n_rows, n_classes = votes.shape
        hard = votes.argmax(axis=2)  # (n_members, n_rows)
        share = np.zeros((n_rows, n_classes))
        for m in range(n_members):
            share[np.arange(n_rows), hard[m]] += 1.0 / n_members
        scale = np.log(min(n_members, n_classes)) if min(n_members, n_classes) > 1 else 1.0
        return _entropy(share) / scale, _entropy(votes.mean(axis=0))

    def reason(self, member_p: NDArray[np.float64], score: float, classes: tuple[str, ...]) -> str:
        counts = np.bincount(member_p.argmax(axis=1), minlength=len(classes))
        order = [c for c in np.argsort(-counts, kind="stable") if counts[c] > 0]
        n = member_p.shape[0]
        if n == 1:
            c = order[0]
            return f"too few labels for a committee: model's guess {classes[c]}"
        if len(order) == 1:
            return f"all {n} committee models say {classes[order[0]]} (vote entropy 0.00)"
        # Every class voted for (at most one per member), so the counts add up to the members.
        split = ", ".join(
            f"{counts[c]} {'says' if counts[c] == 1 else 'say'} {classes[c]}" for c in order
        )
        return f"committee of {n} models split: {split} (vote entropy {score:.2f})"


@register_strategy
class QBCKullbackLeibler(_QueryByCommittee):
    """Mean KL divergence of each member's probabilities from the committee's mean.

    McCallum & Nigam, "Employing EM and Pool-Based Active Learning for Text Classification"
    (ICML 1998): ``(1/M) sum_m KL(P_m || P_mean)``, which is zero when members agree exactly
    and grows with disagreement in confidence, not only in the hard vote.
    """

    name: ClassVar[str] = "qbc_kl"

    def utility(
        self, votes: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        consensus = votes.mean(axis=0)  # (n_rows, n_classes)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(votes > 0, votes / np.where(consensus > 0, consensus, 1.0), 1.0)
            kl = np.where(votes > 0, votes * np.log(ratio), 0.0).sum(axis=2)
        return np.maximum(kl.mean(axis=0), 0.0), _entropy(consensus)

    def reason(self, member_p: NDArray[np.float64], score: float, classes: tuple[str, ...]) -> str:
        top = int(member_p.mean(axis=0).argmax())
        if member_p.shape[0] == 1:
            return f"too few labels for a committee: model's guess {classes[top]}"
        low, high = member_p[:, top].min(), member_p[:, top].max()
        return (
            f"{member_p.shape[0]} committee models disagree on {classes[top]}: "
            f"{low:.2f} to {high:.2f} likely (mean KL to consensus {score:.2f})"
        )
