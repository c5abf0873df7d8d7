"""Data drift: a classifier that cannot tell new items from labeled ones says "similar"; one
that can says "shifted" and names the words that mark the new items."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from labelloop.insight.drift import MIN_ROWS, SHIFT_AUC, domain_shift

COMMON = (
    "order", "package", "arrived", "box", "item", "shipping", "thanks", "great", "service",
    "quick", "store", "app", "account", "price", "colour", "size", "love", "fine", "ok", "late",
)  # fmt: skip
"""Words of every text, old and new."""
NEW_WORDS = ["refund", "covid", "delay"]
"""Words only the new texts use."""


def as_json(value: object) -> object:
    return json.loads(json.dumps(value, allow_nan=False))


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_two_samples_of_one_distribution_look_similar(seed: int) -> None:
    rng = np.random.default_rng(seed)
    names = [f"d{i}" for i in range(20)]
    result = domain_shift(
        rng.normal(size=(300, 20)), rng.normal(size=(250, 20)), feature_names=names, seed=seed
    )
    assert result["state"] == "similar"
    assert abs(result["auc"] - 0.5) < 0.15 and result["auc"] < SHIFT_AUC
    assert result["markers"] == []  # nothing to name when nothing changed
    assert (
        result["sentence"] == f"The new items look like the labeled ones (AUC {result['auc']:.2f})."
    )
    assert (result["n_ref"], result["n_new"], result["threshold"]) == (300, 250, SHIFT_AUC)
    assert as_json(result) == result


def test_a_shifted_mean_is_found_and_its_dimensions_named() -> None:
    rng = np.random.default_rng(7)
    ref = rng.normal(size=(400, 30))
    new = rng.normal(size=(300, 30))
    new[:, [4, 11, 17]] += 1.5  # the new items moved along three dimensions
    names = [f"d{i}" for i in range(30)]
    result = domain_shift(ref, new, feature_names=names, top=3)
    assert result["state"] == "shifted" and result["auc"] > 0.95
    assert sorted(result["markers"]) == ["d11", "d17", "d4"]
    assert result["sentence"].startswith(
        f"The new items differ from the labeled ones (a classifier tells them apart with "
        f"AUC {result['auc']:.2f}; they stand out by: "
    )
    # without names: the same verdict, no markers
    bare = domain_shift(ref, new)
    assert bare["state"] == "shifted" and bare["markers"] == [] and bare["auc"] == result["auc"]
    assert bare["sentence"].endswith(f"AUC {bare['auc']:.2f}).")
    # a shift the other way is a shift too; the markers are what marks the NEW items
    back = domain_shift(new, ref, feature_names=names, top=3)
    assert back["state"] == "shifted" and not set(back["markers"]) & {"d4", "d11", "d17"}


def test_a_slight_shift_beyond_chance_is_not_an_alarm() -> None:
    # Half a standard deviation along one of 20 dimensions: real with 1,000 rows a side (AUC
    # about 0.64, where chance spreads 0.02), but not a change anyone need act on.
    rng = np.random.default_rng(0)
    ref, new = rng.normal(size=(1000, 20)), rng.normal(size=(1000, 20))
    new[:, 0] += 0.6
    result = domain_shift(ref, new, feature_names=[f"d{i}" for i in range(20)])
    assert 0.6 < result["auc"] < SHIFT_AUC
    assert result["state"] == "similar" and result["markers"] == []


def test_tfidf_markers_are_the_words_only_the_new_texts_use() -> None:
    rng = np.random.default_rng(0)
    old = [" ".join(rng.choice(COMMON, 6)) for _ in range(300)]
    new = [" ".join([*rng.choice(COMMON, 5), str(rng.choice(NEW_WORDS))]) for _ in range(200)]
    vectorizer = TfidfVectorizer()
    X = vectorizer.fit_transform(old + new)
    assert sp.issparse(X)
    result = domain_shift(X[:300], X[300:], feature_names=list(vectorizer.get_feature_names_out()))
    assert result["state"] == "shifted" and result["auc"] > 0.95
    assert set(result["markers"][:3]) == set(NEW_WORDS)
    assert all(word in result["sentence"] for word in NEW_WORDS)
    assert as_json(result) == result


def test_tfidf_of_one_kind_of_text_looks_similar() -> None:
    rng = np.random.default_rng(1)
    texts = [" ".join(rng.choice(COMMON, 6)) for _ in range(400)]
    vectorizer = TfidfVectorizer()
    X = vectorizer.fit_transform(texts)
    result = domain_shift(X[:200], X[200:], feature_names=list(vectorizer.get_feature_names_out()))
    assert result["state"] == "similar" and result["markers"] == []


def test_too_few_items_are_not_compared() -> None:
    rng = np.random.default_rng(0)
    result = domain_shift(rng.normal(size=(200, 5)), rng.normal(size=(12, 5)) + 5)
    assert result == {
        "state": "too_few",
        "auc": None,
        "n_ref": 200,
        "n_new": 12,
        "threshold": SHIFT_AUC,
        "markers": [],
        "sentence": "Too few items to compare (needs 30 on each side, has 12 new).",
    }
    both = domain_shift(np.zeros((3, 5)), np.zeros((0, 5)))
    assert (
        both["sentence"]
        == "Too few items to compare (needs 30 on each side, has 3 labeled and 0 new)."
    )
    # exactly MIN_ROWS a side is enough
    enough = domain_shift(rng.normal(size=(MIN_ROWS, 5)), rng.normal(size=(MIN_ROWS, 5)) + 3)
    assert enough["state"] == "shifted"


def test_large_sets_are_subsampled_and_seeded() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(5000, 384)).astype(np.float32)
    new = rng.normal(size=(2500, 384)).astype(np.float32)
    result = domain_shift(ref, new, max_rows=2000)
    assert (result["n_ref"], result["n_new"]) == (5000, 2500)  # the rows given, not the sample
    assert result["state"] == "similar"
    assert domain_shift(ref, new, max_rows=2000) == result  # same seed, same answer
    assert domain_shift(ref, new, max_rows=2000, seed=1)["auc"] != result["auc"]


def test_mismatched_features_are_refused() -> None:
    with pytest.raises(ValueError, match="features"):
        domain_shift(np.zeros((40, 5)), np.zeros((40, 6)))
    with pytest.raises(ValueError, match="feature names"):
        domain_shift(np.zeros((40, 5)), np.zeros((40, 5)), feature_names=["a", "b"])
