"""Query-by-committee: it asks where the members disagree, by vote or by confidence."""

from dataclasses import replace

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from labelloop.domain import MISSING, Pool
from labelloop.learn import bootstrap_committee, make_strategy

CLASSES = ("cat", "dog", "fox")

# Three members, four rows: row 0 all agree, row 1 votes 2-1, row 2 votes 1-1-1, row 3 all
# vote cat but with very different confidence.
COMMITTEE = np.array(
    [
        [[0.9, 0.05, 0.05], [0.8, 0.1, 0.1], [0.8, 0.1, 0.1], [0.98, 0.01, 0.01]],
        [[0.9, 0.05, 0.05], [0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.40, 0.30, 0.30]],
        [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.40, 0.35, 0.25]],
    ]
)


def hand_pool(committee: np.ndarray = COMMITTEE) -> Pool:
    n = committee.shape[1]
    return Pool(
        np.arange(n), np.zeros((n, 2)), np.full(n, MISSING), CLASSES, committee_proba=committee
    )


def test_vote_entropy_ranks_by_how_split_the_votes_are() -> None:
    sel = make_strategy("qbc_vote_entropy").query(hand_pool(), None, 4, np.random.default_rng(0))
    assert sel.indices.tolist()[:2] == [2, 1]
    two_one = -(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3)) / np.log(3)
    assert sel.scores[:2] == pytest.approx([1.0, two_one])
    # Rows 0 and 3 both have unanimous votes; the consensus of row 3 is less sure, so it wins.
    assert sel.indices.tolist()[2:] == [3, 0]
    assert sel.reasons[0] == (
        "committee of 3 models split: 1 says cat, 1 says dog, 1 says fox (vote entropy 1.00)"
    )
    assert (
        sel.reasons[1] == "committee of 3 models split: 2 say cat, 1 says dog (vote entropy 0.58)"
    )


def test_vote_entropy_reason_counts_every_vote() -> None:
    """Five members voting for four classes read "2 say HUM, 1 say DESC, 1 say ENTY": four votes
    of five, the fifth (the class the model suggested) left out."""
    classes = ("a", "b", "c", "d")
    votes = [0, 0, 1, 2, 3]
    committee = np.full((5, 1, 4), 0.1)
    for member, c in enumerate(votes):
        committee[member, 0, c] = 0.7
    pool = Pool(
        np.arange(1), np.zeros((1, 2)), np.full(1, MISSING), classes, committee_proba=committee
    )
    sel = make_strategy("qbc_vote_entropy").query(pool, None, 1, np.random.default_rng(0))
    assert sel.reasons[0].startswith(
        "committee of 5 models split: 2 say a, 1 says b, 1 says c, 1 says d (vote entropy"
    ), sel.reasons[0]


def test_kl_to_consensus_sees_disagreement_in_confidence_that_votes_miss() -> None:
    two = np.array([[[0.9, 0.1, 0.0], [0.5, 0.5, 0.0]], [[0.1, 0.9, 0.0], [0.5, 0.5, 0.0]]])
    sel = make_strategy("qbc_kl").query(hand_pool(two), None, 2, np.random.default_rng(0))
    # Consensus (0.5, 0.5): each member's KL is 0.9 ln 1.8 + 0.1 ln 0.2.
    assert sel.indices.tolist() == [0, 1]
    assert sel.scores == pytest.approx([0.9 * np.log(1.8) + 0.1 * np.log(0.2), 0.0])
    assert sel.reasons[0] == (
        "2 committee models disagree on cat: 0.10 to 0.90 likely (mean KL to consensus 0.37)"
    )
    unanimous = make_strategy("qbc_kl").query(hand_pool(), None, 4, np.random.default_rng(0))
    assert unanimous.indices[-1] == 0  # total agreement ranks last


def line_pool() -> tuple[Pool, np.ndarray]:
    """1-D points: labels on both sides with a noisy middle; candidates at -6, 0 and +6."""
    x = np.array([-3, -2.5, -2, -1, -0.3, 0.3, 1, 2, 2.5, 3, -6, 0, 6], dtype=float)
    y = np.array([0, 0, 0, 0, 1, 0, 1, 1, 1, 1, MISSING, MISSING, MISSING])
    return Pool(np.arange(13), x[:, None], y, ("left", "right")), x


@pytest.mark.parametrize("name", ["qbc_vote_entropy", "qbc_kl"])
def test_without_a_given_committee_it_trains_one_and_asks_where_members_disagree(
    name: str,
) -> None:
    pool, _ = line_pool()
    sel = make_strategy(name).query(pool, None, 1, np.random.default_rng(0))
    assert sel.indices.tolist() == [11]  # x = 0, between the classes


def test_bootstrap_committee_keeps_every_class_in_every_member() -> None:
    pool, _ = line_pool()
    committee = bootstrap_committee(
        LogisticRegression(), pool.X, pool.y, n_classes=2, rng=np.random.default_rng(0), n_members=7
    )
    assert committee.shape == (7, 13, 2)
    assert np.allclose(committee.sum(axis=2), 1.0)
    far = committee[:, [10, 12], :].argmax(axis=2)
    assert (far == [0, 1]).all()  # every member gets the clear cases right
    assert len({tuple(np.round(m[11], 6)) for m in committee}) > 1  # members differ


def test_committee_of_wrong_shape_is_rejected() -> None:
    pool = replace(hand_pool(), committee_proba=COMMITTEE[:, :3])
    with pytest.raises(ValueError, match="committee probabilities have shape"):
        make_strategy("qbc_kl").query(pool, None, 1, np.random.default_rng(0))


def test_a_single_labeled_class_needs_proba() -> None:
    pool, _ = line_pool()
    one_class = replace(pool, y=np.where(pool.y == 1, 0, pool.y))
    with pytest.raises(ValueError, match="proba"):
        make_strategy("qbc_kl").query(one_class, None, 1, np.random.default_rng(0))
    proba = np.tile([0.7, 0.3], (13, 1))
    proba[12] = [0.5, 0.5]
    sel = make_strategy("qbc_vote_entropy").query(one_class, proba, 1, np.random.default_rng(0))
    assert sel.indices.tolist() == [12]
    assert sel.reasons == ("too few labels for a committee: model's guess left",)
