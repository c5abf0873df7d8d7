"""Resolving several annotators' labels into one: majority vote and Dawid-Skene."""

from __future__ import annotations

import numpy as np
import pytest

from labelloop.domain import MISSING
from labelloop.errors import SchemaError
from labelloop.quality import (
    RESOLVERS,
    Resolution,
    dawid_skene,
    majority_vote,
    register_resolver,
    resolve,
)

nan = np.nan


def crowd(seed: int, *, items: int = 400, k: int = 3, missing: float = 0.15):
    """Four honest annotators of accuracy 0.55-0.70 and one who always answers one class off."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, items)
    R = np.empty((5, items))
    for r, accuracy in enumerate([0.55, 0.6, 0.65, 0.7]):
        wrong = (truth + rng.integers(1, k, items)) % k
        R[r] = np.where(rng.random(items) < accuracy, truth, wrong)
    R[4] = (truth + 1) % k
    R[rng.random(R.shape) < missing] = nan
    return R, truth


def test_majority_vote_counts_votes_and_reports_the_winning_share() -> None:
    R = [[0, 2, nan, 1], [0, 2, nan, nan], [1, 0, nan, nan]]
    labels, confidence = majority_vote(R, n_categories=3)
    assert labels.tolist() == [0, 2, MISSING, 1]
    assert confidence == pytest.approx([2 / 3, 2 / 3, 0.0, 1.0])


def test_majority_ties_go_to_the_lowest_index_or_to_the_rng() -> None:
    R = np.array([[2, 1, 0], [1, 2, 2]], dtype=float)
    labels, confidence = majority_vote(R, n_categories=3)
    assert labels.tolist() == [1, 1, 0]
    assert confidence.tolist() == [0.5, 0.5, 0.5]
    tie = np.array([[0.0], [1.0]])
    picks = {
        int(majority_vote(tie, n_categories=2, rng=np.random.default_rng(s))[0][0])
        for s in range(20)
    }
    assert picks == {0, 1}
    one = majority_vote(tie, n_categories=2, rng=np.random.default_rng(4)).labels
    assert (
        one.tolist()
        == majority_vote(tie, n_categories=2, rng=np.random.default_rng(4)).labels.tolist()
    )
    # The rng only breaks ties: a clear winner stays the winner.
    clear = np.array([[2.0], [2.0], [0.0]])
    assert majority_vote(clear, n_categories=3, rng=np.random.default_rng(0)).labels.tolist() == [2]


@pytest.mark.parametrize("seed", range(3))
def test_dawid_skene_beats_the_majority_when_one_annotator_is_adversarial(seed: int) -> None:
    R, truth = crowd(seed)
    majority = majority_vote(R, n_categories=3)
    ds = dawid_skene(R, n_categories=3)
    rated = ds.labels != MISSING
    mv_acc = np.mean(majority.labels[rated] == truth[rated])
    ds_acc = np.mean(ds.labels[rated] == truth[rated])
    assert mv_acc < 0.8  # the planted setting really fools the majority
    assert ds_acc > mv_acc + 0.15
    assert ds.converged and ds.n_iter < 100
    # The adversary's confusion matrix is learned as the shift it is.
    assert np.all(np.diag(np.roll(ds.confusion[4], -1, axis=1)) > 0.9)
    # The honest annotators' accuracies are recovered.
    accuracy = [np.trace(ds.confusion[r]) / 3 for r in range(4)]
    assert accuracy == pytest.approx([0.55, 0.6, 0.65, 0.7], abs=0.08)


def test_dawid_skene_shapes_missing_items_and_determinism() -> None:
    R, _ = crowd(9, items=120, missing=0.3)
    R[:, 7] = nan  # an item nobody rated
    ds = dawid_skene(R, n_categories=3)
    assert ds.posteriors.shape == (120, 3) and ds.confusion.shape == (5, 3, 3)
    assert np.allclose(ds.posteriors.sum(axis=1), 1) and np.allclose(ds.confusion.sum(axis=2), 1)
    assert ds.priors.sum() == pytest.approx(1)
    assert ds.labels[7] == MISSING and ds.confidence[7] == 0.0
    assert np.allclose(ds.posteriors[7], ds.priors)
    again = dawid_skene(R, n_categories=3)
    assert np.array_equal(ds.labels, again.labels) and np.allclose(ds.posteriors, again.posteriors)
    assert np.allclose(
        ds.confidence[ds.labels != MISSING], ds.posteriors.max(axis=1)[ds.labels != MISSING]
    )


def test_dawid_skene_agrees_with_unanimous_raters() -> None:
    R = np.array([[0, 1, 2, 1], [0, 1, 2, 1], [0, 1, 2, nan]], dtype=float)
    ds = dawid_skene(R, n_categories=3)
    assert ds.labels.tolist() == [0, 1, 2, 1]
    assert np.all(ds.confidence > 0.9)


def test_resolvers_registry_resolves_by_name_and_takes_plugins() -> None:
    assert {"majority", "dawid_skene"} <= set(RESOLVERS)
    R, truth = crowd(1, items=60)
    for name in ("majority", "dawid_skene"):
        out = resolve(name, R, n_categories=3)
        assert isinstance(out, Resolution)
        assert out.labels.shape == out.confidence.shape == (60,)
        assert np.all((out.confidence >= 0) & (out.confidence <= 1))
    with pytest.raises(SchemaError, match="unknown resolver 'mode'.*dawid_skene, majority"):
        resolve("mode", R, n_categories=3)

    @register_resolver("first")
    def first_rater(R, *, n_categories):  # noqa: ANN001, ANN202
        labels = np.nan_to_num(np.asarray(R)[0], nan=MISSING).astype(np.int64)
        return Resolution(labels, np.ones(len(labels)))

    try:
        assert resolve("first", [[2, 0]], n_categories=3).labels.tolist() == [2, 0]
    finally:
        del RESOLVERS._fns["first"]
