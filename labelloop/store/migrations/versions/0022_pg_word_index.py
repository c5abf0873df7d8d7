"""PostgreSQL's search index of whole words: GIN indexes over a tsvector of each item's words,
in place of the trigram indexes of 0017, which made an import's inserts ~3x slower

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 19:00:00.000000

``labelloop_word_parts(text)`` parts a text at every run of characters that are not
``[[:alnum:]_]`` (those the search's pattern reads as word characters, and fewer: so a match
is never inside a part) and before each character of a script that does not space its words
(so a term matched anywhere there is found by its characters). ``labelloop_words(text)`` is
the tsvector of the parts of a lower-cased text, indexed over the expressions the search reads
(:mod:`labelloop.store.wordindex`) for the items whose payload has that key. A text of 1,024
bytes or more has its parts cut to 200 characters (a tsvector's word holds at most 2,047
bytes); one over 600,000 bytes (a tsvector holds at most 1 MB of words) is indexed as the one
word ``-long-text-``, which no part can be and every search asks for. Nothing on SQLite, whose
index (0017) stays as it is; nothing before PostgreSQL 14, whose trigram indexes stay. The
downgrade makes the trigram indexes again where pg_trgm can be created.
"""

from alembic import op
import sqlalchemy as sa

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

UNSPACED = (  # labelloop.store.words._UNSPACED as of this revision
    (0x0E00, 0x0FFF), (0x1000, 0x109F), (0x1100, 0x11FF), (0x1780, 0x17FF), (0x19E0, 0x19FF),
    (0x2E80, 0x2FDF), (0x3040, 0x31FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xA960, 0xA97F),
    (0xAC00, 0xD7FF), (0xF900, 0xFAFF), (0xFF66, 0xFFDC), (0x20000, 0x3FFFF),
)  # fmt: skip


def _esc(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


PARTS = "[^[:alnum:]_]+|(?=[" + "".join(f"{_esc(a)}-{_esc(b)}" for a, b in UNSPACED) + "])"
FUNCTIONS = (
    "CREATE FUNCTION labelloop_word_parts(content text) RETURNS text[] "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE "
    f"RETURN regexp_split_to_array(content, '{PARTS}')",
    # A long text's parts cut to 200 characters, each once. PL/pgSQL, as the planner would
    # try to inline an SQL function in every statement that writes an item, and fail on its
    # subquery (a one-row insert cost as much as with the trigrams); it calls built-ins only,
    # so its body (read when called) needs no search_path.
    "CREATE FUNCTION labelloop_long_words(lowered text) RETURNS tsvector "
    "LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$ BEGIN "
    "RETURN array_to_tsvector(ARRAY(SELECT DISTINCT left(part, 200) "
    f"FROM regexp_split_to_table(lowered, '{PARTS}') AS part WHERE part <> '')); END $$",
    # Inlined where it is called (one expression, its argument cheap), so the planner matches a
    # search's call to the index's expression. SQL-standard bodies (RETURN) bind the functions
    # they call when made, so no search_path (autovacuum's, a restore's) loses them.
    "CREATE FUNCTION labelloop_words(content text) RETURNS tsvector "
    "LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN CASE "
    "WHEN content IS NULL THEN NULL "
    "WHEN octet_length(content) < 1024 "
    "THEN array_to_tsvector(array_remove(labelloop_word_parts(lower(content)), '')) "
    "WHEN octet_length(content) <= 600000 THEN labelloop_long_words(lower(content)) "
    "ELSE array_to_tsvector('{-long-text-}') END",
)
CONTENT = {  # the expressions labelloop.store.browse.holds_words searches
    'text': "(payload ->> 'text')",
    'image': "replace(payload ->> 'image', '_', ' ')",
    'audio': "replace(payload ->> 'audio', '_', ' ')",
}


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == 'sqlite':
        return
    try:
        with conn.begin_nested():
            for function in FUNCTIONS:
                conn.exec_driver_sql(function)
    except sa.exc.DBAPIError:  # before PostgreSQL 14 (no RETURN bodies): the trigrams stay
        return
    for key in CONTENT:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS ix_item_words_{key}")
    for key, expression in CONTENT.items():
        conn.exec_driver_sql(  # partial: a text's item costs no entry in the images' index
            f"CREATE INDEX ix_item_words_{key} ON item USING gin (labelloop_words({expression})) "
            f"WHERE (payload ->> '{key}') IS NOT NULL"
        )


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == 'sqlite':
        return
    for key in CONTENT:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS ix_item_words_{key}")
    for name in ('labelloop_words', 'labelloop_long_words', 'labelloop_word_parts'):
        conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}(text)")
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError:  # as 0017: without pg_trgm the search reads every item
        return
    for key, expression in CONTENT.items():
        conn.exec_driver_sql(
            f"CREATE INDEX ix_item_words_{key} ON item USING gin (lower({expression}) gin_trgm_ops)"
        )
