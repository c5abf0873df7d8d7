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
