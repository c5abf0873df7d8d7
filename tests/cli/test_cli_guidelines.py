"""`labelloop guidelines`: an operator publishes a new guideline version, lists and diffs them."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from labelloop.cli import app
from labelloop.workflow import tasks
from tests.cli.conftest import small_project, trained_project

RULES = "# Rules\n\nLabel **a** for praise.\n"
RULES_V3 = "# Rules\n\nLabel **a** for praise.\nLabel **b** for complaints.\n"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _last_line(result: Any) -> str:
    return result.output.strip().splitlines()[-1]


def test_set_history_show_and_diff(cli: Any, tmp_path: Path) -> None:
    small_project(cli, tmp_path)  # v1: the schema has no guideline, so an empty one
    rules = tmp_path / "rules.md"
    rules.write_bytes(RULES.replace("\n", "\r\n").encode())  # saved on Windows
    said = cli("guidelines", "set", "s", "--file", str(rules), "--summary", "first rules").stdout
    assert said.strip() == "guideline v1 -> v2 (+3 -0 lines)"
    assert cli("guidelines", "show", "s").stdout == RULES  # stored with \n line endings
    assert cli("guidelines", "show", "s", "--version", "1").stdout == "\n"

    env = {"LABELLOOP_HOME": str(tmp_path / "home")}
    piped = CliRunner().invoke(
        app,
        ["guidelines", "set", "s", "--file", "-", "--summary", "complaints", "--json"],
        input=RULES_V3,
        env=env,
    )
    assert piped.exit_code == 0, piped.output
    assert json.loads(piped.stdout) == {
        "version": 3,
        "from_version": 2,
        "summary": "complaints",
        "added": 1,
        "removed": 0,
        "flags_resolved": 0,
        "sha256": _sha256(RULES_V3),
    }

    lines = cli("guidelines", "history", "s").stdout.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["v3", "v2", "v1"]
    assert lines[0].endswith("(local operator)  0 answers  complaints")
    # each version's text hash, short: v1 is the empty guideline of a schema without one
    assert [line.split("  ")[1] for line in lines] == [
        f"sha256:{_sha256(text)[:12]}" for text in (RULES_V3, RULES, "")
    ]
    history = json.loads(cli("guidelines", "history", "s", "--json").stdout)
    assert [(v["version"], v["summary"]) for v in history] == [
        (3, "complaints"),
        (2, "first rules"),
        (1, "initial guideline"),
    ]

    diff = cli("guidelines", "diff", "s", "2", "3").stdout
    assert diff.splitlines() == [
        "--- v2",
        "+++ v3",
        "@@ -1,3 +1,4 @@",
        " # Rules",
        " ",
        " Label **a** for praise.",
        "+Label **b** for complaints.",
    ]
    assert cli("guidelines", "diff", "s", "3", "3").stdout.strip() == "v3 and v3 are the same"
    assert "guideline.edit" in cli("audit", "s", "--last", "2").stdout


def test_refusals_are_one_line_and_change_nothing(cli: Any, tmp_path: Path) -> None:
    small_project(cli, tmp_path)
    rules = tmp_path / "rules.md"
    rules.write_text(RULES)
    cases = {
        ("--file", str(tmp_path / "missing.md"), "--summary", "x"): (
            f"error: no guideline file at {tmp_path / 'missing.md'}"
        ),
        ("--file", str(rules), "--summary", " "): (
            "error: say in a change summary what changed and why (annotators see it)"
        ),
        ("--file", str(rules), "--summary", "x", "--base-version", "4"): (
            "error: the guideline of 's' is at v1 now, not v4: someone changed it meanwhile; "
            "reload it and edit again"
        ),
    }
    for args, message in cases.items():
        assert _last_line(cli("guidelines", "set", "s", *args, code=1)) == message
    (tmp_path / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    latin1 = cli(
        "guidelines", "set", "s", "--file", str(tmp_path / "latin1.md"), "--summary", "x", code=1
    )
    assert _last_line(latin1) == f"error: {tmp_path / 'latin1.md'} is not UTF-8 text"
    assert _last_line(cli("guidelines", "diff", "s", "1", "2", code=1)) == (
        "error: project 's' has no guideline v2; its newest is v1"
    )
    assert _last_line(cli("guidelines", "show", "nope", code=1)) == "error: no project 'nope'"
    huge = "99999999999999999999"  # past what the database stores: no version, not a crash
    assert _last_line(cli("guidelines", "show", "s", "--version", huge, code=1)) == (
        f"error: project 's' has no guideline v{huge}; its newest is v1"
    )
    assert _last_line(cli("guidelines", "diff", "s", "1", huge, code=1)).startswith(
        f"error: project 's' has no guideline v{huge}"
    )
    assert json.loads(cli("guidelines", "history", "s", "--json").stdout)[0]["version"] == 1


def test_pin_list_diff_and_unpin_examples(cli: Any, tmp_path: Path) -> None:
    small_project(cli, tmp_path)
    rows = [
        {"id": "r1", "text": "lovely <b>work</b>", "c": "a"},
        {"id": "r2", "text": "it broke\nagain", "c": "b"},
        {"id": "r3", "text": "no label yet"},
    ]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cli("import", "s", str(data), "--id-field", "id", "--label-field", "c")
    said = cli("guidelines", "pin", "s", "r1", "--note", "praise, even short").stdout
    assert said.strip() == "guideline v2: r1 is an example of a"
    by_number = json.loads(cli("guidelines", "pin", "s", "#2", "--label", "a", "--json").stdout)
    assert (by_number["version"], by_number["external_id"], by_number["label"]) == (3, "r2", "a")
    assert _last_line(cli("guidelines", "pin", "s", "r3", code=1)) == (
        "error: item 'r3' has no label yet: say which label it is an example of"
    )
    assert _last_line(cli("guidelines", "pin", "s", "r3", "--label", "c", code=1)).startswith(
        "error: "
    )

    listed = cli("guidelines", "examples", "s").stdout.splitlines()
    assert listed == [
        "a  r1  lovely <b>work</b>",
        "  why: praise, even short",
        "a  r2  it broke again",
    ]
    assert cli("guidelines", "unpin", "s", "r2").stdout.strip() == (
        "guideline v4: r2 is no longer an example"
    )
    assert [
        e["external_id"]
        for e in json.loads(cli("guidelines", "examples", "s", "--json").stdout)["examples"]
    ] == ["r1"]
    assert cli("guidelines", "examples", "s", "--version", "1").stdout.strip() == (
        "guideline v1 pins no examples"
    )
    assert _last_line(cli("guidelines", "examples", "s", "--version", "0", code=1)) == (
        "error: project 's' has no guideline v0; its newest is v4"
    )
    assert cli("guidelines", "diff", "s", "1", "4").stdout.splitlines() == [
        "+ example r1: a (praise, even short)"
    ]
    assert cli("guidelines", "diff", "s", "3", "4").stdout.splitlines() == ["- example r2: a"]
    assert _last_line(cli("guidelines", "unpin", "s", "r2", code=1)) == (
        "error: item 'r2' is not an example in guideline v4"
    )
    history = json.loads(cli("guidelines", "history", "s", "--json").stdout)
    assert [v["summary"] for v in history[:2]] == [
        "Example removed: item 'r2' (a)",
        "Example: item 'r2' as a",
    ]
    assert "guideline.example.unpin" in cli("audit", "s", "--last", "1").stdout


def test_history_tells_a_text_changed_after_it_was_published(cli: Any, tmp_path: Path) -> None:
    small_project(cli, tmp_path)
    rules = tmp_path / "rules.md"
    rules.write_text(RULES)
    cli("guidelines", "set", "s", "--file", str(rules), "--summary", "first rules")
    before = cli("guidelines", "history", "s").stdout.splitlines()
    assert "changed" not in "".join(before)
    with sqlite3.connect(tmp_path / "home" / "labelloop.db") as conn:  # behind labelloop's back
        conn.execute("UPDATE guideline SET body = 'Anything goes.' WHERE version = 2")
    v2 = cli("guidelines", "history", "s").stdout.splitlines()[0]
    assert v2.startswith(f"v2  sha256:{_sha256('Anything goes.')[:12]}  ")
    assert v2.endswith(f"text changed since published (recorded sha256:{_sha256(RULES)[:12]})")


def test_history_counts_answers_where_two_annotators_give_one_label(cli: Any) -> None:
    """Under overlap 2 two answers make one label: the history says answers, so beside the
    status's labeled count its number is not read as labels the status does not have."""
    lab, _, ann = trained_project(cli, overlap=2)
    for who in (ann, lab.member("p", "bob", "annotator")):
        task = tasks.next_task(lab.db, who)
        assert task is not None
        tasks.submit(lab.db, who, task["assignment_id"], {"sentiment": "positive"}, active_ms=900)
    status = json.loads(cli("status", "p", "--json").stdout)
    assert status["counts"]["labeled"] == 1
    (line,) = cli("guidelines", "history", "p").stdout.splitlines()
    assert "  2 answers  initial guideline" in line and "labels" not in line
