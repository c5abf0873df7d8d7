"""The classifier of a round: a fresh clone fitted on one thread, probabilities in pool order."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits


def default_model() -> LogisticRegression:
    """L2-regularised logistic regression suited to sparse TF-IDF rows.

    ``C=4`` regularises less than scikit-learn's default, which suits L2-normalised TF-IDF rows
    whose weights are small; ``class_weight="balanced"`` keeps rare classes visible while the
    labeled set is still small and skewed by the queue (Ertekin et al., CIKM 2007, on
    active learning under class imbalance).

    Returns
    -------
    LogisticRegression
        Unfitted; :func:`fit_model` clones it each round.
    """
    return LogisticRegression(C=4.0, class_weight="balanced", max_iter=1000)


def fit_model(model: Any, X: NDArray[np.floating] | csr_matrix, y: NDArray[np.int64]) -> Any:
    """Fit a fresh clone of ``model`` with BLAS and OpenMP limited to one thread.

    One thread keeps a background training round from starving the web server's threads and
    makes results independent of the machine's core count.

    Parameters
    ----------
    model : scikit-learn classifier
        Left untouched; only its parameters are used.
    X : ndarray or csr_matrix of shape (n_train, n_features)
    y : ndarray of shape (n_train,)
        Class indices into ``Pool.classes``.

    Returns
    -------
    estimator
        The fitted clone.
    """
    estimator = clone(model)
    with threadpool_limits(limits=1):
        estimator.fit(X, np.asarray(y))
    return estimator


def predict_proba_chunked(
    model: Any,
    X: NDArray[np.floating] | csr_matrix,
    chunk: int = 65_536,
    *,
    n_classes: int | None = None,
) -> NDArray[np.float64]:
    """Class probabilities in pool class order, computed ``chunk`` rows at a time.

    ``model.classes_`` holds the class indices the model saw, which may be a subset of the
    project's classes while some class has no label yet; the missing columns are zero.

    Parameters
    ----------
    model : fitted scikit-learn classifier
        Trained on class indices (integers into ``Pool.classes``).
    X : ndarray or csr_matrix of shape (n_rows, n_features)
    chunk : int
        Rows per ``predict_proba`` call, bounding the temporary memory on large pools.
    n_classes : int, optional
        Width of the output, ``len(Pool.classes)``. Defaults to ``max(model.classes_) + 1``,
        which is too narrow when the last class has no label yet: pass it.

    Returns
    -------
    ndarray of shape (n_rows, n_classes)
        Rows sum to 1 over the classes the model knows.
    """
    seen = np.asarray(model.classes_).astype(np.intp)
    width = int(seen.max()) + 1 if n_classes is None else n_classes
    if seen.size and (seen.min() < 0 or seen.max() >= width):
        raise ValueError(f"model classes {seen.tolist()} do not fit {width} pool classes")
    n_rows = X.shape[0]
    proba = np.zeros((n_rows, width), dtype=np.float64)
    step = max(1, int(chunk))
    with threadpool_limits(limits=1):
        for start in range(0, n_rows, step):
            stop = min(start + step, n_rows)
            proba[start:stop, seen] = model.predict_proba(X[start:stop])
    return proba


def json_safe_params(model: Any) -> dict[str, Any]:
    """``model.get_params()`` with every value cast to str, float, int, bool or None."""
    return {key: _json_safe(value) for key, value in model.get_params().items()}


def _json_safe(value: Any) -> str | float | int | bool | None:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else str(float(value))
    return str(value)
