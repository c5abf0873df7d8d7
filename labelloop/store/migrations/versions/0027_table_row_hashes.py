"""table row hashes: a table row's fingerprint reads its cells as values (the number 127.0 and
CSV's "127" alike), so the same rows imported again in another format are duplicates

Revision ID: 0027
Revises: 0021
Create Date: 2026-12-06 18:30:00.000000

The items of table projects are fingerprinted again, a thousand at a time; other items keep
theirs. A downgrade writes the fingerprints of before back.
"""

import hashlib
import json

from alembic import op
import sqlalchemy as sa

revision = '0027'
down_revision = '0022'
branch_labels = None
depends_on = None

BATCH = 1000


def _old_row_hash(row: dict) -> str:
    """The fingerprint before this revision: the row's JSON as stored."""
    canonical = json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _rehash(row_hash) -> None:
    conn = op.get_bind()
    project = sa.table('project', sa.column('id'), sa.column('schema', sa.JSON()))
    item = sa.table(
        'item', sa.column('id'), sa.column('project_id'), sa.column('payload', sa.JSON())
    )
    tables = [
        pid
        for pid, schema in conn.execute(sa.select(project.c.id, project.c.schema)).all()
        if isinstance(schema, dict) and (schema.get('data') or {}).get('type') == 'table'
    ]
    update = sa.text("UPDATE item SET content_hash = :h WHERE id = :id")
    for pid in tables:
        after = 0
        while True:
            rows = conn.execute(
                sa.select(item.c.id, item.c.payload)
                .where(item.c.project_id == pid, item.c.id > after)
                .order_by(item.c.id)
                .limit(BATCH)
            ).all()
            if not rows:
                break
            changes = [
                {"id": item_id, "h": row_hash(payload["row"])}
                for item_id, payload in rows
                if isinstance(payload, dict) and isinstance(payload.get('row'), dict)
            ]
            if changes:
                conn.execute(update, changes)
            after = rows[-1][0]


def upgrade() -> None:
    from labelloop.ingest.payloads import row_hash

    _rehash(row_hash)


def downgrade() -> None:
    _rehash(_old_row_hash)
