"""Re-label suggestions: labeled items whose label the model confidently contradicts.

Confident learning (Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty in
Dataset Labels", JAIR 2021) through cleanlab's ``find_label_issues``, over out-of-fold
probabilities from stratified cross-validation, so no item is judged by a model that saw its
own label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from sklearn.model_selection import StratifiedKFold

from labelloop.domain import Selection
from labelloop.learn.model import fit_model, predict_proba_chunked
from labelloop.learn.space import sample_rows
from labelloop.learn.strategies import empty_selection

MAX_ROWS = 5_000
"""Labeled rows cross-validated at most (a uniform sample beyond), bounding the cost."""
CONFIDENT = 0.5
"""Out-of-fold probability the model must give another class before a label counts as
contradicted: that class more likely than all the others together, the given one included."""
ODDS = 2.0
"""How many times as likely as the given label that class must be as well. With two classes a
probability of 0.5 alone is a coin flip (0.51 against 0.49); twice as likely asks for 2/3 there,
and rarely binds with more classes, where 0.5 already leaves the label little. Measured on
planted flips by ``bench/relabel_precision.py``."""


def beats_majority(given: NDArray[np.int64], pred_probs: NDArray[np.floating]) -> bool:
    """Whether out-of-fold predictions are right more often than always answering the most
    common given label: a model that is not says nothing about any one label."""
    if not len(given):
        return False
    right = float(np.mean(pred_probs.argmax(axis=1) == given))
    return right > np.bincount(given).max() / len(given) + 1e-12  # 1e-12: float noise


def contradicted(
    given: NDArray[np.int64],
    pred_probs: NDArray[np.floating],
    *,
    min_confidence: float = CONFIDENT,
    min_odds: float = ODDS,
) -> NDArray[np.bool_]:
    """Per row, whether the model confidently contradicts its label.

    Its guess is another class, with probability ``min_confidence`` at least and ``min_odds``
    times the given label's at least. A row whose own label is still the guess is borderline,
    not mislabeled, and a weak guess (or, with two classes, 0.51 against 0.49) is no evidence
    against a label.

    Parameters
    ----------
    given : ndarray of int, shape (n,)
        The label of each row, as column indices of ``pred_probs``.
    pred_probs : ndarray of shape (n, n_classes)
        Out-of-fold class probabilities.
    min_confidence : float
        Probability of the guessed class needed.
    min_odds : float
        Ratio of the guessed class's probability to the given label's needed.

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    rows = np.arange(len(given))
    guessed = pred_probs.argmax(axis=1)
    p_guess, p_given = pred_probs[rows, guessed], pred_probs[rows, given]
    sure = p_guess >= min_confidence - 1e-12  # 1e-12: float noise
    likelier = p_guess >= min_odds * p_given - 1e-12
    return (guessed != given) & sure & likelier


def _no_rows() -> NDArray[np.intp]:
    return np.empty(0, dtype=np.intp)


@dataclass(frozen=True)
class LabelCheck:
    """What one cross-validated check of the labels found (:func:`check_labels`).

    Attributes
    ----------
    suggestions : Selection
        The re-label suggestions (:func:`relabel_candidates`), most suspicious first.
    rows : ndarray of shape (n_checked,)
        Rows of ``X`` the check judged: the labeled rows it sampled, less those of classes with
        a single label; empty when it could judge none (fewer than two checkable classes, or a
        model no better than the most common label, which says nothing about any one label).
    p_given : ndarray of shape (n_checked,)
        Out-of-fold probability of each judged row's own label.
    contradicted : ndarray of shape (n_checked,)
        Whether the model confidently contradicts the row's label (:func:`contradicted`): what
        a suggestion needs besides confident learning's own test.
    agrees : ndarray of shape (n_checked,)
        Whether the model's out-of-fold guess is the row's own label. Between the two (another
        class guessed, without confidence) the model is unsure: a caller that withdraws earlier
        suspicions only where the model agrees does not see them flicker at the threshold.
    guesses : tuple of (str, float), length n_suggestions
        Per suggestion, the class the model says instead (its name in ``classes``) and its
        out-of-fold probability, as its reason says them.
    """

    suggestions: Selection
    rows: NDArray[np.intp] = field(default_factory=_no_rows)
    p_given: NDArray[np.floating] = field(default_factory=lambda: np.empty(0))
    contradicted: NDArray[np.bool_] = field(default_factory=lambda: np.empty(0, dtype=bool))
    agrees: NDArray[np.bool_] = field(default_factory=lambda: np.empty(0, dtype=bool))
    guesses: tuple[tuple[str, float], ...] = ()


