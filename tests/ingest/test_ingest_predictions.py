"""Pre-annotations per control: imported with scores, checked on the item, offered by tasks."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from labelloop.errors import ImportFormatError
from labelloop.store.tables import item
from labelloop.workflow import imports, projects
from tests.conftest import Lab

NER = {
    "name": "Entities",
    "data": {"type": "text", "field": "text"},
    "controls": [
        {"name": "mood", "type": "choice", "labels": ["pos", "neg"]},
        {"name": "ents", "type": "spans", "labels": ["PER", "LOC"]},
    ],
}
BOXES = {
    "name": "Cars",
    "data": {"type": "image", "field": "image"},
    "controls": [{"name": "objects", "type": "boxes", "labels": ["car", "person"]}],
}
TEXT = "Ann flew to Rome"


@pytest.fixture
def client(lab: Lab, tmp_path: Path) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from labelloop.config import get_settings
    from labelloop.server.app import create_app
    from labelloop.workflow.accounts import create_token

    media = tmp_path / "media"
    media.mkdir()
    Image.new("RGB", (200, 100), "white").save(media / "street.png")
    projects.create_project(lab.db, "ner", NER, actor=lab.admin)
    projects.create_project(lab.db, "cars", BOXES, actor=lab.admin)
    token = create_token(lab.db, "admin")
    settings = get_settings(home=tmp_path, secret_key="test", media_roots=str(media))
    app = create_app(settings, db=lab.db, learner=False)
    with TestClient(app) as test_client:
        test_client.headers["Authorization"] = f"Bearer {token}"
        yield test_client


def _upload(client: Any, slug: str, rows: list[Any], **form: str) -> Any:
    body = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    return client.post(
        f"/api/projects/{slug}/imports",
        files={"file": ("pre.jsonl", body.encode(), "application/x-ndjson")},
        data={"prediction_field": "predictions", **form},
    )


def _next(lab: Lab, client: Any, slug: str) -> dict[str, Any]:
    lab.train(lab.ctx(slug, lab.admin))
    got = client.post(f"/api/projects/{slug}/tasks/next", json={"held": []})
    assert got.status_code == 200, got.text
    return got.json()["task"]


def test_predicted_spans_and_choice_come_back_as_the_tasks_suggestion(
    lab: Lab, client: Any
) -> None:
    predictions = {
        "ents": [
            {"start": 12, "end": 16, "label": "LOC", "score": 0.4},
            {"start": 0, "end": 3, "label": "PER", "score": 0.95},
        ],
        "mood": {"label": "pos", "score": 0.8},
    }
    got = _upload(client, "ner", [{"text": TEXT, "predictions": predictions}])
    assert got.status_code == 201, got.text
    task = _next(lab, client, "ner")
    assert "predictions" not in task["item"]["metadata"]
    assert task["suggestion"]["value"] == {
        "ents": [  # sorted by offset, scores kept
            {"start": 0, "end": 3, "label": "PER", "score": 0.95},
            {"start": 12, "end": 16, "label": "LOC", "score": 0.4},
        ],
        "mood": {"label": "pos", "score": 0.8},
    }


def test_an_item_without_predictions_offers_none(lab: Lab, client: Any) -> None:
    # one record lacks the field, the other holds null: neither is a pre-annotation
    rows = [{"text": TEXT}, {"text": "Bo stayed in Oslo", "predictions": None}]
    assert _upload(client, "ner", rows).status_code == 201
    task = _next(lab, client, "ner")
    assert not (task["suggestion"] or {}).get("value")


def test_a_file_no_record_of_which_holds_the_predictions_field_is_refused(
    lab: Lab, client: Any
) -> None:
    got = _upload(client, "ner", [{"text": TEXT, "preds": {}}, {"text": "Bo stayed in Oslo"}])
    assert got.status_code == 422, got.text
    assert got.json()["detail"] == (
        "line 1, field 'predictions': the pre-annotation field is in no record of the file "
        "(for a file without pre-annotations, leave it out); the first record has: text, preds"
    )
    assert _upload(client, "ner", [{"text": TEXT}], prediction_field="").status_code == 201


def test_image_sizes_are_stored_and_predicted_boxes_are_offered(lab: Lab, client: Any) -> None:
    boxes = [{"x": 10, "y": 20, "w": 50.5, "h": 30, "label": "car", "score": 0.3}]
    got = _upload(
        client,
        "cars",
        [{"image": "street.png", "predictions": {"objects": boxes}}],
        text_field="image",
    )
    assert got.status_code == 201, got.text
    task = _next(lab, client, "cars")
    assert task["item"]["data"] == {"image": "street.png", "width": 200, "height": 100}
    assert task["suggestion"]["value"] == {"objects": boxes}


@pytest.mark.parametrize(
    ("slug", "prediction", "message"),
    [
        ("ner", {"mood": "angry"}, "'angry' is not one of pos, neg"),
        ("ner", {"ents": [{"start": 12, "end": 40, "label": "LOC"}]}, "past the end of the text"),
        ("ner", {"ents": [{"start": 0, "end": 3, "label": "ORG"}]}, "'ORG' is not one of"),
        ("ner", {"ents": [{"start": 0, "end": 3, "label": "PER", "score": 1.5}]}, "0 to 1"),
        ("ner", {"mood": {"label": "pos", "score": "high"}}, "from 0 to 1"),
        ("ner", {"topic": "x"}, "'topic' is not a control"),
        ("ner", ["pos"], "must be an object"),
        ("cars", {"objects": [{"x": 180, "y": 0, "w": 40, "h": 10, "label": "car"}]}, "width"),
        ("cars", {"objects": [{"x": 0, "y": 90, "w": 4, "h": 20, "label": "car"}]}, "height"),
    ],
)
def test_a_bad_prediction_aborts_the_import_naming_the_line(
    lab: Lab, client: Any, slug: str, prediction: Any, message: str
) -> None:
    key = "text" if slug == "ner" else "image"
    good = TEXT if slug == "ner" else "street.png"
    rows = [{key: good, "predictions": None}, "", {key: good + " again", "predictions": prediction}]
    if slug == "cars":  # the same file twice is a duplicate, so the bad one goes first
        rows = ["", "", {key: good, "predictions": prediction}]
    got = _upload(client, slug, rows, text_field=key)
    assert got.status_code == 422
    detail = got.json()["detail"]
    assert detail.startswith("line 3, field 'predictions'"), detail
    assert message in detail
    with lab.db.read() as conn:  # nothing of the file was kept
        assert conn.execute(select(func.count()).select_from(item)).scalar_one() == 0


def test_a_csv_cell_holds_predictions_as_json(lab: Lab) -> None:
    projects.create_project(lab.db, "ner", NER, actor=lab.admin)
    ctx = lab.ctx("ner", lab.admin)
    cell = json.dumps({"ents": [[0, 3, "PER"]]}).replace('"', '""')
    body = f'text,pre\n"{TEXT}","{cell}"\nBob sleeps,\n'
    report = imports.import_items(
        lab.db, ctx, io.BytesIO(body.encode()), fmt="csv", filename="p.csv", prediction_field="pre"
    )
    assert report.n_items == 2
    with lab.db.read() as conn:
        stored = [r.prediction for r in conn.execute(select(item.c.prediction).order_by(item.c.id))]
    assert stored == [{"ents": [{"start": 0, "end": 3, "label": "PER"}]}, None]
    with pytest.raises(ImportFormatError, match="line 2, field 'pre': not valid JSON"):
        imports.import_items(
            lab.db,
            ctx,
            io.BytesIO(b"text,pre\nhello there,{oops\n"),
            fmt="csv",
            filename="p.csv",
            prediction_field="pre",
        )
