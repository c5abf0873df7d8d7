"""undo of an import: the highest ids removed (SQLite reuses them otherwise) and removed leases

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-20 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'id_high_water',
        sa.Column('table_name', sa.String(length=50), nullable=False),
        sa.Column('last_id', ID, nullable=False),
        sa.PrimaryKeyConstraint('table_name', name=op.f('pk_id_high_water')),
    )
    op.create_table(
        'removed_lease',
        sa.Column('assignment_id', ID, autoincrement=False, nullable=False),
        sa.Column('project_id', ID, nullable=False),
        sa.Column('user_id', ID, nullable=False),
        sa.Column('removed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_removed_lease_project_id_project'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_removed_lease_user_id_user'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('assignment_id', name=op.f('pk_removed_lease')),
    )


def downgrade() -> None:
    op.drop_table('removed_lease')
    op.drop_table('id_high_water')
