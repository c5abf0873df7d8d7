"""Text spans as token tags: tokenizing with offsets, BIO tags, a CRF tagger, token uncertainty.

A spans control is learned as sequence labeling (Lafferty et al., "Conditional Random Fields",
ICML 2001) over BIO tags (Ramshaw & Marcus 1995) with the standard CRF NER features of the
word and its neighbours. Items are ranked by token entropy, the mean (or max) entropy of the
per-token tag marginals (Settles & Craven, "An Analysis of Active Learning Strategies for
Sequence Labeling Tasks", EMNLP 2008).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator

from labelloop.schema.tokens import (
    OUTSIDE,
    Token,
    spans_to_tags,
    tag_set,
    tags_to_spans,
    token_pattern,
    tokenize,
)

__all__ = [
    "OUTSIDE",
    "CrfSpanModel",
    "TaggedText",
    "Token",
    "item_score",
    "rank_by_uncertainty",
    "span_f1",
    "spans_to_tags",
    "tag_indices",
    "tag_set",
    "tags_to_spans",
    "token_entropy",
    "token_features",
    "token_pattern",
    "tokenize",
    "uncertainty_selection",
    "unsure_reason",
]

UNSURE_BELOW = 0.75
"""A token whose most likely tag has less probability than this counts as unsure in reasons."""
SCORINGS = ("mean", "max")
"""How token entropies make an item's score: their mean (default) or their maximum."""
MAX_QUOTE = 30


def _shape(word: str) -> str:
    """Word shape with runs collapsed: "Portland" -> "Xx", "COVID-19" -> "X-d"."""
    out: list[str] = []
    for ch in word:
        c = "X" if ch.isupper() else "x" if ch.islower() else "d" if ch.isdigit() else ch
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)[:8]


def _word_features(word: str, prefix: str) -> dict[str, Any]:
    return {
        f"{prefix}lower": word.lower(),
        f"{prefix}shape": _shape(word),
        f"{prefix}title": word.istitle(),
        f"{prefix}upper": word.isupper(),
    }


def token_features(words: Sequence[str], i: int) -> dict[str, Any]:
    """CRF features of token ``i``: the word, its shape and affixes, and its neighbours +-2."""
    word = words[i]
    feats: dict[str, Any] = {
        "bias": 1.0,
        **_word_features(word, ""),
        "prefix3": word[:3].lower(),
        "suffix3": word[-3:].lower(),
        "suffix2": word[-2:].lower(),
        "digit": word.isdigit(),
        "has_digit": any(c.isdigit() for c in word),
        "mention": word.startswith("@"),
        "hashtag": word.startswith("#"),
    }
    for offset in (-2, -1, 1, 2):
        j = i + offset
        if 0 <= j < len(words):
            feats.update(_word_features(words[j], f"{offset:+d}:"))
        else:
            feats[f"{offset:+d}:edge"] = True
    return feats


def text_features(text: str) -> tuple[list[Token], list[dict[str, Any]]]:
    """The tokens of ``text`` and the CRF features of each."""
    tokens = tokenize(text)
    words = [text[s:e] for s, e in tokens]
    return tokens, [token_features(words, i) for i in range(len(words))]


@dataclass(frozen=True)
class TaggedText:
    """One text's tokens with the model's tag probabilities and best tag sequence.

    ``marginals`` has shape (n_tokens, n_tags), columns in the order of ``CrfSpanModel.tags_``.
    """

    tokens: list[Token]
    marginals: NDArray[np.float64]
    tags: list[str]
    tag_names: tuple[str, ...]

    def spans(self) -> list[dict[str, Any]]:
        """The predicted spans, each with the mean probability of its tags as ``score``."""
        column = {t: j for j, t in enumerate(self.tag_names)}
        probs = [float(self.marginals[k, column[t]]) for k, t in enumerate(self.tags)]
        return tags_to_spans(self.tokens, self.tags, scores=probs)