def relabel_candidates(
    X: NDArray[np.floating] | csr_matrix,
    y_labeled_idx: NDArray[np.intp],
    y: NDArray[np.int64],
    model: Any,
    *,
    rng: np.random.Generator,
    classes: Sequence[str] | None = None,
    cv: int = 5,
    max_items: int = 50,
    max_rows: int = MAX_ROWS,
    min_confidence: float = CONFIDENT,
    min_odds: float = ODDS,
) -> Selection:
    """Labeled rows whose label is most likely wrong, most suspicious first: the suggestions
    of :func:`check_labels`, which documents the parameters."""
    return check_labels(
        X,
        y_labeled_idx,
        y,
        model,
        rng=rng,
        classes=classes,
        cv=cv,
        max_items=max_items,
        max_rows=max_rows,
        min_confidence=min_confidence,
        min_odds=min_odds,
    ).suggestions


def check_labels(
    X: NDArray[np.floating] | csr_matrix,
    y_labeled_idx: NDArray[np.intp],
    y: NDArray[np.int64],
    model: Any,
    *,
    rng: np.random.Generator,
    classes: Sequence[str] | None = None,
    cv: int = 5,
    max_items: int = 50,
    max_rows: int = MAX_ROWS,
    min_confidence: float = CONFIDENT,
    min_odds: float = ODDS,
) -> LabelCheck:
    """Labeled rows whose label is most likely wrong, most suspicious first, and what the
    check thought of every row it judged.

    Out-of-fold probabilities come from ``cv``-fold stratified cross-validation (fewer folds
    when a class has fewer labels; classes with a single label cannot be checked and are left
    out). cleanlab's confident learning (``filter_by="prune_by_noise_rate"``) flags the issues,
    ranked by self-confidence (the out-of-fold probability of the given label). Only
    confident contradictions are kept (:func:`contradicted`): the model's guess is another
    class, with out-of-fold probability ``min_confidence`` at least and ``min_odds`` times the
    given label's (with two classes, 2/3 by default). A model still weak on few labels finds many
    issues by confident learning's per-class thresholds alone, most of them right labels; one
    whose out-of-fold predictions do not beat the most common label (:func:`beats_majority`)
    suggests nothing.

    Parameters
    ----------
    X : ndarray or csr_matrix of shape (n_pool, n_features)
    y_labeled_idx : ndarray of shape (n_labeled,)
        Rows of ``X`` that carry a label.
    y : ndarray of shape (n_labeled,)
        Their class indices (into ``classes``), aligned with ``y_labeled_idx``.
    model : scikit-learn classifier
        Template, cloned per fold; one whose probabilities are not fitted to log loss
        (:func:`~labelloop.learn.model.fitted_to_log_loss`), or that has none, is calibrated
        (Platt scaling, cross-validated within the fold).
    rng : numpy.random.Generator
        Seeds the folds and the sample of at most ``max_rows`` rows.
    classes : sequence of str, optional
        Class names for the reasons; the indices themselves when omitted.
    cv : int
        Folds at most.
    max_items : int
        Suggestions returned at most.
    max_rows : int
    min_confidence : float
        Probability of the contradicting class needed to suggest a re-label.
    min_odds : float
        Ratio of the contradicting class's probability to the given label's needed.

    Returns
    -------
    LabelCheck
        ``suggestions.indices`` are rows of ``X``; ``suggestions.scores`` are
        ``1 - p(given label)`` out of fold; each reason reads "labeled 'ham' but the model is
        0.97 sure it is 'spam'", and ``guesses`` holds ('spam', 0.97) as data. ``rows``,
        ``p_given``, ``contradicted`` and ``agrees`` describe every row judged, from the same
        out-of-fold probabilities (no second cross-validation), so a caller can tell which
        earlier suspicions the model no longer holds.
    """
    from cleanlab.filter import find_label_issues  # heavy (pandas): only when asked

    rows = np.asarray(y_labeled_idx, dtype=np.intp)
    y = np.asarray(y, dtype=np.int64)
    if rows.shape != y.shape:
        raise ValueError(f"y has shape {y.shape}; expected {rows.shape} like y_labeled_idx")
    keep = sample_rows(np.arange(rows.shape[0]), max_rows, rng)
    present, counts = np.unique(y[keep], return_counts=True)
    checkable = present[counts >= 2]
    keep = keep[np.isin(y[keep], checkable)]
    if checkable.shape[0] < 2 or max_items <= 0:
        return LabelCheck(empty_selection())
    rows, given = rows[keep], np.searchsorted(checkable, y[keep])  # compact class indices
    n_folds = int(min(cv, np.bincount(given).min()))
    pred_probs = out_of_fold_proba(
        model,
        X[rows],
        given,
        folds=max(2, n_folds),
        n_classes=checkable.shape[0],
        random_state=int(rng.integers(2**31 - 1)),
    )
    if not beats_majority(given, pred_probs):
        return LabelCheck(empty_selection())
    issues = find_label_issues(
        labels=given,
        pred_probs=pred_probs,
        return_indices_ranked_by="self_confidence",
        n_jobs=1,
    )
    issues = np.asarray(issues, dtype=np.intp)
    rule = {"min_confidence": min_confidence, "min_odds": min_odds}
    sure = contradicted(given[issues], pred_probs[issues], **rule)
    issues = issues[sure][:max_items]
    names = [classes[c] if classes is not None else str(c) for c in checkable]
    guess = pred_probs[issues].argmax(axis=1)
    guesses = tuple((names[g], float(pred_probs[i, g])) for i, g in zip(issues, guess, strict=True))
    reasons = tuple(
        f"labeled '{names[given[i]]}' but the model is {p:.2f} sure it is '{name}'"
        for i, (name, p) in zip(issues, guesses, strict=True)
    )
    p_given = pred_probs[np.arange(rows.shape[0]), given]
    return LabelCheck(
        Selection(indices=rows[issues], scores=1.0 - p_given[issues], reasons=reasons),
        rows=rows,
        p_given=p_given,
        contradicted=contradicted(given, pred_probs, **rule),
        agrees=pred_probs.argmax(axis=1) == given,
        guesses=guesses,
    )


