"""Similarity scores that the texts, not only the features, vouch for."""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

from labelloop.learn.similarity import ALMOST_ONE, is_blank, told_apart, word_similarity


def test_rows_the_features_cannot_tell_apart_score_by_their_words() -> None:
    texts = ["refund platypus", "refund  platypus", "refund", "Refund, PLATYPUS!", "kettle"]
    scores = np.array([1.0, 1.0, 1.0, 1.0, 0.2])
    told = told_apart(scores, 0, texts.__getitem__)
    assert told[1] == 1.0  # the same text but for spacing
    assert told[2] == word_similarity(texts[0], texts[2]) < 0.75
    assert told[3] == ALMOST_ONE  # the same words, yet not the same text
    assert told[4] == 0.2  # scores below a tie are the features' own
    assert told[0] == 1.0 and scores[2] == 1.0  # the query row, and the input, untouched


def test_a_row_of_zeros_is_blank_sparse_or_dense() -> None:
    X = np.array([[0.0, 0.0], [0.3, 0.0]])
    assert is_blank(X, 0) and not is_blank(X, 1)
    assert is_blank(csr_matrix(X), 0) and not is_blank(csr_matrix(X), 1)