class CrfSpanModel(BaseEstimator):
    """A linear-chain CRF over BIO tags of a spans control (``sklearn-crfsuite``).

    Parameters
    ----------
    labels : sequence of str
        The control's span labels; they fix the tag columns of every prediction.
    c1, c2 : float
        L1 and L2 regularization of the L-BFGS training.
    max_iterations : int

    Attributes
    ----------
    tags_ : tuple of str
        ``tag_set(labels)``: the columns of ``TaggedText.marginals``.
    crf_ : sklearn_crfsuite.CRF
    """

    def __init__(
        self,
        *,
        labels: Sequence[str] = (),
        c1: float = 0.1,
        c2: float = 0.05,
        max_iterations: int = 100,
    ) -> None:
        self.labels = labels
        self.c1 = c1
        self.c2 = c2
        self.max_iterations = max_iterations

    def fit(
        self, texts: Sequence[str], spans: Sequence[Sequence[Mapping[str, Any]]]
    ) -> CrfSpanModel:
        """Train on ``texts`` and their gold ``spans`` (character offsets)."""
        import sklearn_crfsuite

        if len(texts) != len(spans):
            raise ValueError(f"{len(texts)} texts but {len(spans)} span lists")
        self.tags_ = tag_set(self.labels)
        X, y = [], []
        for text, gold in zip(texts, spans, strict=True):
            tokens, feats = text_features(text)
            if tokens:
                X.append(feats)
                y.append(spans_to_tags(tokens, gold))
        self.crf_ = sklearn_crfsuite.CRF(
            algorithm="lbfgs",
            c1=self.c1,
            c2=self.c2,
            max_iterations=self.max_iterations,
            all_possible_transitions=True,
        )
        self.crf_.fit(X, y)
        return self

    def _marginals(self, feats: list[dict[str, Any]]) -> NDArray[np.float64]:
        """Tag probabilities of one text's tokens, shape (n_tokens, n_tags)."""
        column = {t: j for j, t in enumerate(self.tags_)}
        marginals = np.zeros((len(feats), len(self.tags_)))
        if feats:
            for k, probs in enumerate(self.crf_.predict_marginals_single(feats)):
                for tag, p in probs.items():
                    if tag in column:
                        marginals[k, column[tag]] = p
        return marginals

    def tag(self, texts: Sequence[str]) -> list[TaggedText]:
        """Tag probabilities and best tag sequence of each text."""
        out = []
        for text in texts:
            tokens, feats = text_features(text)
            best: list[str] = []
            if tokens:
                known = set(self.tags_)
                best = [t if t in known else OUTSIDE for t in self.crf_.predict_single(feats)]
            out.append(
                TaggedText(
                    tokens=tokens,
                    marginals=self._marginals(feats),
                    tags=best,
                    tag_names=self.tags_,
                )
            )
        return out

    def uncertainty(self, texts: Sequence[str], how: str = "mean") -> NDArray[np.float64]:
        """Each text's mean (or max) token entropy, shape (n,); one text at a time, so memory
        stays flat however many texts are scored."""
        return np.fromiter(
            (item_score(self._marginals(text_features(text)[1]), how) for text in texts),
            dtype=np.float64,
            count=len(texts),
        )


def token_entropy(marginals: NDArray[np.floating]) -> NDArray[np.float64]:
    """Shannon entropy (nats) of each token's tag distribution.

    Parameters
    ----------
    marginals : ndarray of shape (n_tokens, n_tags)

    Returns
    -------
    ndarray of shape (n_tokens,)
    """
    p = np.clip(np.asarray(marginals, dtype=np.float64), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0.0)
    return terms.sum(axis=1)


def item_score(marginals: NDArray[np.floating], how: str = "mean") -> float:
    """An item's uncertainty: the mean (or max) token entropy; 0.0 for a text without tokens."""
    if how not in SCORINGS:
        raise ValueError(f"unknown span scoring {how!r}; use one of {', '.join(SCORINGS)}")
    h = token_entropy(marginals)
    if h.size == 0:
        return 0.0
    return float(h.mean() if how == "mean" else h.max())


