"""The status API and the project page show where the newest model is weak: its eval figures
per cohort of the eval items, the worst first, and nothing when the eval items carry no tag."""

from __future__ import annotations

import re

from labelloop.workflow.accounts import create_token
from tests.api.conftest import SLUG, Page
from tests.workflow.test_workflow_cohort_eval import two_cohort_project

HOSTILE = '<img src=x onerror="alert(1)">'


def _cohort_table(html: str) -> str | None:
    found = re.search(r'<table class="table" id="cohort-eval-table".*?</table>', html)
    return found.group(0) if found else None


def test_the_status_api_carries_the_newest_models_figures_per_cohort(page: Page) -> None:
    lab = page.lab
    lab.train(two_cohort_project(lab, SLUG))
    token = create_token(lab.db, lab.admin.username)
    got = page.client.get(
        f"/api/projects/{SLUG}/status", headers={"Authorization": f"Bearer {token}"}
    )
    assert got.status_code == 200
    found = got.json()["model"]["cohorts"]
    assert [(c["cohort"], c["accuracy"], c["below_overall"]) for c in found["cohorts"]] == [
        ("airline", 1.0, False),
        ("bank", 0.0, True),
    ]
    assert found["note"] == (
        "1 cohort with fewer than 10 eval items is not shown (3 eval items). "
        "4 eval items carry no cohort tag."
    )


def test_the_page_lists_the_weakest_cohort_first_and_marks_it(page: Page) -> None:
    lab = page.lab
    lab.train(two_cohort_project(lab, SLUG))
    html = page.html()
    table = _cohort_table(html)
    assert table is not None
    names = re.findall(r'<th scope="row">(\w+)', table)
    assert names == ["bank", "airline"]  # worst first, though both have 12 eval items
    bank = re.search(r'<tr class="cohort-below">(.*?)</tr>', table)
    assert bank and "bank" in bank.group(1) and "below overall" in bank.group(1)
    assert "<td>12</td> <td>0.000</td> <td>0.000–0.242</td> <td>0.000</td> <td>-0.613</td>" in (
        bank.group(1)
    )
    assert table.count("below overall") == 1
    assert "Eval by cohort" in html and "Overall 0.613 on 31 eval items." in html
    assert "1 cohort with fewer than 10 eval items is not shown" in html


def test_a_cohort_name_is_shown_as_text(page: Page) -> None:
    lab = page.lab
    lab.train(two_cohort_project(lab, SLUG, weak=HOSTILE))
    table = _cohort_table(page.html())
    assert table is not None
    assert "<img" not in table
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in table


def test_without_cohort_tags_the_page_shows_no_cohort_table(page: Page) -> None:
    lab = page.lab
    ctx = lab.project(SLUG)
    lab.import_rows(ctx, lab.rows(60, labeled=True), labeled=True)
    lab.import_rows(
        ctx, lab.rows(15, start=1000, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    lab.train(ctx)
    html = page.html()
    assert 'id="stat-accuracy">' in html  # measured overall
    assert "Eval by" not in html and "cohort-eval" not in html
