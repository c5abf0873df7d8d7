"""import undoing: when an undo began removing an import's items, kept until it ends; an
index of items by import, which the undo reads a slice of ids at a time

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 15:20:00.000000
"""

from alembic import op
import sqlalchemy as sa

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('undoing_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_item_batch', 'item', ['import_batch_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_item_batch', table_name='item')
    op.drop_column('import_batch', 'undoing_at')
