"""The default policy switches phases exactly at its documented thresholds and says why."""

import numpy as np
import pytest

from labelloop.domain import MISSING, Pool
from labelloop.learn import DEFAULT_STRATEGY, AutoPolicy, make_strategy

CLASSES = ("ham", "spam")


def pool_with(counts: list[int], n: int = 20_000, classes: tuple[str, ...] = CLASSES) -> Pool:
    y = np.full(n, MISSING, dtype=np.int64)
    start = 0
    for c, k in enumerate(counts):
        y[start : start + k] = c
        start += k
    X = np.random.default_rng(0).random((n, 4))
    return Pool(np.arange(n, dtype=np.int64), X, y, classes)


def some_proba(n: int, n_classes: int = 2) -> np.ndarray:
    return np.random.default_rng(1).dirichlet(np.ones(n_classes), size=n)


def test_auto_is_the_default() -> None:
    assert DEFAULT_STRATEGY == "auto"
    assert isinstance(make_strategy("auto"), AutoPolicy)


@pytest.mark.parametrize(
    ("counts", "phase"),
    [
        ([], "typical"),  # no labels
        ([12], "typical"),  # one class only
        ([3, 2], "typical"),  # spam under 3 labels
        ([3, 3], "margin"),  # every class has 3
        ([37, 2], "typical"),  # 39 labels < 20 per class x 2 classes
        ([38, 2], "margin"),  # 40 labels: a rare class no longer holds the project back
        ([10, 10, 10, 10, 10, 2], "typical"),  # 52 labels < 20 x 6 classes, one class lacking
        ([30, 30, 30, 20, 8, 2], "margin"),  # 120 labels: uncertainty takes over
    ],
)
def test_label_thresholds(counts: list[int], phase: str) -> None:
    classes = CLASSES if len(counts) <= 2 else tuple(f"c{i}" for i in range(len(counts)))
    pool = pool_with(counts, classes=classes)
    assert AutoPolicy().phase(pool, some_proba(20_000, len(classes)), 10) == phase


def test_no_model_means_typical_whatever_the_labels() -> None:
    assert AutoPolicy().phase(pool_with([50, 50]), None, 10) == "typical"


@pytest.mark.parametrize(
    ("n_pool", "batch", "phase"),
    [
        (20_000, 99, "margin"),  # under 100 and under 1% (200)
        (20_000, 100, "cluster_margin"),  # 100 rows
        (5_000, 49, "margin"),  # under 1% (50)
        (5_000, 50, "cluster_margin"),  # 1% of the pool
    ],
)
def test_batch_thresholds(n_pool: int, batch: int, phase: str) -> None:
    pool = pool_with([5, 5], n=n_pool)
    assert AutoPolicy().phase(pool, some_proba(n_pool), batch) == phase


def test_typical_phase_reasons_name_the_class_that_lacks_labels() -> None:
    pool = pool_with([4, 1], n=300)
    sel = make_strategy("auto").query(pool, some_proba(300), 5, np.random.default_rng(0))
    assert len(sel.indices) == 5 and np.all(pool.y[sel.indices] == MISSING)
    assert all(r.startswith("typical of a group of ") for r in sel.reasons)
    assert all(r.endswith("; picked while class 'spam' had only 1 label") for r in sel.reasons)


def test_typical_phase_reason_counts_every_lacking_class() -> None:
    pool = pool_with([5, 0, 2], n=300, classes=("a", "b", "c"))
    sel = make_strategy("auto").query(pool, some_proba(300, 3), 2, np.random.default_rng(0))
    assert sel.reasons[0].endswith("; picked while class 'b' had no label (1 more class under 3)")
    blank = pool_with([], n=300)
    cold = make_strategy("auto").query(blank, None, 2, np.random.default_rng(0))
    assert cold.reasons[0].endswith(
        "items, none labeled yet; picked while the project had no labels"
    )


def test_margin_phase_is_plain_margin() -> None:
    pool, proba = pool_with([5, 5], n=2_000), some_proba(2_000)
    auto = make_strategy("auto").query(pool, proba, 10, np.random.default_rng(3))
    margin = make_strategy("margin").query(pool, proba, 10, np.random.default_rng(3))
    assert auto.indices.tolist() == margin.indices.tolist() and auto.reasons == margin.reasons


def test_large_batch_phase_is_cluster_margin() -> None:
    pool, proba = pool_with([5, 5], n=2_000), some_proba(2_000)
    auto = make_strategy("auto").query(pool, proba, 100, np.random.default_rng(3))
    batch = make_strategy("cluster_margin").query(pool, proba, 100, np.random.default_rng(3))
    assert auto.indices.tolist() == batch.indices.tolist()
    assert "similar uncertain items" in auto.reasons[0]
