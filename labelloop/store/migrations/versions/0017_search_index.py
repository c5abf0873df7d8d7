"""search index: the words of every item, so a search reads only the items that can match

Revision ID: 0017
Revises: 0016
Create Date: 2027-01-04 10:00:00.000000

SQLite: an FTS5 table ``item_words`` (rowid = item id) of ``labelloop_index_words`` of the
item's text and file path; an import's items are indexed by the import, other writes of
``item`` by triggers (a batch_alter_table of ``item`` recreates the table without them: create
them again after one). PostgreSQL: trigram (pg_trgm) GIN indexes over the lower-cased texts
the search's ``~`` reads; the extension stays on a downgrade. Where SQLite lacks FTS5 or
pg_trgm cannot be created, nothing is made and the search reads every item as before.
"""

from alembic import op
import sqlalchemy as sa

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

WORDS = (
    "labelloop_index_words(json_extract({row}.payload, '$.text'), "
    "json_extract({row}.payload, '$.image'), json_extract({row}.payload, '$.audio'))"
)
TRIGGERS = (
    # An import's items are indexed a chunk at a time (labelloop.store.wordindex.index_new):
    # FTS5 writes each row a trigger indexes apart, several times slower.
    "CREATE TRIGGER item_words_insert AFTER INSERT ON item "
    "WHEN new.import_batch_id IS NULL BEGIN "
    f"INSERT INTO item_words(rowid, words) VALUES (new.id, {WORDS.format(row='new')}); END",
    "CREATE TRIGGER item_words_delete AFTER DELETE ON item BEGIN "
    "DELETE FROM item_words WHERE rowid = old.id; END",
    "CREATE TRIGGER item_words_update AFTER UPDATE OF id, payload ON item BEGIN "
    "DELETE FROM item_words WHERE rowid = old.id; "
    f"INSERT INTO item_words(rowid, words) VALUES (new.id, {WORDS.format(row='new')}); END",
)
PG_INDEXES = {  # the expressions browse.holds_words hands to lower() there
    'ix_item_words_text': "(payload ->> 'text')",
    'ix_item_words_image': "replace(payload ->> 'image', '_', ' ')",
    'ix_item_words_audio': "replace(payload ->> 'audio', '_', ' ')",
}


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == 'sqlite':
        try:
            conn.exec_driver_sql(
                "CREATE VIRTUAL TABLE item_words USING fts5(words, tokenize='ascii', columnsize=0)"
            )
        except sa.exc.OperationalError:  # this SQLite was built without FTS5
            return
        conn.exec_driver_sql(
            f"INSERT INTO item_words(rowid, words) SELECT id, {WORDS.format(row='item')} FROM item"
        )
        for trigger in TRIGGERS:
            conn.exec_driver_sql(trigger)
        return
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError:  # not installed, or not this role's to create
        return
    for name, expression in PG_INDEXES.items():
        conn.exec_driver_sql(
            f"CREATE INDEX {name} ON item USING gin (lower({expression}) gin_trgm_ops)"
        )


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == 'sqlite':
        for name in ('item_words_insert', 'item_words_delete', 'item_words_update'):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        conn.exec_driver_sql("DROP TABLE IF EXISTS item_words")
        return
    for name in PG_INDEXES:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
