"""feature count: how many items' embeddings a learner has computed, for serve processes on
other machines, whose data dirs hold none

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-06 16:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

revision = '0021'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'feature_count',
        sa.Column('project_id', ID, nullable=False),
        sa.Column('featurizer', sa.String(length=100), nullable=False),
        sa.Column('computed', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['project_id'],
            ['project.id'],
            name=op.f('fk_feature_count_project_id_project'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('project_id', 'featurizer', name=op.f('pk_feature_count')),
    )


def downgrade() -> None:
    op.drop_table('feature_count')
