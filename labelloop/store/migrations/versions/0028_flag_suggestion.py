"""flag suggestion: a label issue keeps the label the model says instead and its probability as
data, where the second look's list read them back out of the flag's note

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 21:00:00.000000

The label issues raised before are filled in from their notes, as the list read them: a note
that names no label of its project's target leaves both empty. A downgrade drops the columns;
the notes still say it all.
"""

import re

from alembic import op
import sqlalchemy as sa

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

BATCH = 1000

GUESSES = (
    # a round's re-label suggestion (labelloop.learn.relabel.check_labels)
    re.compile(r"the model is (?P<p>[01](?:\.\d+)?) sure it is '(?P<label>.*)'$", re.S),
    # a label-error scan's (labelloop.workflow.quality.scan)
    re.compile(r"model says (?P<label>.*) \((?P<p>[01](?:\.\d+)?)\)$", re.S),
)
"""The notes label issues were written with, and where each says what the model guesses."""


def guess(note, labels):
    """The label the model suggests instead, and how sure it is, as a label issue's note says
    them; (None, None) for a note that names no label of ``labels``."""
    for pattern in GUESSES:
        found = pattern.search(note or "")
        if found is not None and found["label"] in labels:
            return found["label"], float(found["p"])
    return None, None


def _target_labels(schema):
    """The labels of a stored schema's target control; none when it no longer reads (its
    flags keep their notes, and the list shows those)."""
    from labelloop.errors import LabelloopError
    from labelloop.schema import parse_schema

    try:
        return parse_schema(schema, stored=True).target.labels
    except (LabelloopError, TypeError, ValueError):
        return ()


def _backfill() -> None:
    conn = op.get_bind()
    project = sa.table('project', sa.column('id'), sa.column('schema', sa.JSON()))
    flag = sa.table(
        'flag', sa.column('id'), sa.column('project_id'), sa.column('kind'), sa.column('note')
    )
    update = sa.text(
        "UPDATE flag SET suggestion = :label, suggestion_confidence = :p WHERE id = :id"
    )
    for pid, schema in conn.execute(sa.select(project.c.id, project.c.schema)).all():
        labels = None  # parsed once the project has a label issue
        after = 0
        while True:
            rows = conn.execute(
                sa.select(flag.c.id, flag.c.note)
                .where(flag.c.project_id == pid, flag.c.kind == 'label_issue', flag.c.id > after)
                .order_by(flag.c.id)
                .limit(BATCH)
            ).all()
            if not rows:
                break
            if labels is None:
                labels = _target_labels(schema)
            changes = []
            for flag_id, note in rows:
                label, p = guess(note, labels)
                if label is not None:
                    changes.append({"id": flag_id, "label": label, "p": p})
            if changes:
                conn.execute(update, changes)
            after = rows[-1][0]


def upgrade() -> None:
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suggestion', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('suggestion_confidence', sa.Float(), nullable=True))
    _backfill()


def downgrade() -> None:
    # Not in batch mode: SQLite's own DROP COLUMN (3.35+) needs no copy of the table.
    op.drop_column('flag', 'suggestion_confidence')
    op.drop_column('flag', 'suggestion')
