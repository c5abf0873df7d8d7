"""learner beats: each running learner notes that it runs, so a database nobody trains is told

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-21 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'learner_beat',
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_learner_beat')),
    )


def downgrade() -> None:
    op.drop_table('learner_beat')
