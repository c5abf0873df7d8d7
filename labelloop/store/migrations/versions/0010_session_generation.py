"""session generation: signing out or a new password ends a user's sessions on the server

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-13 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('session_generation', sa.Integer(), nullable=False, server_default='0')
        )


def downgrade() -> None:
    # Not in batch mode: SQLite would copy the user table and drop the old one, which every
    # table referencing a user forbids; its own DROP COLUMN (3.35+) needs no copy.
    op.drop_column('user', 'session_generation')
