"""The agreement report the quality page, API and CLI show: right numbers, JSON-safe, no NaN."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from labelloop.quality import (
    agreement_report,
    bootstrap_ci,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_kappa,
    percent_agreement,
)

nan = np.nan
LABELS = ["negative", "neutral", "positive"]


def project(seed: int = 0, *, items: int = 150, missing: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, items)
    R = np.where(rng.random((3, items)) < 0.75, truth, rng.integers(0, 3, (3, items))).astype(float)
    R[rng.random(R.shape) < missing] = nan
    return R


def as_json(report: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(report, allow_nan=False))


def test_report_figures_equal_the_coefficients_and_their_intervals() -> None:
    R = project()
    report = as_json(
        agreement_report(R, labels=LABELS, raters=["ann", "bob", "cy"], rng=3, n_boot=200)
    )
    overall = report["overall"]
    assert overall["n_items"] == overall["n_items_compared"] == 150
    for key, fn in [
        ("percent", percent_agreement),
        ("fleiss", fleiss_kappa),
        ("alpha", krippendorff_alpha),
    ]:
        entry = overall[key]
        assert entry["value"] == pytest.approx(fn(R)), key
        assert entry["reason"] is None
        assert entry["ci"] == pytest.approx(list(bootstrap_ci(fn, R, n_boot=200, rng=3))), key
        assert entry["ci"][0] < entry["value"] < entry["ci"][1]
    assert report["n_ratings"] == 450 and report["labels"] == LABELS


def test_report_per_label_is_one_vs_rest_alpha() -> None:
    R = project(1, missing=0.2)
    report = agreement_report(R, labels=LABELS, raters=["a", "b", "c"], rng=0, n_boot=50)
    for k, name in enumerate(LABELS):
        binary = np.where(np.isnan(R), nan, (k == R).astype(float))
        entry = report["per_label"][name]
        assert entry["alpha"]["value"] == pytest.approx(krippendorff_alpha(binary))
        assert entry["n_ratings"] == int((k == R).sum())


def test_report_pairwise_matrix_and_shared_counts() -> None:
    R = project(2, missing=0.3)
    report = as_json(agreement_report(R, labels=LABELS, raters=["a", "b", "c"], n_boot=0))
    pw = report["pairwise"]
    assert pw["raters"] == ["a", "b", "c"]
    assert np.allclose(np.array(pw["kappa"], dtype=float), pairwise_kappa(R))
    both = ~np.isnan(R[0]) & ~np.isnan(R[2])
    assert pw["n_items"][0][2] == int(both.sum())
    assert pw["kappa"][0][2] == pytest.approx(cohen_kappa(R[0], R[2]))
    assert report["overall"]["alpha"]["ci"] is None  # n_boot=0 skips intervals


def test_report_per_cohort_equals_the_report_on_that_cohort() -> None:
    R = project(3, items=200, missing=0.1)
    mask = np.arange(200) % 3 == 0
    report = agreement_report(
        R, labels=LABELS, raters=["a", "b", "c"], cohorts={"news": mask}, n_boot=100
    )
    alone = agreement_report(R[:, mask], labels=LABELS, raters=["a", "b", "c"], n_boot=100)
    assert report["per_cohort"]["news"] == alone["overall"]
    assert report["per_cohort"]["news"]["n_items"] == int(mask.sum())
    with pytest.raises(ValueError, match="mask has shape"):
        agreement_report(R, labels=LABELS, raters=["a", "b", "c"], cohorts={"x": mask[:5]})


def test_report_interval_level_uses_label_order() -> None:
    R = project(4, missing=0.2)
    report = agreement_report(R, labels=["1", "2", "3"], raters="abc", level="interval", n_boot=0)
    assert report["overall"]["alpha"]["value"] == pytest.approx(krippendorff_alpha(R, "interval"))


def test_unequal_ratings_per_item_leave_fleiss_none_with_a_reason() -> None:
    R = project(5, missing=0.25)
    report = as_json(agreement_report(R, labels=LABELS, raters="abc", n_boot=50))
    fleiss = report["overall"]["fleiss"]
    assert fleiss == {"value": None, "ci": None, "reason": fleiss["reason"]}
    assert "same number" in fleiss["reason"]
    assert report["overall"]["alpha"]["value"] is not None


@pytest.mark.parametrize(
    ("R", "raters", "reason"),
    [
        (np.array([[0.0, 1, 2, 1]]), ["solo"], "two or more raters"),
        (np.full((3, 4), nan), ["a", "b", "c"], "no ratings yet"),
        (np.empty((2, 0)), ["a", "b"], "no ratings yet"),
        (np.array([[0.0, nan, 1], [nan, 2, nan]]), ["a", "b"], "two or more raters"),
    ],
)
def test_degenerate_inputs_give_none_with_a_reason(
    R: np.ndarray, raters: list[str], reason: str
) -> None:
    report = as_json(agreement_report(R, labels=LABELS, raters=raters, n_boot=20))
    for key in ("percent", "fleiss", "alpha"):
        entry = report["overall"][key]
        assert entry["value"] is None and entry["ci"] is None
        assert reason in entry["reason"]
    for entry in report["per_label"].values():
        assert entry["alpha"]["value"] is None and entry["alpha"]["reason"]
    kappa = report["pairwise"]["kappa"]
    assert all(
        kappa[i][j] is None for i in range(len(raters)) for j in range(len(raters)) if i != j
    )


def test_a_single_category_in_use_has_full_agreement_but_no_chance_corrected_figure() -> None:
    R = np.array([[1.0, 1, 1, nan], [1, 1, nan, 1], [1, nan, 1, 1]])
    report = as_json(agreement_report(R, labels=LABELS, raters="abc", n_boot=50))
    overall = report["overall"]
    assert overall["percent"]["value"] == 1.0 and overall["percent"]["ci"] == [1.0, 1.0]
    for key in ("fleiss", "alpha"):
        assert overall[key]["value"] is None
        assert "same category" in overall[key]["reason"]
    assert report["per_label"]["neutral"]["alpha"]["value"] is None
    assert report["pairwise"]["kappa"][0][1] is None


def test_report_checks_its_inputs() -> None:
    R = project(6)
    with pytest.raises(ValueError, match="rater names"):
        agreement_report(R, labels=LABELS, raters=["a", "b"])
    with pytest.raises(ValueError, match="not a category index"):
        agreement_report(R, labels=LABELS[:2], raters="abc")


def test_report_on_a_large_project_is_not_quadratic() -> None:
    # About a second here on 20,000 items (bench/dashboard_scale.py times the reports a manager
    # waits for); the bound is loose so a busy machine does not fail it, tight enough that
    # work growing with the square of the items (minutes at this size) does.
    import time

    R = project(7, items=20_000, missing=0.3)
    start = time.perf_counter()
    agreement_report(R, labels=LABELS, raters="abc", cohorts={"half": np.arange(20_000) < 10_000})
    assert time.perf_counter() - start < 20.0
