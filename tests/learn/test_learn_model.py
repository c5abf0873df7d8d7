"""The model helpers: clone-and-fit, and probabilities mapped into pool class order."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from labelloop.learn import default_model, fit_model, predict_proba_chunked
from labelloop.learn.model import json_safe_params


def blobs(labels: list[int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat(labels, 20)
    X = rng.normal(size=(len(y), 2)) + np.array([[4.0 * c, 0.0] for c in y])
    return X, y


def test_fit_model_returns_a_fitted_clone_and_leaves_the_template_alone() -> None:
    template = default_model()
    X, y = blobs([0, 1])
    fitted = fit_model(template, X, y)
    assert fitted is not template
    assert not hasattr(template, "coef_")
    assert fitted.score(X, y) > 0.9


def test_probabilities_land_in_pool_class_columns_when_a_class_has_no_label() -> None:
    # Pool classes: 0 = negative, 1 = neutral, 2 = positive; nobody labeled "neutral" yet.
    X, y = blobs([0, 2])
    model = fit_model(LogisticRegression(), X, y)
    proba = predict_proba_chunked(model, X, n_classes=3)
    assert proba.shape == (40, 3)
    assert np.all(proba[:, 1] == 0.0)
    assert np.allclose(proba[:, [0, 2]], model.predict_proba(X))
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(proba.argmax(axis=1), y)


def test_missing_last_class_needs_n_classes_and_chunks_change_nothing() -> None:
    X, y = blobs([0, 1])
    model = fit_model(default_model(), X, y)
    assert predict_proba_chunked(model, X).shape == (40, 2)
    wide = predict_proba_chunked(model, X, n_classes=3)
    assert wide.shape == (40, 3) and np.all(wide[:, 2] == 0)
    assert np.allclose(predict_proba_chunked(model, X, 7, n_classes=3), wide)


def test_too_few_columns_is_an_error() -> None:
    X, y = blobs([0, 2])
    model = fit_model(default_model(), X, y)
    with pytest.raises(ValueError, match="do not fit 2 pool classes"):
        predict_proba_chunked(model, X, n_classes=2)


def test_params_are_json_safe() -> None:
    params = json_safe_params(default_model())
    assert params["C"] == 4.0 and params["class_weight"] == "balanced"
    assert all(v is None or isinstance(v, str | int | float | bool) for v in params.values())
