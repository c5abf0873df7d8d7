"""The learning settings of a project schema: featurizer, model and random-control share."""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.errors import SchemaError
from labelloop.schema import parse_schema
from labelloop.schema.settings import parse_settings, typed_settings


def error_of(settings: dict[str, Any]) -> str:
    with pytest.raises(SchemaError) as caught:
        parse_settings(settings)
    return caught.value.message


def test_featurizer_model_and_random_share_are_kept() -> None:
    got = parse_settings(
        {"featurizer": "minilm", "model": "sklearn.svm.LinearSVC", "random_share": 0.05}
    )
    assert (got["featurizer"], got["model"], got["random_share"]) == (
        "minilm",
        "sklearn.svm.LinearSVC",
        0.05,
    )


def test_unknown_featurizer_lists_the_registered_ones() -> None:
    assert error_of({"featurizer": "bert"}) == (
        "settings.featurizer: unknown featurizer 'bert'; "
        "known featurizers: audio, hog, minilm, pixels, table, tfidf, tfidf+minilm"
    )


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            "sklearn.decomposition.PCA",
            "model 'sklearn.decomposition.PCA' is not a scikit-learn classifier",
        ),
        ("sklearn.svm.Nope", "model 'sklearn.svm.Nope': 'sklearn.svm' has no class 'Nope'"),
        ("no_such_pkg.Model", "model 'no_such_pkg.Model': cannot import 'no_such_pkg'"),
        ("svm", "model 'svm' must be 'logistic_regression' or the import path of a scikit-learn"),
    ],
)
def test_model_must_name_a_classifier(model: str, message: str) -> None:
    assert error_of({"model": model}).startswith(f"settings.model: {message}")


def test_random_share_is_at_most_a_half() -> None:
    assert error_of({"random_share": 0.6}) == (
        "settings.random_share: input should be less than or equal to 0.5"
    )
    assert error_of({"random_share": "0.1"}).startswith("settings.random_share: input should be")


def test_a_schema_file_carries_them() -> None:
    schema = parse_schema(
        {
            "name": "Tickets",
            "data": {"type": "text", "field": "text"},
            "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"], "target": True}],
            "settings": {"featurizer": "minilm", "random_share": 0.1},
        }
    )
    assert schema.settings["featurizer"] == "minilm" and schema.settings["random_share"] == 0.1


def test_unknown_strategy_lists_the_registered_ones() -> None:
    assert error_of({"strategy": "foo"}) == (
        "settings.strategy: unknown strategy 'foo'; known strategies: auto, badge, "
        "cluster_margin, coreset, density_weighted, entropy, least_confidence, margin, "
        "qbc_kl, qbc_vote_entropy, random, typiclust"
    )
    assert parse_settings({"strategy": "badge"})["strategy"] == "badge"


def test_unknown_detector_lists_the_registered_ones() -> None:
    assert error_of({"detector": "yolo"}) == (
        "settings.detector: unknown detector 'yolo'; known detectors: imported_scores"
    )


def test_a_stored_schema_naming_an_unregistered_strategy_or_detector_still_reads_back() -> None:
    doc = {
        "name": "Tickets",
        "data": {"type": "text", "field": "text"},
        "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"], "target": True}],
        "settings": {"strategy": "foo", "detector": "yolo"},
    }
    with pytest.raises(SchemaError, match="unknown strategy 'foo'"):
        parse_schema(doc)
    schema = parse_schema(doc, stored=True)
    assert (schema.settings["strategy"], schema.settings["detector"]) == ("foo", "yolo")
    settings = typed_settings(schema.settings, stored=True)
    assert (settings.strategy, settings.detector) == ("foo", "yolo")
