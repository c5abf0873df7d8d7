"""The active-learning gain over HTTP and on the project page: reviewers and managers read it,
annotators get a 403, outsiders a 404, and a project without controls is told what it needs."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Page


def test_reviewers_read_the_gain_and_outsiders_learn_nothing(api: Any) -> None:
    got = api.get("/api/projects/sent/gain", "reviewer")
    assert got.status_code == 200
    body = got.json()
    assert body["state"] == "waiting" and body["random_share"] == 0
    assert body["reason"].startswith("needs 10 random-control labels of two classes at least")
    assert api.get("/api/projects/sent/gain", "annotator").status_code == 403
    assert api.get("/api/projects/sent/gain", "outsider").status_code == 404


def test_a_project_with_controls_gets_its_gain_measured(api: Any) -> None:
    lab = api.lab
    ctx = lab.project("g", random_share=0.3, retrain_every=5)
    lab.import_rows(ctx, lab.rows(120))
    lab.import_rows(
        ctx, lab.rows(30, start=1000, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    lab.train(ctx)
    for _ in range(16):
        lab.label_next(ctx, n=5)
        lab.train(ctx)
    body = api.get("/api/projects/g/gain").json()
    assert body["state"] == "measured", body
    assert body["n_control"] + body["n_policy"] == 80 and body["n_eval"] == 30
    assert body["sentence"].startswith(f"{body['n_control']} labels picked at random reach")


def test_the_project_page_fetches_the_gain_after_it_shows(page: Page) -> None:
    page.lab.project("sent", random_share=0.1)
    html = page.html()
    assert '<h2 id="gain-title" class="section-title">What active learning bought</h2>' in html
    assert "10% of served items" in html
    assert '<p id="gain-sentence" aria-live="polite">Measuring…</p>' in html
