"""What a search by words does per item it reads: a common word on a large pool ("the" in a
third of 36,000 tweets) is matched by one compiled expression led by the word, and SQLite hands
the matcher a few characters per item (bench/search_scale.py measures the time)."""

from __future__ import annotations

import random
import re

import pytest

from labelloop.store import db as store_db
from labelloop.store import words
from labelloop.store.db import Database
from labelloop.store.words import parse_query, text_holds
from labelloop.workflow import seeding
from tests.conftest import Lab

WORDS = [
    "the",
    "a",
    "to",
    "flight",
    "refund",
    "delayed",
    "cancelled",
    "bag",
    "seat",
    "crew",
    "gate",
    "thanks",
]


def _texts(n: int) -> list[str]:
    rng = random.Random(3)
    return [
        " ".join(rng.choice(WORDS) for _ in range(40)) + f" #{i} @user_{i} ok." for i in range(n)
    ]


def _plain(texts: list[str], word: str) -> int:
    """Python's own whole-word expression: what the search's matches are checked against."""
    found = re.compile(rf"(?<!\w){word}(?!\w)")
    return sum(found.search(t.lower()) is not None for t in texts)


def test_a_common_word_in_table_rows_is_compiled_once_and_found_by_the_word_first() -> None:
    """A table row's fields are matched in Python: each row built the term's expression anew
    (8 KB: every combining mark) and tried it at every position of the text, ten times the cost
    of a plain whole-word expression (bench/search_scale.py measures the time)."""
    texts = _texts(4000)
    terms = parse_query("the")
    words._regex.cache_clear()
    found = sum(text_holds(t, terms) for t in texts)
    assert found == _plain(texts, "the") > 1000
    assert words._regex.cache_info().misses == 1
    # led by the word, not by a look-behind tried at every position of the text
    assert words.pattern(terms[0], postgres=False).startswith("the")


def test_a_search_for_a_common_word_hands_sqlite_a_short_term_per_item(
    sqlite_lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite the words are matched by a Python function the database calls for each item
    the index finds: it was handed the 8 KB expression each time (a new string to decode and
    hash per item), so "the" on 36,000 tweets took 0.6 s."""
    lab = sqlite_lab
    ctx = lab.project()
    texts = _texts(4000)
    lab.import_rows(ctx, [{"id": f"t{i}", "text": t} for i, t in enumerate(texts)])
    handed: list[str] = []

    def holds(key: str, text: str | None) -> bool | None:
        handed.append(key)
        return words.holds(key, text)

    monkeypatch.setattr(store_db, "holds", holds)  # the function each new connection registers
    db = Database(lab.db.url)
    try:
        words._regex.cache_clear()
        result = seeding.search(db, ctx, q="the")
    finally:
        db.dispose()
    assert result["total"] == _plain(texts, "the") > 1000
    assert len(handed) >= result["total"] and {len(k) for k in handed} == {len(" the")}
    assert words._regex.cache_info().misses == 1


def test_the_matcher_keeps_a_bounded_number_of_expressions() -> None:
    """Each distinct query compiled an expression of every combining mark and kept it for the
    life of the server process."""
    for i in range(70):
        assert store_db.holds(_key(f"word{i}"), f"a word{i} here")
    assert words._regex.cache_info().currsize <= 64


def _key(word: str) -> str:
    from labelloop.store.words import sql_term

    return sql_term(parse_query(word)[0])
