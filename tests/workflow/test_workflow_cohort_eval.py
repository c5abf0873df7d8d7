"""Eval by cohort: when the eval items carry a ``cohort`` tag, each model version records where
the model is right and where it is weak, next to its overall eval metrics."""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.store import learning as store_learning
from labelloop.workflow import status
from tests.conftest import CLASSES, make_rows


def tagged(rows: list[dict[str, Any]], cohort: str | None) -> list[dict[str, Any]]:
    return [r if cohort is None else {**r, "cohort": cohort} for r in rows]


def shifted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows labeled with the next class, not the one their words carry: a model that learned the
    words gets every one of them wrong."""
    return [{**r, "label": CLASSES[(CLASSES.index(r["label"]) + 1) % 3]} for r in rows]


def two_cohort_project(lab: Any, slug: str = "sent", *, weak: str = "bank") -> Any:
    """60 labeled pool items; eval items: 12 "airline" labeled as their words say, 12 ``weak``
    labeled with the wrong class on purpose, 3 "cars" and 4 without a tag."""
    ctx = lab.project(slug)
    lab.import_rows(ctx, make_rows(60, labeled=True), labeled=True)
    evals = (
        tagged(make_rows(12, start=1000, prefix="air", labeled=True), "airline")
        + tagged(shifted(make_rows(12, start=2000, prefix="bank", labeled=True)), weak)
        + tagged(make_rows(3, start=3000, prefix="car", labeled=True), "cars")
        + make_rows(4, start=4000, prefix="plain", labeled=True)
    )
    lab.import_rows(ctx, evals, labeled=True, split="eval")
    return ctx


def test_a_cohort_the_model_gets_wrong_shows_below_overall(lab: Any) -> None:
    ctx = two_cohort_project(lab)
    assert lab.train(ctx) == 1
    model = status.status(lab.db, ctx)["model"]
    found = model["cohorts"]
    assert found["field"] == "cohort"
    by_name = {c["cohort"]: c for c in found["cohorts"]}
    assert list(by_name) == ["airline", "bank"]  # 12 items each; "cars" has too few
    airline, bank = by_name["airline"], by_name["bank"]
    assert airline["n"] == bank["n"] == 12
    assert airline["accuracy"] == 1.0 and airline["below_overall"] is False
    assert bank["accuracy"] == 0.0 and bank["below_overall"] is True
    assert bank["high"] < model["metrics"]["accuracy"] < airline["low"]
    # the overall figures are the model version's own eval metrics, over every eval item
    assert found["overall"]["n"] == model["metrics"]["n_eval"] == 31
    assert found["overall"]["accuracy"] == pytest.approx(model["metrics"]["accuracy"], abs=1e-4)
    assert found["overall"]["accuracy"] == pytest.approx(19 / 31, abs=1e-4)  # all but "bank"
    assert bank["vs_overall"] == pytest.approx(-19 / 31, abs=1e-4)
    assert found["too_small"] == {"cohorts": 1, "items": 3}
    assert found["untagged"] == 4
    # every number of `metrics` stays a number (the CLI and the model file format them)
    assert all(isinstance(v, float) for v in model["metrics"].values())


def test_each_model_version_keeps_its_own_cohort_figures(lab: Any) -> None:
    ctx = two_cohort_project(lab)
    lab.train(ctx)
    lab.import_rows(ctx, make_rows(30, start=500, labeled=True), labeled=True)
    assert lab.train(ctx) == 2
    with lab.db.read() as conn:
        rows = store_learning.history(conn, ctx.id)
    assert [r["cohort_metrics"]["overall"]["n"] for r in rows] == [31, 31]
    assert [r["n_train"] for r in rows] == [60, 90]
    # the learning curve stays lean: figures per cohort only with the newest model
    assert all("cohorts" not in m for m in status.models(lab.db, ctx))


def test_a_numeric_tag_names_its_cohort_as_text(lab: Any) -> None:
    # the database hands the round the tag alone, whatever else the metadata holds
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(60, labeled=True), labeled=True)
    evals = make_rows(20, start=1000, prefix="ev", labeled=True)
    lab.import_rows(
        ctx,
        [
            {**r, "cohort": 2024 if i % 2 else 'Zürich "old"', "notes": "x" * 20_000}
            for i, r in enumerate(evals)
        ],
        labeled=True,
        split="eval",
    )
    lab.train(ctx)
    found = status.status(lab.db, ctx)["model"]["cohorts"]
    assert sorted(c["cohort"] for c in found["cohorts"]) == ["2024", 'Zürich "old"']
    assert [c["n"] for c in found["cohorts"]] == [10, 10]


def test_without_cohort_tags_nothing_per_cohort_is_stored(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(60, labeled=True), labeled=True)
    lab.import_rows(
        ctx,
        [{**r, "source": "web"} for r in make_rows(15, start=1000, prefix="ev", labeled=True)],
        labeled=True,
        split="eval",
    )
    lab.train(ctx)
    model = status.status(lab.db, ctx)["model"]
    assert model["metrics"]["n_eval"] == 15
    assert model["cohorts"] is None


def test_a_cold_start_measures_no_cohort(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(30))
    lab.import_rows(
        ctx,
        tagged(make_rows(12, start=1000, prefix="ev", labeled=True), "airline"),
        labeled=True,
        split="eval",
    )
    lab.train(ctx)
    model = status.status(lab.db, ctx)["model"]
    assert model["cold_start"] is True and model["cohorts"] is None


def test_the_round_reads_the_eval_items_cohort_tags_not_the_pools_metadata(
    lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = two_cohort_project(lab)
    calls: list[tuple[str, bool]] = []
    real = store_learning.items_of

    def spy(conn: Any, project_id: int, split: str, **kw: Any) -> Any:
        calls.append((split, kw.get("tag")))
        return real(conn, project_id, split, **kw)

    monkeypatch.setattr(store_learning, "items_of", spy)
    lab.train(ctx)
    assert calls == [("pool", None), ("eval", "cohort")]  # a large pool's metadata stays unread
