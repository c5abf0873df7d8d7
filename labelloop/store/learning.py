"""What the learner reads (one snapshot) and writes (a model version and its queue, at once)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    Text,
    case,
    cast,
    delete,
    func,
    select,
    update,
)

from labelloop.store.batches import withdrawn
from labelloop.store.db import insert_many, load_json, new_id
from labelloop.store.tables import (
    AUTO,
    feature_count,
    import_batch,
    item,
    item_label,
    learner_beat,
    model_version,
    project,
    queue_entry,
    round_failure,
)
from labelloop.store.users import now

_CHUNK = 500  # ids per statement


def left_the_pool(conn: Connection, item_ids: Sequence[int]) -> set[int]:
    """Those of ``item_ids`` gone from the pool since a round or an auto-label run read them:
    removed, or being removed, with their import (an undo began meanwhile)."""
    staying: set[int] = set()
    for start in range(0, len(item_ids), _CHUNK):
        ids = list(item_ids[start : start + _CHUNK])
        q = select(item.c.id).where(item.c.id.in_(ids), ~withdrawn(item.c.id))
        staying.update(int(i) for i in conn.execute(q).scalars())
    return set(item_ids) - staying


def _pooled(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The queue rows whose items are still in the pool (:func:`left_the_pool`)."""
    gone = left_the_pool(conn, [int(r["item_id"]) for r in rows])
    return [r for r in rows if int(r["item_id"]) not in gone]


def items_of(
    conn: Connection,
    project_id: int,
    split: str,
    *,
    payloads: bool = True,
    tag: str | None = None,
) -> list[RowMapping]:
    """Every item of a split with its resolved target label (None when unlabeled), in id order.

    A label the model gave (an auto-label run) is no label to learn from: its ``label`` is None
    and its column ``auto`` true (false or None otherwise), so a round neither trains on it nor
    queues its item.

    ``payloads=False`` leaves the item content out: decoding it dominates a round's read, and
    the learner needs it only when the project's items changed. ``tag`` adds the value of that
    metadata field as column ``tag`` (None without it): the database extracts it, so the rest
    of the metadata (up to 64 KiB an item) is neither sent nor decoded.
    """
    auto = item_label.c.resolution == AUTO
    columns = [
        item.c.id,
        case((auto, None), else_=item_label.c.label).label("label"),
        auto.label("auto"),
    ] + ([item.c.payload] if payloads else [])
    columns += [item.c.meta[tag].label("tag")] if tag is not None else []
    q = (
        select(*columns)
        .outerjoin(item_label, item_label.c.item_id == item.c.id)
        .where(item.c.project_id == project_id, item.c.split == split, ~withdrawn(item.c.id))
        .order_by(item.c.id)
    )
    return list(conn.execute(q).mappings())


def ids_of(conn: Connection, project_id: int, split: str) -> list[int]:
    """The ids of the items :func:`items_of` lists, alone: a third of its time on a large
    pool, for a reader that looks their rows up elsewhere (the feature cache)."""
    q = (
        select(item.c.id)
        .where(item.c.project_id == project_id, item.c.split == split, ~withdrawn(item.c.id))
        .order_by(item.c.id)
    )
    return [int(i) for i in conn.execute(q).scalars()]


def values_of(conn: Connection, project_id: int, split: str) -> list[RowMapping]:
    """Every item of a split with its content, imported prediction and resolved value (None when
    unlabeled), in id order: what a spans or boxes round learns from."""
    q = (
        select(item.c.id, item.c.payload, item.c.prediction, item_label.c.value)
        .outerjoin(item_label, item_label.c.item_id == item.c.id)
        .where(item.c.project_id == project_id, item.c.split == split, ~withdrawn(item.c.id))
        .order_by(item.c.id)
    )
    return list(conn.execute(q).mappings())


PAYLOADS_DECODED_AT_ONCE = 5000
"""Payloads read as text and decoded as one JSON array: one decoder call per this many items,
not one each (a round's first read of a 384,000-row table spent most of its time in them)."""


