"""Review fixes, adjudications and gold answers are checked against the item like submissions:
spans inside the text, boxes inside the image."""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.errors import SchemaError
from labelloop.workflow import projects, tasks
from labelloop.workflow import quality as wf_quality
from labelloop.workflow import review as wf_review
from tests.conftest import Lab

SCHEMA = {
    "name": "Entities",
    "data": {"type": "text", "field": "text"},
    "controls": [{"name": "ents", "type": "spans", "labels": ["PER", "LOC"]}],
    "settings": {"review_policy": "all"},
}
TEXT = "Ann flew to Rome"
PAST_END = {"ents": [{"start": 12, "end": 30, "label": "LOC"}]}
INSIDE = {"ents": [{"start": 12, "end": 16, "label": "LOC"}]}


@pytest.fixture
def ner(lab: Lab) -> Any:
    projects.create_project(lab.db, "ner", SCHEMA, actor=lab.admin)
    ctx = lab.ctx("ner", lab.admin)
    lab.import_rows(ctx, [{"id": "a", "text": TEXT}, {"id": "b", "text": "Bob"}])
    lab.train(ctx)
    return ctx


def test_a_review_fix_past_the_end_of_the_text_is_refused(lab: Lab, ner: Any) -> None:
    ann = lab.member("ner", "ann", "annotator")
    rev = lab.member("ner", "rev", "reviewer")
    task = tasks.next_task(lab.db, ann)
    done = tasks.submit(lab.db, ann, task["assignment_id"], {"ents": []}, active_ms=5)
    item_text = task["item"]["data"]["text"]
    bad = {"ents": [{"start": 0, "end": len(item_text) + 1, "label": "PER"}]}
    with pytest.raises(SchemaError, match="past the end of the text"):
        wf_review.review_annotation(lab.db, rev, done["annotation_id"], verdict="fix", value=bad)
    good = {"ents": [{"start": 0, "end": len(item_text), "label": "PER"}]}
    wf_review.review_annotation(lab.db, rev, done["annotation_id"], verdict="fix", value=good)


def test_an_adjudication_past_the_end_of_the_text_is_refused(lab: Lab, ner: Any) -> None:
    expert = lab.member("ner", "boss", "manager")
    item_id = 1
    with pytest.raises(SchemaError, match="past the end of the text"):
        wf_review.adjudicate(lab.db, expert, item_id, PAST_END)
    assert wf_review.adjudicate(lab.db, expert, item_id, INSIDE) is not None


def test_a_gold_answer_past_the_end_of_the_text_is_refused(lab: Lab, ner: Any) -> None:
    with pytest.raises(SchemaError, match="past the end of the text"):
        wf_quality.set_gold(lab.db, ner, PAST_END, external_id="a")
    with pytest.raises(SchemaError, match="past the end of the text"):
        wf_quality.set_gold(lab.db, ner, INSIDE, external_id="b")  # "Bob" is 3 characters
    wf_quality.set_gold(lab.db, ner, INSIDE, external_id="a")
