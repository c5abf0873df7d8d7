"""alert acknowledgements: who said "seen, we're on it", when, with what note

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acknowledged_by', ID, nullable=True))
        batch_op.add_column(sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_note', sa.String(length=200), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_alert_acknowledged_by_user'),
            'user',
            ['acknowledged_by'],
            ['id'],
            ondelete='SET NULL',
        )


def downgrade() -> None:
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_alert_acknowledged_by_user'), type_='foreignkey')
        batch_op.drop_column('acknowledged_note')
        batch_op.drop_column('acknowledged_at')
        batch_op.drop_column('acknowledged_by')
