"""What active learning bought: the policy's labels against the project's random controls,
measured on its eval items, or why not yet."""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.workflow import gain
from labelloop.workflow.features import FeatureCache


def _project(lab: Any, *, share: float) -> Any:
    ctx = lab.project(random_share=share, retrain_every=5)
    lab.import_rows(ctx, lab.rows(120))
    lab.import_rows(
        ctx, lab.rows(30, start=1000, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    lab.train(ctx)
    return ctx


def test_the_gain_compares_equal_numbers_of_labels_on_the_eval_items(lab: Any) -> None:
    ctx = _project(lab, share=0.3)
    ann = lab.member("sent", "ann", "annotator")
    for _ in range(16):
        lab.label_next(ann, n=5)
        lab.train(ctx)
    found = gain.report(lab.db, ctx, cache=FeatureCache())
    assert found["state"] == "measured", found
    assert found["n_control"] + found["n_policy"] == 80
    assert 10 <= found["n_control"] < found["n_policy"]
    assert found["n_eval"] == 30 and found["featurizer"] == "tfidf"
    ks = [k for k, _ in found["curve"]]
    assert ks == sorted(ks) and found["n_control"] in ks  # equal labels is one of the points
    at_same = dict(found["curve"])[found["n_control"]]
    assert found["metric"] == "accuracy"  # the eval items are near balance
    assert found["policy_score"] == at_same
    assert found["difference"] == pytest.approx(at_same - found["control_score"], abs=1e-3)
    low, high = found["interval"]
    assert low <= found["difference"] <= high
    assert (low + high) / 2 == pytest.approx(found["difference"], abs=1e-3)  # around it
    assert found["interval_covers"] in found["sentence"]
    assert found["sentence"].startswith(f"{found['n_control']} labels picked at random reach")


def test_without_controls_or_eval_items_it_says_what_is_missing(lab: Any) -> None:
    ctx = _project(lab, share=0.0)
    lab.label_next(lab.member("sent", "ann", "annotator"), n=10)
    found = gain.report(lab.db, ctx, cache=FeatureCache())
    assert found["state"] == "waiting" and found["n_control"] == 0
    assert found["reason"] == (
        "needs 10 random-control labels of two classes at least, has 0; random_share is 0: "
        "set it on the project page's Settings panel, or with "
        "labelloop projects set sent random_share=0.05"
    )
    plain = lab.project("plain")
    lab.import_rows(plain, lab.rows(20))
    assert gain.report(lab.db, plain, cache=FeatureCache())["reason"].startswith(
        "needs labeled eval items"
    )


def test_the_sentence_claims_a_saving_only_for_a_clear_difference() -> None:
    from labelloop.learn.gain import Gain

    def said(
        interval: tuple[float, float],
        match: float | None,
        n_policy: int = 300,
        metric: str = "accuracy",
    ) -> str:
        found = Gain(
            n_control=100,
            n_policy=n_policy,
            n_eval=500,
            control=0.6,
            same=0.65 if n_policy >= 100 else None,
            difference=0.05,
            interval=interval,
            labels_to_match=match,
            saving=None if match is None else 100 / match,
            curve=[(100, 0.65), (200, 0.7)],
            metric=metric,
        )
        return gain._sentence(found)

    assert said((0.01, 0.09), 50) == (
        "100 labels picked at random reach 60.0% eval accuracy; the strategy's first 100 reach "
        "65.0% (+5.0 points, 95% interval +1.0 to +9.0 over other draws of both label sets and "
        "the eval items), and it reached the random labels' "
        "accuracy with 50 labels: 2.0× fewer."
    )
    assert said((0.01, 0.09), 98).endswith("with 98 labels: as many.")
    assert said((0.01, 0.09), 50, metric="macro_f1") == (
        "100 labels picked at random reach 60.0% eval macro-F1 (the eval classes are "
        "imbalanced); the strategy's first 100 reach 65.0% (+5.0 points, 95% interval +1.0 to "
        "+9.0 over other draws of both label sets and the eval items), and it reached the "
        "random labels' macro-F1 with 50 labels: 2.0× fewer."
    )
    assert said((-0.02, 0.09), None).endswith(
        "(+5.0 points, 95% interval -2.0 to +9.0 over other draws of both label sets and the "
        "eval items): no clear difference yet."
    )
    assert said((-0.09, -0.01), None).endswith(": the random labels did better.")
    assert said((0.01, 0.09), None, n_policy=1).endswith(
        "; the strategy has picked only 1 label so far."
    )


def test_the_strategys_labels_keep_the_order_it_served_them(lab: Any) -> None:
    from labelloop.store import simulations as store_sims
    from labelloop.workflow import tasks

    ctx = _project(lab, share=0.0)
    ann = lab.member("sent", "ann", "annotator")
    served = lab.label_next(ann, n=6)
    with lab.db.read() as conn:
        before = [r["id"] for r in store_sims.served_labels(conn, ctx.id)]
    assert before == [t["item"]["id"] for t in served]
    first = tasks.previous(lab.db, ann)  # the newest; then walk back to the first
    while (older := tasks.previous(lab.db, ann, before=first["annotation_id"])) is not None:
        first = older
    tasks.edit(lab.db, ann, first["annotation_id"], first["value"])  # resolves it again, later
    with lab.db.read() as conn:
        assert [r["id"] for r in store_sims.served_labels(conn, ctx.id)] == before
