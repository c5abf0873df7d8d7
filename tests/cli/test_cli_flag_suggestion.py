"""`labelloop items SLUG --show ITEM` says what the model suggested against an answer it
contradicts, from the flag's data, with its probability to 2 decimals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labelloop.store.db import Database
from labelloop.workflow import tasks
from tests.cli.conftest import flag_label
from tests.conftest import CLASSES, Lab, make_rows


def test_the_trace_shows_the_label_the_model_suggested_against_the_answer(
    cli: Any, tmp_path: Path
) -> None:
    cli("init")
    lab = Lab(Database(cli.db_url))
    try:
        ctx = lab.project("sent", contradiction_threshold=0.5)
        lab.import_rows(ctx, make_rows(60, labeled=True), labeled=True)
        lab.import_rows(ctx, make_rows(20, start=100), filename="more.jsonl")
        lab.train(ctx)
        ann = lab.member("sent", "ann", "annotator")
        task = tasks.next_task(lab.db, ann)
        assert task is not None
        shown = task["suggestion"]
        assert shown is not None and shown["confidence"] >= 0.5
        other = next(c for c in CLASSES if c != shown["label"])
        tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": other}, active_ms=4000)
    finally:
        lab.db.dispose()
    # a flag of the model's whose note words it otherwise: the data is what is shown
    flag_label(cli, "doc-2", "the round doubts it", guess=("neutral", 0.8765))

    said = cli("items", "sent", "--show", task["item"]["external_id"]).stdout
    doubted = cli("items", "sent", "--show", "doc-2").stdout

    sure = f"{shown['confidence']:.2f}"
    assert f"flag model_contradicts (open): model says: {shown['label']} ({sure})" in said
    assert "flag label_issue (open): model says: neutral (0.88)" in doubted
    assert "the round doubts it" not in doubted
