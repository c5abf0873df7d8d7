"""Table rows: numeric fields standardised, the other fields one-hot encoded.

The usual preprocessing for linear models on mixed tabular data (scikit-learn's
``ColumnTransformer`` with ``StandardScaler`` and ``OneHotEncoder``): a missing number is replaced
by the column mean before scaling, a missing category is a category of its own, and categories
never seen in ``fit`` (or rarer than the kept ones) fall into one "infrequent" column or none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from labelloop.kinds import as_number
from labelloop.learn.featurize import register_featurizer

MISSING_CATEGORY = "(missing)"


_ABSENT = object()
_SCALARS = (str, int, float, bool)
_PLAIN_NUMBERS = frozenset({str, int, float, type(None)})
"""Cell types NumPy reads as float() does; a bool is no number, so it takes the careful way."""


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cells(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """A table item's fields: its ``row`` (how table imports store them), else the payload."""
    row = payload.get("row")
    return row if isinstance(row, Mapping) else payload


def _numbers(values: list[Any], *, or_none: bool = False) -> NDArray[np.float64] | None:
    """The column as floats, NaN where a cell is blank or not a number as
    :func:`~labelloop.kinds.as_number` reads one; with ``or_none``, None instead when a
    non-blank cell is not a number (the column holds categories).

    Whole columns go through NumPy (float() on each cell, in C); a column NumPy refuses (a word,
    a bool) is read cell by cell, and with ``or_none`` one whose first filled cell is no number
    is given up at once."""
    if or_none:
        first = next((v for v in values if not _is_blank(v)), None)
        if first is not None and as_number(first) is None:
            return None
    if set(map(type, values)) <= _PLAIN_NUMBERS:
        cells = np.array(values, dtype=object)
        blank = np.equal(cells, None)
        for careful in (False, True):
            if careful:  # blank text too ("", spaces): imports store None, other callers may not
                blank = np.fromiter(map(_is_blank, values), dtype=bool, count=len(values))
            cells[blank] = np.nan
            try:
                out = cells.astype(np.float64)
            except (TypeError, ValueError, OverflowError):
                continue
            finite = np.isfinite(out)
            if not finite.all():  # blank, or "nan" / "inf" written out: not a number
                if or_none and not finite[~blank].all():
                    return None
                out[~finite] = np.nan
            return out
    out = np.empty(len(values))
    for i, v in enumerate(values):
        number = as_number(v)
        if number is None and or_none and not _is_blank(v):
            return None
        out[i] = np.nan if number is None else number
    return out


def _categories(values: list[Any]) -> list[str]:
    """The column as category names: the cell's text, or MISSING_CATEGORY when blank."""
    return [
        MISSING_CATEGORY
        if v is None or (v.__class__ is str and not v.strip())
        else (v if v.__class__ is str else str(v))
        for v in values
    ]


