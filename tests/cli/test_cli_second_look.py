"""`labelloop second-look SLUG` lists the imported labels flagged as likely errors, for
reviewers as the Review page serves them; with ITEM it keeps or fixes one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import flag_label
from tests.conftest import SCHEMA, make_rows

ROUND = "labeled 'positive' but the model is 0.91 sure it is 'neutral'"
SCAN = "cross-validated model says negative (0.88)"
GUESSES = {ROUND: ("neutral", 0.91), SCAN: ("negative", 0.88)}
"""What the model says instead in each note, as a round or a scan writes it with the flag."""


def _flag(cli: Any, notes: dict[str, str]) -> None:
    """Flag the imported labels of these items (external id -> note), in this order."""
    for external_id, note in notes.items():
        flag_label(cli, external_id, note, guess=GUESSES[note])


def _project(cli: Any, tmp_path: Path) -> None:
    """Project sent: 12 labeled items imported (doc-2 positive, doc-4 neutral), a reviewer rev
    and an annotator ann."""
    cli("init")
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA))
    cli("projects", "create", "sent", "--schema", str(tmp_path / "schema.json"))
    data = tmp_path / "labeled.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in make_rows(12, labeled=True)))
    cli("import", "sent", str(data), "--id-field", "id", "--label-field", "label")
    for name, role in (("rev", "reviewer"), ("ann", "annotator")):
        cli("users", "add", name)
        cli("projects", "member", "sent", name, role)


def test_second_look_lists_the_flagged_imported_labels_with_the_model_s_suggestion(
    cli: Any, tmp_path: Path
) -> None:
    _project(cli, tmp_path)
    assert "No imported label is flagged" in cli("second-look", "sent").stdout
    _flag(cli, {"doc-2": ROUND, "doc-4": SCAN})

    found = json.loads(cli("second-look", "sent", "--json", "--as", "rev").stdout)
    assert found["in_review_queue"] is False  # review_policy none: decided here or on the item
    got = [
        (r["external_id"], r["label"], r["suggestion"], r["confidence"], r["filename"])
        for r in found["items"]
    ]
    assert got == [
        ("doc-2", "positive", "neutral", 0.91, "labeled.jsonl"),
        ("doc-4", "neutral", "negative", 0.88, "labeled.jsonl"),
    ]
    assert found["items"][0]["note"] == ROUND

    lines = [" ".join(line.split()) for line in cli("second-look", "sent").stdout.splitlines()]
    rows = [line for line in lines if line.startswith("│ doc-")]
    assert [r.split(" │ ")[:4] for r in rows] == [
        ["│ doc-2", "positive", "neutral", "0.91"],
        ["│ doc-4", "neutral", "negative", "0.88"],
    ]
    said = " ".join(lines)
    assert "2 imported labels wait for a second look: labelloop second-look sent ITEM" in said
    assert "The review queue serves them under review_policy flagged only." in said

    # as the Review page: reviewers may, annotators may not
    refused = cli("second-look", "sent", "--as", "ann", code=1).output
    assert "(annotator) does not allow reviewing" in refused
    # a verdict takes ITEM off the list
    assert (
        "imported label kept" in cli("second-look", "sent", "doc-2", "keep", "--as", "rev").stdout
    )
    found = json.loads(cli("second-look", "sent", "--json").stdout)
    assert [r["external_id"] for r in found["items"]] == ["doc-4"]
    assert "1 imported label waits for a second look" in cli("second-look", "sent").stdout


def test_second_look_refuses_an_item_without_a_verdict_and_a_comment_without_an_item(
    cli: Any, tmp_path: Path
) -> None:
    _project(cli, tmp_path)
    _flag(cli, {"doc-4": SCAN})
    said = cli("second-look", "sent", "doc-4", code=1).output
    assert "say keep or fix after ITEM 'doc-4'" in " ".join(said.split())
    said = cli("second-look", "sent", "--comment", "why", code=1).output
    assert "--comment goes with a verdict" in said
    # nothing was decided: the label still waits, and a verdict says what it did as JSON too
    decided = json.loads(cli("second-look", "sent", "doc-4", "keep", "--json").stdout)
    assert (decided["verdict"], decided["label"], decided["resolution"]) == (
        "keep",
        "neutral",
        "imported",
    )
    assert json.loads(cli("second-look", "sent", "--json").stdout)["items"] == []
