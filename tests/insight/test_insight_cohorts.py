"""Per-cohort eval: a cohort the model gets wrong stands out against the overall figures, with an
honest interval for its size; small cohorts are counted, not shown."""

from __future__ import annotations

import json

import pytest
from sklearn.metrics import f1_score

from labelloop.insight.cohorts import cohort_tag, per_cohort, wilson_interval


def as_json(value: object) -> object:
    return json.loads(json.dumps(value, allow_nan=False))


def two_cohorts() -> tuple[list[int], list[int], list[str | None]]:
    """25 eval items of 3 classes: "airline" all right, "bank" all wrong (every 0 read as 1),
    3 "cars" items right, 2 untagged (one right)."""
    truth = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0] + [0] * 10 + [2, 2, 2] + [1, 1]
    predicted = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0] + [1] * 10 + [2, 2, 2] + [1, 0]
    groups: list[str | None] = ["airline"] * 10 + ["bank"] * 10 + ["cars"] * 3 + [None, None]
    return truth, predicted, groups


def test_the_wrong_cohort_stands_out_against_overall() -> None:
    truth, predicted, groups = two_cohorts()
    found = per_cohort(truth, predicted, groups, n_classes=3)
    # 14 of 25 right overall: 10 airline + 0 bank + 3 cars + 1 untagged
    assert found["overall"]["n"] == 25
    assert found["overall"]["accuracy"] == 0.56
    # per class: F1(0) = 2*4 / (8 + 10 missed + 1 false) = 8/19, F1(1) = 8/19, F1(2) = 1
    assert found["overall"]["macro_f1"] == pytest.approx((16 / 19 + 1) / 3, abs=1e-4)
    assert found["overall"]["macro_f1"] == pytest.approx(
        f1_score(truth, predicted, average="macro"), abs=1e-4
    )
    airline, bank = found["cohorts"]  # 10 items each: by name
    assert airline == {
        "cohort": "airline",
        "n": 10,
        "accuracy": 1.0,
        "low": 0.7225,  # Wilson at 10 of 10: 1 / (1 + 1.96^2 / 10)
        "high": 1.0,
        "macro_f1": 1.0,
        "vs_overall": 0.44,
        "below_overall": False,
    }
    assert bank == {
        "cohort": "bank",
        "n": 10,
        "accuracy": 0.0,
        "low": 0.0,
        "high": 0.2775,  # Wilson at 0 of 10: (1.96^2 / 10) / (1 + 1.96^2 / 10)
        "macro_f1": 0.0,
        "vs_overall": -0.56,
        "below_overall": True,
    }
    # "cars" has 3 items, under the 10 a row needs: counted, not shown
    assert found["too_small"] == {"cohorts": 1, "items": 3}
    assert found["beyond_max"] == {"cohorts": 0, "items": 0}
    assert found["untagged"] == 2
    assert found["min_items"] == 10
    assert as_json(found) == found


def test_largest_cohorts_first_and_the_rest_counted() -> None:
    groups = ["small"] * 10 + ["big"] * 12 + ["mid"] * 11
    truth = [0, 1] * 16 + [0]
    found = per_cohort(truth, truth, groups, n_classes=2, max_cohorts=2)
    assert [(c["cohort"], c["n"]) for c in found["cohorts"]] == [("big", 12), ("mid", 11)]
    assert found["beyond_max"] == {"cohorts": 1, "items": 10}
    assert found["too_small"] == {"cohorts": 0, "items": 0}
    smaller = per_cohort(truth, truth, groups, n_classes=2, min_items=11)
    assert [c["cohort"] for c in smaller["cohorts"]] == ["big", "mid"]
    assert smaller["too_small"] == {"cohorts": 1, "items": 10}


def test_macro_f1_leaves_out_classes_a_cohort_neither_has_nor_predicts() -> None:
    # class 2 exists but not here: F1(0) = 2 / (2 + 1) = 0.6667, F1(1) = 4 / (4 + 1) = 0.8
    found = per_cohort([0, 0, 1, 1], [0, 1, 1, 1], ["x"] * 4, n_classes=3, min_items=1)
    (row,) = found["cohorts"]
    assert row["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2, abs=1e-4)
    assert row["accuracy"] == 0.75
    # the one cohort is every item: no different from overall
    assert row["vs_overall"] == 0.0 and row["below_overall"] is False


def test_wilson_interval_by_hand() -> None:
    z2 = 1.959963984540054**2
    assert wilson_interval(0, 10) == pytest.approx((0.0, (z2 / 10) / (1 + z2 / 10)))
    assert wilson_interval(10, 10) == pytest.approx((1 / (1 + z2 / 10), 1.0))
    low, high = wilson_interval(5, 10)  # symmetric around 0.5
    assert low == pytest.approx(1 - high) and low == pytest.approx(0.2366, abs=1e-4)
    assert wilson_interval(7, 9) == pytest.approx((0.4526, 0.9368), abs=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_without_any_tag_there_are_no_rows() -> None:
    found = per_cohort([0, 1, 1], [0, 1, 0], [None, None, None], n_classes=2)
    assert found["cohorts"] == [] and found["untagged"] == 3
    assert found["overall"]["accuracy"] == pytest.approx(2 / 3, abs=1e-4)


@pytest.mark.parametrize(
    ("truth", "predicted", "groups"),
    [
        ([0, 1], [0], ["a", "a"]),
        ([0, 1], [0, 1], ["a"]),
        ([], [], []),
        ([0, 3], [0, 1], ["a", "a"]),
        ([0, -1], [0, 1], ["a", "a"]),
    ],
)
def test_refuses_what_it_cannot_measure(
    truth: list[int], predicted: list[int], groups: list[str]
) -> None:
    with pytest.raises(ValueError):
        per_cohort(truth, predicted, groups, n_classes=3)


def test_cohort_tag_reads_the_metadata_field_as_text() -> None:
    assert cohort_tag({"cohort": "airline"}) == "airline"
    assert cohort_tag({"cohort": 2024}) == "2024"
    assert cohort_tag({"source": "web"}, "source") == "web"
    assert cohort_tag({"cohort": None}) is None
    assert cohort_tag({}) is None and cohort_tag(None) is None and cohort_tag(["x"]) is None
    assert cohort_tag({"cohort": "x" * 300}) == "x" * 100
