"""Cold start: diverse, representative first picks before any model exists."""

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from labelloop.domain import MISSING, Pool
from labelloop.learn import TfidfFeaturizer, coldstart, diverse_selection

TOPICS = {
    "cats": "cat kitten purr whiskers litter meow paws fur nap mouse",
    "markets": "stock bond yield market shares investor dividend index trading price",
    "weather": "rain storm cloud forecast thunder wind humid sunny snow temperature",
}


def topic_texts(sizes: dict[str, int], seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    texts, topics = [], []
    for topic, n in sizes.items():
        words = TOPICS[topic].split()
        for _ in range(n):
            texts.append(" ".join(rng.choice(words, size=6)))
            topics.append(topic)
    order = rng.permutation(len(texts))  # not grouped by file order
    return [texts[i] for i in order], [topics[i] for i in order]


def text_pool(texts: list[str], y: np.ndarray | None = None) -> Pool:
    X = TfidfFeaturizer().fit_transform([{"text": t} for t in texts])
    n = len(texts)
    labels = np.full(n, MISSING, dtype=np.int64) if y is None else y
    return Pool(np.arange(n, dtype=np.int64), X, labels, ("a", "b"))


def test_one_pick_per_cluster_largest_cluster_first() -> None:
    texts, topics = topic_texts({"cats": 30, "markets": 20, "weather": 10})
    sel = diverse_selection(text_pool(texts), 3, np.random.default_rng(0))
    assert [topics[i] for i in sel.indices] == ["cats", "markets", "weather"]
    assert sel.reasons == (
        "typical of a group of 30 similar items (no model yet)",
        "typical of a group of 20 similar items (no model yet)",
        "typical of a group of 10 similar items (no model yet)",
    )
    assert sel.scores == pytest.approx([0.5, 20 / 60, 10 / 60])


def test_queue_longer_than_the_clusters_goes_round_robin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coldstart, "MAX_CLUSTERS", 3)
    texts, topics = topic_texts({"cats": 30, "markets": 20, "weather": 10})
    sel = diverse_selection(text_pool(texts), 9, np.random.default_rng(1))
    assert len(set(sel.indices.tolist())) == 9
    assert [topics[i] for i in sel.indices] == ["cats", "markets", "weather"] * 3
    # The second item of a cluster is worth half its first: score = share / rank.
    assert sel.scores[3] == pytest.approx(sel.scores[0] / 2)


def test_labeled_rows_are_not_candidates() -> None:
    texts, _ = topic_texts({"cats": 10, "markets": 10})
    y = np.full(20, MISSING, dtype=np.int64)
    y[:15] = 0
    sel = diverse_selection(text_pool(texts, y), 10, np.random.default_rng(0))
    assert sorted(sel.indices.tolist()) == list(range(15, 20))


@pytest.mark.parametrize(
    ("texts", "batch_size", "expected"),
    [
        (["only one"], 5, 1),
        (["first text", "second text"], 5, 2),
        (["same words here"] * 10, 4, 4),
        (["", "", ""], 2, 2),
    ],
)
def test_tiny_and_degenerate_pools(texts: list[str], batch_size: int, expected: int) -> None:
    n = len(texts)
    X = TfidfFeaturizer().fit_transform([{"text": t or "x"} for t in texts])
    pool = Pool(np.arange(n), X, np.full(n, MISSING), ("a", "b"))
    sel = diverse_selection(pool, batch_size, np.random.default_rng(0))
    assert len(sel.indices) == len(set(sel.indices.tolist())) == len(sel.reasons) == expected
    assert np.all(np.isfinite(sel.scores))


def test_single_item_reason() -> None:
    pool = Pool(np.arange(1), csr_matrix(np.ones((1, 3))), np.array([MISSING]), ("a", "b"))
    assert diverse_selection(pool, 3, np.random.default_rng(0)).reasons == (
        "unlike any other item (no model yet)",
    )


def test_all_zero_rows_and_dense_features_do_not_crash() -> None:
    zero = Pool(np.arange(6), csr_matrix((6, 4)), np.full(6, MISSING), ("a", "b"))
    assert len(diverse_selection(zero, 3, np.random.default_rng(0)).indices) == 3
    rng = np.random.default_rng(0)
    dense = Pool(np.arange(50), rng.random((50, 5)), np.full(50, MISSING), ("a", "b"))
    assert len(diverse_selection(dense, 7, rng).indices) == 7


def test_no_candidates_and_zero_batch_give_empty_selections() -> None:
    texts, _ = topic_texts({"cats": 4})
    assert (
        len(
            diverse_selection(
                text_pool(texts, np.zeros(4, np.int64)), 3, np.random.default_rng()
            ).indices
        )
        == 0
    )
    assert len(diverse_selection(text_pool(texts), 0, np.random.default_rng()).indices) == 0


def test_same_seed_same_queue() -> None:
    texts, _ = topic_texts({"cats": 40, "markets": 40, "weather": 40})
    pool = text_pool(texts)
    a = diverse_selection(pool, 8, np.random.default_rng(9))
    b = diverse_selection(pool, 8, np.random.default_rng(9))
    assert a.indices.tolist() == b.indices.tolist() and a.reasons == b.reasons


def test_large_pool_is_sampled_and_counts_are_estimates() -> None:
    texts, topics = topic_texts({"cats": 12_000, "markets": 8_000, "weather": 4_000}, seed=2)
    sel = diverse_selection(text_pool(texts), 3, np.random.default_rng(0))
    assert [topics[i] for i in sel.indices] == ["cats", "markets", "weather"]
    assert sel.reasons[0].startswith("typical of a group of about 12,")
