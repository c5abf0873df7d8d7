"""`labelloop import SLUG FOLDER` of a Hugging Face dataset saved with save_to_disk, and
`labelloop simulate` on one, as a user types them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach the Hub
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
datasets = pytest.importorskip("datasets")

MOODS = ["negative", "neutral", "positive"]
TOPICS = ["sports", "food", "travel"]


def _errors(result: Any) -> list[str]:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.output
    return lines


def _project(cli: Any, tmp_path: Path, slug: str, control: dict[str, Any]) -> None:
    schema = tmp_path / f"{slug}.json"
    schema.write_text(
        json.dumps(
            {
                "name": slug,
                "data": {"type": "text", "field": "text"},
                "controls": [{**control, "target": True}],
            }
        )
    )
    cli("projects", "create", slug, "--schema", str(schema))


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A DatasetDict: train (5 reviews, one -1 mood, one repeated text) and test (2 reviews)."""
    features = datasets.Features(
        {
            "uid": datasets.Value("string"),
            "text": datasets.Value("string"),
            "mood": datasets.ClassLabel(names=MOODS),
            "topics": datasets.Sequence(datasets.ClassLabel(names=TOPICS)),
            "lang": datasets.Value("string"),
        }
    )
    train = {
        "uid": ["t1", "t2", "t3", "t4", "t5"],
        "text": ["Great pasta", "Long flight", "Meh match", "Not read yet", "great  PASTA"],
        "mood": [2, 0, 1, -1, 2],
        "topics": [[1], [2, 1], [0], [], [1]],
        "lang": ["en", "en", "de", "en", "en"],
    }
    test = {
        "uid": ["e1", "e2"],
        "text": ["Lovely trip", "Cold soup"],
        "mood": [2, 0],
        "topics": [[2], [1]],
        "lang": ["en", "fr"],
    }
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(train, features=features),
            "test": datasets.Dataset.from_dict(test, features=features),
        }
    ).save_to_disk(str(tmp_path / "reviews"))
    return tmp_path / "reviews"


def test_import_a_saved_dataset_dict_split_by_split(cli: Any, tmp_path: Path, saved: Path) -> None:
    cli("init")
    _project(cli, tmp_path, "moods", {"name": "mood", "type": "choice", "labels": MOODS})
    (line,) = _errors(cli("import", "moods", str(saved), code=1))
    assert line == "error: reviews holds several splits (train, test); pick one with --hf-split"
    (line,) = _errors(cli("import", "moods", str(saved), "--hf-split", "dev", code=1))
    assert line == "error: reviews has no split 'dev'; its splits are: train, test"

    fields = ("--id-field", "uid", "--label-field", "mood", "--json")
    train = cli("import", "moods", str(saved), "--hf-split", "train", *fields)  # no --format
    assert json.loads(train.stdout) == {
        "items": 4,
        "labeled": 3,
        "duplicates": 1,
        "split": "pool",
        "batch_id": 1,
        # the duplicate row's label is not the item's: the first row's is
        "notes": [
            "1 duplicate carries a label not used: the item a duplicate repeats (already here, "
            "or earlier in the file) keeps its own; to give items already here the file's "
            'labels, import it again with --update-labels (on the page: "Update labels of '
            'items already here")'
        ],
    }
    test = cli(
        "import",
        "moods",
        str(saved),
        "--format",
        "hf_datasets",
        "--hf-split",
        "test",
        "--split",
        "eval",
        *fields,
    )
    assert json.loads(test.stdout)["items"] == 2 and json.loads(test.stdout)["split"] == "eval"

    exported = [json.loads(line) for line in cli("export", "moods").stdout.splitlines()]
    assert {r["external_id"]: r["label"] for r in exported} == {  # the pool's labeled items
        "t1": "positive",
        "t2": "negative",
        "t3": "neutral",
    }
    by_id = {r["external_id"]: r for r in exported}
    assert by_id["t2"]["metadata"] == {"topics": ["travel", "food"], "lang": "en"}
    assert by_id["t2"]["resolution"] == "imported"
    status = json.loads(cli("status", "moods", "--json").stdout)["counts"]
    assert (status["pool"], status["eval"], status["eval_labeled"]) == (4, 2, 2)
    assert status["labeled"] == 3


