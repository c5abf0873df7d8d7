"""SQLite's search index (migration 0017): an FTS5 table ``item_words`` of each item's words
(:func:`labelloop.store.words.index_words` of its text and file path), its rowid the item's id.

It narrows a search to the items that can match; the words' pattern decides. An import's items
are indexed in one statement per chunk (:func:`index_new`): a trigger indexing them row by row
made FTS5 write each row apart (inserting and indexing 100,000 short texts took 7.7 s instead
of 1.8 s). Items written without an import, and changed or removed ones, are kept in step by
the migration's triggers.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, column, select, table, text

from labelloop.store.tables import item
from labelloop.store.words import Term, index_query

_ITEM_WORDS = table("item_words", column("rowid"), column("item_words"))
_INDEX_NEW = text(
    "INSERT INTO item_words(rowid, words) SELECT id, labelloop_index_words("
    "json_extract(payload, '$.text'), json_extract(payload, '$.image'), "
    "json_extract(payload, '$.audio')) FROM item WHERE import_batch_id = :batch AND id >= :first"
)


def has_index(conn: Connection) -> bool:
    """Whether the store has the index (SQLite with FTS5; PostgreSQL's is in ``~`` itself)."""
    if conn.dialect.name != "sqlite":
        return False
    q = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'item_words'"
    return conn.exec_driver_sql(q).first() is not None


def index_new(conn: Connection, *, batch_id: int, first: int) -> None:
    """Index the items of import ``batch_id`` from id ``first`` on (those just inserted)."""
    if has_index(conn):
        conn.execute(_INDEX_NEW, {"batch": batch_id, "first": first})


def in_index(conn: Connection, terms: Sequence[Term]) -> list[ColumnElement[bool]]:
    """The item is among those the index finds for ``terms``: a superset of the matches. Nothing
    where there is no index or it cannot narrow the terms (only ones matched anywhere)."""
    query = index_query(terms)
    if query is None or not has_index(conn):
        return []
    found = select(_ITEM_WORDS.c.rowid).where(_ITEM_WORDS.c.item_words.op("MATCH")(query))
    return [item.c.id.in_(found)]
