"""The query language of every search by words (the pool search, the Items page, My answers):
whole words, ``refund*`` prefixes and "quoted phrases".

A query is terms separated by spaces, and an item matches when it holds every term, in any
case (accents count: ``café`` is not ``cafe``). A term matches whole words only (``cat`` does not
find ``category``); a trailing ``*`` makes it a prefix (``refund*`` finds ``refunds`` and
``refunded``); a quoted phrase matches its words in that order with only spaces or punctuation
between them. A word character is a letter, a digit, ``_`` or a combining mark (so a Devanagari
vowel sign does not end a word). A term written in a script that does not set its words apart
with spaces (Chinese, Japanese, Thai, Lao, Khmer, Myanmar, Tibetan) or glues particles to its
words (Korean) matches anywhere, as a part of a word.

Matching runs in the database (:func:`labelloop.store.browse.holds_terms`): a regular
expression built here, PostgreSQL's own (``~`` over ``lower()``) or Python's (a function
registered on each SQLite connection, handed the term as :func:`sql_term` writes it), both
with the same word characters; a table row's fields are matched in Python with the same
expression. An index narrows the items the expression reads first (on SQLite an FTS5 table
of :func:`index_words`, queried by :func:`index_query`; on PostgreSQL a GIN index of each
item's words, :mod:`labelloop.store.wordindex`), and never decides a match alone.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from labelloop.errors import LabelloopError

MAX_TERMS = 8
MAX_TERM_CHARS = 100
SYNTAX = (
    'whole words in any case; refund* for words starting with refund; "refund request" for a '
    "phrase; Chinese, Japanese, Korean or Thai words match anywhere"
)
"""The query syntax in one line, as the search page, the CLI's help and errors say it."""
FILE_SYNTAX = (
    "whole words of each file's path, its folders and its name, in any case: beach finds "
    'beach/img_04.jpg, not beaches; img* for words starting with img; img_04 or "img 04" for '
    "words in a row; Chinese, Japanese, Korean or Thai words match anywhere in a name"
)
"""The same for an image or audio project, whose search reads its files' paths."""

_UNSPACED = (
    (0x0E00, 0x0FFF),  # Thai, Lao, Tibetan
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer symbols
    (0x2E80, 0x2FDF),  # CJK and Kangxi radicals
    (0x3040, 0x31FF),  # Hiragana, Katakana, Bopomofo, Hangul compatibility Jamo, ...
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),  # Hangul Jamo extended-A
    (0xAC00, 0xD7FF),  # Hangul syllables, Jamo extended-B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFFDC),  # halfwidth Katakana and Hangul
    (0x20000, 0x3FFFF),  # CJK extensions B and after
)
"""Scripts whose words are not set apart by spaces (or, Korean, carry their particles)."""


@dataclass(frozen=True)
class Term:
    """One thing an item must hold: ``words`` (one, or a phrase's), lower case.

    ``prefix``: the last word may go on (``refund*``); ``anywhere``: matched as a plain
    substring (a script without spaces between its words).
    """

    words: tuple[str, ...]
    prefix: bool = False
    anywhere: bool = False

    @property
    def text(self) -> str:
        """The term as a substring every match contains (the phrase's words spaced once)."""
        return " ".join(self.words)


_QUOTE_CHARS = '"“”„«»'
_TOKEN = re.compile(
    f"[{_QUOTE_CHARS}]([^{_QUOTE_CHARS}]*)[{_QUOTE_CHARS}]?|([^\\s{_QUOTE_CHARS}]+)"
)
"""A quoted phrase (the plain quote, or what a keyboard's autocorrect types; an opening quote
without its closing one quotes the rest of the query), or a word."""