def unsure_reason(text: str, tagged: TaggedText) -> str:
    """Why the item was picked: the most uncertain token and its two likeliest tags."""
    if not tagged.tokens:
        return "no words to tag"
    h = token_entropy(tagged.marginals)
    k = int(h.argmax())
    order = np.argsort(-tagged.marginals[k])
    first, second = int(order[0]), int(order[1]) if order.shape[0] > 1 else int(order[0])
    names = tagged.tag_names
    start, end = tagged.tokens[k]
    word = text[start:end]
    if len(word) > MAX_QUOTE:
        word = word[: MAX_QUOTE - 1] + "…"
    top = tagged.marginals.max(axis=1)
    others = int((top < UNSURE_BELOW).sum()) - int(top[k] < UNSURE_BELOW)
    sentence = (
        f"model unsure about '{word}' ({names[first]} {tagged.marginals[k, first]:.2f} "
        f"vs {names[second]} {tagged.marginals[k, second]:.2f})"
    )
    if others > 0:
        sentence += f" and {others} other token{'s' if others != 1 else ''}"
    return sentence


def span_f1(
    truth: Sequence[Sequence[Mapping[str, Any]]],
    predicted: Sequence[Sequence[Mapping[str, Any]]],
) -> dict[str, float]:
    """Span-level micro precision, recall and F1 with exact matching (CoNLL-2003 style).

    A predicted span counts only when its start, end and label all equal a true span's.
    """
    n_true = n_pred = hits = 0
    for gold, guess in zip(truth, predicted, strict=True):
        g = {(s["start"], s["end"], s["label"]) for s in gold}
        p = {(s["start"], s["end"], s["label"]) for s in guess}
        n_true += len(g)
        n_pred += len(p)
        hits += len(g & p)
    precision = hits / n_pred if n_pred else 0.0
    recall = hits / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    if not n_true and not n_pred:
        precision = recall = f1 = 1.0  # nothing to find and nothing found
    return {"span_precision": precision, "span_recall": recall, "span_f1": f1}


def tag_indices(tagged: Sequence[TaggedText]) -> NDArray[np.int64]:
    """The best tags of several texts as one vector of tag indices (for stop-set agreement)."""
    found: list[int] = []
    for one in tagged:
        column = {t: j for j, t in enumerate(one.tag_names)}
        found.extend(column[t] for t in one.tags)
    return np.asarray(found, dtype=np.int64)


def uncertainty_selection(
    texts: Sequence[str], tagged: Sequence[TaggedText], size: int, *, how: str = "mean"
) -> tuple[NDArray[np.intp], NDArray[np.float64], tuple[str, ...]]:
    """The ``size`` most uncertain texts, best first: (rows, scores, reasons).

    Parameters
    ----------
    texts : sequence of str, length n
    tagged : sequence of TaggedText, length n
        ``CrfSpanModel.tag`` of ``texts``.
    size : int
    how : {"mean", "max"}
        Token entropies per item are averaged (Settles & Craven's TE normalised by length) or
        their maximum taken.

    Returns
    -------
    rows : ndarray of shape (k,)
        Positions in ``texts``, highest score first (ties: earlier position first).
    scores : ndarray of shape (k,)
    reasons : tuple of str, length k
    """
    scores = np.array([item_score(t.marginals, how) for t in tagged], dtype=np.float64)
    k = max(0, min(size, scores.shape[0]))
    rows = np.argsort(-scores, kind="stable")[:k].astype(np.intp)
    reasons = tuple(unsure_reason(texts[r], tagged[r]) for r in rows)
    return rows, scores[rows], reasons


def rank_by_uncertainty(
    model: CrfSpanModel, texts: Sequence[str], size: int, *, how: str = "mean"
) -> tuple[NDArray[np.intp], NDArray[np.float64], list[TaggedText], tuple[str, ...]]:
    """The ``size`` texts the model is least sure of, best first, tagged and explained.

    Every text is scored with :meth:`CrfSpanModel.uncertainty` (flat memory); only the picked
    ones are tagged in full, for their predicted spans and reasons.

    Returns
    -------
    rows : ndarray of shape (k,)
        Positions in ``texts``, highest score first (ties: earlier position first).
    scores : ndarray of shape (k,)
    tagged : list of TaggedText, length k
    reasons : tuple of str, length k
    """
    scores = model.uncertainty(texts, how)
    k = max(0, min(size, scores.shape[0]))
    rows = np.argsort(-scores, kind="stable")[:k].astype(np.intp)
    tagged = model.tag([texts[r] for r in rows])
    reasons = tuple(unsure_reason(texts[r], t) for r, t in zip(rows, tagged, strict=True))
    return rows, scores[rows], tagged, reasons