def payloads_of(conn: Connection, project_id: int) -> dict[int, Any]:
    """Every item's content by id (pool and eval)."""
    q = select(item.c.id, cast(item.c.payload, Text)).where(item.c.project_id == project_id)
    found: dict[int, Any] = {}
    result = conn.execute(q)
    while batch := result.fetchmany(PAYLOADS_DECODED_AT_ONCE):
        # As bytes: the check for long numbers load_json makes is twice as fast on them.
        decoded = load_json(("[" + ",".join(text for _, text in batch) + "]").encode())
        found.update(zip((int(i) for i, _ in batch), decoded, strict=True))
    return found


def pool_labels(conn: Connection, project_id: int) -> tuple[int, int]:
    """Pool items with a label to learn from (people's and imported ones), and those the model
    labeled in auto-label runs instead: one count of each."""
    auto = item_label.c.resolution == AUTO
    q = (
        select(auto, func.count())
        .select_from(item_label.join(item, item.c.id == item_label.c.item_id))
        .where(item_label.c.project_id == project_id, item.c.split == "pool")
        .group_by(auto)
    )
    found = {bool(by_model): int(n) for by_model, n in conn.execute(q)}
    return found.get(False, 0), found.get(True, 0)


def n_items(conn: Connection, project_id: int, split: str = "pool") -> int:
    q = select(func.count()).where(item.c.project_id == project_id, item.c.split == split)
    return int(conn.execute(q).scalar_one())


def last_import(conn: Connection, project_id: int) -> int | None:
    """The newest import of the project that brought items (None before any): with the pool's
    size it tells a round whether the items changed, as an import undone and another of the
    same size leave the size as it was."""
    q = select(func.max(import_batch.c.id)).where(
        import_batch.c.project_id == project_id, import_batch.c.n_items > 0
    )
    found = conn.execute(q).scalar_one_or_none()
    return None if found is None else int(found)


def projects_untrained_first(conn: Connection) -> list[tuple[int, bool]]:
    """Every project's id and whether it has a model version (a queue), those without first,
    each part in id order: the learner's order of work in a pass."""
    trained = select(model_version.c.id).where(model_version.c.project_id == project.c.id)
    q = select(project.c.id, trained.exists()).order_by(trained.exists(), project.c.id)
    return [(int(i), bool(has)) for i, has in conn.execute(q)]


def latest(conn: Connection, project_id: int) -> RowMapping | None:
    q = (
        select(model_version)
        .where(model_version.c.project_id == project_id)
        .order_by(model_version.c.version.desc())
        .limit(1)
    )
    return conn.execute(q).mappings().first()


def history(conn: Connection, project_id: int) -> list[RowMapping]:
    q = (
        select(model_version)
        .where(model_version.c.project_id == project_id)
        .order_by(model_version.c.version)
    )
    return list(conn.execute(q).mappings())


def save_round(
    conn: Connection,
    *,
    project_id: int,
    version: dict[str, Any],
    queue: Sequence[dict[str, Any]],
) -> int:
    """Store a model version with its ranked queue; serving switches to it at commit. The
    queue leaves out items an undo of their import took meanwhile (:func:`left_the_pool`)."""
    queue = _pooled(conn, queue)
    res = conn.execute(
        model_version.insert().values(project_id=project_id, created_at=now(), **version)
    )
    mv_id = new_id(res)
    _insert_queue(conn, project_id=project_id, model_version_id=mv_id, rows=queue)
    return mv_id


def append_queue(
    conn: Connection, *, project_id: int, model_version_id: int, rows: Sequence[dict[str, Any]]
) -> None:
    """Add lower-ranked entries to a queue already being served (those of items still in the
    pool)."""
    rows = _pooled(conn, rows)
    _insert_queue(conn, project_id=project_id, model_version_id=model_version_id, rows=rows)


def _insert_queue(
    conn: Connection, *, project_id: int, model_version_id: int, rows: Sequence[dict[str, Any]]
) -> None:
    """Write queue entries of a model version in one :func:`insert_many`: one statement per 200
    entries on PostgreSQL, where an executemany sent one per entry (a whole-pool queue of
    20,000 was 20,000 statements)."""
    ids = {"model_version_id": model_version_id, "project_id": project_id}
    insert_many(conn, queue_entry, [dict(row, **ids) for row in rows])


