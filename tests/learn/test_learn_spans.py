"""The span model: tokens with offsets, BIO tags and back, a CRF's token uncertainty, span F1."""

from __future__ import annotations

import math

import numpy as np
import pytest

from labelloop.learn.spans import (
    CrfSpanModel,
    item_score,
    rank_by_uncertainty,
    span_f1,
    spans_to_tags,
    tag_set,
    tags_to_spans,
    token_entropy,
    tokenize,
    uncertainty_selection,
    unsure_reason,
)


def _words(text: str) -> list[str]:
    return [text[s:e] for s, e in tokenize(text)]


def test_tokens_keep_offsets_words_links_mentions_and_punctuation() -> None:
    text = "@ana didn't see Paris, https://x.io/a?b=1 #fun!"
    assert _words(text) == [
        "@ana",
        "didn't",
        "see",
        "Paris",
        ",",
        "https://x.io/a?b=1",
        "#fun",
        "!",
    ]
    assert tokenize("  a  bc")[1] == (5, 7)


def test_a_combining_mark_stays_with_the_character_before_it() -> None:
    # An accent written as its own character, Hindi vowel signs and viramas, Arabic vowel marks:
    # each word is one token, not a piece per mark (Python's \\w has no marks).
    assert _words("Jose\u0301 Marti\u0301, हिन्दी भाषा مُحَمَّد") == [
        "Jose\u0301",
        "Marti\u0301",
        ",",
        "हिन्दी",
        "भाषा",
        "مُحَمَّد",
    ]
    # A symbol keeps its variation selector and keycap; a mark after a space starts a word.
    assert _words("❤\ufe0f 1\ufe0f\u20e3 \u0301a!") == ["❤\ufe0f", "1\ufe0f\u20e3", "\u0301a", "!"]


def test_spans_become_bio_tags_snapped_to_tokens_and_back() -> None:
    text = "New York and Lagos"
    tokens = tokenize(text)
    spans = [{"start": 0, "end": 8, "label": "city"}, {"start": 13, "end": 15, "label": "city"}]
    tags = spans_to_tags(tokens, spans)
    assert tags == ["B-city", "I-city", "O", "B-city"]  # "La" snaps to the whole "Lagos"
    assert tags_to_spans(tokens, tags) == [
        {"start": 0, "end": 8, "label": "city"},
        {"start": 13, "end": 18, "label": "city"},
    ]


def test_i_without_b_starts_a_span_and_a_new_label_ends_one() -> None:
    tokens = tokenize("a b c d e")
    tags = ["I-x", "I-x", "I-y", "O", "I-x"]
    assert [(s["start"], s["end"], s["label"]) for s in tags_to_spans(tokens, tags)] == [
        (0, 3, "x"),
        (4, 5, "y"),
        (8, 9, "x"),
    ]
    scored = tags_to_spans(tokens, tags, scores=[0.9, 0.7, 0.5, 1.0, 0.25])
    assert [s["score"] for s in scored] == [0.8, 0.5, 0.25]


def test_overlapping_spans_leave_each_token_to_the_first() -> None:
    tokens = tokenize("one two three four")
    spans = [
        {"start": 0, "end": 13, "label": "a"},
        {"start": 4, "end": 18, "label": "b"},
    ]
    assert spans_to_tags(tokens, spans) == ["B-a", "I-a", "I-a", "B-b"]


def test_tag_set_is_fixed_by_the_labels() -> None:
    assert tag_set(["city", "person"]) == ("O", "B-city", "I-city", "B-person", "I-person")


def test_token_entropy_and_item_scores() -> None:
    marginals = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    h = token_entropy(marginals)
    assert h == pytest.approx([0.0, math.log(2), math.log(3)])
    assert item_score(marginals, "mean") == pytest.approx((math.log(2) + math.log(3)) / 3)
    assert item_score(marginals, "max") == pytest.approx(math.log(3))
    assert item_score(np.zeros((0, 3))) == 0.0
    with pytest.raises(ValueError, match="unknown span scoring"):
        item_score(marginals, "sum")


CITIES = ["Paris", "Lagos", "Quito", "Oslo", "Hanoi", "Lima"]