def test_class_labels_left_without_a_label_field_are_pointed_out(
    cli: Any, tmp_path: Path, saved: Path
) -> None:
    cli("init")
    _project(cli, tmp_path, "moods", {"name": "mood", "type": "choice", "labels": MOODS})
    done = cli("import", "moods", str(saved), "--hf-split", "train", "--id-field", "uid")
    assert "imported 4 items into moods (pool), 0 with labels" in done.stdout
    said = " ".join(done.stdout.split())
    assert (
        "column 'mood' holds class labels and came in as metadata only: to make them the "
        "items' labels, import again with --label-field mood --update-labels"
    ) in said
    again = ("--hf-split", "train", "--id-field", "uid", "--label-field", "mood")
    done = cli("import", "moods", str(saved), *again, "--update-labels", "--json")
    assert json.loads(done.stdout)["updated"] == 3  # t4's mood is -1: no label
    assert "notes" not in json.loads(done.stdout)


def test_a_list_of_class_ids_imports_as_multi_choice(cli: Any, tmp_path: Path, saved: Path) -> None:
    cli("init")
    _project(cli, tmp_path, "topics", {"name": "topic", "type": "multi_choice", "labels": TOPICS})
    out = cli(
        "import", "topics", str(saved), "--hf-split", "train", "--label-field", "topics"
    ).stdout
    assert "imported 4 items into topics (pool), 4 with labels, 1 duplicate skipped" in out
    assert "duplicate text at row 5" in out
    exported = [json.loads(line) for line in cli("export", "topics").stdout.splitlines()]
    assert {r["text"]: r["value"]["topic"] for r in exported} == {
        "Great pasta": ["food"],
        "Long flight": ["food", "travel"],  # in the schema's label order
        "Meh match": ["sports"],
        "Not read yet": [],
    }


def test_import_errors_name_the_row_and_column_and_write_nothing(
    cli: Any, tmp_path: Path, saved: Path
) -> None:
    cli("init")
    _project(cli, tmp_path, "moods", {"name": "mood", "type": "choice", "labels": MOODS})
    split = ("--hf-split", "train")
    (line,) = _errors(cli("import", "moods", str(saved), *split, "--text-field", "body", code=1))
    assert line == (
        "error: field 'body': no such column; columns are: uid, text, mood, topics, lang"
    )
    (line,) = _errors(cli("import", "moods", str(saved), *split, "--label-field", "lang", code=1))
    assert line.startswith("error: row 1, field 'lang': ") and "'en'" in line
    (line,) = _errors(cli("import", "moods", str(tmp_path / "nothing"), *split, code=1))
    assert "--hf-split is for a saved Hugging Face dataset" in line
    status = json.loads(cli("status", "moods", "--json").stdout)["counts"]
    assert status["pool"] == 0


def test_simulate_on_a_saved_dataset(cli: Any, tmp_path: Path) -> None:
    words = {"sports": "goal match team score", "food": "pasta soup bread salt"}
    names = list(words)
    rows = [f"{words[names[i % 2]]} {i}" for i in range(120)]
    datasets.Dataset.from_dict(
        {"sentence": rows, "label": [i % 2 for i in range(120)]},
        features=datasets.Features(
            {"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=names)}
        ),
    ).save_to_disk(str(tmp_path / "topics"))
    result = cli(
        "simulate",
        str(tmp_path / "topics"),
        "--text-field",
        "sentence",
        "--strategies",
        "margin",
        "--seeds",
        "1",
        "--budget",
        "40",
        "--out",
        str(tmp_path / "sim"),
        "--json",
    )
    data = json.loads(result.stdout)
    assert data["classes"] == ["food", "sports"] and data["n_records"] == 120


def test_the_import_bar_shows_the_rows_of_the_split(
    cli: Any, tmp_path: Path, saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On a terminal it showed a spinner and a count, though the split's rows are known up front.
    import io

    from rich.console import Console

    from labelloop.cli import common

    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, force_interactive=True, width=120)
    monkeypatch.setattr(common, "err", terminal)
    cli("init")
    _project(cli, tmp_path, "moods", {"name": "mood", "type": "choice", "labels": MOODS})
    cli("import", "moods", str(saved), "--hf-split", "train", "--id-field", "uid")
    shown = screen.getvalue()
    assert "importing reviews" in shown and "5/5" in shown, shown
