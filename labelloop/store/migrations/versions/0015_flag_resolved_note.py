"""flag resolved note: a label issue the model no longer sees is closed, saying so

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolved_note', sa.Text(), nullable=True))


def downgrade() -> None:
    # Not in batch mode: SQLite's own DROP COLUMN (3.35+) needs no copy of the table.
    op.drop_column('flag', 'resolved_note')
