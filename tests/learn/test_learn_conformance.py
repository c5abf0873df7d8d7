"""Every registered strategy, stopping criterion and featurizer passes its conformance check."""

from typing import ClassVar

import numpy as np
import pytest

from labelloop.domain import Pool, RoundSummary, Selection, StopDecision
from labelloop.learn import (
    FEATURIZERS,
    STOPPING,
    STRATEGIES,
    check_featurizer,
    check_stopping,
    check_strategy,
)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_registered_strategy_conforms(name: str) -> None:
    check_strategy(STRATEGIES[name])


@pytest.mark.parametrize("name", sorted(STOPPING))
def test_registered_stopping_criterion_conforms(name: str) -> None:
    check_stopping(STOPPING[name])


@pytest.mark.parametrize("name", sorted(FEATURIZERS))
def test_registered_featurizer_conforms(name: str) -> None:
    from labelloop.learn.featurize import missing_requirement

    if problem := missing_requirement(name):  # an optional extra (embeddings) not installed
        pytest.skip(problem)
    check_featurizer(FEATURIZERS[name])


def test_configured_criteria_conform_through_a_factory() -> None:
    check_stopping(lambda: STOPPING["budget"](budget=60))


class FirstRows:
    """Broken on purpose: ignores labels and takes the first rows."""

    name: ClassVar[str] = "first_rows"

    def query(self, pool: Pool, proba, batch_size: int, rng) -> Selection:
        k = min(batch_size, len(pool.y))
        return Selection(np.arange(k), np.zeros(k), ("first",) * k)


class Patience:
    """Broken on purpose: counts calls instead of reading the history."""

    name: ClassVar[str] = "patience"

    def __init__(self) -> None:
        self.calls = 0

    def evaluate(self, history) -> StopDecision:
        self.calls += 1
        return StopDecision(self.name, self.calls > 3, None, "waited")


def test_strategy_check_catches_a_strategy_that_picks_labeled_rows() -> None:
    with pytest.raises(AssertionError, match="first_rows|FirstRows"):
        check_strategy(FirstRows)


def test_stopping_check_catches_a_criterion_with_hidden_state() -> None:
    with pytest.raises(AssertionError, match="depends on more than the history"):
        check_stopping(Patience)


def test_fixture_history_is_plain_round_summaries() -> None:
    from labelloop.learn.conformance import _fixture_history

    for marked in (False, True):
        history = _fixture_history(marked=marked)
        assert all(isinstance(r, RoundSummary) for r in history)
        # the marked one says which stop-set items each trained round learned; the other not
        trained = [r for r in history if len(r.stop_predictions)]
        assert all((r.stop_labeled is not None) == marked for r in trained)
