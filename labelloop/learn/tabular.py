"""Table rows: numeric fields standardised, the other fields one-hot encoded.

The usual preprocessing for linear models on mixed tabular data (scikit-learn's
``ColumnTransformer`` with ``StandardScaler`` and ``OneHotEncoder``): a missing number is replaced
by the column mean before scaling, a missing category is a category of its own, and categories
never seen in ``fit`` (or rarer than the kept ones) fall into one "infrequent" column or none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cells(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """A table item's fields: its ``row`` (how table imports store them), else the payload."""
    row = payload.get("row")
    return row if isinstance(row, Mapping) else payload


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
    transformer_ : ColumnTransformer
    n_features_out_ : int
    """

    version: ClassVar[str] = "table-2"
    reads: ClassVar[tuple[str, ...]] = ("table",)

    def __init__(self, *, fields: tuple[str, ...] | None = None, max_categories: int = 50) -> None:
        self.fields = fields
        self.max_categories = max_categories

    def _fields(self, payloads: Sequence[Mapping[str, Any]]) -> list[str]:
        if self.fields is not None:
            return list(self.fields)
        seen: dict[str, None] = {}
        for payload in payloads:
            for key, value in _cells(payload).items():
                if value is None or isinstance(value, str | int | float | bool):
                    seen.setdefault(str(key), None)
        return sorted(seen)

    def _matrix(self, payloads: Sequence[Mapping[str, Any]]) -> NDArray[Any]:
        columns = list(self.numeric_) + list(self.categorical_)
        out = np.empty((len(payloads), len(columns)), dtype=object)
        n_numeric = len(self.numeric_)
        for i, payload in enumerate(payloads):
            cells = _cells(payload)
            for j, name in enumerate(columns):
                value = cells.get(name)
                if j < n_numeric:
                    number = as_number(value)
                    out[i, j] = np.nan if number is None else number
                else:
                    out[i, j] = MISSING_CATEGORY if _is_blank(value) else str(value)
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
        fields = self._fields(payloads)
        if not fields:
            raise ValueError(
                f"cannot build table features: no scalar fields in {len(payloads)} rows"
            )
        numeric: list[str] = []
        categorical: list[str] = []
        for name in fields:
            values = [v for p in payloads if not _is_blank(v := _cells(p).get(name))]
            is_number = bool(values) and all(as_number(v) is not None for v in values)
            (numeric if is_number else categorical).append(name)
        self.numeric_ = tuple(numeric)
        self.categorical_ = tuple(categorical)
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
        X = csr_matrix(self.transformer_.fit_transform(self._matrix(payloads)), dtype=np.float64)
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
