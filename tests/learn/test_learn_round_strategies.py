"""What run_round does for the new strategies: cold start, committees, re-label suggestions."""

from typing import ClassVar

import numpy as np
import pytest
from sklearn.naive_bayes import MultinomialNB

from labelloop.domain import MISSING, Pool, Selection
from labelloop.learn import TfidfFeaturizer, make_strategy, run_round
from labelloop.learn.round import RELABEL_MIN_LABELS

WORDS = {
    0: "team goal match score coach league player season win referee stadium",
    1: "recipe oven bake flour sugar simmer garlic sauce chef dinner onion",
}


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, size=300)
    texts = [" ".join(rng.choice(WORDS[int(c)].split(), size=4)) for c in truth]
    X = TfidfFeaturizer().fit_transform([{"text": t} for t in texts])
    return {"X": X, "truth": truth.astype(np.int64)}


def pool_of(data: dict, n_labeled: int, *, flip: int = 0) -> Pool:
    y = np.full(300, MISSING, dtype=np.int64)
    y[:n_labeled] = data["truth"][:n_labeled]
    y[:flip] = 1 - y[:flip]
    return Pool(np.arange(300, dtype=np.int64), data["X"], y, ("sports", "cooking"))


class CommitteeSpy:
    """Records the committee run_round hands over; ranks by nothing in particular."""

    name: ClassVar[str] = "committee_spy"
    needs_committee: ClassVar[bool] = True
    seen: ClassVar[list] = []

    def query(self, pool, proba, batch_size, rng) -> Selection:
        CommitteeSpy.seen.append(pool.committee_proba)
        rows = np.flatnonzero(pool.y == MISSING)[:batch_size]
        return Selection(rows, np.zeros(len(rows)), ("spy",) * len(rows))


def test_cold_start_goes_to_a_strategy_that_can_do_it(data: dict) -> None:
    result = run_round(
        pool_of(data, 0), strategy=make_strategy("auto"), queue_size=4, rng=np.random.default_rng(0)
    )
    assert result.cold_start and result.strategy == "auto" and result.model is None
    assert all(
        r.endswith("; picked while the project had no labels") for r in result.selection.reasons
    )
    margin = run_round(
        pool_of(data, 0),
        strategy=make_strategy("margin"),
        queue_size=4,
        rng=np.random.default_rng(0),
    )
    assert margin.strategy == "diversity"


def test_a_committee_strategy_gets_a_committee_of_the_rounds_model(data: dict) -> None:
    CommitteeSpy.seen.clear()
    run_round(
        pool_of(data, 20),
        strategy=CommitteeSpy(),
        queue_size=3,
        rng=np.random.default_rng(0),
        model=MultinomialNB(),
    )
    (committee,) = CommitteeSpy.seen
    assert committee.shape == (5, 300, 2)
    assert np.allclose(committee.sum(axis=2), 1.0)


@pytest.mark.parametrize("name", ["qbc_vote_entropy", "qbc_kl"])
def test_qbc_runs_in_a_round(name: str, data: dict) -> None:
    result = run_round(
        pool_of(data, 20), strategy=make_strategy(name), queue_size=5, rng=np.random.default_rng(0)
    )
    assert result.strategy == name and len(result.selection.indices) == 5
    assert all("committee" in r for r in result.selection.reasons)


def test_relabel_suggestions_appear_from_30_labels_and_name_the_flips(data: dict) -> None:
    few = run_round(
        pool_of(data, RELABEL_MIN_LABELS - 1, flip=3),
        strategy=make_strategy("margin"),
        queue_size=3,
        rng=np.random.default_rng(0),
    )
    assert few.relabel is None
    result = run_round(
        pool_of(data, 120, flip=3),
        strategy=make_strategy("margin"),
        queue_size=3,
        rng=np.random.default_rng(0),
    )
    assert result.relabel is not None
    assert set(result.relabel.indices.tolist()) >= {0, 1, 2}
    assert np.all(result.relabel.indices < 120)
    assert result.relabel.reasons[0].startswith("labeled '")
    off = run_round(
        pool_of(data, 120, flip=3),
        strategy=make_strategy("margin"),
        queue_size=3,
        rng=np.random.default_rng(0),
        relabel=False,
    )
    assert off.relabel is None
    assert off.selection.indices.tolist() == result.selection.indices.tolist()
