"""Items and import batches: bulk inserts for imports, counts derived by queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, case, delete, exists, func, select

from labelloop.store import highwater, wordindex
from labelloop.store.db import Database, insert_many, new_id
from labelloop.store.learning import n_items, pool_labels
from labelloop.store.review import LIVE_STATES, PENDING_STATES
from labelloop.store.tables import (
    AUTO,
    annotation,
    assignment,
    gold_answer,
    import_batch,
    item,
    item_label,
    queue_entry,
)
from labelloop.store.users import now

CHUNK = 500
"""Items named per statement by the label writes (below every engine's parameter limit)."""


def existing_hashes(conn: Connection, project_id: int) -> set[str]:
    q = select(item.c.content_hash).where(item.c.project_id == project_id)
    return set(conn.execute(q).scalars())


def existing_ids(conn: Connection, project_id: int) -> dict[str, int]:
    """External id -> item id of the project's items that have one (the lowest item id when
    several share one, as imports allowed before ids had to be unique)."""
    q = (
        select(item.c.external_id, func.min(item.c.id))
        .where(item.c.project_id == project_id, item.c.external_id.is_not(None))
        .group_by(item.c.external_id)
    )
    return {str(external): int(item_id) for external, item_id in conn.execute(q)}


def images_under(conn: Connection, project_id: int, folder: str) -> set[str]:
    """The image paths of the project's items that lie in ``folder`` (a path under a media
    root, as items name it): the files an uploaded zip's folder holds for them."""
    path = item.c.payload["image"].as_string()
    q = select(path).where(
        item.c.project_id == project_id, path.startswith(folder + "/", autoescape=True)
    )
    return set(conn.execute(q).scalars())


def upload_folders(conn: Connection, project_id: int) -> set[str]:
    """The folders the project's imports stored an uploaded zip's images in."""
    q = select(import_batch.c.upload_folder).where(
        import_batch.c.project_id == project_id, import_batch.c.upload_folder.is_not(None)
    )
    return set(conn.execute(q).scalars())


def insert_batch(conn: Connection, **values: Any) -> int:
    res = conn.execute(highwater.insert_of(conn, import_batch).values(created_at=now(), **values))
    return new_id(res)


def insert_items(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert many items of one import batch and return their ids in the order given.

    A plain executemany (RETURNING would make SQLite insert row by row); the ids are then read
    back by content hash, which is unique within a project once duplicates are dropped.
    """
    if not rows:
        return []
    insert_many(conn, item, rows, stmt=highwater.insert_of(conn, item))
    batch_id = rows[0]["import_batch_id"]
    first = (  # found through the (project, content hash) index: a lookup, not a table scan
        select(item.c.id)
        .where(
            item.c.project_id == rows[0]["project_id"],
            item.c.content_hash == rows[0]["content_hash"],
            item.c.import_batch_id == batch_id,
        )
        .scalar_subquery()
    )
    q = select(item.c.content_hash, item.c.id).where(
        item.c.import_batch_id == batch_id, item.c.id >= first
    )
    ids = {h: int(i) for h, i in conn.execute(q)}
    wordindex.index_new(conn, batch_id=batch_id, first=min(ids.values()))
    return [ids[r["content_hash"]] for r in rows]


def analyze_after_import(db: Database) -> None:
    """Refresh the planner's statistics of the tables an import fills (after it committed)."""
    db.analyze(item.name, item_label.name)


def insert_labels(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    insert_many(conn, item_label, rows)


def labels_by_hash(
    conn: Connection, project_id: int, hashes: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The project's items with these content hashes: ``item_id``, ``split``, the
    ``import_batch_id`` that brought each, their resolved label's ``value`` and ``resolution``
    (None when unlabeled) and whether each is a ``gold`` check."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(hashes), CHUNK):
        q = (
            select(
                item.c.content_hash,
                item.c.id,
                item.c.split,
                item.c.import_batch_id,
                item_label.c.value,
                item_label.c.resolution,
                exists().where(gold_answer.c.item_id == item.c.id).label("gold"),
            )
            .outerjoin(item_label, item_label.c.item_id == item.c.id)
            .where(
                item.c.project_id == project_id,
                item.c.content_hash.in_(list(hashes[start : start + CHUNK])),
            )
            .order_by(item.c.id.desc())  # several items of one content: the first one
        )
        for r in conn.execute(q).mappings():
            found[r["content_hash"]] = {
                "item_id": int(r["id"]),
                "split": r["split"],
                "import_batch_id": r["import_batch_id"],
                "value": r["value"],
                "resolution": r["resolution"],
                "gold": bool(r["gold"]),
            }
    return found


def replace_labels(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Set the resolved labels of ``rows``' items, replacing any they had, and take the items
    out of every queue."""
    for start in range(0, len(rows), CHUNK):
        part = list(rows[start : start + CHUNK])
        ids = [r["item_id"] for r in part]
        conn.execute(delete(item_label).where(item_label.c.item_id.in_(ids)))
        conn.execute(delete(queue_entry).where(queue_entry.c.item_id.in_(ids)))
        insert_many(conn, item_label, part)


def get_item(conn: Connection, *, project_id: int, item_id: int) -> RowMapping | None:
    q = select(item).where(item.c.id == item_id, item.c.project_id == project_id)
    return conn.execute(q).mappings().first()


def n_gold_checks(conn: Connection, project_id: int) -> int:
    """Gold items of the pool without a resolved label: checks, not work, so they are neither
    labeled nor remaining (a gold item labeled before it became gold counts as labeled)."""
    q = (
        select(func.count())
        .select_from(gold_answer.join(item, item.c.id == gold_answer.c.item_id))
        .where(
            gold_answer.c.project_id == project_id,
            item.c.split == "pool",
            ~exists().where(item_label.c.item_id == gold_answer.c.item_id),
        )
    )
    return int(conn.execute(q).scalar_one())


def n_to_label(conn: Connection, project_id: int) -> int:
    """Pool items still to label: without a resolved label, not a gold check and not being
    undone. The project is done when this is 0 (the ``remaining`` of :func:`counts`, what the
    idle page reads)."""
    pool = n_items(conn, project_id) - n_gold_checks(conn, project_id)
    items, labels = withdrawn(conn, project_id).get("pool", (0, 0))
    return pool - sum(pool_labels(conn, project_id)) - (items - labels)


def withdrawn(conn: Connection, project_id: int) -> dict[str, tuple[int, int]]:
    """Per split, the items of the project's imports being undone (withdrawn: served to and
    answered by nobody, so no work left) and how many of them have a label (imported ones:
    people's answers and auto-label runs keep an import from being undone). Read through the
    project's few imports being undone, never the whole item table."""
    q = (
        select(item.c.split, func.count(), func.count(item_label.c.item_id))
        .select_from(
            import_batch.join(item, item.c.import_batch_id == import_batch.c.id).outerjoin(
                item_label, item_label.c.item_id == item.c.id
            )
        )
        .where(import_batch.c.project_id == project_id, import_batch.c.undoing_at.is_not(None))
        .group_by(item.c.split)
    )
    return {str(split): (int(n), int(labeled)) for split, n, labeled in conn.execute(q)}


def counts(conn: Connection, project_id: int) -> dict[str, int]:
    """Items per split, labeled pool and eval items and annotations: the project's progress,
    derived. ``pool`` counts the items to label, so gold checks (``gold``, see
    :func:`n_gold_checks`) are left out of it and of ``remaining``. ``labeled`` counts the
    labels people gave or imported, ``auto_labeled`` those the model gave in auto-label runs;
    ``remaining`` is what neither labeled; items of an import being undone count nowhere.
    ``awaiting_label`` counts the pool's items answered but not labeled yet (gold checks
    aside), ``awaiting_review`` those of them with an answer waiting for a reviewer or the
    expert tier (the rest wait for another annotator's answer)."""
    per_split = (
        select(item.c.split, func.count())
        .where(item.c.project_id == project_id)
        .group_by(item.c.split)
    )
    by_split = {str(split): int(n) for split, n in conn.execute(per_split)}
    auto = item_label.c.resolution == AUTO
    labeled_per_split = (
        select(item.c.split, auto, func.count())
        .select_from(item_label.join(item, item.c.id == item_label.c.item_id))
        .where(item_label.c.project_id == project_id)
        .group_by(item.c.split, auto)
    )
    labeled_by_split: dict[str, int] = {}
    auto_labeled = 0
    for split, by_model, n in conn.execute(labeled_per_split):
        if by_model and split == "pool":
            auto_labeled += int(n)
        elif not by_model:
            labeled_by_split[str(split)] = labeled_by_split.get(str(split), 0) + int(n)
    labeled = labeled_by_split.get("pool", 0)
    n_annotations = conn.execute(
        select(func.count()).where(annotation.c.project_id == project_id)
    ).scalar_one()
    leased = conn.execute(
        select(func.count()).where(
            assignment.c.project_id == project_id,
            assignment.c.state == "leased",
            assignment.c.lease_expires_at > now(),
        )
    ).scalar_one()
    awaiting_label, awaiting_review = _awaiting(conn, project_id)
    gold = n_gold_checks(conn, project_id)
    going = withdrawn(conn, project_id)  # an import's items being undone: no longer counted
    pool = int(by_split.get("pool", 0)) - gold - going.get("pool", (0, 0))[0]
    labeled -= going.get("pool", (0, 0))[1]
    return {
        "pool": pool,
        "gold": gold,
        "eval": int(by_split.get("eval", 0)) - going.get("eval", (0, 0))[0],
        "eval_labeled": labeled_by_split.get("eval", 0) - going.get("eval", (0, 0))[1],
        "labeled": labeled,
        "auto_labeled": auto_labeled,
        "remaining": pool - labeled - auto_labeled,
        "annotations": int(n_annotations),
        "leased": int(leased),
        "awaiting_label": awaiting_label,
        "awaiting_review": awaiting_review,
    }


def _awaiting(conn: Connection, project_id: int) -> tuple[int, int]:
    """Pool items answered but not labeled yet, and those of them with an answer in review
    (under review or overlap an answer is not a label: a labeling page says so)."""
    pending = case((annotation.c.status.in_(PENDING_STATES), annotation.c.item_id))
    q = (
        select(func.count(func.distinct(annotation.c.item_id)), func.count(func.distinct(pending)))
        .select_from(annotation.join(item, item.c.id == annotation.c.item_id))
        .where(
            annotation.c.project_id == project_id,
            annotation.c.status.in_(LIVE_STATES),
            item.c.split == "pool",
            ~exists().where(item_label.c.item_id == annotation.c.item_id),
            ~exists().where(gold_answer.c.item_id == annotation.c.item_id),
        )
    )
    answered, in_review = conn.execute(q).one()
    return int(answered), int(in_review)


def update_batch(conn: Connection, batch_id: int, **values: Any) -> None:
    conn.execute(import_batch.update().where(import_batch.c.id == batch_id).values(**values))
