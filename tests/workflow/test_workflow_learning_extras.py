"""What a round tells people beyond the queue: labels to re-check, how many more labels would
still change the model, and what a pick's score is made of."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from labelloop.store.tables import audit_event
from labelloop.workflow import review, status, tasks

DENSITY = re.compile(r"\(uncertainty (\d\.\d\d) × density (\d\.\d\d)\)$")


def _flip(label: str, classes: tuple[str, ...]) -> str:
    return classes[(classes.index(label) + 1) % len(classes)]


def _label(lab: Any, ann: Any, *, n: int, flip_every: int = 0) -> list[int]:
    """Label ``n`` served items, every ``flip_every``-th one wrongly; returns the flipped ids."""
    flipped = []
    for k in range(n):
        task = tasks.next_task(lab.db, ann)
        assert task is not None, "the queue ran dry"
        label = lab.truth(task["item"]["data"]["text"])
        if flip_every and k % flip_every == flip_every - 1:
            label = _flip(label, lab.classes)
            flipped.append(task["item"]["id"])
        tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": label}, active_ms=4000)
    return flipped


def test_planted_wrong_labels_are_flagged_for_a_second_look(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(120))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    flipped = _label(lab, ann, n=48, flip_every=8)
    assert len(flipped) == 6
    lab.train(ctx)

    flags = review.flags(lab.db, ctx, kind="label_issue")
    by_item = {f["item_id"]: f for f in flags}
    assert len(set(flipped) & set(by_item)) >= 4  # confident learning finds most of them
    assert len(by_item) <= 12  # and does not flag the honest labels wholesale
    caught = by_item[next(i for i in flipped if i in by_item)]
    assert caught["user"] == "ann" and caught["annotation_id"] is not None
    assert re.match(r"labeled '\w+' but the model is 0\.\d\d sure it is '\w+'", caught["note"])
    assert 0.0 <= caught["score"] < 0.5  # p(given label), as the quality scan records it
    model = status.status(lab.db, ctx)["model"]
    assert model["relabel_suggestions"] == len(by_item)
    with lab.db.read() as conn:
        trained = conn.execute(
            select(audit_event.c.payload)
            .where(audit_event.c.action == "model.train")
            .order_by(audit_event.c.id)
        ).all()
    assert sorted(trained[-1][0]["relabel_flagged"]) == sorted(by_item)

    # The next round flags no item twice. Its model, fitted on more labels, agrees with the
    # honest labels the last one doubted: the learner closes their flags, saying so, and the
    # planted flips stay flagged.
    _label(lab, ann, n=10)
    lab.train(ctx)
    every = review.flags(lab.db, ctx, kind="label_issue", open_only=False)
    again = [f["item_id"] for f in every]
    assert len(again) == len(set(again))
    assert set(by_item) <= set(again)
    still = {f["item_id"] for f in every if f["open"]}
    assert set(flipped) & set(by_item) <= still
    closed = [f for f in every if not f["open"]]
    assert closed and not {f["item_id"] for f in closed} & set(flipped)
    for f in closed:
        assert re.fullmatch(
            r"closed by the learner \(model v3\): it now agrees with '\w+' "
            r"\(p = (0\.\d\d|1\.00) out of fold\)",
            f["resolved_note"],
        )
    assert status.status(lab.db, ctx)["open_label_issues"] == len(still)


def test_few_labels_give_no_relabel_suggestions(lab: Any, ready: Any) -> None:
    _label(lab, lab.member("sent", "ann", "annotator"), n=12, flip_every=4)
    lab.train(ready)  # 12 labels: below RELABEL_MIN_LABELS
    assert status.status(lab.db, ready)["model"]["relabel_suggestions"] == 0
    assert review.flags(lab.db, ready, kind="label_issue") == []


def test_flagged_review_policy_sends_a_suspect_label_back_to_review(lab: Any) -> None:
    ctx = lab.project(review_policy="flagged", contradiction_threshold=1.0)
    lab.import_rows(ctx, lab.rows(120))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    flipped = _label(lab, ann, n=48, flip_every=8)
    summary = review.summary(lab.db, ctx)
    before = summary["in_review"]
    lab.train(ctx)
    flagged = {f["item_id"] for f in review.flags(lab.db, ctx, kind="label_issue")}
    assert flagged & set(flipped)
    assert review.summary(lab.db, ctx)["in_review"] == before + len(flagged)


def test_more_labels_estimate_is_kept_with_each_decision(lab: Any) -> None:
    ctx = lab.project(stop_rule="stabilizing_predictions", stop_kappa=0.0, stop_window=1)
    lab.import_rows(ctx, lab.rows(90))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    for n in (3, 3, 3):
        _label(lab, ann, n=n)
        lab.train(ctx)
    info = status.status(lab.db, ctx)
    decision = info["model"]["stopping"][0]
    assert decision["stop"] is True
    estimate = decision["more_labels"]
    assert isinstance(estimate, int) and estimate >= 1  # early rounds still move predictions
    assert info["model"]["more_labels"] == estimate
    assert f"about {estimate:,} more labels" in decision["reason"]
    assert [m["more_labels"] for m in status.models(lab.db, ctx)][0] is None  # cold start


def test_rounds_on_other_features_do_not_count_toward_stopping(lab: Any) -> None:
    """Embeddings computed in the background take over from tfidf: the stop rules compared the
    new model's predictions with the tfidf model's, so the switch read as the model still
    changing (or an earlier tfidf streak as settled). Only rounds on the same features count."""
    from labelloop.store.tables import model_version

    ctx = lab.project(stop_rule="stabilizing_predictions", stop_kappa=0.0, stop_window=1)
    lab.import_rows(ctx, lab.rows(90))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    for n in (3, 3):
        _label(lab, ann, n=n)
        lab.train(ctx)
    assert status.status(lab.db, ctx)["model"]["stopping"][0]["stop"] is True
    with lab.db.write() as conn:  # as if those rounds had been made on other features
        conn.execute(model_version.update().values(featurizer="minilm-l6-v2"))
    _label(lab, ann, n=3)
    lab.train(ctx)
    decision = status.status(lab.db, ctx)["model"]["stopping"][0]
    assert decision["stop"] is False
    assert "needs" in decision["reason"]


def test_density_weighted_pick_shows_its_score_components(lab: Any) -> None:
    ctx = lab.project(strategy="density_weighted")
    lab.import_rows(ctx, lab.rows(60))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    _label(lab, ann, n=10)
    lab.train(ctx)
    task = tasks.next_task(lab.db, ann)
    selection = task["selection"]
    assert selection["strategy"] == "density_weighted"
    found = DENSITY.search(selection["reason"])
    assert found, selection["reason"]
    uncertainty, density = (float(v) for v in found.groups())
    # The score is the product the reason shows (beta = 1), up to the reason's rounding.
    assert abs(selection["score"] - uncertainty * density) <= 0.011
    assert set(selection) == {
        *("strategy", "score", "rank", "model_version", "reason"),
        *("cold_start", "picked_by"),
    }
    assert selection["cold_start"] is False
    assert selection["picked_by"] == f"v{selection['model_version']}"


def test_a_model_that_cannot_learn_from_the_features_is_named_in_the_failure(
    sqlite_lab: Any,
) -> None:
    """GaussianNB refuses TF-IDF's sparse rows: the failure the project page and `labelloop
    status` show names the model setting and what to do, instead of scikit-learn's bare
    TypeError (ending in a doubled full stop), which left a manager no clue which setting broke."""
    from labelloop.workflow import learning

    lab = sqlite_lab
    ctx = lab.project("gnb", model="sklearn.naive_bayes.GaussianNB")
    lab.import_rows(ctx, lab.rows(30, labeled=True), labeled=True)
    learner = learning.Learner(lab.db)
    assert learner.run_once() == 0
    failure = status.status(lab.db, ctx)["training"]["failure"]
    assert failure["error"].startswith(
        "settings.model: 'sklearn.naive_bayes.GaussianNB' cannot learn from the project's "
        "tfidf features (TypeError: Sparse data was passed"
    ), failure["error"]
    assert "another model or featurizer" in failure["error"]
    assert ".." not in failure["sentence"]


def test_a_cold_start_reason_stays_true_after_the_first_labels(lab: Any) -> None:
    """The default policy's reasons are written when the queue is ranked and served until the
    next round: an annotator on their fourth item read "the project has no labels yet" beside
    the three they had just given. They say what held when the item was picked."""
    ctx = lab.project("cold", strategy="auto", retrain_every=50)
    lab.import_rows(ctx, lab.rows(80))
    lab.train(ctx)
    lab.label_next(ctx, n=3)
    task = tasks.next_task(lab.db, ctx)
    reason = task["selection"]["reason"]
    assert "has no labels yet" not in reason
    assert reason.endswith("; picked while the project had no labels"), reason
