"""review lease: the item a reviewer is shown is leased to them, so two never review it at once

Revision ID: 0018
Revises: 0017
Create Date: 2027-01-04 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'review_lease',
        sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('project_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('tier', sa.Integer(), nullable=False),
        sa.Column('leased_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['item_id'], ['item.id'], name=op.f('fk_review_lease_item_id_item'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['project_id'],
            ['project.id'],
            name=op.f('fk_review_lease_project_id_project'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['user_id'], ['user.id'], name=op.f('fk_review_lease_user_id_user'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('item_id', name=op.f('pk_review_lease')),
    )
    op.create_index(
        'ix_review_lease_user', 'review_lease', ['project_id', 'user_id'], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_review_lease_user', table_name='review_lease')
    op.drop_table('review_lease')
