"""What the model could label now: trained on every resolved label, scored on the unlabeled
pool and the eval items, per confidence threshold."""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.errors import PermissionDenied, Unprocessable
from labelloop.workflow import coverage
from labelloop.workflow.features import FeatureCache
from tests.conftest import make_rows


def test_the_table_counts_what_the_model_is_sure_of_and_how_often_it_is_right(
    lab: Any, tmp_path: Any
) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(30, labeled=True), labeled=True)
    lab.import_rows(ctx, make_rows(60, start=100), filename="more.jsonl")
    lab.import_rows(
        ctx, make_rows(15, start=1000, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    cache = FeatureCache(tmp_path / "features")
    found = coverage.coverage(lab.db, lab.member("sent", "rita", "reviewer"), cache=cache)
    assert (found["n_train"], found["n_unlabeled"], found["n_eval"]) == (30, 60, 15)
    rows = found["rows"]
    assert [r["threshold"] for r in rows] == [0.8, 0.9, 0.95, 0.98, 0.99]
    covered = [r["covered"] for r in rows]
    assert covered[0] > 0 and covered == sorted(covered, reverse=True)  # surer means fewer
    assert set(rows[0]["by_label"]) == {"negative", "neutral", "positive"}
    for r in rows:
        assert sum(r["by_label"].values()) == r["covered"]
        assert r["eval_correct"] <= r["eval_n"] <= 15
    with pytest.raises(PermissionDenied):
        coverage.coverage(lab.db, lab.member("sent", "ann", "annotator"), cache=cache)


def test_a_project_without_two_labeled_classes_says_why(lab: Any, tmp_path: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(6))
    with pytest.raises(Unprocessable, match="has resolved labels of 0 classes"):
        coverage.coverage(lab.db, ctx, cache=FeatureCache(tmp_path / "features"))


def test_gold_checks_are_not_counted_as_items_the_model_would_label(
    lab: Any, tmp_path: Any
) -> None:
    from labelloop.workflow import quality

    ctx = lab.project()
    lab.import_rows(ctx, make_rows(30, labeled=True), labeled=True)
    lab.import_rows(ctx, make_rows(10, start=100), filename="more.jsonl")
    cache = FeatureCache(tmp_path / "features")
    before = coverage.coverage(lab.db, ctx, cache=cache)["n_unlabeled"]
    quality.set_gold(lab.db, ctx, {"sentiment": "neutral"}, external_id="doc-101")
    assert (before, coverage.coverage(lab.db, ctx, cache=cache)["n_unlabeled"]) == (10, 9)


def test_asked_again_while_it_trains_it_trains_once(
    lab: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The measurement trains a model on every label; two reviewers (or a reloaded page) asking
    # at once get the one training's table, and a later ask trains anew on the labels then.
    import threading
    import time

    from labelloop.memo import SingleFlight

    ctx = lab.project()
    lab.import_rows(ctx, make_rows(30, labeled=True), labeled=True)
    lab.import_rows(ctx, make_rows(20, start=100), filename="more.jsonl")
    cache = FeatureCache(tmp_path / "features")
    trainings: list[int] = []
    started, go_on = threading.Event(), threading.Event()
    real = coverage.scored

    def slow_scored(*args: Any, **kwargs: Any) -> Any:
        trainings.append(1)
        started.set()
        go_on.wait(10)
        return real(*args, **kwargs)

    arrived: list[int] = []

    class Counted(SingleFlight):
        def run(self, key: Any, compute: Any) -> Any:
            arrived.append(1)
            return super().run(key, compute)

    monkeypatch.setattr(coverage, "scored", slow_scored)
    monkeypatch.setattr(coverage, "_flights", Counted())
    answers: list[Any] = []
    asks = [
        threading.Thread(target=lambda: answers.append(coverage.coverage(lab.db, ctx, cache=cache)))
        for _ in range(3)
    ]
    asks[0].start()
    assert started.wait(10)
    for t in asks[1:]:
        t.start()
    while len(arrived) < 3:
        time.sleep(0.01)
    time.sleep(0.2)  # past the door, to the wait
    go_on.set()
    for t in asks:
        t.join(30)
    assert len(trainings) == 1 and len(answers) == 3
    assert answers[0] == answers[1] == answers[2]
    coverage.coverage(lab.db, ctx, cache=cache)
    assert len(trainings) == 2
