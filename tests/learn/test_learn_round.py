"""A training round end to end on two topics of made-up sentences."""

import dataclasses
import json

import numpy as np
import pytest

from labelloop.domain import MISSING, Pool
from labelloop.learn import (
    RoundResult,
    TfidfFeaturizer,
    choose_stop_set,
    make_strategy,
    run_round,
)

CLASSES = ("sports", "cooking", "travel")
WORDS = {
    0: "team goal match score coach league player season win referee stadium",
    1: "recipe oven bake flour sugar simmer garlic sauce chef dinner onion",
}
FILLER = ["the", "a", "today", "really", "quite", "just", "some", "very"]


def sentences(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    texts = [
        " ".join([*rng.choice(WORDS[int(c)].split(), size=3), *rng.choice(FILLER, size=4)])
        for c in y
    ]
    return texts, y.astype(np.int64)


@pytest.fixture(scope="module")
def data() -> dict[str, object]:
    texts, truth = sentences(400, seed=1)
    featurizer = TfidfFeaturizer().fit([{"text": t} for t in texts])
    X = featurizer.transform([{"text": t} for t in texts])
    eval_texts, eval_y = sentences(100, seed=2)
    eval_X = featurizer.transform([{"text": t} for t in eval_texts])
    return {"X": X, "truth": truth, "eval_X": eval_X, "eval_y": eval_y}


def labeled_pool(data: dict, n_labeled: int, only_class: int | None = None) -> Pool:
    truth = data["truth"]
    y = np.full(truth.shape[0], MISSING, dtype=np.int64)
    rows = np.flatnonzero(truth == only_class) if only_class is not None else np.arange(400)
    y[rows[:n_labeled]] = truth[rows[:n_labeled]]
    return Pool(np.arange(400, dtype=np.int64) + 1000, data["X"], y, CLASSES)


def test_trained_round_beats_chance_and_queues_only_unlabeled_rows(data: dict) -> None:
    pool = labeled_pool(data, 20)
    stop_rows = choose_stop_set(400, np.random.default_rng(0), size=50)
    result = run_round(
        pool,
        strategy=make_strategy("margin"),
        queue_size=25,
        rng=np.random.default_rng(0),
        eval_X=data["eval_X"],
        eval_y=data["eval_y"],
        stop_X=data["X"][stop_rows],
    )
    assert not result.cold_start and result.strategy == "margin"
    assert result.metrics["accuracy"] > 0.8  # chance is 0.5
    assert 0.0 < result.metrics["macro_f1"] <= 1.0 and result.metrics["n_eval"] == 100.0
    assert len(result.selection.indices) == 25
    assert np.all(pool.y[result.selection.indices] == MISSING)
    assert result.n_train == 20
    assert result.stop_predictions.shape == (50,) and result.stop_predictions.dtype == np.int64
    assert set(result.stop_predictions.tolist()) <= {0, 1}
    json.dumps(result.params)
    assert result.params["C"] == 4.0


def test_suggestions_name_a_class_with_its_probability(data: dict) -> None:
    result = run_round(
        labeled_pool(data, 20),
        strategy=make_strategy("entropy"),
        queue_size=5,
        rng=np.random.default_rng(0),
    )
    assert len(result.suggestions) == 5
    for row, suggestion in zip(result.selection.indices, result.suggestions, strict=True):
        assert suggestion is not None
        label, p = suggestion
        assert label in ("sports", "cooking")  # "travel" has no labels, so never suggested
        assert p == pytest.approx(result.model.predict_proba(data["X"][row])[0].max())


def test_cold_start_when_fewer_than_two_classes_are_labeled(data: dict) -> None:
    pool = labeled_pool(data, 10, only_class=0)
    result = run_round(
        pool,
        strategy=make_strategy("margin"),
        queue_size=8,
        rng=np.random.default_rng(0),
        eval_X=data["eval_X"],
        eval_y=data["eval_y"],
        stop_X=data["X"][:10],
    )
    assert result.cold_start and result.strategy == "diversity" and result.model is None
    assert result.suggestions == (None,) * 8
    assert result.metrics == {} and result.params == {} and result.stop_predictions.size == 0
    assert result.n_train == 10
    assert np.all(pool.y[result.selection.indices] == MISSING)


def test_no_eval_labels_means_no_metrics(data: dict) -> None:
    result = run_round(
        labeled_pool(data, 20),
        strategy=make_strategy("random"),
        queue_size=3,
        rng=np.random.default_rng(0),
        eval_X=data["eval_X"][:4],
        eval_y=np.full(4, MISSING, dtype=np.int64),
    )
    assert result.metrics == {} and result.stop_predictions.size == 0


def test_the_eval_predictions_are_the_ones_the_metrics_count(data: dict) -> None:
    # per-cohort figures reuse them: each labeled eval row's class, MISSING where unlabeled
    eval_y = data["eval_y"].copy()
    eval_y[::10] = MISSING
    result = run_round(
        labeled_pool(data, 20),
        strategy=make_strategy("margin"),
        queue_size=3,
        rng=np.random.default_rng(0),
        eval_X=data["eval_X"],
        eval_y=eval_y,
    )
    predicted = result.eval_predictions
    assert predicted.shape == (100,) and predicted.dtype == np.int64
    assert np.array_equal(predicted == MISSING, eval_y == MISSING)
    labeled = eval_y != MISSING
    assert np.array_equal(predicted[labeled], result.model.predict(data["eval_X"][labeled]))
    assert result.metrics["n_eval"] == 90.0
    assert result.metrics["accuracy"] == pytest.approx(
        float((predicted[labeled] == eval_y[labeled]).mean())
    )
    cold = run_round(
        labeled_pool(data, 10, only_class=0),
        strategy=make_strategy("margin"),
        queue_size=3,
        rng=np.random.default_rng(0),
        eval_X=data["eval_X"],
        eval_y=eval_y,
    )
    assert cold.eval_predictions.size == 0


def test_a_custom_model_is_cloned_not_fitted_in_place(data: dict) -> None:
    from sklearn.naive_bayes import MultinomialNB

    template = MultinomialNB()
    result = run_round(
        labeled_pool(data, 20),
        strategy=make_strategy("least_confidence"),
        queue_size=3,
        rng=np.random.default_rng(0),
        model=template,
    )
    assert isinstance(result.model, MultinomialNB) and result.model is not template
    assert not hasattr(template, "classes_")


def test_round_result_is_frozen(data: dict) -> None:
    result = run_round(
        labeled_pool(data, 20),
        strategy=make_strategy("margin"),
        queue_size=1,
        rng=np.random.default_rng(0),
    )
    assert isinstance(result, RoundResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.n_train = 3  # type: ignore[misc]


def test_choose_stop_set() -> None:
    rows = choose_stop_set(10_000, np.random.default_rng(0))
    assert rows.shape == (1000,) and len(set(rows.tolist())) == 1000
    assert np.all(np.diff(rows) > 0) and rows.max() < 10_000
    assert choose_stop_set(5, np.random.default_rng(0)).tolist() == [0, 1, 2, 3, 4]
