"""The project page's stop box says how many labels more would change the model, and how many
labels the model wants re-checked."""

from __future__ import annotations

from typing import Any

from labelloop.workflow import quality, status, tasks
from tests.api.conftest import Page

SLUG = "sent"


def _label(lab: Any, ann: Any, *, n: int, flip_every: int = 0) -> None:
    for k in range(n):
        task = tasks.next_task(lab.db, ann)
        assert task is not None
        label = lab.truth(task["item"]["data"]["text"])
        if flip_every and k % flip_every == flip_every - 1:
            label = lab.classes[(lab.classes.index(label) + 1) % 3]
        tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": label}, active_ms=4000)


def test_stop_box_shows_the_more_labels_estimate_and_the_labels_to_recheck(page: Page) -> None:
    lab = page.lab
    ctx = lab.project(SLUG)
    lab.import_rows(ctx, lab.rows(120))
    lab.train(ctx)
    assert "would change 1% of the model" not in page.html()  # cold start: no estimate
    ann = lab.member(SLUG, "ann", "annotator")
    for n in (3, 3, 3):
        _label(lab, ann, n=n)
        lab.train(ctx)
    more = status.status(lab.db, ctx)["model"]["more_labels"]
    assert more is not None
    html = page.html()
    plural = "label" if more == 1 else "labels"
    assert f"About {more:,} more {plural} would change 1% of the model&#39;s predictions." in html
    assert "flagged for a second look" not in html

    _label(lab, ann, n=40, flip_every=8)
    lab.train(ctx)
    n = status.status(lab.db, ctx)["model"]["relabel_suggestions"]
    assert n >= 3
    assert f"{n} labels the model contradicts are flagged for a second look" in page.html()


def test_stop_box_counts_the_open_label_issues_the_quality_page_counts(page: Page) -> None:
    # Wrong labels given after the last round are flagged only by the label-error scan: the
    # stop box counted the round's list while the Quality page counted every open flag.
    lab = page.lab
    ctx = lab.project(SLUG)
    lab.import_rows(ctx, lab.rows(120))
    lab.train(ctx)
    ann = lab.member(SLUG, "ann", "annotator")
    _label(lab, ann, n=40, flip_every=8)
    lab.train(ctx)
    _label(lab, ann, n=40, flip_every=5)
    assert quality.scan(lab.db, ctx)["flagged"] > 0

    report = quality.report(lab.db, ctx, n_boot=0)
    n = report["flags"]["open_by_kind"]["label_issue"]
    assert n > status.status(lab.db, ctx)["model"]["relabel_suggestions"]
    assert f"{n} labels the model contradicts are flagged for a second look" in page.html()


def test_an_eval_plateau_estimate_says_it_counts_labels_for_eval_gain(page: Page) -> None:
    lab = page.lab
    ctx = lab.project(SLUG, stop_rule="eval_plateau", retrain_every=1)
    lab.import_rows(ctx, lab.rows(150))
    lab.import_rows(
        ctx, lab.rows(30, start=5000, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    lab.train(ctx)
    ann = lab.member(SLUG, "ann", "annotator")
    for _ in range(7):
        _label(lab, ann, n=3)
        lab.train(ctx)
    model = status.status(lab.db, ctx)["model"]
    estimates = {d["criterion"]: d["more_labels"] for d in model["stopping"]}
    assert estimates.get("eval_plateau") == model["more_labels"] is not None
    plural = "label" if model["more_labels"] == 1 else "labels"
    sentence = f"About {model['more_labels']:,} more {plural} would raise the eval score by 0.01."
    assert model["more_labels_sentence"] == sentence
    assert f'<p class="muted small" id="stop-more-labels">{sentence}</p>' in page.html()
    assert "1% of the model" not in page.html()


def test_a_spent_budget_is_named_as_the_reason_to_stop(page: Page) -> None:
    """With only the label budget spent, the stop box and the alert said "more labels are
    unlikely to change the model much" above the rule's own "still changing" and "About 2 more
    labels would change 1% of the model's predictions": the budget is the reason; they say so."""
    from labelloop.workflow import insight

    lab = page.lab
    ctx = lab.project(SLUG, budget=6)
    lab.import_rows(ctx, lab.rows(120))
    lab.train(ctx)
    ann = lab.member(SLUG, "ann", "annotator")
    for n in (3, 3):
        _label(lab, ann, n=n)
        lab.train(ctx)
    model = status.status(lab.db, ctx)["model"]
    fired = [d["criterion"] for d in model["stopping"] if d["stop"]]
    assert fired == ["budget"]
    html = page.html()
    assert "unlikely to change the model" not in html
    assert (
        "<strong>Stopping is recommended.</strong> The label budget is spent, though by its "
        "other rules the model is still learning." in html
    )
    (stop,) = [a for a in insight.report(lab.db, ctx)["alerts"] if a["kind"] == "stop"]
    assert stop["message"].startswith("Stop recommended: the label budget is spent"), stop
    assert "would change little" not in stop["message"]
