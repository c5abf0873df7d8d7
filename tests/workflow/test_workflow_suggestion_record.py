"""An answer records the suggestion it was offered — an import's pre-annotated spans or boxes,
the model's, the model's label — with its source, and the trace and exports tell it again, so
anyone can later tell which regions a person drew and which they took from a model."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from labelloop.workflow import browse, export, imports, projects, review, tasks
from labelloop.workflow.features import FeatureCache
from labelloop.workflow.learning import train
from tests.conftest import Lab

SPANS_SCHEMA = {
    "name": "People and places",
    "data": {"type": "text", "field": "text"},
    "controls": [{"name": "entities", "type": "spans", "labels": ["city", "person"]}],
}
TEXT = "Anna flew to Paris with Tomas"
ANNA = {"start": 0, "end": 4, "label": "person"}
PARIS = {"start": 13, "end": 18, "label": "city"}
TOMAS = {"start": 24, "end": 29, "label": "person"}


def _jsonl(rows: list[dict[str, Any]]) -> io.BytesIO:
    return io.BytesIO(("\n".join(json.dumps(r) for r in rows) + "\n").encode())


def _import(lab: Lab, ctx: Any, rows: list[dict[str, Any]], **fields: str) -> None:
    """Import ``rows`` (ids in ``id``), their labels or predictions in the ``fields`` named."""
    imports.import_items(
        lab.db, ctx, _jsonl(rows), fmt="jsonl", filename="items.jsonl", id_field="id", **fields
    )


def _spans_project(lab: Lab, *, predicted: list[dict[str, Any]] | None) -> Any:
    projects.create_project(lab.db, "ents", SPANS_SCHEMA, actor=lab.admin)
    ctx = lab.ctx("ents", lab.admin)
    # without pre-annotations the field holds null: a field no record holds refuses the file
    row: dict[str, Any] = {"id": "t1", "text": TEXT, "predictions": None}
    if predicted is not None:
        row["predictions"] = {"entities": predicted}
    _import(lab, ctx, [row], prediction_field="predictions")
    train(lab.db, ctx)
    return ctx


def _exported(lab: Lab, ctx: Any, fmt: str) -> Any:
    sink = io.BytesIO()
    export.export(lab.db, ctx, sink, fmt=fmt)
    text = sink.getvalue().decode()
    return (
        json.loads(text)
        if fmt == "label_studio"
        else [json.loads(x) for x in text.split("\n") if x]
    )


def test_accepted_and_changed_imported_spans_are_recorded_traced_and_exported(lab: Lab) -> None:
    ctx = _spans_project(lab, predicted=[{**ANNA, "score": 0.9}, {**PARIS, "score": 0.4}])
    ann = lab.member("ents", "ann", "annotator")
    task = tasks.next_task(lab.db, ann)
    assert task is not None
    # Anna kept as suggested, Paris relabeled by hand... as a person, and Tomas added.
    answer = {"entities": [ANNA, {**PARIS, "label": "person"}, TOMAS]}
    tasks.submit(lab.db, ann, task["assignment_id"], answer, active_ms=2000)

    trace = browse.item_trace(lab.db, ctx, external_id="t1")
    suggestion = trace["annotations"][0]["suggestion"]
    assert suggestion["label"] is None
    assert suggestion["value"] == {"entities": [{**ANNA, "score": 0.9}, {**PARIS, "score": 0.4}]}
    assert suggestion["sources"] == {"entities": "import"}
    assert suggestion["outcome"] == {
        "entities": {"accepted": False, "suggested": 2, "kept": 1, "added": 2}
    }
    assert suggestion["sentence"] == (
        "suggested by the import: 2 spans: person, city · changed: kept 1 of 2, added 2"
    )
    # The annotator's own trace tells them the same.
    mine = browse.own_trace(lab.db, ann, external_id="t1")["answers"][0]["suggestion"]
    assert mine["sources"] == {"entities": "import"}

    (row,) = _exported(lab, ctx, "jsonl")
    assert row["suggestion_source"] == {"entities": "import"}
    assert row["suggestion_value"] == {
        "entities": [
            {**ANNA, "score": 0.9, "text": "Anna"},
            {**PARIS, "score": 0.4, "text": "Paris"},
        ]
    }
    (ls_task,) = _exported(lab, ctx, "label_studio")
    (prediction,) = ls_task["predictions"]
    assert prediction["model_version"] == "import"
    assert [
        (r["value"]["text"], r["value"]["labels"], r["score"]) for r in prediction["result"]
    ] == [
        ("Anna", ["person"], 0.9),
        ("Paris", ["city"], 0.4),
    ]
    assert len(ls_task["annotations"][0]["result"]) == 3


def test_spans_taken_unchanged_read_as_accepted(lab: Lab) -> None:
    ctx = _spans_project(lab, predicted=[ANNA, PARIS])
    task = tasks.next_task(lab.db, ctx)
    assert task is not None
    tasks.submit(lab.db, ctx, task["assignment_id"], {"entities": [PARIS, ANNA]}, active_ms=900)
    suggestion = browse.item_trace(lab.db, ctx, external_id="t1")["annotations"][0]["suggestion"]
    assert suggestion["outcome"]["entities"] == {
        "accepted": True,
        "suggested": 2,
        "kept": 2,
        "added": 0,
    }


def test_an_item_without_pre_annotations_records_no_suggestion(lab: Lab) -> None:
    ctx = _spans_project(lab, predicted=None)
    task = tasks.next_task(lab.db, ctx)
    assert task is not None and task["suggestion"] is None
    tasks.submit(lab.db, ctx, task["assignment_id"], {"entities": [ANNA]}, active_ms=900)
    assert browse.item_trace(lab.db, ctx, external_id="t1")["annotations"][0]["suggestion"] is None
    (row,) = _exported(lab, ctx, "jsonl")
    assert row["suggestion_value"] is None and row["suggestion_source"] is None
    (ls_task,) = _exported(lab, ctx, "label_studio")
    assert "predictions" not in ls_task


def test_the_span_models_suggestion_is_recorded_as_the_models(lab: Lab) -> None:
    projects.create_project(lab.db, "ents", SPANS_SCHEMA, actor=lab.admin)
    ctx = lab.ctx("ents", lab.admin)
    names = ["Anna", "Tomas", "Ines", "Kofi", "Mei", "Ravi"]
    cities = ["Paris", "Lagos", "Quito", "Oslo", "Hanoi", "Lima"]
    labeled = []
    for i in range(12):
        person, city = names[i % 6], cities[(i * 5) % 6]
        text = f"{person} flew to {city} on day {i}"
        spans = [
            {"start": 0, "end": len(person), "label": "person"},
            {"start": text.index(city), "end": text.index(city) + len(city), "label": "city"},
        ]
        labeled.append({"id": f"l{i}", "text": text, "label": spans})
    _import(lab, ctx, labeled, label_field="label")
    # An imported prediction for the unlabeled text: the trained model's spans replace it.
    predicted = [{"id": "t1", "text": TEXT, "predictions": {"entities": [TOMAS]}}]
    _import(lab, ctx, predicted, prediction_field="predictions")
    train(lab.db, ctx)
    assert train(lab.db, ctx) >= 1
    task = tasks.next_task(lab.db, ctx)
    assert task is not None and task["item"]["external_id"] == "t1"
    offered = task["suggestion"]["value"]["entities"]
    assert offered and offered != [TOMAS]
    accepted = [{k: s[k] for k in ("start", "end", "label")} for s in offered]
    tasks.submit(lab.db, ctx, task["assignment_id"], {"entities": accepted}, active_ms=900)
    trace = browse.item_trace(lab.db, ctx, external_id="t1")
    answer = trace["annotations"][0]
    assert answer["suggestion"]["value"] == {"entities": offered}
    assert answer["suggestion"]["sources"] == {"entities": "model"}
    assert answer["suggestion"]["confidence"] == task["suggestion"]["confidence"]
    assert answer["model_version"] == task["selection"]["model_version"]
    assert answer["suggestion"]["outcome"]["entities"]["accepted"] is True
    assert answer["suggestion"]["sentence"].startswith(
        f"suggested by model v{answer['model_version']}: "
    )
    assert answer["suggestion"]["sentence"].endswith(" · accepted")


def test_imported_spans_stay_offered_where_the_span_model_finds_none(lab: Lab) -> None:
    """A model that finds no span in a text has nothing to offer there: the import's
    pre-annotated spans are offered as before (ner.correct with one's own model's spans)."""
    projects.create_project(lab.db, "ents", SPANS_SCHEMA, actor=lab.admin)
    ctx = lab.ctx("ents", lab.admin)
    labeled = [
        {"id": f"l{i}", "text": f"Anna flew to Paris on day {i}", "label": [ANNA, PARIS]}
        for i in range(4)
    ]
    _import(lab, ctx, labeled, label_field="label")
    text = "so the meeting moved , ask oksana later lol"
    oksana = {"start": text.index("oksana"), "end": text.index(" later"), "label": "person"}
    predicted = [{"id": "t1", "text": text, "predictions": {"entities": [oksana]}}]
    _import(lab, ctx, predicted, prediction_field="predictions")
    assert train(lab.db, ctx) >= 1
    task = tasks.next_task(lab.db, ctx)
    assert task is not None and task["item"]["external_id"] == "t1"
    assert task["selection"]["strategy"] == "mean_token_entropy"  # the model picked it
    assert task["suggestion"]["value"] == {"entities": [oksana]}
    tasks.submit(lab.db, ctx, task["assignment_id"], {"entities": [oksana]}, active_ms=900)
    suggestion = browse.item_trace(lab.db, ctx, external_id="t1")["annotations"][0]["suggestion"]
    assert suggestion["sources"] == {"entities": "import"}
    assert suggestion["sentence"] == "suggested by the import: 1 span: person · accepted"


def _png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (40, 30), 90).save(path, format="PNG")


def test_imported_boxes_are_recorded_as_the_imports_and_exported(lab: Lab, tmp_path: Path) -> None:
    media = tmp_path / "media"
    _png(media / "a.png")
    schema = {
        "name": "Boxes",
        "data": {"type": "image", "field": "image"},
        "controls": [{"name": "objects", "type": "boxes", "labels": ["cat", "dog"]}],
    }
    projects.create_project(lab.db, "boxes", schema, actor=lab.admin)
    ctx = lab.ctx("boxes", lab.admin)
    cat = {"x": 1, "y": 2, "w": 10, "h": 8, "label": "cat", "score": 0.8}
    dog = {"x": 20, "y": 5, "w": 12, "h": 12, "label": "dog", "score": 0.3}
    imports.import_items(
        lab.db,
        ctx,
        _jsonl([{"id": "a", "image": "a.png", "predictions": {"objects": [cat, dog]}}]),
        fmt="jsonl",
        filename="images.jsonl",
        text_field="image",
        id_field="id",
        media_roots=(media,),
        prediction_field="predictions",
    )
    # The built-in detector hands the imported boxes back: they are the import's, not a model's.
    train(lab.db, ctx, cache=FeatureCache(media_roots=(media,)))
    task = tasks.next_task(lab.db, ctx)
    assert task is not None
    moved = {**dog, "x": 22.5}
    del moved["score"]
    answer = {"objects": [{k: v for k, v in cat.items() if k != "score"}, moved]}
    tasks.submit(lab.db, ctx, task["assignment_id"], answer, active_ms=900)
    suggestion = browse.item_trace(lab.db, ctx, external_id="a")["annotations"][0]["suggestion"]
    assert suggestion["sources"] == {"objects": "import"}
    assert suggestion["confidence"] == pytest.approx(0.3)
    assert suggestion["outcome"]["objects"] == {
        "accepted": False,
        "suggested": 2,
        "kept": 1,
        "added": 1,
    }
    (row,) = _exported(lab, ctx, "jsonl")
    assert row["suggestion_value"] == {"objects": [cat, dog]}
    assert row["suggestion_source"] == {"objects": "import"}
    (ls_task,) = _exported(lab, ctx, "label_studio")
    (prediction,) = ls_task["predictions"]
    assert prediction["score"] == pytest.approx(0.3)
    assert [r["score"] for r in prediction["result"]] == [0.8, 0.3]
    assert prediction["result"][0]["value"]["rectanglelabels"] == ["cat"]


def test_a_classification_answer_keeps_the_models_label_and_says_if_it_took_it(lab: Lab) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(40))
    lab.import_rows(ctx, lab.rows(20, start=500, prefix="lab", labeled=True), labeled=True)
    train(lab.db, ctx)
    task = tasks.next_task(lab.db, ctx)
    assert task is not None and task["suggestion"]["label"] is not None
    label = task["suggestion"]["label"]
    other = next(c for c in lab.classes if c != label)
    tasks.submit(lab.db, ctx, task["assignment_id"], {"sentiment": other}, active_ms=900)
    suggestion = review.item_detail(lab.db, ctx, task["item"]["id"])["annotations"][0]["suggestion"]
    assert suggestion["label"] == label
    assert suggestion["confidence"] == pytest.approx(task["suggestion"]["confidence"])
    assert suggestion["outcome"] == {"sentiment": {"accepted": False}}
    version = task["selection"]["model_version"]
    sure = task["suggestion"]["confidence"]
    assert (
        suggestion["sentence"] == f"suggested by model v{version}: {label} ({sure:.2f}) · changed"
    )
    assert suggestion["value"] == {} and suggestion["sources"] == {}


def test_a_sent_back_item_keeps_the_suggested_spans_on_its_rework(lab: Lab) -> None:
    ctx = _spans_project(lab, predicted=[ANNA])
    projects.change_settings(lab.db, ctx, {"review_policy": "all"})
    ann = lab.member("ents", "ann", "annotator")
    rev = lab.member("ents", "rev", "reviewer")
    task = tasks.next_task(lab.db, ann)
    assert task is not None
    tasks.submit(lab.db, ann, task["assignment_id"], {"entities": []}, active_ms=900)
    pending = review.next_review(lab.db, rev)
    assert pending is not None
    review.review_annotation(
        lab.db, rev, pending["annotation"]["id"], verdict="reject", comment="Anna is a person"
    )
    again = tasks.next_task(lab.db, ann)
    assert again is not None and again["selection"]["strategy"] == "rework"
    tasks.submit(lab.db, ann, again["assignment_id"], {"entities": [ANNA]}, active_ms=900)
    trace = browse.item_trace(lab.db, ctx, external_id="t1")
    newest = trace["annotations"][-1]["suggestion"]
    assert newest["sources"] == {"entities": "import"}
    assert newest["outcome"]["entities"]["accepted"] is True
