"""TF-IDF featurizer: sensible on tiny corpora, strict on large ones, never silent on nothing."""

import pytest
from sklearn.base import clone

from labelloop.errors import SchemaError
from labelloop.learn import FEATURIZERS, TfidfFeaturizer, make_featurizer


def payloads(texts: list[str]) -> list[dict[str, str]]:
    return [{"text": t} for t in texts]


def test_init_stores_parameters_unchanged_and_clones() -> None:
    f = TfidfFeaturizer(min_df=3, ngram_range=(1, 1))
    assert f.get_params() == {
        "field": "text",
        "max_features": 200_000,
        "min_df": 3,
        "ngram_range": (1, 1),
        "sublinear_tf": True,
    }
    assert clone(f).get_params() == f.get_params()
    assert isinstance(f.version, str) and f.version


def test_tiny_corpus_keeps_words_seen_once() -> None:
    f = TfidfFeaturizer().fit(payloads(["red apple", "green pear", "blue plum"]))
    X = f.transform(payloads(["apple", "plum"]))
    assert X.shape == (2, f.n_features_out_)
    assert X[0].nnz == 1 and X[1].nnz == 1


def test_large_corpus_applies_min_df() -> None:
    texts = ["common words here"] * 60 + ["unique zebra"]
    f = TfidfFeaturizer().fit(payloads(texts))
    assert f.transform(payloads(["zebra"])).nnz == 0
    assert f.transform(payloads(["common"])).nnz == 1


def test_texts_without_word_tokens_fall_back_to_characters() -> None:
    X = TfidfFeaturizer().fit_transform(payloads(["🙂🙂", "😡", "!!"]))
    assert X.shape[0] == 3 and all(X[i].nnz > 0 for i in range(3))


def test_all_empty_texts_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="'text' field is empty in every one of 2 payloads"):
        TfidfFeaturizer().fit([{"text": ""}, {}])


def test_other_field_and_missing_values() -> None:
    f = TfidfFeaturizer(field="body").fit([{"body": "hello world"}, {"body": None}])
    X = f.transform([{"body": "hello"}, {"title": "hello"}])
    assert X[0].nnz == 1 and X[1].nnz == 0


def test_fit_transform_equals_fit_then_transform() -> None:
    data = payloads(["a cat sat", "the cat ran", "dogs bark loud"])
    assert (
        TfidfFeaturizer().fit_transform(data) != TfidfFeaturizer().fit(data).transform(data)
    ).nnz == 0


def test_registry() -> None:
    assert isinstance(make_featurizer(), TfidfFeaturizer)
    assert FEATURIZERS["tfidf"] is TfidfFeaturizer
    with pytest.raises(SchemaError, match="known featurizers: .*tfidf"):
        make_featurizer("bert")
