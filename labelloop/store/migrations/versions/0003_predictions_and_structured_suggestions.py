"""pre-annotations on items and structured suggestions (spans, boxes)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 00:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prediction', sa.JSON(), nullable=True))
    for table in ('queue_entry', 'assignment', 'annotation'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('suggestion_value', sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in ('annotation', 'assignment', 'queue_entry'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('suggestion_value')
    with op.batch_alter_table('item', schema=None) as batch_op:
        batch_op.drop_column('prediction')
