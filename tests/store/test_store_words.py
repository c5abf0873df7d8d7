"""What a search by words costs per item it reads: a common word on a large pool ("the" in a
third of 36,000 tweets) is matched about as fast as a plain regular expression would."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable

from labelloop.store import db as store_db
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


def _fastest(ours: Callable[[], object], plain: Callable[[], object]) -> tuple[float, float]:
    """The best of five runs of each, taken in turns (the machine's load varies)."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(5):
        for run, taken in zip((ours, plain), times, strict=True):
            started = time.perf_counter()
            run()
            taken.append(time.perf_counter() - started)
    return min(times[0]), min(times[1])


def _plain(texts: list[str], word: str) -> int:
    """The baseline: Python's own whole-word expression, compiled once."""
    found = re.compile(rf"(?<!\w){word}(?!\w)")
    return sum(found.search(t.lower()) is not None for t in texts)


def test_a_common_word_in_table_rows_costs_about_a_plain_expression() -> None:
    """A table row's fields are matched in Python: each row built the term's expression anew
    (8 KB: every combining mark) and tried it at every position of the text, 10 times the cost
    of a plain whole-word expression."""
    texts = _texts(4000)
    terms = parse_query("the")
    found = sum(text_holds(t, terms) for t in texts)
    assert found == _plain(texts, "the") > 1000
    ours, plain = _fastest(
        lambda: [text_holds(t, terms) for t in texts], lambda: _plain(texts, "the")
    )
    assert ours < 3 * plain, f"{ours * 1000:.0f} ms against {plain * 1000:.0f} ms"


def test_a_search_for_a_common_word_costs_about_a_plain_expression_per_item(
    sqlite_lab: Lab,
) -> None:
    """On SQLite the words are matched by a Python function the database calls for each item
    the index finds: it was handed the 8 KB expression each time (a new string to decode and
    hash per item) and tried it at every position, so "the" on 36,000 tweets took 0.6 s."""
    lab = sqlite_lab
    ctx = lab.project()
    texts = _texts(4000)
    lab.import_rows(ctx, [{"id": f"t{i}", "text": t} for i, t in enumerate(texts)])
    db = Database(lab.db.url)
    try:
        result = seeding.search(db, ctx, q="the")
        assert result["total"] == _plain(texts, "the") > 1000
        with db.read() as conn:  # what the search reads, read alone, for the baseline
            stored = [
                r[0]
                for r in conn.exec_driver_sql(
                    "SELECT json_extract(payload, '$.text') FROM item WHERE project_id = ?",
                    (ctx.id,),
                )
            ]
        # the index, the JSON and the call to Python cost something besides the expression
        ours, plain = _fastest(
            lambda: seeding.search(db, ctx, q="the"), lambda: _plain(stored, "the")
        )
    finally:
        db.dispose()
    assert ours < 6 * plain, f"{ours * 1000:.0f} ms against {plain * 1000:.0f} ms"


def test_the_matcher_keeps_a_bounded_number_of_expressions() -> None:
    """Each distinct query compiled an expression of every combining mark and kept it for the
    life of the server process."""
    for i in range(70):
        assert store_db.holds(_key(f"word{i}"), f"a word{i} here")
    from labelloop.store import words

    assert words._regex.cache_info().currsize <= 64


def _key(word: str) -> str:
    from labelloop.store.words import sql_term

    return sql_term(parse_query(word)[0])
