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
    assert found["policy_accuracy"] == at_same
    assert found["difference"] == pytest.approx(at_same - found["control_accuracy"], abs=1e-3)
    low, high = found["interval"]
    assert low <= found["difference"] <= high
    assert found["sentence"].startswith(f"{found['n_control']} labels picked at random reach")


def test_without_controls_or_eval_items_it_says_what_is_missing(lab: Any) -> None:
    ctx = _project(lab, share=0.0)
    lab.label_next(lab.member("sent", "ann", "annotator"), n=10)
    found = gain.report(lab.db, ctx, cache=FeatureCache())
    assert found["state"] == "waiting" and found["n_control"] == 0
    assert found["reason"] == (
        "needs 10 random-control labels of two classes at least, has 0; random_share is 0: "
        "set it, e.g. `labelloop projects set sent random_share=0.05`"
    )
    plain = lab.project("plain")
    lab.import_rows(plain, lab.rows(20))
    assert gain.report(lab.db, plain, cache=FeatureCache())["reason"].startswith(
        "needs labeled eval items"
    )


def test_the_sentence_says_fewer_or_more_labels() -> None:
    from labelloop.learn.gain import Gain

    def said(saving: float) -> str:
        found = Gain(
            n_control=100,
            n_policy=300,
            n_eval=500,
            control=0.6,
            same=0.65,
            difference=0.05,
            interval=(0.01, 0.09),
            labels_to_match=100 / saving,
            saving=saving,
            curve=[(100, 0.65), (200, 0.7)],
        )
        return gain._sentence(found)

    assert said(2.0) == (
        "100 labels picked at random reach 60.0% eval accuracy; the strategy's first 100 reach "
        "65.0% (+5.0%, 95% interval +1.0% to +9.0%), and it matched the random labels with 50: "
        "2.0× fewer."
    )
    assert said(0.8).endswith("with 125: 1.2× more.")
