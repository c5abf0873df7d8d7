"""The search index. It narrows a search to the items that can match; the words' pattern
(:mod:`labelloop.store.words`) decides.

SQLite (migration 0017): an FTS5 table ``item_words`` of each item's words
(:func:`labelloop.store.words.index_words` of its text and file path), its rowid the item's id.
An import's items are indexed in one statement per chunk (:func:`index_new`): a trigger
indexing them row by row made FTS5 write each row apart (inserting and indexing 100,000 short
texts took 7.7 s instead of 1.8 s). Items written without an import, and changed or removed
ones, are kept in step by the migration's triggers.

PostgreSQL (migration 0022): GIN indexes over ``labelloop_words(content)``, the tsvector of the
parts of the lower-cased content that the database's own ``labelloop_word_parts`` cuts out
(at every run of characters other than ``[[:alnum:]_]``, and before each character of a script
that does not space its words). A term is looked up by the parts that function cuts from its
own text (:func:`_pg_lexemes`), so the index and the query part alike whatever the database's
locale, and a part is never wider than the pattern's words: the pattern's word characters are
``[[:alnum:]_]`` and the combining marks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Text,
    cast,
    column,
    func,
    literal,
    select,
    table,
    text,
)

from labelloop.memo import Memo
from labelloop.store.tables import item
from labelloop.store.words import Term, index_query, is_word_char

_ITEM_WORDS = table("item_words", column("rowid"), column("item_words"))
_INDEX_NEW = text(
    "INSERT INTO item_words(rowid, words) SELECT id, labelloop_index_words("
    "json_extract(payload, '$.text'), json_extract(payload, '$.image'), "
    "json_extract(payload, '$.audio')) FROM item WHERE import_batch_id = :batch AND id >= :first"
)


_LONG_TEXT = "-long-text-"
"""What ``labelloop_words`` holds of a text too long for a tsvector: every search asks for it."""
_CUT = 200
"""``labelloop_words`` cuts the parts of a text of 1,024 bytes or more to 200 characters."""
_EDGE = "x"
"""A word character of no unspaced script, around a term's text when it is parted: a part
then begins (ends) the text only where the function cuts there, as it would in an item."""


_KNOWN = Memo(ttl_s=60.0, max_items=1_000)
"""Whether each database has the index, by URL: every search asked the catalog (one more
round trip each). Migrations here forget it (:func:`forget_index`); one run by another process
is seen within a minute."""


def has_index(conn: Connection) -> bool:
    """Whether the store has the index (SQLite with FTS5; PostgreSQL 14 or later); looked up
    once a minute per database and process."""
    key = conn.engine.url.render_as_string(hide_password=True)
    return bool(_KNOWN.get(key, lambda: _look_up(conn)))


def forget_index() -> None:
    """Look the index up anew: migrations built or dropped it."""
    _KNOWN.forget()


def _look_up(conn: Connection) -> bool:
    if conn.dialect.name == "sqlite":
        q = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'item_words'"
        return conn.exec_driver_sql(q).first() is not None
    q = "SELECT to_regprocedure('labelloop_words(text)') IS NOT NULL"
    return bool(conn.exec_driver_sql(q).scalar_one())


def index_new(conn: Connection, *, batch_id: int, first: int) -> None:
    """Index the items of import ``batch_id`` from id ``first`` on (those just inserted)."""
    if conn.dialect.name == "sqlite" and has_index(conn):
        conn.execute(_INDEX_NEW, {"batch": batch_id, "first": first})


def in_index(
    conn: Connection, terms: Sequence[Term], *, key: str, content: Any
) -> list[ColumnElement[bool]]:
    """The item is among those the index finds for ``terms`` in ``content`` (the expression
    searched, read from the payload's ``key``): a superset of the matches. Nothing where there
    is no index or it cannot narrow the terms (on SQLite, only ones matched anywhere)."""
    if not terms or not has_index(conn):
        return []
    if conn.dialect.name != "sqlite":
        from sqlalchemy.dialects.postgresql import TSQUERY

        lexemes = _pg_lexemes(conn, terms)
        if not lexemes:
            return []
        query = f"({' & '.join(lexemes)}) | {_quoted(_LONG_TEXT)}"
        return [  # the key, as the partial index has it: an item without it holds no term
            item.c.payload[key].as_string().is_not(None),
            func.labelloop_words(content).op("@@")(cast(literal(query), TSQUERY)),
        ]
    query = index_query(terms)
    if query is None:
        return []
    found = select(_ITEM_WORDS.c.rowid).where(_ITEM_WORDS.c.item_words.op("MATCH")(query))
    return [item.c.id.in_(found)]


def _pg_lexemes(conn: Connection, terms: Sequence[Term]) -> list[str]:
    """The tsquery words every item holding ``terms`` holds in ``labelloop_words``.

    Where the pattern finds a term in an item, the function cuts the item inside the term
    where it cuts the term's own text (whether it cuts at a character depends only on that
    character and the one before it; the pattern parts a phrase's words by characters that are
    not word characters). So a part of the term is a whole part of the item, but for its ends:
    the first part is asked only where the item is cut before it (the function cuts before the
    term's text, or the pattern wants no word character before it), and the last is asked as
    a prefix unless the item is cut after it. A part over 200 characters is asked as a prefix
    of its first 200 (a long text's parts are cut there).
    """
    parted = [
        func.labelloop_word_parts(literal(_EDGE + t.text + _EDGE), type_=ARRAY(Text)) for t in terms
    ]
    lexemes = []
    for term, parts in zip(terms, conn.execute(select(*parted)).one(), strict=True):
        cut_before, cut_after = parts[0] == _EDGE, len(parts) > 1 and parts[-1] == _EDGE
        parts = [parts[0].removeprefix(_EDGE), *parts[1:]]
        parts[-1] = parts[-1].removesuffix(_EDGE)
        whole_first = cut_before or (not term.anywhere and is_word_char(term.text[0]))
        whole_last = cut_after or (
            not term.anywhere and not term.prefix and is_word_char(term.text[-1])
        )
        found = [p for p in parts if p]
        for n, part in enumerate(found):
            if n == 0 and not whole_first:
                continue
            whole = (n < len(found) - 1 or whole_last) and len(part) <= _CUT
            lexemes.append(_quoted(part[:_CUT]) + ("" if whole else ":*"))
    return lexemes


def _quoted(word: str) -> str:
    """``word`` as a tsquery reads it as one word, whatever it holds."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"