def _train() -> tuple[list[str], list[list[dict[str, object]]]]:
    texts, spans = [], []
    for i, city in enumerate(CITIES * 3):
        text = f"we flew to {city} on day {i}"
        texts.append(text)
        spans.append([{"start": 11, "end": 11 + len(city), "label": "city"}])
    return texts, spans


@pytest.fixture(scope="module")
def crf() -> CrfSpanModel:
    texts, spans = _train()
    return CrfSpanModel(labels=("city", "person")).fit(texts, spans)


def test_the_crf_learns_the_pattern_and_scores_its_spans(crf: CrfSpanModel) -> None:
    (tagged,) = crf.tag(["we flew to Accra on day 9"])
    assert tagged.marginals.shape == (7, 5)
    assert tagged.marginals.sum(axis=1) == pytest.approx(np.ones(7))
    (span,) = tagged.spans()
    assert (span["start"], span["end"], span["label"]) == (11, 16, "city")
    assert 0.5 < span["score"] <= 1.0


def test_token_entropy_ranks_an_unfamiliar_text_above_a_familiar_one(crf: CrfSpanModel) -> None:
    texts = [
        "we flew to Paris on day 3",
        "Zorblat quux Flim Zeta glorp",
        "we flew to Lima on day 5",
    ]
    tagged = crf.tag(texts)
    rows, scores, reasons = uncertainty_selection(texts, tagged, 3)
    assert rows[0] == 1
    assert list(scores) == sorted(scores, reverse=True)
    by_hand = [float(np.mean(token_entropy(t.marginals))) for t in tagged]
    assert scores == pytest.approx([by_hand[r] for r in rows])
    assert reasons[0].startswith("model unsure about '")
    assert uncertainty_selection(texts, tagged, 1)[0].tolist() == [1]


def test_the_reason_names_the_most_uncertain_token_and_its_two_tags() -> None:
    class Tagged:
        tokens = tokenize("to Portland now ok")
        marginals = np.array(
            [
                [0.97, 0.01, 0.01, 0.01, 0.0],
                [0.38, 0.41, 0.11, 0.1, 0.0],
                [0.6, 0.2, 0.1, 0.1, 0.0],
                [0.7, 0.1, 0.1, 0.1, 0.0],
            ]
        )
        tags = ["O", "B-loc", "O", "O"]
        tag_names = ("O", "B-loc", "I-loc", "B-org", "I-org")

    reason = unsure_reason("to Portland now ok", Tagged())  # type: ignore[arg-type]
    assert reason == "model unsure about 'Portland' (B-loc 0.41 vs O 0.38) and 2 other tokens"


def test_span_f1_counts_exact_matches_only() -> None:
    truth = [[{"start": 0, "end": 4, "label": "a"}, {"start": 5, "end": 9, "label": "b"}], []]
    guess = [[{"start": 0, "end": 4, "label": "a"}, {"start": 5, "end": 8, "label": "b"}], []]
    got = span_f1(truth, guess)
    assert got["span_precision"] == pytest.approx(0.5)
    assert got["span_recall"] == pytest.approx(0.5)
    assert got["span_f1"] == pytest.approx(0.5)
    assert span_f1([[]], [[]])["span_f1"] == 1.0
    assert span_f1(truth, [[], []])["span_f1"] == 0.0


def test_ranking_by_scores_alone_picks_what_full_tagging_picks(crf: CrfSpanModel) -> None:
    texts = [f"we flew to {c} on day {i}" for i, c in enumerate(["Accra", "Lima", "x"])] + [
        "Zorblat quux Flim",
        "",
    ]
    rows, scores, tagged, reasons = rank_by_uncertainty(crf, texts, 4, how="max")
    full_rows, full_scores, full_reasons = uncertainty_selection(
        texts, crf.tag(texts), 4, how="max"
    )
    assert rows.tolist() == full_rows.tolist()
    assert scores == pytest.approx(full_scores)
    assert reasons == full_reasons
    assert [t.tokens for t in tagged] == [tokenize(texts[r]) for r in rows]
    assert crf.uncertainty([""]).tolist() == [0.0]