def parse_query(q: str, *, files: bool = False) -> tuple[Term, ...]:
    """The terms of a query, at most ``MAX_TERMS`` of at most ``MAX_TERM_CHARS`` characters.

    Raises ``LabelloopError`` for a query with no term, or a ``*`` that ends no word; ``files``:
    the query searches files' paths (an image or audio project), as that error explains it.
    """
    terms: list[Term] = []
    for found in _TOKEN.finditer(q):
        phrase, word = found.groups()
        term = _term((phrase or "").split() if word is None else [word], files=files)
        if term is not None:
            terms.append(term)
        if len(terms) == MAX_TERMS:
            break
    if not terms:
        raise LabelloopError("type a word to search for")
    return tuple(terms)


def _term(words: list[str], *, files: bool) -> Term | None:
    if not words:
        return None
    text = " ".join(words)[:MAX_TERM_CHARS].lower()
    stars = len(text) - len(text.rstrip("*"))
    text = text.rstrip("*").rstrip()
    if not text:
        raise LabelloopError(
            "a * ends a word: img* finds img, imgs and img2 (" + FILE_SYNTAX + ")"
            if files
            else "a * ends a word: refund* finds refund, refunds and refunded (" + SYNTAX + ")"
        )
    anywhere = any(_unspaced(c) for c in text)
    return Term(words=tuple(text.split(" ")), prefix=stars > 0 and not anywhere, anywhere=anywhere)


def _unspaced(c: str) -> bool:
    code = ord(c)
    return any(low <= code <= high for low, high in _UNSPACED)


@cache
def _mark_ranges() -> str:
    """Every combining mark (Unicode category M) as character-class ranges, ``\\uXXXX`` escaped
    (both regular expression dialects read them)."""
    ranges: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code))[0] == "M":
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "".join(_esc(a) if a == b else f"{_esc(a)}-{_esc(b)}" for a, b in ranges)


