"""The dashboard over HTTP and as a page: reviewers and managers read it, annotators are
refused, outsiders learn nothing; the page shows the figures the JSON holds."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.responses import Response

from tests.api.conftest import Page


def test_who_reads_the_dashboard(api: Any) -> None:
    for role in ("admin", "manager", "reviewer"):
        got = api.get("/api/projects/sent/dashboard?days=7", role)
        assert got.status_code == 200, (role, got.text)
        body = got.json()
        assert body["window_days"] == 7 and len(body["throughput"]["days"]) == 7
        assert body["counts"]["pool"] == 30
    assert api.get("/api/projects/sent/dashboard", "annotator").status_code == 403
    assert api.get("/api/projects/sent/dashboard", "outsider").status_code == 404
    assert api.get("/api/projects/sent/dashboard?days=0").status_code == 422
    assert api.get("/api/projects/sent/dashboard?days=366").status_code == 422


def test_labels_show_up_in_the_json(api: Any) -> None:
    ctx = api.lab.ctx("sent", api.lab.admin)
    api.lab.label_next(ctx, n=5, active_ms=3000)
    body = api.get("/api/projects/sent/dashboard").json()
    assert body["throughput"]["resolved"][-1] == 5
    assert body["time"]["active"]["median_s"] == 3.0
    assert body["annotators"][0]["username"] == "admin"
    stages = {s["key"]: s for s in body["stages"]}
    assert stages["label"]["waiting"] == 25


def _get(page: Page, path: str, *, user: Any = None) -> Any:
    response = Response()
    page.app.state.sessions.issue(response, (user or page.lab.admin).id)
    cookie = response.headers["set-cookie"].split(";", 1)[0]
    return page.client.get(path, headers={"cookie": cookie})


def test_the_dashboard_page_shows_pace_waits_forecast_drift_and_people(page: Page) -> None:
    from labelloop.workflow import review

    lab = page.lab
    ctx = lab.project("sent", review_policy="all", backlog_alert_min=1)
    lab.import_rows(ctx, lab.rows(40))
    lab.train(ctx)
    lab.label_next(ctx, n=8)
    reviewer = lab.member("sent", "rita", "reviewer")
    for _ in range(1):
        task = review.next_review(lab.db, reviewer)
        review.review_annotation(lab.db, reviewer, task["annotation"]["id"], verdict="accept")
    assert 'id="dashboard-link" href="/p/sent/dashboard"' in page.html()
    got = _get(page, "/p/sent/dashboard?days=7")
    assert got.status_code == 200
    html = " ".join(got.text.split())
    assert "<h1>Dashboard</h1>" in html
    assert 'id="stat-rate">1.0<' in html  # 1 label resolved on the project's first day
    assert '<tr data-stage="review" class="row-hot">' in html
    assert "Review holds the work: 7 annotations wait" in html
    assert 'data-kind="backlog"' in html
    assert 'id="forecast-pool"' in html and "the 39 left take about 39 days" in html
    assert "this project has one pool import so far" in html
    assert '<tr data-user="admin">' in html
    assert html.count('class="bars-bar"') == 7  # a bar per day of the chart


def test_items_being_labeled_now_are_counted_beside_those_that_wait(page: Page) -> None:
    """An item leased to someone right now does not wait, and the dashboard says how many
    such there are beside the count that waits: the two add up to the items left on the same
    page and on the project page."""
    from labelloop.workflow import tasks

    lab = page.lab
    ctx = lab.project("sent")
    lab.import_rows(ctx, lab.rows(40))
    lab.train(ctx)
    lab.label_next(ctx, n=3)
    for name in ("ann", "bea"):
        assert tasks.next_task(lab.db, lab.member("sent", name, "annotator")) is not None
    body = _get(page, "/api/projects/sent/dashboard").json()
    stages = {s["key"]: s for s in body["stages"]}
    assert (stages["label"]["waiting"], stages["label"]["in_progress"]) == (35, 2)
    assert stages["label"]["waiting_text"] == "35 items, 2 more being labeled now"
    assert body["forecast"]["pool"]["remaining"] == 37
    html = " ".join(_get(page, "/p/sent/dashboard").text.split())
    assert "Labeling holds the work: 35 items wait (2 more are being labeled now)," in html
    assert "<td>35 items, 2 more being labeled now</td>" in html
    assert "37 items left" in html
    project = " ".join(_get(page, "/p/sent").text.split())
    assert 'id="stat-remaining">37<' in project and 'id="stat-leased">2<' in project


def test_items_back_with_their_annotator_on_their_page_are_being_redone(page: Page) -> None:
    """An item rejected in review waits for its annotator until they take it up; then it is
    counted as being redone, not as waiting, in the JSON and on the page, until their page
    gives it back."""
    from labelloop.workflow import tasks
    from labelloop.workflow.accounts import create_token

    lab = page.lab
    ctx = lab.project("sent", review_policy="all")
    lab.import_rows(ctx, lab.rows(10))
    lab.train(ctx)
    lab.label_next(ctx, n=3)
    lab.reject_next(lab.member("sent", "rita", "reviewer"), n=2)
    redo = tasks.next_task(lab.db, ctx)
    assert redo["selection"]["strategy"] == "rework"
    body = _get(page, "/api/projects/sent/dashboard").json()
    stages = {s["key"]: s for s in body["stages"]}
    assert (stages["rework"]["waiting"], stages["rework"]["in_progress"]) == (1, 1)
    assert stages["rework"]["waiting_text"] == "1 item, 1 more being redone now"
    html = " ".join(_get(page, "/p/sent/dashboard").text.split())
    assert "<td>1 item, 1 more being redone now</td>" in html
    # the labeling page left gives it back: it waits for its annotator again, at once
    lease = {"assignment_id": redo["assignment_id"], "lease_expires_at": redo["lease_expires_at"]}
    token = {"Authorization": f"Bearer {create_token(lab.db, 'admin')}"}
    gone = page.client.post(
        "/api/projects/sent/tasks/release", json={"leases": [lease]}, headers=token
    )
    assert gone.status_code == 200 and gone.json() == {"released": []}
    body = _get(page, "/api/projects/sent/dashboard").json()
    stages = {s["key"]: s for s in body["stages"]}
    assert (stages["rework"]["waiting"], stages["rework"]["in_progress"]) == (2, 0)
    assert stages["rework"]["waiting_text"] == "2 items"


def test_item_text_and_file_names_reach_the_page_escaped(page: Page) -> None:
    lab = page.lab
    ctx = lab.project("sent")
    lab.import_rows(ctx, lab.rows(40, labeled=True), labeled=True, filename="a.jsonl")
    evil = [
        {"id": f"e{i}", "text": f"<script>alert({i})</script> refund now {i}"} for i in range(40)
    ]
    lab.import_rows(ctx, evil, filename="<img src=x onerror=alert(1)>.jsonl")
    html = _get(page, "/p/sent/dashboard").text
    assert "<script>alert(" not in html and "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.jsonl" in html


def test_the_project_page_offers_the_alerts_to_those_who_read_the_dashboard(page: Page) -> None:
    page.lab.project("sent")
    html = " ".join(_get(page, "/p/sent").text.split())
    assert '<h2 id="attention-title" class="section-title">Needs attention</h2>' in html
    assert '<a href="/p/sent/dashboard">Open the dashboard</a>' in html
    annotator = page.lab.member("sent", "ann", "annotator")
    html = _get(page, "/p/sent", user=annotator.user).text
    assert "attention-panel" not in html and "/p/sent/dashboard" not in html


def test_the_projects_list_shows_stored_alerts_to_those_who_read_dashboards(page: Page) -> None:
    from labelloop.workflow import insight

    lab = page.lab
    ctx = lab.project("sent", review_policy="all", backlog_alert_min=1)
    lab.project("calm")
    lab.import_rows(ctx, lab.rows(30))
    lab.train(ctx)
    lab.label_next(ctx, n=4)
    insight.refresh_alerts(lab.db, ctx)
    html = " ".join(_get(page, "/").text.split())
    assert (
        '<a href="/p/sent/dashboard" data-alerts="1"><span class="badge badge-alert">1</span>'
        "&nbsp;needs attention: backlog</a>"
    ) in html
    assert html.count("data-alerts=") == 1  # the calm project has none
    annotator = lab.member("sent", "ann", "annotator")
    assert "data-alerts" not in _get(page, "/", user=annotator.user).text
    dashboard = " ".join(_get(page, "/p/sent/dashboard").text.split())
    assert '<details class="card table-details" id="alert-history">' in dashboard
    # every time on the page is UTC, and the columns say so for a manager in another zone
    assert '<th scope="col">Raised (UTC)</th><th scope="col">Resolved (UTC)</th>' in dashboard
    assert '<th scope="col">Last active (UTC)</th>' in dashboard


def test_the_projects_list_json_carries_the_alerts_too(api: Any) -> None:
    from labelloop.workflow import insight

    lab = api.lab
    ctx = lab.ctx("sent", lab.admin)
    lab.project("busy", review_policy="all", backlog_alert_min=1)
    busy = lab.ctx("busy", lab.admin)
    lab.import_rows(busy, lab.rows(20))
    lab.train(busy)
    lab.label_next(busy, n=3)
    lab.member("busy", "reviewer", "reviewer")
    lab.member("busy", "annotator", "annotator")
    insight.refresh_alerts(lab.db, busy)
    insight.refresh_alerts(lab.db, ctx)
    by_slug = {p["slug"]: p for p in api.get("/api/projects", "reviewer").json()}
    assert by_slug["busy"]["alerts"] == ["backlog"] and by_slug["sent"]["alerts"] == []
    by_slug = {p["slug"]: p for p in api.get("/api/projects", "annotator").json()}
    assert by_slug["busy"]["alerts"] == []


def test_a_budget_leads_the_finish_cards(page: Page) -> None:
    lab = page.lab
    ctx = lab.project("sent", budget=20)
    lab.import_rows(ctx, lab.rows(40))
    lab.train(ctx)
    lab.label_next(ctx, n=5)
    html = " ".join(_get(page, "/p/sent/dashboard").text.split())
    budget, pool = html.index('id="stat-finish-budget"'), html.index('id="stat-finish"')
    assert budget < pool
    assert "15 labels to the budget · about 3 days" in html and "35 items left" in html


def test_the_pool_done_card_says_days_as_a_person_would(page: Page) -> None:
    """The card said "about 1 days" for 1.2 days and "1 items left · about 0 days" for the last
    item of a pool labeled at 10 a day."""
    lab = page.lab
    ctx = lab.project("sent")
    lab.import_rows(ctx, lab.rows(11))
    lab.train(ctx)
    lab.label_next(ctx, n=5)  # 5 a day, 6 left: 1.2 days
    html = " ".join(_get(page, "/p/sent/dashboard").text.split())
    assert "6 items left · about 1 day</span>" in html
    lab.label_next(ctx, n=5)  # 10 a day, 1 left
    html = " ".join(_get(page, "/p/sent/dashboard").text.split())
    assert "1 item left · under a day</span>" in html  # "1 items left · about 0 days" before


@pytest.mark.parametrize(
    ("rows", "labeled", "said"),
    [(8, 5, "3 items left · under a day"), (53, 15, "38 items left · about 3 days")],
)
def test_the_pool_done_card_gives_the_forecasts_own_days(
    page: Page, rows: int, labeled: int, said: str
) -> None:
    """The card rounded the days again from their one decimal, so 36,188 items at 15 a day
    (2,412.53 days) read "about 2,412 days" on the card and "about 2,413 days" in the forecast
    under it, as 38 at 15 a day read "about 2 days" and "about 3"; and 3 items at 5 a day read
    "about 1 day" on the card, "less than a day" under it."""
    lab = page.lab
    ctx = lab.project("sent")
    lab.import_rows(ctx, lab.rows(rows))
    lab.train(ctx)
    lab.label_next(ctx, n=labeled)
    html = " ".join(_get(page, "/p/sent/dashboard").text.split())
    assert f"{said}</span>" in html
    words = said.split(" · ")[1]
    assert f"the {rows - labeled} left take {words}" in html


@pytest.mark.parametrize(
    ("role", "status"), [("reviewer", 200), ("annotator", 403), ("outsider", 404)]
)
def test_the_coverage_is_for_reviewers_and_managers(api: Any, role: str, status: int) -> None:
    early = api.get("/api/projects/sent/coverage", "manager")
    assert early.status_code == 422  # no labels yet: it says why
    assert "resolved labels of 0 classes; a model needs two" in early.json()["detail"]
    api.lab.label_next(api.lab.ctx("sent", api.lab.admin), n=9)
    got = api.get("/api/projects/sent/coverage", role)
    assert got.status_code == status, got.text
    if status == 200:
        body = got.json()
        assert (body["n_train"], body["n_unlabeled"], body["n_eval"]) == (9, 21, 9)
        assert [r["threshold"] for r in body["rows"]] == [0.8, 0.9, 0.95, 0.98, 0.99]


def test_the_dashboard_says_what_the_models_labels_stand_for(page: Page) -> None:
    from labelloop.workflow import autolabel
    from tests.conftest import N_CLEAR, auto_project

    ctx = auto_project(page.lab, "sent")
    html = " ".join(_get(page, "/p/sent/dashboard").text.split())
    assert 'id="model-auto-labels"' not in html
    autolabel.apply(
        page.lab.db, ctx, cache=page.app.state.features, confidence=0.78, min_accuracy=0.9
    )
    html = " ".join(_get(page, "/p/sent/dashboard").text.split())
    # no one has labeled here yet: no time to count the model's labels in
    assert (
        f'<p id="model-auto-labels">The model labeled {N_CLEAR} items in auto-label runs.' in html
    )
    assert 'href="/p/sent#autolabel-runs">The runs</a>' in html


def test_the_stage_table_names_the_days_its_counts_cover(page: Page) -> None:
    # A project that began labeling today counts arrivals and clearances over that one day (as
    # the bottleneck's sentence says), not over the 7 its headings named.
    from labelloop.workflow import review

    lab = page.lab
    ctx = lab.project("sent", review_policy="all", backlog_alert_min=1)
    lab.import_rows(ctx, lab.rows(20))
    lab.train(ctx)
    lab.label_next(ctx, n=3)
    reviewer = lab.member("sent", "rita", "reviewer")
    task = review.next_review(lab.db, reviewer)
    review.review_annotation(lab.db, reviewer, task["annotation"]["id"], verdict="accept")
    html = " ".join(_get(page, "/p/sent/dashboard?days=30").text.split())
    assert '<th scope="col">Arrived, 1 day</th><th scope="col">Cleared, 1 day</th>' in html
    assert "in the last day 3 arrived and 1 was cleared" in html


def test_one_waiting_annotation_is_named_in_the_singular(page: Page) -> None:
    from labelloop.workflow import review

    lab = page.lab
    ctx = lab.project("sent", review_policy="all")
    lab.import_rows(ctx, lab.rows(20))
    lab.train(ctx)
    lab.label_next(ctx, n=2)
    reviewer = lab.member("sent", "rita", "reviewer")
    task = review.next_review(lab.db, reviewer)
    review.review_annotation(lab.db, reviewer, task["annotation"]["id"], verdict="accept")
    html = " ".join(_get(page, "/p/sent/dashboard").text.split())
    review_row = html.split('<tr data-stage="review"')[1].split("</tr>")[0]
    assert "<td>1 annotation</td>" in review_row  # not "1 annotations"


def test_answers_sent_without_a_time_are_not_called_no_annotations(page: Page) -> None:
    # A script's answers (the client's submit sends active_ms 0 unless told) record no time:
    # the page has annotations to show, only no time per annotation.
    lab = page.lab
    ctx = lab.project("sent")
    lab.import_rows(ctx, lab.rows(20))
    lab.train(ctx)
    lab.label_next(ctx, n=4, active_ms=0)
    html = " ".join(_get(page, "/p/sent/dashboard").text.split())
    assert 'id="stat-active">—<' in html
    assert "no active time recorded for the 4 annotations of these days" in html
    assert "no annotations in these days" not in html


def test_labels_that_came_with_an_import_are_named_apart_from_the_teams(page: Page) -> None:
    # The project page counts 9 labeled (4 by people, 5 imported); the dashboard's pace counts
    # only people's 4 and says where the other 5 went, on the page and in the JSON.
    from tests.conftest import make_rows

    lab = page.lab
    ctx = lab.project("sent")
    lab.import_rows(ctx, make_rows(20))
    lab.import_rows(ctx, make_rows(5, labeled=True, start=100), labeled=True, filename="b.jsonl")
    lab.train(ctx)
    lab.label_next(ctx, n=4)
    body = _get(page, "/api/projects/sent/dashboard").json()
    assert body["counts"]["labeled"] == 9
    assert sum(body["throughput"]["resolved"]) == 4
    imported = body["throughput"]["imported"]
    assert imported["n"] == 5
    sentence = imported["sentence"]
    assert sentence.startswith("Not counted here: 5 labels that came with imported items")
    html = " ".join(_get(page, "/p/sent/dashboard").text.split())
    assert f'<p class="muted small" id="imported-labels">{sentence}</p>' in html
    assert "resolved by people, today" in html


def test_agreement_says_how_many_of_the_items_it_compares_are_gold_checks(page: Page) -> None:
    # Gold checks answered by two annotators are compared like any item (often they are the
    # only items two people answered); the dashboard and the quality report say how many.
    from labelloop.workflow import quality
    from tests.conftest import make_rows

    lab = page.lab
    lab.project("sent", overlap=2)
    admin = lab.ctx("sent", lab.admin)
    lab.import_rows(admin, make_rows(20))
    lab.train(admin)
    served = []
    for name in ("ann", "bob"):
        served += lab.label_next(lab.member("sent", name, "annotator"), n=4)
    shared = {t["item"]["id"] for t in served}
    assert len(shared) == 4
    quality.set_gold(lab.db, admin, {"sentiment": "neutral"}, item_id=min(shared))
    body = _get(page, "/api/projects/sent/dashboard").json()
    assert (body["agreement"]["n_items"], body["agreement"]["n_gold"]) == (4, 1)
    html = " ".join(_get(page, "/p/sent/dashboard").text.split())
    assert "Krippendorff, on 4 items labeled twice or more, 1 of them a gold check" in html
    report = _get(page, "/api/projects/sent/quality").json()
    assert report["agreement"]["overall"]["n_items_compared"] == 4
    assert report["gold"] == {"items": 1, "compared": 1}
    html = " ".join(_get(page, "/p/sent/quality").text.split())
    assert "2 annotators, 8 answers, 1 of the items a gold check" in html
    assert "first answer to an item, as given before review" in html


def test_labels_resolved_within_seconds_of_serving_read_under_a_minute(page: Page) -> None:
    from tests.conftest import make_rows

    lab = page.lab
    ctx = lab.project("sent")
    lab.import_rows(ctx, make_rows(10))
    lab.train(ctx)
    lab.label_next(ctx, n=3)
    html = " ".join(_get(page, "/p/sent/dashboard").text.split())
    assert 'id="stat-turnaround">under 1 min<' in html
    assert "median; 90% within under 1 min" not in html and "0 min" not in html


def test_the_open_dashboard_fetches_the_sections_its_page_draws(page: Page) -> None:
    # /p/SLUG/dashboard-figures: the page's sections as a reload draws them, for those who
    # read the dashboard only, its hostile texts escaped as on the page.
    lab = page.lab
    ctx = lab.project("sent", review_policy="all", backlog_alert_min=1)
    lab.import_rows(ctx, lab.rows(40))
    lab.train(ctx)
    lab.label_next(ctx, n=4)
    evil = [{"id": f"e{i}", "text": f"<script>alert({i})</script> refund {i}"} for i in range(5)]
    lab.import_rows(ctx, evil, filename="<img src=x onerror=alert(1)>.jsonl")
    figures = _get(page, "/p/sent/dashboard-figures?days=7")
    assert figures.status_code == 200 and figures.headers["cache-control"] == "no-store"
    drawn = _get(page, "/p/sent/dashboard?days=7").text

    def sections(html: str) -> dict[str, str]:
        found = re.findall(
            r'(<section class="section"[^>]* id="([a-z]+-section)".*?</section>)', html, re.S
        )
        return {key: " ".join(markup.split()) for markup, key in found}

    fetched = sections(figures.text)
    assert len(fetched) == 8 and "<html" not in figures.text
    at = re.compile(r"up to \d{4}-\d\d-\d\d \d\d:\d\d UTC|data-at=\"[^\"]+\"")
    assert at.sub("", " ".join(figures.text.split())).count("data-alerts=") == 1
    assert {k: at.sub("", v) for k, v in fetched.items()} == {
        k: at.sub("", v) for k, v in sections(drawn).items()
    }
    # four answers a moment old in review are a moment's work: labeling holds it
    assert "Labeling holds the work: 41 items wait" in fetched["waits-section"]
    assert "<td>4 annotations</td>" in fetched["waits-section"]
    assert "<img src=x" not in figures.text and "<script>" not in figures.text
    assert "&lt;img src=x onerror=alert(1)&gt;.jsonl" in fetched["drift-section"]

    ann = lab.member("sent", "ann", "annotator")
    assert _get(page, "/p/sent/dashboard-figures", user=ann.user).status_code == 403
    assert _get(page, "/p/sent/dashboard-figures", user=lab.user("stranger")).status_code == 404
    gone = page.client.get("/p/sent/dashboard-figures", headers={"cookie": ""})
    assert gone.status_code in (302, 303, 307) and "/login" in gone.headers["location"]
