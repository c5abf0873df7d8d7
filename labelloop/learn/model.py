"""The classifier of a round: a fresh clone fitted on one thread, probabilities in pool order."""

from __future__ import annotations

import importlib
import re
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix, issparse
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_classifier
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import StratifiedKFold

from labelloop.errors import LabelloopError, SchemaError
from labelloop.learn.threads import one_thread

DEFAULT_MODEL = "logistic_regression"
"""The ``model`` setting that means :func:`default_model`."""
MODEL_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
CALIBRATION_FOLDS = 3
COMPACT_SHARE = 0.8
"""Fit on the present columns alone when they are at most this share of all columns."""
COMPACT_SOLVERS = frozenset({"lbfgs", "newton-cg", "sag", "saga"})
"""Solvers whose iterates keep an absent column's weight at exactly zero."""


class ModelFitError(LabelloopError, ValueError):
    """A classifier refused the features it was given (GaussianNB and TF-IDF's sparse rows):
    ``reason`` is its own error, the message names the classifier. It is a ValueError too, so
    callers that caught the classifier's own ValueError (a single class) still do."""

    status = 422

    def __init__(self, model: Any, exc: Exception) -> None:
        self.model_path = f"{type(model).__module__}.{type(model).__qualname__}"
        self.reason = " ".join(f"{type(exc).__name__}: {exc}".split()).rstrip(".")
        super().__init__(
            f"model '{self.model_path}' cannot learn from these features ({self.reason})"
        )


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


def model_class(name: str) -> type:
    """The classifier class a ``model`` setting names: ``logistic_regression`` or an import path.

    Parameters
    ----------
    name : str
        ``"logistic_regression"`` or a dotted path such as ``"sklearn.svm.LinearSVC"``.

    Returns
    -------
    type
        A scikit-learn classifier class that can be built without arguments.

    Raises
    ------
    SchemaError
        When the path is malformed, does not import, or names something that is not a
        classifier; the message says which.
    """
    if name == DEFAULT_MODEL:
        return LogisticRegression
    if not MODEL_PATH.match(name):
        raise SchemaError(
            f"model '{name[:200]}' must be '{DEFAULT_MODEL}' or the import path of a "
            "scikit-learn classifier, such as 'sklearn.svm.LinearSVC'"
        )
    module_name, _, attr = name.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SchemaError(f"model '{name}': cannot import '{module_name}' ({exc})") from None
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise SchemaError(f"model '{name}': '{module_name}' has no class '{attr}'")
    try:
        instance = cls()
    except Exception as exc:  # any constructor error means "not usable by name"
        raise SchemaError(f"model '{name}' cannot be built without arguments: {exc}") from None
    if not is_classifier(instance) or not hasattr(instance, "fit"):
        raise SchemaError(f"model '{name}' is not a scikit-learn classifier")
    return cls


def make_model(name: str = DEFAULT_MODEL) -> Any:
    """An unfitted classifier for a ``model`` setting (see :func:`model_class`)."""
    if name == DEFAULT_MODEL:
        return default_model()
    return model_class(name)()


def model_label(estimator: Any) -> str:
    """A fitted model's name for people: its class, and whether its probabilities are calibrated."""
    if isinstance(estimator, CalibratedClassifierCV | DecisionSoftmax):
        return f"{type(estimator.estimator).__name__} (calibrated)"
    return type(estimator).__name__


class DecisionSoftmax(ClassifierMixin, BaseEstimator):
    """Probabilities from a classifier's decision function: a logistic for two classes, a
    softmax for more.

    The stand-in for :class:`~sklearn.calibration.CalibratedClassifierCV` while some class has a
    single label, too few for Platt scaling's cross-validation (Platt 1999); uncalibrated, but
    monotone in the margin, which is what the uncertainty strategies rank by.

    Parameters
    ----------
    estimator : classifier with ``decision_function``

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone.
    classes_ : ndarray of shape (n_classes,)
    """

    def __init__(self, estimator: Any = None) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any) -> Self:
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.classes_ = self.estimator_.classes_
        return self

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        return np.asarray(self.estimator_.decision_function(X), dtype=np.float64)

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        scores = self.decision_function(X)
        if scores.ndim == 1:
            positive = expit(scores)
            return np.column_stack([1.0 - positive, positive])
        return np.asarray(softmax(scores, axis=1), dtype=np.float64)

    def predict(self, X: Any) -> NDArray[Any]:
        return np.asarray(self.classes_[self.predict_proba(X).argmax(axis=1)])


def fitted_to_log_loss(model: Any) -> bool:
    """Whether ``model``'s probabilities come from minimising log loss (logistic regression,
    SGD with ``loss="log_loss"``) or from a calibration already, so that how sure it is can be
    taken at its word. Others' (``NearestCentroid``'s softmax of distances, naive Bayes, trees,
    neighbours) rank well but are not probabilities: 1.00 where the truth is a coin flip."""
    if isinstance(model, LogisticRegression | CalibratedClassifierCV):
        return True
    return isinstance(model, SGDClassifier) and model.loss == "log_loss"


