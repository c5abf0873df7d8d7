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


def test_what_a_status_takes_as_registered_without_the_learner_is() -> None:
    """The defaults and built-in strategies that `labelloop status` takes as usable without
    importing the learner are registered there, and no default featurizer caches per item (a
    status would leave out its embeddings' progress)."""
    from labelloop.learn import STRATEGIES
    from labelloop.learn.boxes import DETECTORS
    from labelloop.learn.featurize import FEATURIZERS, caches_per_item
    from labelloop.learn.model import DEFAULT_MODEL
    from labelloop.schema.project import DEFAULT_FEATURIZERS
    from labelloop.schema.settings import BUILT_IN_STRATEGIES, DEFAULT_FEATURIZER, is_default

    ours = {n for n, cls in STRATEGIES.items() if cls.__module__.startswith("labelloop.")}
    assert ours == BUILT_IN_STRATEGIES
    assert [n for n in STRATEGIES if is_default("strategy", n)] == sorted(
        ours, key=list(STRATEGIES).index
    )
    featurizers = {DEFAULT_FEATURIZER, *DEFAULT_FEATURIZERS.values()}
    assert [n for n in FEATURIZERS if is_default("featurizer", n)] == [
        n for n in FEATURIZERS if n in featurizers
    ]
    assert featurizers <= set(FEATURIZERS)
    assert not any(caches_per_item(n) for n in featurizers)
    assert is_default("model", DEFAULT_MODEL) and not is_default("model", "sklearn.svm.LinearSVC")
    assert [n for n in DETECTORS if is_default("detector", n)] != []
    assert not is_default("featurizer", "minilm") and not is_default("strategy", "mine")
