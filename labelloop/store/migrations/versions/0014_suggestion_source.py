"""suggestion source: an annotation records where each suggested control value came from

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-28 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suggestion_source', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.drop_column('suggestion_source')
