"""Settled predictions on a small pool: the stop-set items being labeled keep changing."""

import numpy as np

from labelloop.domain import RoundSummary
from labelloop.learn import SettledPredictions

BASE = np.arange(1000, dtype=np.int64) % 3


def small_pool(*, masks: bool = True, learning_until: int = 300) -> list[RoundSummary]:
    """Rounds every 10 labels from 100 to 600. The stop set is 40% of the pool, so each round 4
    of its items get labeled (positions 0, 1, 2, ... in turn) and the model, which had them
    wrong, now predicts their labels; until ``learning_until`` labels it also still changes 6
    items it has not seen a round (positions 999, 998, ... in turn), and from then on none."""
    history, preds = [], BASE.copy()
    for version, n in enumerate(range(100, 601, 10), start=1):
        r = version - 1
        labeled = np.zeros(1000, dtype=bool)
        labeled[: 4 * r] = True
        if r:
            preds = preds.copy()
            preds[4 * (r - 1) : 4 * r] = (BASE[4 * (r - 1) : 4 * r] + 1) % 3
            if n <= learning_until:
                preds[1000 - 6 * r : 1006 - 6 * r] = (BASE[1000 - 6 * r : 1006 - 6 * r] + 1) % 3
        history.append(RoundSummary(version, n, preds, stop_labeled=labeled if masks else None))
    return history


def fired_at(history: list[RoundSummary], rule: SettledPredictions | None = None) -> int | None:
    """The labels of the first round where the rule says stop, or None."""
    rule = rule or SettledPredictions()
    return next(
        (r.n_labeled for k, r in enumerate(history) if rule.evaluate(history[: k + 1]).stop), None
    )


def test_items_it_learned_do_not_keep_it_from_stopping_once_the_rest_settled() -> None:
    history = small_pool()
    # The labeled items alone change 4 per round: 490 against 400 labels, 36 of 1,000 (3.6%),
    # so on every stop-set item the predictions never settle, as on 3,000 tweets.
    unmarked = small_pool(masks=False)
    assert fired_at(unmarked) is None
    assert (
        "3.6% changed, κ = 0.945; more than 1.75% changed"
        in SettledPredictions().evaluate(unmarked[: (490 - 100) // 10 + 1]).reason
    )
    # On the items not labeled yet: 340 vs 280 still changed 12 of 904 (1.3%), 350 vs 290 6 of
    # 900 (0.7%), later rounds none. It stops once every round since 1/1.4 of the labels passed:
    # at 490 (since 350), not at 480 (since 340).
    assert fired_at(history) == 490
    decision = SettledPredictions().evaluate(history[: (490 - 100) // 10 + 1])
    assert decision.stop
    assert "at 490 labels vs 400: 3.6% changed" in decision.reason
    assert "on the 844 stop-set items not labeled yet 0.0% changed (κ = 1.000)" in decision.reason
    assert "at most 1% at every round since 350 labels" in decision.reason


def test_the_unseen_items_must_stay_settled_and_that_is_a_parameter() -> None:
    history = small_pool()
    # The unseen items settle from 350 labels: held over a fifth more labels (350 * 1.2 = 420)
    # it stops at 420; at most 0.5% changed waits for 360 (none changed): 360 * 1.4 = 504, so 510.
    assert fired_at(history) == 490
    assert fired_at(history, SettledPredictions(hold=0.2)) == 420
    assert fired_at(history, SettledPredictions(unseen_changed=0.005)) == 510


def test_unseen_items_still_changing_keep_it_labeling() -> None:
    # The same pool, but the unseen items keep changing 6 a round to the end: 600 vs 500, 60 of
    # the 800 not labeled yet (7.5%).
    history = small_pool(learning_until=600)
    assert fired_at(history) is None