def with_probabilities(model: Any, y: NDArray[np.int64], *, calibrate: bool = False) -> Any:
    """``model`` itself when it has ``predict_proba``, else a calibrated wrapper around it;
    with ``calibrate``, a calibrated wrapper around every model whose probabilities are not
    :func:`fitted_to_log_loss`, for a use that reads them as probabilities (label issues).

    Sigmoid (Platt) calibration with stratified cross-validation when every labeled class has at
    least two labels; before that the model's own probabilities, or :class:`DecisionSoftmax`.
    """
    if hasattr(model, "predict_proba") and not (calibrate and not fitted_to_log_loss(model)):
        return model
    smallest = int(np.bincount(np.asarray(y))[np.unique(y)].min()) if len(y) else 0
    if smallest >= 2:
        folds: Any = min(CALIBRATION_FOLDS, smallest)
        if calibrate:  # rows in import order (sorted by a score, a date) would bias the folds
            folds = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
        return CalibratedClassifierCV(model, method="sigmoid", cv=folds, ensemble=False)
    return model if hasattr(model, "predict_proba") else DecisionSoftmax(model)


def fit_model(
    model: Any,
    X: NDArray[np.floating] | csr_matrix,
    y: NDArray[np.int64],
    *,
    calibrate: bool = False,
) -> Any:
    """Fit a fresh clone of ``model`` with BLAS and OpenMP limited to one thread.

    One thread keeps a background training round from starving the web server's threads and
    makes results independent of the machine's core count. A classifier without
    ``predict_proba`` (``LinearSVC``, ``RidgeClassifier``) is calibrated, see
    :func:`with_probabilities`.

    Parameters
    ----------
    model : scikit-learn classifier
        Left untouched; only its parameters are used.
    X : ndarray or csr_matrix of shape (n_train, n_features)
    y : ndarray of shape (n_train,)
        Class indices into ``Pool.classes``.
    calibrate : bool
        Calibrate the probabilities of every model not :func:`fitted_to_log_loss` too.

    Returns
    -------
    estimator
        The fitted clone.

    Raises
    ------
    ModelFitError
        When the classifier's own fit fails on ``X`` (dense-only models on sparse rows).
    """
    estimator = with_probabilities(clone(model), np.asarray(y), calibrate=calibrate)
    with one_thread():
        if compactable(estimator, X):
            fit_on_present_columns(estimator, X, np.asarray(y))
        else:
            try:
                estimator.fit(X, np.asarray(y))
            except (TypeError, ValueError) as exc:
                raise ModelFitError(model, exc) from exc
    return estimator


def compactable(estimator: Any, X: Any) -> bool:
    """Whether :func:`fit_on_present_columns` gives ``estimator`` the model a plain fit gives.

    Only a plain :class:`~sklearn.linear_model.LogisticRegression` (a subclass may keep more
    fitted state than ``coef_``, as ``LogisticRegressionCV`` does) with a solver whose path
    does not depend on the number of columns: liblinear's L1 solver visits columns in a random
    order and newton-cholesky falls back to lbfgs on a singular unpenalised Hessian.
    """
    return (
        type(estimator) is LogisticRegression
        and issparse(X)
        and estimator.solver in COMPACT_SOLVERS
    )


def fit_on_present_columns(
    estimator: LogisticRegression, X: Any, y: NDArray[np.int64]
) -> LogisticRegression:
    """Fit a logistic regression on the sparse columns its rows use, then widen the weights.

    A TF-IDF vocabulary is built on the whole pool, so the labeled rows of a round use a small
    share of its columns (tweets: 9,800 of 70,000 at 1,000 labels). A column that is zero in
    every training row has zero loss gradient; a gradient solver (:data:`COMPACT_SOLVERS`)
    starts it at zero and, with or without a penalty, leaves it there. Fitting on the present
    columns alone therefore reaches the same model, with the same iterations, several times
    faster on early rounds, and the zeros are put back so the model reads full-width rows as
    before.

    Parameters
    ----------
    estimator : LogisticRegression
        Unfitted; fitted in place.
    X : sparse matrix or array of shape (n_train, n_features)
    y : ndarray of shape (n_train,)

    Returns
    -------
    LogisticRegression
        ``estimator``, with ``coef_`` of shape (n_classes or 1, n_features).
    """
    X = X.tocsr()
    n_features = X.shape[1]
    present = np.flatnonzero(np.bincount(X.indices, minlength=n_features))
    if present.shape[0] == 0 or present.shape[0] > COMPACT_SHARE * n_features:
        return estimator.fit(X, y)
    estimator.fit(X[:, present], y)
    coef = np.zeros((estimator.coef_.shape[0], n_features), dtype=estimator.coef_.dtype)
    coef[:, present] = estimator.coef_
    estimator.coef_ = coef
    estimator.n_features_in_ = n_features
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
    with one_thread():
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
