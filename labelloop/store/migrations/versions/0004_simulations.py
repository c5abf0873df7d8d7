"""simulations requested from a project: replays of active learning on its own labels

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 06:20:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('simulation',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('project_id', ID, nullable=False),
    sa.Column('requested_by', ID, nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('phase', sa.String(length=200), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('chart', sa.Text(), nullable=True),
    sa.Column('error', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_simulation_project_id_project'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by'], ['user.id'], name=op.f('fk_simulation_requested_by_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_simulation'))
    )
    with op.batch_alter_table('simulation', schema=None) as batch_op:
        batch_op.create_index('ix_simulation_project', ['project_id', 'id'], unique=False)
        batch_op.create_index('ix_simulation_state', ['state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('simulation', schema=None) as batch_op:
        batch_op.drop_index('ix_simulation_state')
        batch_op.drop_index('ix_simulation_project')
    op.drop_table('simulation')