def old_queues(conn: Connection, *, project_id: int, keep: int) -> list[tuple[int, int]]:
    """The queues of a project other than ``keep``: (model version id, highest rank)."""
    q = (
        select(queue_entry.c.model_version_id, func.max(queue_entry.c.rank))
        .where(queue_entry.c.project_id == project_id, queue_entry.c.model_version_id != keep)
        .group_by(queue_entry.c.model_version_id)
    )
    return [(int(mv), int(top)) for mv, top in conn.execute(q)]


def prune_queue(conn: Connection, model_version_id: int, *, ranks: tuple[int, int]) -> None:
    """Drop the entries of an old queue whose rank is in ``[start, stop)``."""
    start, stop = ranks
    conn.execute(
        delete(queue_entry).where(
            queue_entry.c.model_version_id == model_version_id,
            queue_entry.c.rank >= start,
            queue_entry.c.rank < stop,
        )
    )


def record_round_failure(conn: Connection, project_id: int, error: str) -> tuple[int, bool]:
    """Note that a training round of the project failed with ``error``: the failures in a row,
    and whether the error is new (none before, or another)."""
    at = now()
    error = error[:500]
    found = conn.execute(
        select(round_failure.c.failures, round_failure.c.error).where(
            round_failure.c.project_id == project_id
        )
    ).first()
    if found is None:
        conn.execute(
            round_failure.insert().values(
                project_id=project_id, error=error, failures=1, first_at=at, last_at=at
            )
        )
        return 1, True
    conn.execute(
        update(round_failure)
        .where(round_failure.c.project_id == project_id)
        .values(error=error, failures=found.failures + 1, last_at=at)
    )
    return int(found.failures) + 1, found.error != error


def clear_round_failure(conn: Connection, project_id: int) -> None:
    """A round of the project succeeded: its failures are over."""
    conn.execute(delete(round_failure).where(round_failure.c.project_id == project_id))


def round_failure_of(conn: Connection, project_id: int) -> RowMapping | None:
    """The project's failing rounds (error, failures in a row, first_at, last_at), or None."""
    q = select(round_failure).where(round_failure.c.project_id == project_id)
    return conn.execute(q).mappings().first()


BEAT_EVERY_S = 30.0
"""How often a running learner notes that it runs."""
BEAT_STALE_S = 120.0
"""A learner not seen for this long is taken for stopped (four beats missed; a learner beats
from a thread of its own, so a long round does not hold its beat back)."""


BEAT_KEPT = timedelta(days=1)
"""A learner not seen for this long is forgotten (each start of a process is a new name)."""


def beat(conn: Connection, name: str, *, started_at: datetime) -> None:
    """Note that the learner ``name`` runs now, and forget those not seen for ``BEAT_KEPT``."""
    at = now()
    done = conn.execute(
        update(learner_beat).where(learner_beat.c.name == name).values(seen_at=at)
    ).rowcount
    if not done:
        conn.execute(learner_beat.insert().values(name=name, started_at=started_at, seen_at=at))
    conn.execute(delete(learner_beat).where(learner_beat.c.seen_at < at - BEAT_KEPT))


def last_beat(conn: Connection) -> datetime | None:
    """When any learner last noted that it runs (None: none ever did, or long ago)."""
    return conn.execute(select(func.max(learner_beat.c.seen_at))).scalar()


def note_features(conn: Connection, project_id: int, featurizer: str, computed: int) -> None:
    """Note how many items' features (embeddings) a learner has computed for a project, so a
    serve process on another machine, whose data dir holds none, can tell the progress."""
    values = {"computed": computed, "at": now()}
    done = conn.execute(
        update(feature_count)
        .where(feature_count.c.project_id == project_id, feature_count.c.featurizer == featurizer)
        .values(**values)
    ).rowcount
    if not done:
        conn.execute(
            feature_count.insert().values(project_id=project_id, featurizer=featurizer, **values)
        )


def noted_features(conn: Connection, project_id: int, featurizer: str) -> int | None:
    """How many items' features a learner last noted for a project (None: it never did)."""
    return conn.execute(
        select(feature_count.c.computed).where(
            feature_count.c.project_id == project_id, feature_count.c.featurizer == featurizer
        )
    ).scalar()
