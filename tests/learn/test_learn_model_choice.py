"""Models named by import path: built fresh, calibrated when they have no probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from labelloop.domain import MISSING, Pool
from labelloop.errors import SchemaError
from labelloop.learn import Margin, fit_model, make_model, run_round
from labelloop.learn.model import DecisionSoftmax, json_safe_params, model_class, model_label


def blobs(n_per_class: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    X = np.vstack([c + rng.normal(size=(n_per_class, 2)) for c in centres])
    return X, np.repeat([0, 1, 2], n_per_class)


def test_default_and_named_models() -> None:
    assert isinstance(make_model(), LogisticRegression)
    assert make_model().get_params()["class_weight"] == "balanced"
    assert isinstance(make_model("sklearn.svm.LinearSVC"), LinearSVC)
    assert model_class("sklearn.naive_bayes.MultinomialNB").__name__ == "MultinomialNB"


def test_names_that_are_not_classifiers_are_refused() -> None:
    with pytest.raises(SchemaError, match="is not a scikit-learn classifier"):
        model_class("sklearn.linear_model.LinearRegression")
    with pytest.raises(SchemaError, match="has no class"):
        model_class("os.system")
    with pytest.raises(SchemaError, match="must be 'logistic_regression' or the import path"):
        model_class("LinearSVC; rm -rf")


def test_a_model_without_probabilities_is_calibrated() -> None:
    X, y = blobs()
    fitted = fit_model(LinearSVC(), X, y)
    assert isinstance(fitted, CalibratedClassifierCV)
    assert model_label(fitted) == "LinearSVC (calibrated)"
    proba = fitted.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert (proba.argmax(axis=1) == y).mean() > 0.9
    assert "estimator" in json_safe_params(fitted)


def test_with_a_single_label_in_a_class_it_falls_back_to_a_softmax_of_margins() -> None:
    X, y = blobs()
    keep = np.r_[0:5, 10:15, 20]  # class 2 has one label: too few for cross-validation
    fitted = fit_model(LinearSVC(), X[keep], y[keep])
    assert isinstance(fitted, DecisionSoftmax)
    proba = fitted.predict_proba(X)
    assert proba.shape == (30, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(fitted.predict(X), proba.argmax(axis=1))
    two = fit_model(LinearSVC(), X[[0, 1, 10]], y[[0, 1, 10]])  # binary: a logistic
    assert two.predict_proba(X[:1]).shape == (1, 2)


def test_models_with_probabilities_are_left_alone() -> None:
    X, y = blobs()
    fitted = fit_model(LogisticRegression(), X, y)
    assert type(fitted) is LogisticRegression and model_label(fitted) == "LogisticRegression"


def test_a_round_ranks_with_a_calibrated_linear_svm() -> None:
    X, y_true = blobs()
    y = np.full(30, MISSING)
    y[[0, 1, 10, 11, 20, 21]] = y_true[[0, 1, 10, 11, 20, 21]]
    pool = Pool(np.arange(30, dtype=np.int64), X, y, ("a", "b", "c"))
    result = run_round(
        pool,
        strategy=Margin(),
        queue_size=5,
        rng=np.random.default_rng(0),
        model=make_model("sklearn.svm.LinearSVC"),
    )
    assert len(result.selection.indices) == 5
    assert result.params["estimator"].startswith("LinearSVC")
