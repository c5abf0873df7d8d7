"""Every way an item is served offers that item's own pre-annotations: the model's queue, a
search pick sent to the front, a random control, and a gold check mixed in."""

from __future__ import annotations

import io
import json
from typing import Any

from labelloop.workflow import imports, quality, seeding, tasks


def _import_predicted(lab: Any, ctx: Any, rows: list[dict[str, Any]]) -> dict[str, str]:
    """Import rows each predicted with its own label and score; external id -> predicted label."""
    predicted = {}
    lines = []
    for i, row in enumerate(rows):
        label = lab.truth(row["text"])
        predicted[row["id"]] = label
        lines.append(
            json.dumps({**row, "predictions": {"sentiment": {"label": label, "score": i / 100}}})
        )
    imports.import_items(
        lab.db,
        ctx,
        io.BytesIO("\n".join(lines).encode()),
        fmt="jsonl",
        filename="predicted.jsonl",
        id_field="id",
        prediction_field="predictions",
    )
    return predicted


def _offered(task: dict[str, Any]) -> Any:
    return (task["suggestion"] or {}).get("value", {}).get("sentiment")


def test_a_search_pick_is_served_with_its_own_predictions(lab: Any) -> None:
    ctx = lab.project()
    predicted = _import_predicted(lab, ctx, lab.rows(9))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    items = {r["external_id"]: r["id"] for r in imports_of(lab, ctx)}
    picked = "doc-4"
    seeding.send_to_queue(lab.db, ann, [items[picked]], query="doc")
    task = tasks.next_task(lab.db, ann)
    assert task is not None and task["item"]["external_id"] == picked
    assert task["selection"]["strategy"] == "search"
    assert _offered(task)["label"] == predicted[picked]


def test_a_gold_check_carries_the_gold_items_predictions_not_the_queue_entrys(lab: Any) -> None:
    ctx = lab.project(gold_rate=0.5)
    predicted = _import_predicted(lab, ctx, lab.rows(12))
    gold_rows = lab.rows(3, start=500, prefix="gold")
    lab.import_rows(ctx, gold_rows)  # gold items come without predictions
    for row in gold_rows:
        quality.set_gold(lab.db, ctx, {"sentiment": lab.truth(row["text"])}, external_id=row["id"])
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    golds = 0
    for _ in range(15):
        task = tasks.next_task(lab.db, ann)
        if task is None:
            break
        name = task["item"]["external_id"]
        if name.startswith("gold"):
            golds += 1
            assert _offered(task) is None, "a gold item must not show another item's prediction"
        else:
            assert _offered(task)["label"] == predicted[name]
        answer = {"sentiment": lab.truth(task["item"]["data"]["text"])}
        tasks.submit(lab.db, ann, task["assignment_id"], answer, active_ms=1000)
    assert golds == 3


def imports_of(lab: Any, ctx: Any) -> list[dict[str, Any]]:
    from labelloop.store import learning as store_learning

    with lab.db.read() as conn:
        rows = store_learning.items_of(conn, ctx.id, "pool")
        ids = {int(r["id"]) for r in rows}
        found = conn.exec_driver_sql("SELECT id, external_id FROM item").all()
    return [{"id": int(i), "external_id": e} for i, e in found if int(i) in ids]