def out_of_fold_proba(
    model: Any,
    X: NDArray[np.floating] | csr_matrix,
    y: NDArray[np.int64],
    *,
    folds: int,
    random_state: int,
    n_classes: int | None = None,
) -> NDArray[np.float64]:
    """Each row's class probabilities from a clone of ``model`` fitted on the other folds.

    Parameters
    ----------
    model : scikit-learn classifier
        The project's model (its ``model`` setting), left untouched.
    X : ndarray or csr_matrix of shape (n_rows, n_features)
    y : ndarray of shape (n_rows,)
        Class indices; every class present needs ``folds`` rows at least.
    folds : int
        Stratified folds, shuffled with ``random_state``.
    n_classes : int, optional
        Width of the output; defaults to ``y.max() + 1``.

    Returns
    -------
    ndarray of shape (n_rows, n_classes)
        Confident learning reads these as probabilities: a model whose own are not (a softmax
        of distances says 1.00 at a coin flip) is calibrated within the fold.
    """
    width = int(y.max()) + 1 if n_classes is None else n_classes
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    proba = np.zeros((y.shape[0], width))
    for train, test in split.split(np.zeros(y.shape[0]), y):
        member = fit_model(model, X[train], y[train], calibrate=True)
        proba[test] = predict_proba_chunked(member, X[test], n_classes=width)
    return proba
