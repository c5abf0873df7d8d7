"""Featurizers: raw item payloads in, a feature matrix the model and the strategies read out."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix, issparse
from scipy.sparse import hstack as sparse_hstack
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer

from labelloop.errors import LabelloopError, SchemaError
from labelloop.learn.registry import Registry

SMALL_CORPUS = 50
"""Below this many documents a ``min_df`` above 1 would throw most of the vocabulary away."""


@runtime_checkable
class Featurizer(Protocol):
    """A scikit-learn transformer over raw payloads, with a version string for the feature cache.

    Optional class attributes: ``cache_per_item = True`` when each row depends on its own payload
    only and is costly (a pretrained encoder), so rows are computed once per item and kept on disk
    under the version; ``requires`` (import names of optional packages) and ``install_hint`` (the
    command that installs them), checked without importing by :func:`missing_requirement`;
    ``reads`` (the data types whose payloads it understands, e.g. ``("text", "html")``; any when
    absent), checked when a project is created; ``parts`` for a
    :class:`StackedFeaturizer`.
    """

    version: str

    def fit(self, payloads: Sequence[Mapping[str, Any]]) -> Self: ...

    def transform(self, payloads: Sequence[Mapping[str, Any]]) -> NDArray[Any] | csr_matrix: ...


FEATURIZERS: Registry[Featurizer] = Registry("featurizer", "featurizers")
"""Registry of featurizer classes by name; built-ins register exactly as plug-ins do."""

register_featurizer = FEATURIZERS.register_as
"""Class decorator factory: ``@register_featurizer(name)`` adds a class to :data:`FEATURIZERS`."""


def make_featurizer(name: str = "tfidf") -> Featurizer:
    """Build the registered featurizer called ``name`` with its default parameters.

    Raises
    ------
    SchemaError
        When no featurizer of that name is registered; the message lists the known ones.
    """
    return FEATURIZERS.make(name)


def parts_of(name: str) -> tuple[str, ...]:
    """The registered featurizers whose rows the featurizer ``name`` puts side by side.

    A :class:`StackedFeaturizer` lists them in its class attribute ``parts``; any other
    featurizer is its own one part.

    Raises
    ------
    SchemaError
        When ``name`` is not registered (the message lists the known featurizers), or a
        stacked featurizer's parts are not registered, are stacked themselves, or more than
        one of them caches per item (its embeddings could not be counted as one).
    """
    parts = getattr(FEATURIZERS.lookup(name), "parts", None)
    return _checked_parts(f"featurizer '{name}'", parts) if parts else (name,)


def _checked_parts(owner: str, parts: Sequence[str]) -> tuple[str, ...]:
    unknown = [p for p in parts if p not in FEATURIZERS]
    if unknown:
        raise SchemaError(f"{owner}: parts not registered: {', '.join(unknown)}")
    stacked = [p for p in parts if getattr(FEATURIZERS[p], "parts", None)]
    if stacked:
        raise SchemaError(f"{owner}: parts cannot be stacked themselves: {', '.join(stacked)}")
    cached = [p for p in parts if getattr(FEATURIZERS[p], "cache_per_item", False)]
    if len(cached) > 1:
        raise SchemaError(f"{owner}: at most one part may cache per item; {', '.join(cached)} do")
    return tuple(parts)


def missing_requirement(name: str) -> str | None:
    """Why the featurizer registered as ``name`` cannot run here, or ``None`` when it can.

    A featurizer that needs optional packages lists their import names in a class attribute
    ``requires`` and the command that installs them in ``install_hint``; a stacked featurizer
    needs those and what each of its parts needs. Nothing is imported.
    """
    for part in dict.fromkeys((name, *parts_of(name))):
        cls = FEATURIZERS[part]
        modules = getattr(cls, "requires", ())
        if not all(importlib.util.find_spec(m) is not None for m in modules):
            hint = getattr(cls, "install_hint", "its optional packages")
            return f"featurizer '{name}' needs: {hint}"
    return None


def reads(name: str) -> tuple[str, ...] | None:
    """The data types whose payloads the featurizer ``name`` understands; ``None``: any.

    From the class attribute ``reads``; a stacked featurizer reads what all of its parts read.
    """
    kinds: tuple[str, ...] | None = None
    for part in parts_of(name):
        own = getattr(FEATURIZERS[part], "reads", None)
        if own is not None:
            kinds = tuple(own) if kinds is None else tuple(k for k in kinds if k in own)
    return kinds


def require_modules(name: str, modules: Sequence[str], install_hint: str) -> None:
    """Raise a :class:`LabelloopError` naming ``install_hint`` unless ``modules`` are importable."""
    if not all(importlib.util.find_spec(m) is not None for m in modules):
        raise LabelloopError(f"featurizer '{name}' needs: {install_hint}")


def per_item_part(name: str) -> str | None:
    """The featurizer whose rows, for ``name``, are computed once per item and kept on disk.

    ``name`` itself when it sets the class attribute ``cache_per_item = True`` (pretrained
    encoders); for a stacked featurizer, its part that does; ``None`` when rows are refitted
    with the corpus (TF-IDF, table). Stacked featurizers have at most one such part.
    """
    for part in parts_of(name):
        if getattr(FEATURIZERS[part], "cache_per_item", False):
            return part
    return None


def caches_per_item(name: str) -> bool:
    """Whether a featurizer's rows, or some of them, are worth a disk cache per item.

    True for pretrained encoders (class attribute ``cache_per_item = True``) and for stacked
    featurizers with such a part; corpus-fitted ones such as TF-IDF are recomputed with the
    items instead.
    """
    return per_item_part(name) is not None


def stack_columns(blocks: Sequence[NDArray[Any] | csr_matrix]) -> NDArray[Any] | csr_matrix:
    """Feature blocks of the same rows side by side: sparse when any block is, else dense.

    float32 when any block is: sentence embeddings come as float32, and a sparse copy of their
    384 columns takes 8 bytes per value in float32 against 12 in float64 (with its index).
    """
    if len(blocks) == 1:
        return blocks[0]
    dtype = np.float32 if any(b.dtype == np.float32 for b in blocks) else np.float64
    if any(issparse(b) for b in blocks):
        stacked = sparse_hstack([csr_matrix(b, dtype=dtype) for b in blocks], format="csr")
        return csr_matrix(stacked, dtype=dtype)
    return np.hstack([np.asarray(b, dtype=dtype) for b in blocks])


def leading_rows(X: NDArray[Any] | csr_matrix, n: int) -> NDArray[Any] | csr_matrix:
    """The first ``n`` rows of ``X``, sharing its memory: a view of a dense array, or a CSR
    matrix over a prefix of ``X``'s own arrays (a CSR slice would copy every stored value; for
    a pool of a million ``tfidf+minilm`` rows that is gigabytes each round). scipy still copies
    when the prefix holds under half of the stored values. For reading only: give it a
    canonical ``X`` (sorted indices, as the feature cache keeps), so nothing tidies it in
    place."""
    if issparse(X) and X.format == "csr":
        end = int(X.indptr[n])
        parts = (X.data[:end], X.indices[:end], X.indptr[: n + 1])
        return csr_matrix(parts, shape=(n, X.shape[1]), copy=False)
    return X[:n]


class StackedFeaturizer(BaseEstimator):
    """The rows of several registered featurizers side by side, one block of columns each.

    A subclass names its parts in the class attribute ``parts`` and registers itself; each part
    is built with its defaults, none may be stacked itself and at most one may cache per item
    (:func:`parts_of` checks). Side by side, a linear model weighs words (TF-IDF) and meaning
    (sentence embeddings) at once. Where the project's items are featurized,
    :class:`~labelloop.workflow.features.FeatureCache` computes the parts one by one, so a
    per-item part (embeddings) is cached on disk and shared with projects that use it alone,
    and joins them with :meth:`combine`, as :meth:`transform` does: override that to weigh the
    blocks.

    Parameters
    ----------
    part_params : mapping of str to mapping, optional
        Parameters for some parts, by part name, e.g. ``{"minilm": {"threads": 2}}``; the
        others keep their defaults.

    Attributes
    ----------
    featurizers_ : list
        The fitted parts, in the order of ``parts``.
    """

    parts: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, part_params: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.part_params = part_params

    @property
    def version(self) -> str:
        """The parts' versions joined by ``+``."""
        return "+".join(str(make_featurizer(p).version) for p in self.parts)

    @classmethod
    def combine(cls, blocks: Sequence[NDArray[Any] | csr_matrix]) -> NDArray[Any] | csr_matrix:
        """The parts' rows, in the order of ``parts``, as one matrix: :func:`stack_columns`."""
        return stack_columns(blocks)

    def fit(self, payloads: Sequence[Mapping[str, Any]]) -> Self:
        """Fit every part on ``payloads``.

        Returns
        -------
        self
        """
        self.featurizers_ = [f.fit(payloads) for f in self._made()]
        return self

    def transform(self, payloads: Sequence[Mapping[str, Any]]) -> NDArray[Any] | csr_matrix:
        """Every part's rows for ``payloads``, side by side.

        Returns
        -------
        csr_matrix or ndarray, shape (n_docs, total columns of the parts)
            Sparse when any part is.
        """
        return self.combine([f.transform(payloads) for f in self.featurizers_])

    def fit_transform(
        self, payloads: Sequence[Mapping[str, Any]], y: object = None
    ) -> NDArray[Any] | csr_matrix:
        """Fit every part and return their rows side by side, each part computed once."""
        self.featurizers_ = self._made()
        return self.combine([fit_rows(f, payloads) for f in self.featurizers_])

    def _made(self) -> list[Any]:
        """The parts, built with their defaults and ``part_params``."""
        made = []
        for name in _checked_parts(type(self).__qualname__, self.parts):
            featurizer: Any = make_featurizer(name)
            params = (self.part_params or {}).get(name)
            made.append(featurizer.set_params(**params) if params else featurizer)
        return made


