"""`labelloop import SLUG FILE --format label_studio --annotations`: a Label Studio project
labeled by three annotators moves over with each one's answers, which the item's trace and
`labelloop quality` show as theirs; an annotator who is no member refuses the file whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import schema_with
from tests.workflow.test_workflow_label_studio_answers import overlap_export


def _project(cli: Any, tmp_path: Path, members: tuple[str, ...]) -> Path:
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(schema_with(overlap=3)))
    cli("init")
    cli("projects", "create", "reviews", "--schema", str(schema))
    for name in members:
        cli("users", "add", name)
        cli("projects", "member", "reviews", name, "annotator")
    exported = tmp_path / "project-3-at-2024-05-01.json"
    exported.write_text(json.dumps(overlap_export()))
    return exported


def _import(cli: Any, path: Path, *more: str, code: int = 0) -> Any:
    args = ("import", "reviews", str(path), "--format", "label_studio", "--annotations", *more)
    return cli(*args, code=code)


def test_each_annotators_answers_move_over(cli: Any, tmp_path: Path) -> None:
    exported = _project(cli, tmp_path, ("ana", "ben", "cy@example.com"))
    said = _import(cli, exported).stdout
    assert "imported 3 items into reviews (pool), 2 with labels, 0 duplicates skipped" in said
    assert (
        "8 answers and 1 skip came in as their annotators' (3 members); 2 items of 3 took a "
        "label from them by the project's rules" in " ".join(said.split())
    )
    trace = " ".join(cli("items", "reviews", "--show", "102").stdout.split())
    assert 'label: {"sentiment": "neutral"} (consensus, 2024-05-02 09:02 UTC)' in trace
    assert (
        'answer by ben: {"sentiment": "negative"} (submitted), 2024-05-02 09:01 UTC, 3.0 s' in trace
    )
    assert "from an import: answered in Label Studio (annotation 5); import 1:" in trace
    assert "flag disagreement (open): neutral: 2, negative: 1" in trace
    table = json.loads(cli("quality", "reviews", "--json", "--n-boot", "0").stdout)
    assert {a["username"]: a["labels"] for a in table["annotators"]} == {
        "ana": 3,
        "ben": 2,
        "cy@example.com": 3,
    }
    # Answers made in Label Studio were made under no guideline of labelloop's, so no
    # version's agreement counts them.
    assert table["by_guideline"] == {"versions": [], "mixed_items": 0}
    assert "guideline version" not in cli("quality", "reviews", "--n-boot", "0").stdout
    again = json.loads(_import(cli, exported, "--json").stdout)
    assert (again["items"], again["duplicates"]) == (0, 3)
    assert again["notes"][-1].startswith("3 tasks with answers were here already")


def test_an_annotator_who_is_no_member_refuses_the_file(cli: Any, tmp_path: Path) -> None:
    exported = _project(cli, tmp_path, ("ana",))
    result = _import(cli, exported, code=1)
    assert "Traceback" not in result.output
    (line,) = [x for x in result.stderr.splitlines() if x.strip()]
    assert line.startswith(
        "error: line 1, field 'annotations[1]': task 1 (id 101): the annotator "
        "'ben@example.com' is no member of project 'reviews'"
    )
    assert "'cy@example.com' (first in task 1 (id 101))" in line
    assert json.loads(cli("status", "reviews", "--json").stdout)["counts"]["pool"] == 0


def test_annotations_are_for_label_studio_files(cli: Any, tmp_path: Path) -> None:
    _project(cli, tmp_path, ())
    folder = tmp_path / "texts"
    folder.mkdir()
    result = cli("import", "reviews", str(folder), "--annotations", code=1)
    assert "--annotations is for a Label Studio file" in result.stderr
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"text": "hello"}\n')
    result = cli("import", "reviews", str(rows), "--annotations", code=1)
    assert "from a Label Studio file, not from jsonl" in result.stderr


def test_a_text_in_two_tasks_moves_over_with_both_tasks_answers(cli: Any, tmp_path: Path) -> None:
    """Label Studio held task 102's text twice, answered by ana and ben in one task and by cy
    in the other: the item has all three answers and resolves over them; the summary says
    the second task's answers joined the first's item."""
    exported = _project(cli, tmp_path, ("ana", "ben", "cy@example.com"))
    tasks = overlap_export()
    disputed = tasks[1]
    tasks.append({**disputed, "id": 202, "annotations": disputed["annotations"][2:]})
    disputed["annotations"] = disputed["annotations"][:2]
    exported.write_text(json.dumps(tasks))
    report = json.loads(_import(cli, exported, "--json").stdout)
    assert (report["items"], report["duplicates"], report["labeled"]) == (3, 1, 2)
    assert report["notes"][1] == (
        "1 task with answers repeats an earlier task's content in this file: its answers "
        "joined the answers of the item the first one brought, which resolved from all of them"
    )
    trace = " ".join(cli("items", "reviews", "--show", "102").stdout.split())
    assert 'label: {"sentiment": "neutral"} (consensus, 2024-05-02 09:02 UTC)' in trace
    assert "answer by cy@example.com:" in trace


def test_export_annotations_gives_each_answer_back_and_refuses_to_import_it(
    cli: Any, tmp_path: Path
) -> None:
    exported = _project(cli, tmp_path, ("ana", "ben", "cy@example.com"))
    _import(cli, exported)
    out = tmp_path / "answers.jsonl"
    said = cli("export", "reviews", "--annotations", "-o", str(out)).stdout
    assert f"exported 8 answers to {out}" in " ".join(said.split())
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    disputed = [
        (r["annotator"], r["answer"], r["agrees"]) for r in rows if r["external_id"] == "102"
    ]
    assert disputed == [
        ("ana", "neutral", True),
        ("ben", "negative", False),
        ("cy@example.com", "neutral", True),
    ]
    table = tmp_path / "answers.csv"
    cli("export", "reviews", "--annotations", "--format", "csv", "-o", str(table))
    assert len(table.read_text().splitlines()) == 1 + 8
    refused = cli("export", "reviews", "--annotations", "--format", "prodigy", code=1)
    assert "export as csv, jsonl or label_studio; prodigy holds one label per item" in (
        " ".join(refused.stderr.split())
    )
    cli("projects", "create", "copy", "--schema", str(tmp_path / "schema.json"))
    again = cli("import", "copy", str(out), "--label-field", "label", code=1)
    assert "line 1: this is a labelloop answers export" in " ".join(again.stderr.split())


def test_an_answers_export_says_which_answers_the_eval_items_hold(cli: Any, tmp_path: Path) -> None:
    """A pool answers export leaves the answers to eval items out and says how many, not how
    many eval items are labeled (labels imported without answers are no answers to miss)."""
    exported = _project(cli, tmp_path, ("ana", "ben", "cy@example.com"))
    held = tmp_path / "held.jsonl"
    held.write_text(
        "".join(json.dumps({"text": f"held {i}", "label": "positive"}) + "\n" for i in range(4))
    )
    cli("import", "reviews", str(held), "--label-field", "label", "--split", "eval")
    out = tmp_path / "answers.jsonl"
    said = cli("export", "reviews", "--annotations", "-o", str(out))
    assert "not in it" not in said.output  # 4 labeled eval items, no answers to them

    _import(cli, exported, "--split", "eval")
    said = cli("export", "reviews", "--annotations", "-o", str(out))
    assert "exported 0 answers" in " ".join(said.stdout.split())
    assert (
        "8 answers to eval items (held out to measure the model) are not in it: export them "
        "with --split eval"
    ) in " ".join(said.stderr.split())
    done = cli("export", "reviews", "--annotations", "--split", "eval", "-o", str(out))
    assert "exported 8 eval answers" in " ".join(done.stdout.split())
