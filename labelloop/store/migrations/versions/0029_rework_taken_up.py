"""rework taken up: a rework lease says until when its annotator has the item on their page, so a
page given back stops counting it as being redone at once

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 23:30:00.000000

Before, a rework lease's leased_at moved from the rejection's time to when its annotator was
last served it or renewed it, and the dashboard counted it as being redone for a lease's length
(the project's lease_minutes) from then. The upgrade writes that end into taken_up_until and
puts leased_at back to the rejection's time, so the dashboard reads the same right after it. A
downgrade moves leased_at forward again, to a lease's length before that end, where that is
after the rejection.
"""

from datetime import timedelta

from alembic import op
import sqlalchemy as sa

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

BATCH = 1000
DEFAULT_LEASE_MINUTES = 10
"""The lease_minutes setting's default, for a stored schema that names none."""


def _lease_minutes(schema) -> timedelta:
    settings = schema.get("settings") if isinstance(schema, dict) else None
    minutes = settings.get("lease_minutes") if isinstance(settings, dict) else None
    if type(minutes) is not int or minutes < 1:
        minutes = DEFAULT_LEASE_MINUTES
    return timedelta(minutes=minutes)


ASSIGNMENT = sa.table(
    'assignment',
    sa.column('id'),
    sa.column('project_id'),
    sa.column('item_id'),
    sa.column('user_id'),
    sa.column('strategy'),
    sa.column('leased_at', sa.DateTime(timezone=True)),
    sa.column('taken_up_until', sa.DateTime(timezone=True)),
)
ANNOTATION = sa.table('annotation', sa.column('id'), sa.column('item_id'), sa.column('user_id'))
REVIEW = sa.table(
    'review',
    sa.column('annotation_id'),
    sa.column('verdict'),
    sa.column('created_at', sa.DateTime(timezone=True)),
)
PROJECT = sa.table('project', sa.column('id'), sa.column('schema', sa.JSON()))


def _rework_leases(conn, *, after: int):
    """The next rework leases after id ``after``: id, project, leased_at, taken_up_until and
    when it was sent back (the latest rejection of its annotator's answer to its item up to its
    leased_at)."""
    a, r = ASSIGNMENT.c, REVIEW.c
    sent = (
        sa.select(sa.func.max(r.created_at))
        .select_from(REVIEW.join(ANNOTATION, ANNOTATION.c.id == r.annotation_id))
        .where(
            ANNOTATION.c.item_id == a.item_id,
            ANNOTATION.c.user_id == a.user_id,
            r.verdict == 'reject',
            r.created_at <= a.leased_at,
        )
        .scalar_subquery()
    )
    return conn.execute(
        sa.select(a.id, a.project_id, a.leased_at, a.taken_up_until, sent)
        .where(a.strategy == 'rework', a.id > after)
        .order_by(a.id)
        .limit(BATCH)
    ).all()


def _rewrite(change) -> None:
    """Pass each rework lease (leased_at, taken_up_until, when it was sent back, its project's
    lease length) to ``change``, which gives its new (leased_at, taken_up_until), or None to
    leave it as it is."""
    conn = op.get_bind()
    lease = {
        pid: _lease_minutes(schema)
        for pid, schema in conn.execute(sa.select(PROJECT.c.id, PROJECT.c.schema)).all()
    }
    update = (
        sa.update(ASSIGNMENT)
        .where(ASSIGNMENT.c.id == sa.bindparam('row_id'))
        .values(leased_at=sa.bindparam('new_leased_at'), taken_up_until=sa.bindparam('until'))
    )
    after = 0
    while rows := _rework_leases(conn, after=after):
        changes = []
        for row_id, pid, leased_at, until, sent in rows:
            changed = change(leased_at, until, sent, lease[pid])
            if changed is not None:
                changes.append({"row_id": row_id, "new_leased_at": changed[0], "until": changed[1]})
        if changes:
            conn.execute(update, changes)
        after = rows[-1][0]


def _taken_up(leased_at, until, sent, lease):
    """A lease taken up since its rejection: back to the rejection, on the page until a
    lease's length after it was taken up."""
    if sent is None or leased_at <= sent:
        return None
    return sent, leased_at + lease


def _left_at(leased_at, until, sent, lease):
    """A lease on its annotator's page after its rejection: taken up a lease's length before
    that ends (a page given back ended it at once)."""
    if until is None or until - lease <= leased_at:
        return None
    return until - lease, None


def upgrade() -> None:
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('taken_up_until', sa.DateTime(timezone=True), nullable=True))
    _rewrite(_taken_up)


def downgrade() -> None:
    _rewrite(_left_at)
    # Not in batch mode: SQLite's own DROP COLUMN (3.35+) needs no copy of the table.
    op.drop_column('assignment', 'taken_up_until')
