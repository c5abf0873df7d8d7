"""`labelloop quality`: the annotator table counts answers, the rejected one among them, as
the labels given per label do."""

from __future__ import annotations

import json
from typing import Any

from labelloop.workflow import review, tasks
from tests.cli.conftest import trained_project


def test_the_annotator_table_counts_answers_with_the_one_sent_back(cli: Any) -> None:
    """ann's answer sent back and answered again is two answers, each a label given: the table
    said "labels 2" beside a per-label count of 1, two words for one thing."""
    lab, _, ann = trained_project(cli, review_policy="all")
    rita = lab.member("p", "rita", "reviewer")
    task = tasks.next_task(lab.db, ann)
    assert task is not None
    first = tasks.submit(
        lab.db, ann, task["assignment_id"], {"sentiment": "neutral"}, active_ms=2000
    )
    review.review_annotation(lab.db, rita, first["annotation_id"], verdict="reject", comment="no")
    rework = tasks.next_task(lab.db, ann)
    assert rework is not None and rework["item"]["id"] == first["item_id"]
    tasks.submit(lab.db, ann, rework["assignment_id"], {"sentiment": "positive"}, active_ms=2000)

    report = json.loads(cli("quality", "p", "--json").stdout)
    (row,) = report["annotators"]
    assert row["labels"] == 2 and report["labels_given"] == {"neutral": 1, "positive": 1}
    lines = cli("quality", "p").stdout.splitlines()
    header = next(line for line in lines if "annotator" in line and "median s" in line)
    assert [cell.strip() for cell in header.split("┃")[1:3]] == ["annotator", "answers"]
    (said,) = [line for line in lines if line.lstrip("│ ").startswith("ann ")]
    assert said.split("│")[2].strip() == "2"
