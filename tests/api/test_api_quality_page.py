"""The Quality page's per-label and annotator tables, as the server draws them."""

from __future__ import annotations

import re

from labelloop.workflow import review, tasks
from tests.api.conftest import Page


def test_the_per_label_table_counts_the_answers_the_annotator_table_counts(page: Page) -> None:
    """An answer sent back for rework is one its annotator gave: the per-label table left it
    out (two labels given) while the annotator table counted it (three answers)."""
    lab = page.lab
    ctx = lab.project("q", review_policy="all")
    lab.import_rows(ctx, lab.rows(6))
    lab.train(ctx)
    ann = lab.member("q", "ann", "annotator")
    rita = lab.member("q", "rita", "reviewer")
    given = []
    for label in ("negative", "neutral"):
        task = tasks.next_task(lab.db, ann)
        assert task is not None
        done = tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": label}, active_ms=900)
        given.append(done["annotation_id"])
    review.review_annotation(lab.db, rita, given[0], verdict="reject", comment="look again")
    rework = tasks.next_task(lab.db, ann)
    assert rework is not None and rework["selection"]["strategy"] == "rework"
    tasks.submit(lab.db, ann, rework["assignment_id"], {"sentiment": "positive"}, active_ms=900)

    html = " ".join(page.get_as(rita.user, "/p/q/quality").text.split())
    per_label = dict(re.findall(r'<tr><th scope="row">(\w+)</th><td>(\d+)</td>', html))
    # negative (sent back), neutral, and positive (its rework): three answers
    assert per_label == {"negative": "1", "neutral": "1", "positive": "1"}
    (answers,) = re.findall(r'<tr data-user="ann"> <th [^>]*>.*?</th> <td>(\d+)</td>', html)
    assert answers == "3"
