"""Moving a doccano or Prodigy project over and back with `labelloop import/export --format
doccano|prodigy`: a hand-written file in, the same labels out, a bad file refused whole with one
line naming the line and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NER = {
    "name": "News entities",
    "data": {"type": "text", "field": "text"},
    "controls": [{"name": "entities", "type": "spans", "labels": ["PER", "LOC"], "target": True}],
}
SENTIMENT = {
    "name": "Reviews",
    "data": {"type": "text", "field": "text"},
    "controls": [{"name": "sentiment", "type": "choice", "labels": ["negative", "positive"]}],
}
NER_MANUAL = [
    {
        "text": "Ann flew to Rome",
        "spans": [
            {"start": 0, "end": 3, "token_start": 0, "token_end": 0, "label": "PER"},
            {"start": 12, "end": 16, "token_start": 3, "token_end": 3, "label": "LOC"},
        ],
        "meta": {"source": "wire"},
        "_input_hash": 1,
        "_task_hash": 2,
        "_view_id": "ner_manual",
        "answer": "accept",
        "_annotator_id": "news-ann",
    },
    {"text": "Nobody went anywhere", "spans": [], "answer": "accept", "_view_id": "ner_manual"},
    {"text": "Bob stayed home", "spans": [], "answer": "ignore", "_view_id": "ner_manual"},
]
DOCCANO = [
    {"id": 1, "text": "The battery lasts all day.", "label": ["positive"], "Comments": []},
    {"id": 2, "text": "Screen cracked in a week.", "label": ["negative"], "Comments": []},
    {"id": 3, "text": "Arrived on Tuesday.", "label": [], "Comments": []},
]


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _errors(result: Any) -> list[str]:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.output
    return lines


def _create(cli: Any, tmp_path: Path, slug: str, schema: dict[str, Any]) -> None:
    path = tmp_path / f"{slug}.json"
    path.write_text(json.dumps(schema))
    cli("projects", "create", slug, "--schema", str(path))


def test_a_prodigy_dataset_moves_over_and_back(cli: Any, tmp_path: Path) -> None:
    cli("init")
    _create(cli, tmp_path, "news", NER)
    bad_task = {**NER_MANUAL[0], "spans": [{"start": 12, "end": 17, "label": "LOC"}]}
    bad = _jsonl(tmp_path / "bad.jsonl", [*NER_MANUAL[1:], bad_task])
    (line,) = _errors(cli("import", "news", str(bad), "--format", "prodigy", code=1))
    assert line == (
        "error: line 3, field 'spans': entities[0]: end 17 is past the end of the text (16)"
    )
    status = json.loads(cli("status", "news", "--json").stdout)
    assert status["counts"]["pool"] == 0  # the good tasks before it were not kept either

    dataset = _jsonl(tmp_path / "news.jsonl", NER_MANUAL)
    summary = cli("import", "news", str(dataset), "--format", "prodigy", "--json").stdout
    assert json.loads(summary) | {"batch_id": 0} == {
        "items": 3,
        "labeled": 2,  # the ignored task comes in unlabeled, and the summary says so
        "duplicates": 0,
        "split": "pool",
        "batch_id": 0,
        "notes": [
            "1 ignored answer came in unlabeled (metadata prodigy_answer): a reject says only "
            "what an item is not"
        ],
    }

    out = tmp_path / "news.prodigy.jsonl"
    cli("export", "news", "--format", "prodigy", "-o", str(out))
    tasks = _rows(out)
    assert [t["text"] for t in tasks] == ["Ann flew to Rome", "Nobody went anywhere"]
    assert [[(s["start"], s["end"], s["label"]) for s in t["spans"]] for t in tasks] == [
        [(0, 3, "PER"), (12, 16, "LOC")],
        [],
    ]
    assert tasks[0]["meta"] | {"id": 0} == {
        "source": "wire",
        "prodigy_annotator": "news-ann",
        "id": 0,
    }
    assert all(t["answer"] == "accept" and t["_view_id"] == "ner_manual" for t in tasks)

    _create(cli, tmp_path, "copy", NER)
    cli("import", "copy", str(out), "--format", "prodigy", "--id-field", "id")
    again = tmp_path / "copy.prodigy.jsonl"
    cli("export", "copy", "--format", "prodigy", "-o", str(again))
    assert [(t["text"], t["spans"]) for t in _rows(again)] == [
        (t["text"], t["spans"]) for t in tasks
    ]


def test_a_doccano_project_moves_over_and_back(cli: Any, tmp_path: Path) -> None:
    cli("init")
    _create(cli, tmp_path, "reviews", SENTIMENT)
    two = {"id": 4, "text": "Fine, I guess.", "label": ["positive", "negative"]}
    bad = _jsonl(tmp_path / "bad.jsonl", [*DOCCANO, two])
    (line,) = _errors(cli("import", "reviews", str(bad), "--format", "doccano", code=1))
    assert line == (
        "error: line 4, field 'label': 2 labels ('positive', 'negative') for 'sentiment', "
        "a choice control that takes one"
    )

    export = _jsonl(tmp_path / "doccano.jsonl", DOCCANO)
    summary = cli("import", "reviews", str(export), "--format", "doccano", "--json").stdout
    assert (json.loads(summary)["items"], json.loads(summary)["labeled"]) == (3, 2)

    out = tmp_path / "reviews.doccano.jsonl"
    cli("export", "reviews", "--format", "doccano", "-o", str(out))
    assert _rows(out) == [
        {"id": 1, "text": "The battery lasts all day.", "label": ["positive"], "Comments": []},
        {"id": 2, "text": "Screen cracked in a week.", "label": ["negative"], "Comments": []},
    ]
    _create(cli, tmp_path, "copy", SENTIMENT)
    cli("import", "copy", str(out), "--format", "doccano")
    again = tmp_path / "copy.doccano.jsonl"
    cli("export", "copy", "--format", "doccano", "-o", str(again))
    assert _rows(again) == _rows(out)
