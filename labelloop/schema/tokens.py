"""Tokens of a text with their character offsets, and spans as BIO tags over them and back.

One tokenizer for the whole of labelloop: the span model learns on these tokens, CoNLL files
are written with them, and predicted spans are snapped to them.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

OUTSIDE = "O"

Token = tuple[int, int]
"""A token as (start, end) character offsets, end exclusive."""

_MARK_BLOCKS = ((0x0300, 0x20000), (0xE0100, 0xE01F0))
"""Where Unicode puts its combining marks (accents, vowel signs, variation selectors)."""


def _marks() -> str:
    """A regular-expression class body of every combining mark (category M)."""
    ranges: list[str] = []
    for low, high in _MARK_BLOCKS:
        first = None
        for code in range(low, high + 1):
            mark = code < high and unicodedata.category(chr(code))[0] == "M"
            if mark and first is None:
                first = code
            elif not mark and first is not None:
                ranges.append(f"\\U{first:08x}-\\U{code - 1:08x}")
                first = None
    return "".join(ranges)


_JOINERS = r"\u200c\u200d"
"""Zero-width non-joiner and joiner: inside a word (Persian, Hindi) or between emoji."""
_EMOJI_EXTEND = r"\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f"
"""Skin-tone modifiers and the tag characters of subdivision flags (England's, Scotland's)."""
_REGIONAL_PAIR = r"[\U0001f1e6-\U0001f1ff]{2}"
"""Two regional indicators: one flag (🇫🇷)."""


@cache
def token_pattern() -> re.Pattern[str]:
    """A link, an @mention or #hashtag, a word (with inner apostrophes, as in "don't"), or one
    other character. A combining mark belongs to the character before it, as a reader sees
    it: "é" written as e and an accent, a Hindi vowel sign or an Arabic vowel mark stays in
    its word (Python's ``\\w`` has no marks), and an emoji keeps its variation selector. An
    emoji is one token as it is one character on screen: a flag's two letters, a skin tone,
    a sequence joined by zero-width joiners (👩‍👩‍👧, 🏳️‍🌈); a joiner or non-joiner inside a
    word stays in it (Persian's می‌خواهم). Built on first use: the marks are read from the
    Unicode database. The labeling page (spans.js) builds the same pattern."""
    marks = _marks()
    word = rf"[\w{marks}{_JOINERS}]"
    symbol = rf"(?:{_REGIONAL_PAIR}|[^\s\w{marks}{_JOINERS}])[{marks}{_EMOJI_EXTEND}]*"
    return re.compile(
        rf"https?://\S+|www\.\S+|[@#]{word}+|{word}+(?:['’]{word}+)*"
        rf"|{symbol}(?:\u200d(?:{symbol})?)*"
    )


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text`` as (start, end) character offsets, in order."""
    return [m.span() for m in token_pattern().finditer(text)]


def tag_set(labels: Sequence[str]) -> tuple[str, ...]:
    """Every BIO tag of a control's labels, in a fixed order: O, B-a, I-a, B-b, I-b, ..."""
    return (OUTSIDE, *(f"{p}-{label}" for label in labels for p in ("B", "I")))


def spans_to_tags(tokens: Sequence[Token], spans: Sequence[Mapping[str, Any]]) -> list[str]:
    """BIO tags of ``tokens`` for character-offset ``spans``, each snapped to the tokens it touches.

    A token belongs to a span when their characters overlap. Where spans overlap (controls that
    allow it), a token keeps the first span that claimed it, by start offset.
    """
    tags = [OUTSIDE] * len(tokens)
    starts = [s for s, _ in tokens]
    for span in sorted(spans, key=lambda s: (s["start"], s["end"])):
        first = True
        k = max(0, bisect_right(starts, span["start"]) - 1)
        while k < len(tokens) and tokens[k][0] < span["end"]:
            if tokens[k][1] > span["start"] and tags[k] == OUTSIDE:
                # a token already taken breaks the span; what follows still continues it
                tags[k] = f"{'B' if first else 'I'}-{span['label']}"
                first = False
            k += 1
    return tags


def tags_to_spans(
    tokens: Sequence[Token],
    tags: Sequence[str],
    *,
    scores: Sequence[float] | None = None,
) -> list[dict[str, Any]]:
    """Character-offset spans of BIO ``tags``; an I- tag that continues nothing starts a span.

    With ``scores`` (one per token: the probability of its tag) each span gets ``"score"``, the
    mean over its tokens, rounded to 4 places.
    """
    out: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    members: list[int] = []

    def close() -> None:
        if current is not None:
            if scores is not None:
                current["score"] = round(sum(scores[m] for m in members) / len(members), 4)
            out.append(current)

    for k, tag in enumerate(tags):
        prefix, _, label = tag.partition("-")
        if prefix == "I" and current is not None and current["label"] == label:
            current["end"] = tokens[k][1]
            members.append(k)
            continue
        close()
        current, members = None, []
        if prefix in ("B", "I") and label:
            current = {"start": tokens[k][0], "end": tokens[k][1], "label": label}
            members = [k]
    close()
    return out
