"""eval metrics per cohort of the eval items, stored with each model version

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 11:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('model_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cohort_metrics', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('model_version', schema=None) as batch_op:
        batch_op.drop_column('cohort_metrics')
