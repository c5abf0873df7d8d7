"""Data drift: do the new items look like the ones a project already labeled?

A model trained on last month's items quietly gets worse when this month's items are about
something else. The test here is the domain classifier, or classifier two-sample test
(Lopez-Paz & Oquab, ICLR 2017; Rabanser, Günnemann & Lipton, NeurIPS 2019, "Failing Loudly"):
train a classifier to tell the new items from the reference ones; if its cross-validated AUC is
near 0.5 it cannot, and the two sets look alike; the features it leans on name what changed.
It works on whatever the project's featurizer gives (dense embeddings or sparse TF-IDF).

PURE: numpy, scipy and scikit-learn over two feature matrices; scikit-learn is imported on the
first call, so importing the module costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

SHIFT_AUC = 0.75
"""Cross-validated AUC at or above which the new items count as shifted.

Chance first. With :data:`MIN_ROWS` rows on each side drawn from one distribution, the AUC of
:func:`domain_shift` spreads around 0.5 with a standard deviation of 0.10 (wider than the 0.075
of a single Mann-Whitney test of 30 against 30, because each fold's model scores on its own
scale). Over 500 null draws each of 5-, 50- and 384-dimensional Gaussians and of TF-IDF tweets,
its 99th percentile was 0.69-0.76 and it reached 0.75 in 0.2-1.4% of draws, so 0.75 lies 2.5
standard deviations out and a project at the minimum size rarely sees a false alarm. The spread
shrinks with rows: 0.055 at 100 a side (largest of 200 draws 0.63), 0.012 at 2,000.
Size second. With 2,000 rows a side an AUC of 0.55 is already beyond chance, but a shift no one
needs to act on; at 0.75 the classifier ranks a random new item above a random old one three
times in four: the items are about something else, not worded a little differently.
"""
MIN_ROWS = 30
"""Rows each side needs before the sets are compared; below it chance alone gives AUCs near the
threshold."""


def domain_shift(
    X_ref: NDArray[Any] | sp.spmatrix | sp.sparray,
    X_new: NDArray[Any] | sp.spmatrix | sp.sparray,
    *,
    feature_names: Sequence[str] | None = None,
    seed: int = 0,
    max_rows: int = 2000,
    folds: int = 5,
    top: int = 8,
) -> dict[str, Any]:
    """Whether a classifier can tell the new items from the reference ones, and by what.

    Parameters
    ----------
    X_ref : ndarray or sparse matrix of shape (n_ref, n_features)
        The reference items (say, those already labeled), as the project's featurizer gives them.
    X_new : ndarray or sparse matrix of shape (n_new, n_features)
        The new items, featurized the same way.
    feature_names : sequence of str of length n_features, optional
        Names of the columns (TF-IDF words); given, a shifted result names the features that
        mark the new items.
    seed : int
        Seeds the subsampling and the folds: the same rows give the same answer.
    max_rows : int
        Each side is subsampled to at most this many rows, which bounds the time (about 0.1 s
        for 2,000 + 2,000 rows on one core).
    folds : int
        Stratified folds of the cross-validated probabilities.
    top : int
        Largest number of ``markers``.

    Returns
    -------
    dict
        ``state`` ("too_few", "similar" or "shifted"), ``auc`` (3 dp, None when too few),
        ``n_ref`` and ``n_new`` (rows given), ``threshold`` (:data:`SHIFT_AUC`), ``markers``
        (up to ``top`` feature names with the largest positive weights of a model fit on all
        the compared rows, when shifted and ``feature_names`` is given; else empty) and
        ``sentence``, all JSON-able.

    Raises
    ------
    ValueError
        When the two sets, or ``feature_names``, disagree on the number of features.
    """
    X_ref = X_ref if sp.issparse(X_ref) else np.asarray(X_ref)
    X_new = X_new if sp.issparse(X_new) else np.asarray(X_new)
    n_ref, n_new = X_ref.shape[0], X_new.shape[0]
    if X_ref.shape[1] != X_new.shape[1]:
        raise ValueError(
            f"X_ref has {X_ref.shape[1]} features and X_new {X_new.shape[1]}; featurize both alike"
        )
    if feature_names is not None and len(feature_names) != X_ref.shape[1]:
        raise ValueError(f"{len(feature_names)} feature names for {X_ref.shape[1]} features")
    result: dict[str, Any] = {
        "state": "too_few",
        "auc": None,
        "n_ref": int(n_ref),
        "n_new": int(n_new),
        "threshold": SHIFT_AUC,
        "markers": [],
    }
    if n_ref < MIN_ROWS or n_new < MIN_ROWS:
        short = [
            f"{n:,} {side}" for n, side in ((n_ref, "labeled"), (n_new, "new")) if n < MIN_ROWS
        ]
        result["sentence"] = (
            f"Too few items to compare (needs {MIN_ROWS} on each side, has {' and '.join(short)})."
        )
        return result

    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from labelloop.learn.threads import one_thread

    rng = np.random.default_rng(seed)
    X, y = _stack(_sample(X_ref, max_rows, rng), _sample(X_new, max_rows, rng))
    smaller = int(min(y.sum(), y.size - y.sum()))  # a fold needs a row of each side
    cv = StratifiedKFold(n_splits=min(max(2, folds), smaller), shuffle=True, random_state=seed)
    with one_thread():
        proba = cross_val_predict(_model(X), X, y, cv=cv, method="predict_proba")[:, 1]
        auc = float(roc_auc_score(y, proba))
        shifted = auc >= SHIFT_AUC
        if shifted and feature_names is not None and top > 0:
            result["markers"] = _markers(_model(X).fit(X, y), feature_names, top)
    result["state"] = "shifted" if shifted else "similar"
    result["auc"] = round(auc, 3)
    if not shifted:
        result["sentence"] = f"The new items look like the labeled ones (AUC {auc:.2f})."
    else:
        by = f"; they stand out by: {', '.join(result['markers'])}" if result["markers"] else ""
        result["sentence"] = (
            f"The new items differ from the labeled ones (a classifier tells them apart with "
            f"AUC {auc:.2f}{by})."
        )
    return result


def _sample(X: Any, max_rows: int, rng: np.random.Generator) -> Any:
    """At most ``max_rows`` rows of ``X``, drawn without replacement, in their order."""
    if X.shape[0] <= max_rows:
        return X
    return X[np.sort(rng.choice(X.shape[0], size=max_rows, replace=False))]


def _stack(ref: Any, new: Any) -> tuple[Any, NDArray[np.int64]]:
    """One matrix (CSR when either side is sparse) and its labels: 0 reference, 1 new."""
    if sp.issparse(ref) or sp.issparse(new):
        X: Any = sp.vstack([sp.csr_matrix(ref), sp.csr_matrix(new)], format="csr")
    else:
        X = np.vstack([np.asarray(ref, dtype=np.float64), np.asarray(new, dtype=np.float64)])
    y = np.r_[np.zeros(ref.shape[0], np.int64), np.ones(new.shape[0], np.int64)]
    return X, y


def _model(X: Any) -> Any:
    """Balanced logistic regression; dense columns are standardised first, so that embedding
    dimensions of different spread are penalised alike and their weights compare. Sparse
    TF-IDF columns keep their scale (centering would densify them)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = LogisticRegression(class_weight="balanced", max_iter=1000)
    return model if sp.issparse(X) else make_pipeline(StandardScaler(), model)


def _markers(fitted: Any, feature_names: Sequence[str], top: int) -> list[str]:
    """Names of the ``top`` features with the largest positive weights (those that say "new")."""
    coef = np.ravel(fitted[-1].coef_ if hasattr(fitted, "steps") else fitted.coef_)
    order = np.argsort(-coef, kind="stable")[:top]
    return [str(feature_names[i]) for i in order if coef[i] > 0]