def _esc(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def in_file_names(terms: tuple[Term, ...]) -> tuple[Term, ...]:
    """``terms`` as a file's path is searched by: ``_`` parts words there (``cat_01.png`` holds
    the words ``cat`` and ``01``), so a term's ``_`` does too (``cat_01`` is the phrase ``cat
    01``); the path is matched with its ``_`` read as spaces."""
    found = []
    for term in terms:
        words = tuple(part for w in term.words for part in w.split("_") if part)
        if words:  # a term of only "_" asks nothing of a name
            found.append(Term(words=words, prefix=term.prefix, anywhere=term.anywhere))
    return tuple(found)


@cache
def _not_words() -> re.Pattern[str]:
    """A run of characters beyond ASCII that are not word characters (emoji, curly quotes,
    no-break spaces, CJK punctuation): the index's tokenizer would take them as letters."""
    return re.compile("[^\\x00-\\x7f\\w" + _mark_ranges() + "]+")


_ASCII_SEPARATORS = re.compile("[^0-9A-Za-z\\x80-\\U0010ffff]+")
"""What FTS5's ``ascii`` tokenizer parts tokens at: every ASCII character but letters and
digits (``_`` too); every character beyond ASCII is part of a token."""


def index_words(*texts: object) -> str:
    """What the SQLite search index holds of an item's texts (its text, its file's path): lower
    case, each run of characters beyond ASCII that are not word characters as one space.

    The index's tokenizer (FTS5's ``ascii``) parts tokens at ASCII punctuation and spaces, so
    a token is a run of word characters (``_`` parts it too), the same in a text and in a
    query: a term the pattern finds in the lower-cased text is a run of whole tokens there,
    whatever Unicode version SQLite knows.
    """
    lowered = " ".join(t if isinstance(t, str) else str(t) for t in texts if t is not None)
    lowered = lowered.lower()
    return lowered if lowered.isascii() else _not_words().sub(" ", lowered)


def index_query(terms: Sequence[Term]) -> str | None:
    """The FTS5 query every item holding ``terms`` matches (each term a phrase of its tokens,
    its last one a prefix for ``refund*``), or None when no term can narrow the search (only
    terms matched anywhere, or with no word character)."""
    phrases = []
    for term in terms:
        tokens = _ASCII_SEPARATORS.split(index_words(term.text))
        tokens = [t for t in tokens if t]
        if term.anywhere or not tokens:
            continue
        phrases.append('"' + " ".join(tokens) + '"' + ("*" if term.prefix else ""))
    return " ".join(phrases) or None


def is_word_char(c: str) -> bool:
    """Whether the pattern takes ``c`` for a word character next to a term's own (a match is
    then not inside a longer word there)."""
    return c.isalnum() or c == "_" or unicodedata.category(c)[0] == "M"


def pattern(term: Term, *, postgres: bool) -> str:
    """The regular expression a lower-cased text matches when it holds ``term``.

    A word character next to the term's own word characters means the match is inside a
    longer word; the phrase's words may be parted by any run of other characters. Python's
    expression looks behind the first word only once it has found it: led by a look-behind, it
    was tried at every position of every text (ten times the cost of finding the word).
    """
    word = ("[[:alnum:]_" if postgres else "[\\w") + _mark_ranges() + "]"
    other = ("[^[:alnum:]_" if postgres else "[^\\w") + _mark_ranges() + "]+"
    escape = _pg_escape if postgres else re.escape
    words = [escape(w) for w in term.words]
    if is_word_char(term.text[0]):
        if postgres:
            words[0] = f"(?<!{word})" + words[0]
        else:
            words[0] += f"(?<!{word}{words[0]})"
    after = f"(?!{word})" if is_word_char(term.text[-1]) and not term.prefix else ""
    return other.join(words) + after


def _pg_escape(text: str) -> str:
    """A literal for PostgreSQL's advanced regular expressions: ASCII punctuation, which holds
    every character ARE treats specially, is escaped (a ``\\`` before it reads it as itself)."""
    return "".join("\\" + c if c.isascii() and not (c.isalnum() or c == "_") else c for c in text)


def sql_term(term: Term) -> str:
    """``term`` as the SQLite function ``labelloop_holds`` takes it (:func:`holds`): SQLite
    hands the function a new Python string of its argument for every item it reads, and an
    expression of every combining mark is 8 KB to decode and hash each time."""
    return ("*" if term.prefix else " ") + " ".join(term.words)


@lru_cache(maxsize=64)
def _regex(key: str) -> re.Pattern[str]:
    """The compiled expression of the term :func:`sql_term` made ``key`` of (the last few
    kept: each is a large one, and a server sees any number of different queries)."""
    term = Term(words=tuple(key[1:].split(" ")), prefix=key[0] == "*")
    return re.compile(pattern(term, postgres=False))


def holds(key: str, text: str | None) -> bool | None:
    """Whether ``text``, lower-cased, holds the term :func:`sql_term` made ``key`` of (the
    SQLite function's body)."""
    if text is None:
        return None
    return _regex(key).search(text.lower()) is not None


def text_holds(text: str, terms: tuple[Term, ...]) -> bool:
    """Whether ``text`` holds every term, matched as the database matches it."""
    lowered = text.lower()
    for term in terms:
        if term.anywhere:
            if term.text not in lowered:
                return False
        elif _regex(sql_term(term)).search(lowered) is None:
            return False
    return True


def match_spans(text: str, terms: tuple[Term, ...]) -> list[tuple[int, int]]:
    """Where in ``text`` the terms match, as the database matches them: sorted, merged
    ``(start, end)`` character ranges of ``text`` (a ``refund*`` prefix spans its whole word).
    What a list highlights of a hit, and where it begins showing a long one."""
    lowered = text.lower()
    at = list(range(len(text) + 1))
    if len(lowered) != len(text):  # a letter lower-cases to two ("İ"): map back one by one
        lowered, at = "", []
        for n, c in enumerate(text):
            low = c.lower()
            lowered += low
            at += [n] * len(low)
        at.append(len(text))
    spans = []
    for term in terms:
        if term.anywhere:
            found = re.finditer(re.escape(term.text), lowered)
        else:
            found = _regex(sql_term(term)).finditer(lowered)
        for match in found:
            start, end = at[match.start()], at[match.end()]
            if term.prefix:
                while end < len(text) and is_word_char(text[end]):
                    end += 1
            if end > start:
                spans.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
