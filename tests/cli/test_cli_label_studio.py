"""Moving a Label Studio project over and back with `labelloop import/export --format
label_studio`: a hand-written Label Studio export in, the same labels out, a bad file refused
whole with one line naming the task."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA = {
    "name": "News entities",
    "data": {"type": "text", "field": "text"},
    "controls": [
        {"name": "entities", "type": "spans", "labels": ["PER", "LOC"], "target": True},
        {"name": "tone", "type": "choice", "labels": ["positive", "negative"]},
    ],
}
TEXT = "Ann flew to Rome"


def _result(from_name: str, type: str, value: dict[str, Any]) -> dict[str, Any]:
    region = f"{from_name}-{value.get('start', 0)}"
    return {"id": region, "from_name": from_name, "to_name": "text", "type": type, "value": value}


def _annotation(*results: dict[str, Any], cancelled: bool = False) -> dict[str, Any]:
    return {
        "id": 1,
        "completed_by": 1,
        "result": list(results),
        "was_cancelled": cancelled,
        "created_at": "2024-05-01T10:00:00.000Z",
    }


def _export(tone: str = "Positive") -> list[dict[str, Any]]:
    """Three tasks as Label Studio's JSON export writes them."""
    ann = {"start": 0, "end": 3, "text": "Ann", "labels": ["PER"]}
    rome = {"start": 12, "end": 16, "text": "Rome", "labels": ["LOC"]}
    bob = {"start": 0, "end": 3, "text": "Bob", "labels": ["PER"]}
    return [
        {
            "id": 11,
            "data": {"text": TEXT},
            "meta": {"source": "wire"},
            "annotations": [
                _annotation(
                    _result("label", "labels", ann),
                    _result("label", "labels", rome),
                    _result("tone", "choices", {"choices": [tone]}),
                )
            ],
            "predictions": [],
        },
        {
            "id": 12,
            "data": {"text": "Nobody went anywhere"},
            "annotations": [_annotation()],  # submitted with no entity
        },
        {
            "id": 13,
            "data": {"text": "Bob stayed home"},
            "annotations": [
                _annotation(_result("tone", "choices", {"choices": ["negative"]}), cancelled=True)
            ],
            "predictions": [{"score": 0.7, "result": [_result("label", "labels", bob)]}],
        },
    ]


def _results(tasks: list[dict[str, Any]]) -> dict[Any, list[tuple[str, str, Any]]]:
    """Task id -> its annotation's (from_name, type, value) triples."""
    return {
        t["id"]: [(r["from_name"], r["type"], r["value"]) for r in t["annotations"][0]["result"]]
        for t in tasks
    }


def _errors(result: Any) -> list[str]:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.output
    return lines


def test_a_label_studio_project_moves_over_and_back(cli: Any, tmp_path: Path) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SCHEMA))
    cli("init")
    cli("projects", "create", "news", "--schema", str(schema))
    exported = tmp_path / "project-3-at-2024-05-01.json"
    exported.write_text(json.dumps(_export(), indent=2))

    (line,) = _errors(cli("import", "news", str(exported), code=1))
    assert "give the format: coco or label_studio" in line

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([*_export()[:2], {**_export("Angry")[0], "id": 14}]))
    (line,) = _errors(cli("import", "news", str(bad), "--format", "label_studio", code=1))
    assert line.startswith("error: line 3, field 'annotations[0].result[2].value': task 3 (id 14)")
    assert "'Angry' is not one of positive, negative" in line
    status = json.loads(cli("status", "news", "--json").stdout)
    assert status["counts"]["pool"] == 0  # the good tasks before it were not kept either

    summary = cli("import", "news", str(exported), "--format", "label_studio", "--json").stdout
    assert json.loads(summary) | {"batch_id": 0} == {
        "items": 3,
        "labeled": 2,  # the cancelled answer is no answer; its prediction is a suggestion
        "duplicates": 0,
        "split": "pool",
        "batch_id": 0,
        "notes": ["1 task held only skipped (cancelled) answers and came in unlabeled"],
    }

    out = tmp_path / "news.label_studio.json"
    cli("export", "news", "--format", "label_studio", "-o", str(out))
    tasks = json.loads(out.read_text())
    assert [t["id"] for t in tasks] == [11, 12]
    assert tasks[0]["data"] == {"text": TEXT}
    assert tasks[0]["meta"] == {"source": "wire", "label_studio_annotator": "1"}  # who labeled
    assert _results(tasks) == {
        11: [
            ("entities", "labels", {"start": 0, "end": 3, "text": "Ann", "labels": ["PER"]}),
            ("entities", "labels", {"start": 12, "end": 16, "text": "Rome", "labels": ["LOC"]}),
            ("tone", "choices", {"choices": ["positive"]}),
        ],
        12: [],
    }

    cli("projects", "create", "copy", "--schema", str(schema))
    cli("import", "copy", str(out), "--format", "label_studio")
    again = tmp_path / "copy.json"
    cli("export", "copy", "--format", "label_studio", "-o", str(again))
    assert _results(json.loads(again.read_text())) == _results(tasks)


def test_a_label_studio_task_is_read_from_the_schemas_data_field(cli: Any, tmp_path: Path) -> None:
    schema = tmp_path / "body.json"
    schema.write_text(
        json.dumps(
            {
                "name": "Bodies",
                "data": {"type": "text", "field": "body"},
                "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"], "target": True}],
            }
        )
    )
    cli("init")
    cli("projects", "create", "bodies", "--schema", str(schema))
    task = {
        "id": 1,
        "data": {"title": "short", "text": "a caption, not the item", "body": "the real body"},
        "annotations": [
            {
                "result": [
                    {
                        "from_name": "c",
                        "to_name": "body",
                        "type": "choices",
                        "value": {"choices": ["a"]},
                    }
                ]
            }
        ],
    }
    tasks_file = tmp_path / "tasks.json"
    tasks_file.write_text(json.dumps([task]))
    cli("import", "bodies", str(tasks_file), "--format", "label_studio")
    out = tmp_path / "out.jsonl"
    cli("export", "bodies", "--format", "jsonl", "-o", str(out))
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert (row["text"], row["label"]) == ("the real body", "a")
    assert row["metadata"]["text"] == "a caption, not the item"
