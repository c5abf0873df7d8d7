"""spot checks of auto-label runs: labels taken back for people to answer blind

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 17:30:00.000000
"""

from alembic import op
import sqlalchemy as sa

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'auto_label_check',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('run_id', ID, nullable=False),
        sa.Column('item_id', ID, nullable=False),
        sa.Column('label', sa.String(length=200), nullable=False),
        sa.Column('confidence', sa.Float(), nullable=False),
        sa.Column('created_by', ID, nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['auto_label_run.id'], name=op.f('fk_auto_label_check_run_id_auto_label_run'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['item_id'], ['item.id'], name=op.f('fk_auto_label_check_item_id_item'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by'], ['user.id'], name=op.f('fk_auto_label_check_created_by_user'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_auto_label_check')),
    )
    op.create_index('ix_auto_label_check_run', 'auto_label_check', ['run_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_auto_label_check_run', table_name='auto_label_check')
    op.drop_table('auto_label_check')
