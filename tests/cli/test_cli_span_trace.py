"""`labelloop items SLUG --show ITEM` on a spans project: every value of the trace (the label,
each answer, a reviewer's fix, the history; an annotator's own trace) gives each span the words
it covers, as the export does, counted past an emoji as the server counts them."""

from __future__ import annotations

import io
import json
from typing import Any

from labelloop.store.db import Database
from labelloop.workflow import imports, projects, review, tasks
from tests.conftest import Lab

SCHEMA = {
    "name": "People and places",
    "data": {"type": "text", "field": "text"},
    "controls": [{"name": "entities", "type": "spans", "labels": ["person", "place"]}],
    "settings": {"review_policy": "all"},
}
TEXT = "🙂 Zoë met Ada Lovelace in Paris."


def _span(words: str, label: str) -> dict[str, Any]:
    start = TEXT.index(words)
    return {"start": start, "end": start + len(words), "label": label}


def _shown(*spans: dict[str, Any]) -> str:
    """A value as the trace prints it: JSON, each span with its words."""
    words = [{**s, "text": TEXT[s["start"] : s["end"]]} for s in spans]
    return json.dumps({"entities": words}, ensure_ascii=False)


def test_a_span_trace_names_the_words_of_each_span(cli: Any) -> None:
    cli("init")
    lab = Lab(Database(cli.db_url))
    projects.create_project(lab.db, "ents", SCHEMA, actor=lab.admin)
    ctx = lab.ctx("ents", lab.admin)
    row = json.dumps({"id": "t1", "text": TEXT}, ensure_ascii=False) + "\n"
    imports.import_items(
        lab.db, ctx, io.BytesIO(row.encode()), fmt="jsonl", filename="t.jsonl", id_field="id"
    )
    lab.train(ctx)
    ann = lab.member("ents", "ann", "annotator")
    rev = lab.member("ents", "rev", "reviewer")
    task = tasks.next_task(lab.db, ann)
    assert task is not None
    answered = (_span("Ada Lovelace", "place"), _span("Paris", "place"))
    done = tasks.submit(
        lab.db, ann, task["assignment_id"], {"entities": list(answered)}, active_ms=900
    )
    fixed = (_span("Zoë", "person"), _span("Ada Lovelace", "person"), _span("Paris", "place"))
    review.review_annotation(
        lab.db, rev, done["annotation_id"], verdict="fix", value={"entities": list(fixed)}
    )

    trace = cli("items", "ents", "--show", "t1").stdout
    said = " ".join(trace.split())
    assert f"label: {_shown(*fixed)} (reviewed by rev, " in said
    assert f"answer by ann: {_shown(*answered)} (fixed), " in said
    assert f"review by rev: fix to {_shown(*fixed)}, " in said
    assert f"ann: labeled it {_shown(*answered)} (guideline v1)" in said
    own = " ".join(cli("items", "ents", "--as", "ann", "--show", "t1").stdout.split())
    assert f"your answer: {_shown(*answered)} (" in own
    assert f"review by rev: fix to {_shown(*fixed)}, " in own


def test_a_text_with_no_spans_is_listed_as_no_spans(cli: Any) -> None:
    # An annotator who accepted a text with nothing to mark answered "no spans": the list and
    # My answers say so, where they said "none" as of an unknown label.
    cli("init")
    lab = Lab(Database(cli.db_url))
    projects.create_project(lab.db, "ents", {**SCHEMA, "settings": {}}, actor=lab.admin)
    ctx = lab.ctx("ents", lab.admin)
    row = json.dumps({"id": "t1", "text": "Nobody went anywhere."}) + "\n"
    imports.import_items(
        lab.db, ctx, io.BytesIO(row.encode()), fmt="jsonl", filename="t.jsonl", id_field="id"
    )
    lab.train(ctx)
    ann = lab.member("ents", "ann", "annotator")
    task = tasks.next_task(lab.db, ann)
    assert task is not None
    tasks.submit(lab.db, ann, task["assignment_id"], {"entities": []}, active_ms=900)
    listed = cli("items", "ents").stdout.splitlines()
    assert listed[1].split()[:4] == ["t1", "pool", "no", "spans"], listed
    own = cli("items", "ents", "--as", "ann").stdout.splitlines()
    assert own[1].split()[:3] == ["t1", "no", "spans"], own
