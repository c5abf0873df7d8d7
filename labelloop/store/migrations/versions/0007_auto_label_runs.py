"""auto-label runs: the model's labels a manager accepted for the items it is sure of

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 17:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TS = sa.DateTime(timezone=True)

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'auto_label_run',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('project_id', ID, nullable=False),
        sa.Column('confidence', sa.Float(), nullable=False),
        sa.Column('min_accuracy', sa.Float(), nullable=False),
        sa.Column('model_version', sa.Integer(), nullable=True),
        sa.Column('model', sa.JSON(), nullable=False),
        sa.Column('n_labeled', sa.Integer(), nullable=False),
        sa.Column('by_label', sa.JSON(), nullable=False),
        sa.Column('applied_by', ID, nullable=True),
        sa.Column('applied_at', TS, nullable=False),
        sa.Column('undone_by', ID, nullable=True),
        sa.Column('undone_at', TS, nullable=True),
        sa.Column('n_undone', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_auto_label_run_project_id_project'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['applied_by'], ['user.id'], name=op.f('fk_auto_label_run_applied_by_user'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['undone_by'], ['user.id'], name=op.f('fk_auto_label_run_undone_by_user'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_auto_label_run')),
    )
    op.create_index('ix_auto_label_run_project', 'auto_label_run', ['project_id'], unique=False)
    with op.batch_alter_table('item_label', schema=None) as batch_op:
        batch_op.add_column(sa.Column('auto_run_id', ID, nullable=True))
        batch_op.add_column(sa.Column('confidence', sa.Float(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_item_label_auto_run_id_auto_label_run'),
            'auto_label_run',
            ['auto_run_id'],
            ['id'],
            ondelete='CASCADE',
        )
        batch_op.create_index('ix_item_label_auto_run', ['auto_run_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('item_label', schema=None) as batch_op:
        batch_op.drop_index('ix_item_label_auto_run')
        batch_op.drop_constraint(batch_op.f('fk_item_label_auto_run_id_auto_label_run'), type_='foreignkey')
        batch_op.drop_column('confidence')
        batch_op.drop_column('auto_run_id')
    op.drop_index('ix_auto_label_run_project', table_name='auto_label_run')
    op.drop_table('auto_label_run')
