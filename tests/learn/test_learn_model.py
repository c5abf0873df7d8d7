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


def sparse_texts(n_classes: int) -> tuple[object, np.ndarray, np.ndarray]:
    """TF-IDF of a vocabulary much wider than a small labeled set uses, as in a real pool."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(3000)]
    texts, y = [], []
    for i in range(600):
        c = i % n_classes
        picks = rng.choice(len(words), size=8, replace=False)
        texts.append(" ".join([f"class{c}"] * 2 + [words[j] for j in picks]))
        y.append(c)
    X = TfidfVectorizer().fit_transform(texts).tocsr()
    return X, np.asarray(y), rng.choice(600, size=60, replace=False)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_sparse_fit_on_present_columns_is_the_plain_fit(n_classes: int) -> None:
    X, y, rows = sparse_texts(n_classes)
    assert X[rows].getnnz(axis=0).astype(bool).mean() < 0.5  # the labeled rows use few columns
    fitted = fit_model(default_model(), X[rows], y[rows])
    plain = default_model().fit(X[rows], y[rows])
    width = (1 if n_classes == 2 else n_classes, X.shape[1])
    assert fitted.coef_.shape == plain.coef_.shape == width
    unused = ~X[rows].getnnz(axis=0).astype(bool)
    assert np.all(fitted.coef_[:, unused] == 0.0)
    assert np.allclose(fitted.coef_, plain.coef_, atol=1e-8)
    assert np.allclose(fitted.predict_proba(X), plain.predict_proba(X), atol=1e-8)
    assert np.array_equal(fitted.predict(X), plain.predict(X))


def test_sparse_rows_without_any_term_still_fit_the_class_prior() -> None:
    from scipy.sparse import csr_matrix

    X = csr_matrix((6, 50))
    y = np.array([0, 0, 0, 0, 1, 1])
    fitted = fit_model(LogisticRegression(), X, y)
    assert fitted.coef_.shape == (1, 50)
    assert np.all(fitted.predict(X) == 0)


@pytest.mark.parametrize("kind", ["csr_array", "coo_matrix", "csc_matrix"])
def test_any_sparse_input_fits_and_predicts_like_csr(kind: str) -> None:
    import scipy.sparse

    X, y, rows = sparse_texts(2)
    other = getattr(scipy.sparse, kind)(X[rows])
    fitted = fit_model(default_model(), other, y[rows])
    assert fitted.coef_.shape == (1, X.shape[1])
    plain = default_model().fit(X[rows], y[rows])
    assert np.allclose(fitted.predict_proba(X), plain.predict_proba(X), atol=1e-8)


@pytest.mark.parametrize(
    "model",
    [
        LogisticRegression(solver="liblinear", penalty="l1", C=4.0, random_state=0),
        LogisticRegression(solver="newton-cholesky", C=np.inf),
    ],
    ids=["liblinear-l1", "newton-cholesky-unpenalised"],
)
def test_solvers_whose_path_depends_on_the_columns_get_the_plain_fit(model: object) -> None:
    import warnings

    from sklearn.base import clone

    X, y, rows = sparse_texts(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = fit_model(model, X[rows], y[rows])
        plain = clone(model).fit(X[rows], y[rows])
    assert np.array_equal(fitted.coef_, plain.coef_)


class _WidthRecorder(LogisticRegression):
    """A user's subclass whose fit may depend on the columns it is given."""

    def fit(self, X: object, y: object, sample_weight: object = None) -> "_WidthRecorder":
        self.fitted_width_ = X.shape[1]
        return super().fit(X, y, sample_weight)


def test_a_logistic_regression_subclass_sees_every_column() -> None:
    X, y, rows = sparse_texts(2)
    fitted = fit_model(_WidthRecorder(), X[rows], y[rows])
    assert fitted.fitted_width_ == X.shape[1]


def test_probabilities_read_as_probabilities_are_calibrated_unless_fitted_to_log_loss() -> None:
    """For a use that reads how sure a model is (label issues), a softmax of distances is
    calibrated; logistic regression's own probabilities are kept, and the round's model is
    not wrapped at all."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.neighbors import NearestCentroid

    X = np.r_[np.arange(0, 150, 10), np.arange(100, 250, 10)].astype(float)[:, None]
    y = np.r_[np.zeros(15, dtype=np.int64), np.ones(15, dtype=np.int64)]
    checked = fit_model(NearestCentroid(), X, y, calibrate=True)
    assert isinstance(checked, CalibratedClassifierCV)
    # where the classes overlap the raw model says 0.88 either way; plain readings stay plain
    overlap, plain = (
        checked.predict_proba(np.array([[100.0], [140.0]])),
        checked.predict_proba(np.array([[0.0]])),
    )
    assert overlap.max() < 0.75 and plain[0, 0] > 0.9
    assert isinstance(fit_model(NearestCentroid(), X, y), NearestCentroid)
    assert isinstance(fit_model(LogisticRegression(), X, y, calibrate=True), LogisticRegression)
