"""Table rows: numbers standardised, the rest one-hot, CSV strings read as numbers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from labelloop.learn import TableFeaturizer, check_featurizer

ROWS = [
    {"age": 20, "city": "Oslo", "vip": True},
    {"age": "40", "city": "Rome", "vip": False},  # CSV cells are strings
    {"age": None, "city": "Oslo", "vip": True},
    {"age": 60, "city": "", "vip": False},
]


def test_kinds_of_fields_are_found_in_fit() -> None:
    f = TableFeaturizer().fit(ROWS)
    assert f.numeric_ == ("age",)
    assert f.categorical_ == ("city", "vip")


def test_numbers_are_standardised_with_the_mean_for_missing() -> None:
    X = TableFeaturizer(fields=("age",)).fit_transform(ROWS).toarray()
    assert X.shape == (4, 1)
    assert np.isclose(X[:, 0].mean(), 0.0) and X[2, 0] == 0.0  # the mean of 20, 40, 60
    assert X[0, 0] < 0 < X[3, 0]


def test_categories_are_one_hot_and_unseen_ones_are_all_zero() -> None:
    f = TableFeaturizer(fields=("city",)).fit(ROWS)
    X = f.transform([{"city": "Oslo"}, {"city": "Lima"}, {}]).toarray()
    assert X.shape == (3, 3)  # (missing), Oslo, Rome
    assert X[0].sum() == 1 and X[1].sum() == 0 and X[2].sum() == 1
    assert not np.array_equal(X[0], X[2])


def test_rare_categories_share_one_column() -> None:
    rows = [{"c": "a"}] * 5 + [{"c": "b"}] * 5 + [{"c": f"rare{i}"} for i in range(10)]
    f = TableFeaturizer(max_categories=3).fit(rows)
    assert f.n_features_out_ == 3


def test_no_fields_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no scalar fields in 2 rows"):
        TableFeaturizer().fit([{}, {"nested": {"a": 1}}])


def test_params_and_conformance() -> None:
    f = TableFeaturizer(fields=("a",), max_categories=5)
    assert clone(f).get_params() == {"fields": ("a",), "max_categories": 5}
    check_featurizer(TableFeaturizer)


def test_row_payloads_of_table_imports_are_read_like_flat_ones() -> None:
    flat = TableFeaturizer().fit_transform(ROWS).toarray()
    nested = TableFeaturizer().fit_transform([{"row": r} for r in ROWS]).toarray()
    assert np.array_equal(flat, nested)
    assert TableFeaturizer().fit([{"row": r} for r in ROWS]).numeric_ == ("age",)
