"""import upload folder: the folder an uploaded zip's images were stored in, kept on its import

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-30 10:00:00.000000
"""

import re

from alembic import op
import sqlalchemy as sa

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

STORED = re.compile(r"^(uploads/([a-z0-9][a-z0-9-]{0,62})/\d{8}-\d{6}-[0-9a-f]{6})/")


def upgrade() -> None:
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('upload_folder', sa.String(length=300), nullable=True))
    # A YOLO zip imported with its images before: its items name the folder it was stored in.
    conn = op.get_bind()
    batches = conn.execute(
        sa.text(
            "SELECT b.id, p.slug FROM import_batch b JOIN project p ON p.id = b.project_id "
            "WHERE b.format = 'yolo'"
        )
    ).all()
    for batch_id, slug in batches:
        payload = conn.execute(
            sa.select(sa.column('payload', sa.JSON()))
            .select_from(sa.table('item'))
            .where(sa.column('import_batch_id') == batch_id)
            .limit(1)
        ).scalar_one_or_none()
        found = STORED.match(str((payload or {}).get('image') or ''))
        if found is not None and found.group(2) == slug:
            conn.execute(
                sa.text("UPDATE import_batch SET upload_folder = :folder WHERE id = :id"),
                {"folder": found.group(1), "id": batch_id},
            )


def downgrade() -> None:
    # Not in batch mode: SQLite's own DROP COLUMN (3.35+) needs no copy of the table.
    op.drop_column('import_batch', 'upload_folder')
