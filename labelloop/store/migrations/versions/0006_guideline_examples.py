"""items pinned to the guideline as examples of a label, versioned with the guideline

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 14:20:00.000000
"""

from alembic import op
import sqlalchemy as sa

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'guideline_example',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('project_id', ID, nullable=False),
        sa.Column('item_id', ID, nullable=False),
        sa.Column('value', sa.JSON(), nullable=False),
        sa.Column('label', sa.String(length=500), nullable=False),
        sa.Column('note', sa.Text(), server_default='', nullable=False),
        sa.Column('added_in', sa.Integer(), nullable=False),
        sa.Column('removed_in', sa.Integer(), nullable=True),
        sa.Column('added_by', ID, nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['item_id'], ['item.id'], name=op.f('fk_guideline_example_item_id_item'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_guideline_example_project_id_project'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['added_by'], ['user.id'], name=op.f('fk_guideline_example_added_by_user'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_guideline_example')),
    )
    op.create_index('ix_guideline_example_project', 'guideline_example', ['project_id', 'added_in'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_guideline_example_project', table_name='guideline_example')
    op.drop_table('guideline_example')
