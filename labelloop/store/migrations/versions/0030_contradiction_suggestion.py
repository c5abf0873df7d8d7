"""contradiction suggestion: a model_contradicts flag raised before its check wrote the model's
label and probability into the flag gets them from the answer it was raised on

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-08 05:00:00.000000

The check compares an answer with the suggestion its lease offered, which the answer records
as it was shown (annotation.suggestion and suggestion_confidence); the flag gets the same
label and that probability to DIGITS decimals, as flags are written now. A flag that already
holds a suggestion keeps it. A downgrade leaves the columns as they are: revision 0029's code
writes and reads them for model_contradicts flags alike, and the values are the ones it would
have written, so emptying them would only send its pages back to the notes.
"""

from alembic import op
import sqlalchemy as sa

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

BATCH = 1000
DIGITS = 4
"""Decimals a flag keeps of the model's probability (store.review.CONFIDENCE_DIGITS at this
revision, fixed here so the migration writes the same whatever that becomes)."""

FLAG = sa.table(
    'flag',
    sa.column('id'),
    sa.column('annotation_id'),
    sa.column('kind'),
    sa.column('suggestion'),
    sa.column('suggestion_confidence'),
)
ANNOTATION = sa.table(
    'annotation', sa.column('id'), sa.column('suggestion'), sa.column('suggestion_confidence')
)


def upgrade() -> None:
    conn = op.get_bind()
    f, a = FLAG.c, ANNOTATION.c
    update = (
        sa.update(FLAG)
        .where(f.id == sa.bindparam('flag_id'))
        .values(suggestion=sa.bindparam('label'), suggestion_confidence=sa.bindparam('p'))
    )
    after = 0
    while rows := conn.execute(
        sa.select(f.id, a.suggestion, a.suggestion_confidence)
        .select_from(FLAG.join(ANNOTATION, a.id == f.annotation_id))
        .where(
            f.kind == 'model_contradicts',
            f.suggestion.is_(None),
            a.suggestion.is_not(None),
            a.suggestion_confidence.is_not(None),
            f.id > after,
        )
        .order_by(f.id)
        .limit(BATCH)
    ).all():
        changes = [
            {"flag_id": flag_id, "label": label, "p": round(float(p), DIGITS)}
            for flag_id, label, p in rows
        ]
        conn.execute(update, changes)
        after = rows[-1][0]


def downgrade() -> None:
    pass  # the filled columns stay: see the docstring
