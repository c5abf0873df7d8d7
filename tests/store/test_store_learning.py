"""What the learner reads from the store."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from labelloop.store import learning as store_learning
from labelloop.workflow import imports, projects
from tests.conftest import Lab


def test_every_payload_reads_back_as_stored_a_batch_at_a_time(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Payloads are decoded many to one decoder call; each still comes back as stored, an
    integer beyond 64 bits, an accent and an empty cell included, on either engine."""
    monkeypatch.setattr(store_learning, "PAYLOADS_DECODED_AT_ONCE", 3)
    schema = {
        "name": "Rows",
        "data": {"type": "table", "field": "row"},
        "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"], "target": True}],
    }
    projects.create_project(lab.db, "rows", schema, actor=lab.admin)
    ctx = lab.ctx("rows", lab.admin)
    records: list[dict[str, Any]] = [
        {"id": str(i), "n": 2**70 + i, "city": "Zürich" if i % 2 else "Oslo", "gap": None}
        for i in range(8)
    ]
    body = "".join(json.dumps(r) + "\n" for r in records).encode()
    imports.import_items(
        lab.db, ctx, io.BytesIO(body), fmt="jsonl", filename="r.jsonl", id_field="id"
    )
    with lab.db.read() as conn:
        found = store_learning.payloads_of(conn, ctx.id)
        ids = dict(conn.exec_driver_sql("SELECT external_id, id FROM item").all())
    assert len(found) == 8
    for r in records:
        payload = found[int(ids[r["id"]])]
        assert payload == {"row": {"n": r["n"], "city": r["city"], "gap": None}}
        assert isinstance(payload["row"]["n"], int)


def test_a_queue_is_stored_as_one_inserted_row_by_row(lab: Lab) -> None:
    """A round's queue and the rows appended to it are stored exactly as an INSERT per entry
    stores them: every column, a suggested value's JSON text and a null one (JSON null, not
    SQL NULL) included."""
    from sqlalchemy import Text, cast, select

    from labelloop.store.tables import model_version, queue_entry

    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(6))
    with lab.db.read() as conn:
        ids = [int(i) for i in conn.exec_driver_sql("SELECT id FROM item ORDER BY id").scalars()]
    spans = {"ents": [{"start": 0, "end": 4, "label": 'a "b"\\ \n', "score": 0.25}]}
    rows = [
        {
            "rank": rank,
            "item_id": item_id,
            "score": 1 / (rank + 3),
            "reason": f"unsure ({rank}): 'é' \"x\" {{}}",
            "suggestion": None if rank % 2 else "neutral",
            "suggestion_confidence": None if rank % 2 else 0.1 * rank,
            "suggestion_value": None if rank % 3 else {**spans, "rank": rank},
        }
        for rank, item_id in enumerate(reversed(ids))
    ]
    version = {
        "n_train": 0,
        "strategy": "margin",
        "featurizer": "tfidf",
        "model": "m",
        "params": {},
        "metrics": {},
        "stop_predictions": [],
        "stopping": {},
        "train_seconds": 0.0,
    }
    with lab.db.write() as conn:
        ours = store_learning.save_round(
            conn, project_id=ctx.id, version={**version, "version": 1}, queue=rows[:2]
        )
        store_learning.append_queue(conn, project_id=ctx.id, model_version_id=ours, rows=rows[2:])
        theirs = store_learning.save_round(
            conn, project_id=ctx.id, version={**version, "version": 2}, queue=[]
        )
        conn.execute(
            queue_entry.insert(),
            [dict(r, model_version_id=theirs, project_id=ctx.id) for r in rows],
        )
        assert conn.execute(select(model_version.c.id)).scalars().all() == [ours, theirs]

    def stored(mv_id: int) -> list[tuple[Any, ...]]:
        columns = [c for c in queue_entry.c if c.key != "model_version_id"]
        shown = [cast(c, Text) if c.key == "suggestion_value" else c for c in columns]
        null = queue_entry.c.suggestion_value.is_(None)
        q = select(*shown, null).where(queue_entry.c.model_version_id == mv_id)
        with lab.db.read() as conn:
            return [tuple(r) for r in conn.execute(q.order_by(queue_entry.c.rank))]

    assert stored(ours) == stored(theirs)
    assert len(stored(ours)) == 6 and not any(r[-1] for r in stored(ours))