@register_featurizer("table")
class TableFeaturizer(BaseEstimator):
    """Standardised numeric fields and one-hot categorical fields of each payload.

    A field is numeric when every non-blank value in ``fit`` is a number or a string that reads
    as one (CSV cells are strings); any other scalar field is categorical. Fields are read from
    the payload's ``row`` (``{"row": {column: value}}``, as table imports store them), or from
    the payload itself when it has no ``row``.

    Parameters
    ----------
    fields : tuple of str or None
        Payload keys to use; ``None`` uses every key with scalar values seen in ``fit``.
    max_categories : int
        Most frequent categories kept per field; the rest share one column.

    Attributes
    ----------
    numeric_ : tuple of str
    categorical_ : tuple of str
    vocabularies_ : tuple of dict of str to int
        Per categorical field, each category seen in ``fit`` -> its index in sorted order.
    transformer_ : ColumnTransformer
        Over the numeric fields' floats, then the categorical fields' indices.
    n_features_out_ : int
    """

    version: ClassVar[str] = "table-2"
    reads: ClassVar[tuple[str, ...]] = ("table",)

    def __init__(self, *, fields: tuple[str, ...] | None = None, max_categories: int = 50) -> None:
        self.fields = fields
        self.max_categories = max_categories

    def _fields(self, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        if self.fields is not None:
            return list(self.fields)
        keys: set[Any] = set()
        for cells in rows:
            keys.update(cells)
        return sorted(
            str(key)
            for key in keys
            if any(
                (v := cells.get(key, _ABSENT)) is None or isinstance(v, _SCALARS) for cells in rows
            )
        )

    def _matrix(self, payloads: Sequence[Mapping[str, Any]]) -> NDArray[Any]:
        """The numeric fields as floats (NaN: blank), then the categorical ones as the index of
        their category in ``vocabularies_`` (-1: not seen in ``fit``), one column each."""
        rows = [_cells(p) for p in payloads]
        out = np.empty((len(rows), len(self.numeric_) + len(self.categorical_)))
        for j, name in enumerate(self.numeric_):
            out[:, j] = _numbers([cells.get(name) for cells in rows])
        if not hasattr(self, "vocabularies_"):  # fitted before categories were indices
            return self._old_matrix(out, rows)
        n_numeric = len(self.numeric_)
        for j, (name, vocabulary) in enumerate(
            zip(self.categorical_, self.vocabularies_, strict=True)
        ):
            names = _categories([cells.get(name) for cells in rows])
            out[:, n_numeric + j] = np.fromiter(
                map(vocabulary.get, names, repeat(-1)), np.float64, len(names)
            )
        return out

    def _old_matrix(self, numbers: NDArray[Any], rows: list[Mapping[str, Any]]) -> NDArray[Any]:
        """What a featurizer fitted by labelloop before ``vocabularies_`` reads (a model file
        exported then): numbers and category names in one object array."""
        out = np.empty((len(rows), numbers.shape[1]), dtype=object)
        out[:, : len(self.numeric_)] = numbers[:, : len(self.numeric_)]
        for j, name in enumerate(self.categorical_):
            out[:, len(self.numeric_) + j] = _categories([cells.get(name) for cells in rows])
        return out

    def fit(self, payloads: Sequence[Mapping[str, Any]]) -> Self:
        """Decide each field's kind, learn means, scales and categories.

        Parameters
        ----------
        payloads : sequence of mapping, length n_rows

        Returns
        -------
        self

        Raises
        ------
        ValueError
            When the payloads have no scalar field to build features from.
        """
        self._fit(payloads)
        return self

    def _fit(self, payloads: Sequence[Mapping[str, Any]]) -> csr_matrix:
        rows = [_cells(p) for p in payloads]
        fields = self._fields(rows)
        if not fields:
            raise ValueError(
                f"cannot build table features: no scalar fields in {len(payloads)} rows"
            )
        numeric: list[str] = []
        categorical: list[str] = []
        columns: list[NDArray[np.float64]] = []
        vocabularies: list[dict[str, int]] = []
        names: list[list[str]] = []
        for name in fields:
            values = [cells.get(name) for cells in rows]
            numbers = _numbers(values, or_none=True)
            if numbers is not None and not np.isnan(numbers).all():
                numeric.append(name)
                columns.append(numbers)
            else:
                categorical.append(name)
                names.append(_categories(values))
        # Categories become their index in sorted order, the order OneHotEncoder keeps for
        # strings, so its columns and its rare-category choice are the ones the names give;
        # encoding integers skips its slow per-object checks.
        for column in names:
            vocabulary = {c: i for i, c in enumerate(sorted(set(column)))}
            vocabularies.append(vocabulary)
            codes = np.fromiter(map(vocabulary.__getitem__, column), np.float64, len(column))
            columns.append(codes)
        self.numeric_ = tuple(numeric)
        self.categorical_ = tuple(categorical)
        self.vocabularies_ = tuple(vocabularies)
        parts: list[tuple[str, Any, list[int]]] = []
        if numeric:
            parts.append(
                (
                    "numeric",
                    make_pipeline(
                        SimpleImputer(strategy="mean", keep_empty_features=True), StandardScaler()
                    ),
                    list(range(len(numeric))),
                )
            )
        if categorical:
            parts.append(
                (
                    "categorical",
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist",
                        max_categories=self.max_categories,
                        dtype=np.float64,
                    ),
                    list(range(len(numeric), len(fields))),
                )
            )
        self.transformer_ = ColumnTransformer(parts, sparse_threshold=1.0)
        matrix = np.column_stack(columns) if columns else np.empty((len(rows), 0))
        X = csr_matrix(self.transformer_.fit_transform(matrix), dtype=np.float64)
        self.n_features_out_ = X.shape[1]
        return X

    def transform(self, payloads: Sequence[Mapping[str, Any]]) -> csr_matrix:
        """Map payloads to rows.

        Parameters
        ----------
        payloads : sequence of mapping, length n_rows

        Returns
        -------
        csr_matrix of shape (n_rows, n_features_out_)
        """
        if not payloads:
            return csr_matrix((0, self.n_features_out_), dtype=np.float64)
        return csr_matrix(self.transformer_.transform(self._matrix(payloads)), dtype=np.float64)

    def fit_transform(self, payloads: Sequence[Mapping[str, Any]], y: object = None) -> csr_matrix:
        """Fit and transform in one pass.

        Returns
        -------
        csr_matrix of shape (n_rows, n_features_out_)
        """
        return self._fit(payloads)