def fit_rows(featurizer: Any, payloads: Sequence[Mapping[str, Any]]) -> Any:
    """Fit ``featurizer`` on ``payloads`` and return their rows, in one pass when it can."""
    if hasattr(featurizer, "fit_transform"):
        return featurizer.fit_transform(payloads)
    return featurizer.fit(payloads).transform(payloads)


@register_featurizer("tfidf")
class TfidfFeaturizer(BaseEstimator):
    """Word n-gram TF-IDF over one text field of each payload.

    Sublinear TF with L2-normalised rows is the strong linear-text baseline of Joachims (1998) and
    of Wang & Manning, "Baselines and Bigrams" (ACL 2012), which the default logistic regression
    of :mod:`labelloop.learn.model` is tuned for.

    Parameters
    ----------
    field : str
        Payload key that holds the text; a missing key or ``None`` reads as empty text.
    ngram_range : tuple of int
        Word n-gram lengths, as in :class:`~sklearn.feature_extraction.text.TfidfVectorizer`.
    min_df : int or float
        Minimum document frequency of a term. An integer above 1 is lowered to 1 when ``fit``
        sees fewer than ``SMALL_CORPUS`` documents, so tiny projects still get a vocabulary.
    max_features : int or None
        Keep only the most frequent terms, bounding memory on large pools.
    sublinear_tf : bool
        Use ``1 + log(tf)`` instead of raw counts.

    Attributes
    ----------
    vectorizer_ : TfidfVectorizer
        The fitted vectorizer.
    n_features_out_ : int
        Number of columns ``transform`` returns.
    """

    version: ClassVar[str] = "tfidf-1"
    reads: ClassVar[tuple[str, ...]] = ("text", "html")

    def __init__(
        self,
        *,
        field: str = "text",
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int | float = 2,
        max_features: int | None = 200_000,
        sublinear_tf: bool = True,
    ) -> None:
        self.field = field
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf

    def _texts(self, payloads: Sequence[Mapping[str, Any]]) -> list[str]:
        texts = []
        for payload in payloads:
            value = payload.get(self.field)
            texts.append("" if value is None else str(value))
        return texts

    def _vectorizer(self, n_docs: int, *, analyzer: str = "word") -> TfidfVectorizer:
        min_df = self.min_df
        if isinstance(min_df, int | np.integer) and min_df > 1 and n_docs < SMALL_CORPUS:
            min_df = 1
        ngram_range = tuple(self.ngram_range) if analyzer == "word" else (1, 3)
        return TfidfVectorizer(
            analyzer=analyzer,
            ngram_range=ngram_range,
            min_df=min_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
            dtype=np.float64,
        )

    def _fit(self, texts: list[str]) -> csr_matrix:
        # Texts of emoji, numbers or one-letter words have no word tokens; character n-grams
        # still tell them apart, so fall back to them rather than fail the whole project.
        for analyzer in ("word", "char_wb"):
            vectorizer = self._vectorizer(len(texts), analyzer=analyzer)
            try:
                X = vectorizer.fit_transform(texts)
            except ValueError:
                continue
            self.vectorizer_ = vectorizer
            self.n_features_out_ = X.shape[1]
            return csr_matrix(X)
        raise ValueError(
            f"cannot build features: the '{self.field}' field is empty in every one of "
            f"{len(texts)} payloads"
        )

    def fit(self, payloads: Sequence[Mapping[str, Any]]) -> Self:
        """Learn the vocabulary and IDF weights.

        Parameters
        ----------
        payloads : sequence of mapping, length n_docs
            Item payloads such as ``{"text": "..."}``.

        Returns
        -------
        self
        """
        self._fit(self._texts(payloads))
        return self

    def transform(self, payloads: Sequence[Mapping[str, Any]]) -> csr_matrix:
        """Map payloads to TF-IDF rows.

        Parameters
        ----------
        payloads : sequence of mapping, length n_docs

        Returns
        -------
        csr_matrix, shape (n_docs, n_features_out_)
        """
        return csr_matrix(self.vectorizer_.transform(self._texts(payloads)))

    def fit_transform(self, payloads: Sequence[Mapping[str, Any]], y: object = None) -> csr_matrix:
        """Fit and transform in one pass over the texts.

        Parameters
        ----------
        payloads : sequence of mapping, length n_docs
        y : ignored

        Returns
        -------
        csr_matrix, shape (n_docs, n_features_out_)
        """
        return self._fit(self._texts(payloads))
