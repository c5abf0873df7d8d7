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


def _messy_rows(n: int, seed: int) -> list[dict]:
    """Rows as imports store them: CSV numbers as text (some with spaces or an exponent), JSON
    numbers, blanks, true/false, words in a number column, many rare categories, a field
    some rows lack and one holding an object."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        row = {
            "amount": f"{rng.normal() * 100:.3g}",
            "count": int(rng.integers(0, 5)),
            "shop": f"s{rng.zipf(1.5) % 300}",
            "mixed": ["", None, "x", "y", True, 3, 2.5][rng.integers(0, 7)],
            "rate": [" 2.5 ", "1e3", "", None, "-4"][rng.integers(0, 5)],
            "member": bool(rng.integers(0, 2)),
            "grade": ["1", "2", "nan"][rng.integers(0, 3)],
            "empty": None,
            "nested": {"x": 1},
        }
        if rng.random() < 0.1:
            del row["amount"]
        if rng.random() < 0.05:
            row["late"] = "yes"
        rows.append({"row": row})
    return rows


def _reference(fit_rows: list[dict], rows: list[dict], max_categories: int) -> np.ndarray:
    """The features as scikit-learn's ColumnTransformer makes them of the cells read one by one:
    a field is numeric when every filled cell reads as a finite number (true/false do not)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from labelloop.kinds import as_number

    def blank(v: object) -> bool:
        return v is None or (isinstance(v, str) and not v.strip())

    cells = [r["row"] for r in fit_rows]
    fields = sorted(
        {k for c in cells for k, v in c.items() if v is None or isinstance(v, str | int | float)}
    )
    numeric = [
        f
        for f in fields
        if (filled := [c.get(f) for c in cells if not blank(c.get(f))])
        and all(as_number(v) is not None for v in filled)
    ]
    categorical = [f for f in fields if f not in numeric]

    def matrix(rows: list[dict]) -> np.ndarray:
        out = np.empty((len(rows), len(fields)), dtype=object)
        for i, r in enumerate(rows):
            c = r.get("row", r)
            for j, f in enumerate(numeric):
                out[i, j] = np.nan if as_number(c.get(f)) is None else as_number(c.get(f))
            for j, f in enumerate(categorical, len(numeric)):
                out[i, j] = "(missing)" if blank(c.get(f)) else str(c.get(f))
        return out

    numbers = make_pipeline(
        SimpleImputer(strategy="mean", keep_empty_features=True), StandardScaler()
    )
    encoder = OneHotEncoder(
        handle_unknown="infrequent_if_exist", max_categories=max_categories, dtype=np.float64
    )
    columns = ColumnTransformer(
        [
            ("numeric", numbers, list(range(len(numeric)))),
            ("categorical", encoder, list(range(len(numeric), len(fields)))),
        ],
        sparse_threshold=1.0,
    )
    columns.fit(matrix(fit_rows))
    return columns.transform(matrix(rows)).toarray()


@pytest.mark.parametrize("max_categories", [50, 5])
def test_features_are_the_column_transformers_of_the_cells(max_categories: int) -> None:
    fit_rows, new_rows = _messy_rows(2000, 0), _messy_rows(300, 9)
    new_rows += [{"row": {"amount": "n/a", "count": True, "shop": "never seen", "rate": "inf"}}]
    f = TableFeaturizer(max_categories=max_categories)
    X = f.fit_transform(fit_rows).toarray()
    assert f.numeric_ == ("amount", "count", "rate")
    assert np.allclose(X, _reference(fit_rows, fit_rows, max_categories), atol=1e-12)
    Y = f.transform(new_rows).toarray()
    assert np.allclose(Y, _reference(fit_rows, new_rows, max_categories), atol=1e-12)


def test_cells_are_read_a_column_at_a_time_not_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading each cell as a number in Python (twice: to tell the field's kind, then for the
    matrix) made the first round of a 384,000-row project take minutes; whole columns are now
    read by NumPy, and a cell is looked at alone only to give up early on a column of words."""
    from labelloop.kinds import as_number
    from labelloop.learn import tabular

    calls = [0]

    def counted(value: object) -> float | None:
        calls[0] += 1
        return as_number(value)

    monkeypatch.setattr(tabular, "as_number", counted)
    rng = np.random.default_rng(0)
    rows = [
        {"row": {"a": f"{x:.3f}", "b": int(x * 10), "c": f"k{int(x * 7) % 5}", "d": ""}}
        for x in rng.random(5000)
    ]
    f = TableFeaturizer().fit(rows)
    f.transform(rows)
    assert (f.numeric_, f.categorical_) == (("a", "b"), ("c", "d"))
    assert calls[0] <= 4  # one first cell per field, not 5,000 rows × 4 fields
