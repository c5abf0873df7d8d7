"""The simulations API: a manager queues a replay of the project's labels, follows it and opens
its chart; nobody else in the project may, and nobody outside learns it exists."""

from __future__ import annotations

import re
from typing import Any

import pytest

from labelloop.server.api.simulations import CHART_POLICY
from labelloop.workflow import projects, simulations
from labelloop.workflow.features import FeatureCache
from tests.simreplay import replay_here

SIMS = "/api/projects/sent/simulations"
FAST = {"strategies": ["random", "margin"], "seeds": 2, "budget": 40, "batch": 10}
HOSTILE = "</title><script>alert('pwned')</script> & \"quotes\""


def _learner(api: Any) -> bool:
    """Play the learner: replay the oldest queued simulation (in this process: see ``sims``)."""
    return simulations.run_next(api.lab.db, FeatureCache())


@pytest.fixture
def sims(api: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The API fixture with 60 labeled pool items more in 'sent' (69 labels with its eval's).

    Replays run in the test's process: the learner's worker processes are asserted in
    tests/workflow/test_workflow_simulations.py; here, the API around the replay."""
    replay_here(monkeypatch)
    lab = api.lab
    rows = lab.rows(60, start=2000, prefix="lab", labeled=True)
    lab.import_rows(lab.ctx("sent", lab.admin), rows, labeled=True, filename="labeled.jsonl")
    return api


def test_a_manager_queues_follows_and_reads_a_simulation(sims: Any) -> None:
    asked = sims.post(SIMS, "manager", json=FAST)
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert body["state"] == "queued" and body["requested_by"] == "manager"
    assert body["options"]["strategies"] == ["random", "margin"] and body["summary"] is None
    sim = f"{SIMS}/{body['id']}"
    assert [s["id"] for s in sims.get(SIMS, "manager").json()] == [body["id"]]
    assert sims.get(f"{sim}/chart", "manager").status_code == 404  # no chart before it ran

    assert _learner(sims)
    done = sims.get(sim, "manager").json()
    assert done["state"] == "done" and done["percent"] == 100.0, done
    assert [row[0] for row in done["summary"]["rows"]] == ["random", "margin"]
    assert done["summary"]["note"].startswith("69 labeled items, 3 classes")
    assert done["chart_url"] == f"{sim}/chart"

    chart = sims.get(done["chart_url"], "manager")
    assert chart.status_code == 200
    assert chart.headers["content-type"].startswith("text/html")
    assert chart.headers["content-security-policy"] == CHART_POLICY
    assert chart.headers["x-content-type-options"] == "nosniff"
    assert "<svg" in chart.text and 'data-series="margin"' in chart.text
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", chart.text, re.I)


def test_a_site_admin_may_ask_too_and_the_options_default(sims: Any) -> None:
    r = sims.post(SIMS, "admin", json={"budget": 40})
    assert r.status_code == 202, r.text
    options = r.json()["options"]
    assert options["strategies"][0] == "random" and options["seeds"] == 3
    assert options["batch"] == sims.lab.ctx("sent", sims.lab.admin).settings.batch_size


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the page is drawn whatever the store
def test_a_hostile_project_name_is_inert_in_the_chart(sims: Any) -> None:
    lab = sims.lab
    schema = {
        "name": HOSTILE,
        "data": {"type": "text", "field": "text"},
        "controls": [
            {"name": "sentiment", "type": "choice", "labels": list(lab.classes), "target": True}
        ],
    }
    projects.create_project(lab.db, "evil", schema, actor=lab.admin)
    ctx = lab.ctx("evil", lab.admin)
    lab.import_rows(ctx, lab.rows(60, labeled=True), labeled=True)
    projects.set_member(lab.db, ctx, "manager", "manager")
    sim = sims.post("/api/projects/evil/simulations", "manager", json=FAST).json()
    assert _learner(sims)
    page = sims.get(f"/api/projects/evil/simulations/{sim['id']}/chart", "manager").text
    assert "<script>alert" not in page and "</title><script>" not in page
    assert "&lt;/title&gt;&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert page.count("<script") == 2  # the chart's data and its own code, nothing else
    assert page.count("</title>") == 1


def test_a_second_request_waits_for_the_first(sims: Any) -> None:
    first = sims.post(SIMS, "manager", json=FAST).json()
    again = sims.post(SIMS, "manager", json=FAST)
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"simulation #{first['id']} of project 'sent' is still queued; wait for it or cancel it"
    )
    cancelled = sims.post(f"{SIMS}/{first['id']}/cancel", "manager")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert sims.post(f"{SIMS}/{first['id']}/cancel", "manager").status_code == 409
    assert not _learner(sims)  # the cancelled one is never replayed
    assert sims.post(SIMS, "manager", json=FAST).status_code == 202


BAD_BODIES: list[tuple[dict[str, Any], int, str]] = [
    ({"seeds": 0}, 422, "seeds must be between 1 and 10, not 0"),
    ({"budget": 20}, 422, "budget 20 leaves nothing to query"),
    ({"batch": 5000}, 422, "batch must be between 1 and 1000"),
    ({"max_seconds": 1}, 422, "max_seconds must be between 10 and 3600"),
    ({"strategies": ["psychic"]}, 422, "unknown strategy 'psychic'"),
    ({"strategies": []}, 422, "strategies names no strategy"),
    ({"strategies": "random"}, 422, "strategies:"),
    ({"seeds": "lots"}, 422, "seeds:"),
    ({"seeds": 10**12}, 422, "seeds:"),
]


def test_bad_bodies_are_4xx_naming_the_option(sims: Any) -> None:
    for body, status, names in BAD_BODIES:  # one project for them all: none changes it
        r = sims.post(SIMS, "manager", json={**FAST, **body})
        assert r.status_code == status, (body, r.text)
        assert names in r.json()["detail"], (body, r.text)
        assert sims.get(SIMS, "manager").json() == []


def test_too_few_labels_is_a_422_naming_the_count(api: Any) -> None:
    r = api.post(SIMS, "manager", json=FAST)  # only the 9 labeled eval items
    assert r.status_code == 422
    assert r.json()["detail"] == "9 labeled items are too few to simulate; need at least 40"


def test_out_of_range_ids_are_422(sims: Any) -> None:
    for sim_id in ("0", "-1", "99999999999999999999", "abc"):
        for path, call in (("", "get"), ("/chart", "get"), ("/cancel", "post")):
            r = getattr(sims, call)(f"{SIMS}/{sim_id}{path}", "manager")
            assert r.status_code == 422, (sim_id, path, r.text)
            assert "sim_id" in r.json()["detail"]


def test_another_projects_simulation_is_not_found_through_this_project(sims: Any) -> None:
    lab = sims.lab
    lab.import_rows(lab.ctx("other", lab.admin), lab.rows(60, labeled=True), labeled=True)
    theirs = sims.post("/api/projects/other/simulations", "outsider", json=FAST).json()
    for path, call in (("", "get"), ("/chart", "get"), ("/cancel", "post")):
        r = getattr(sims, call)(f"{SIMS}/{theirs['id']}{path}", "admin")
        assert r.status_code == 404, (path, r.text)
        assert r.json()["detail"] == f"no simulation #{theirs['id']} in project 'sent'"
    mine = sims.get(f"/api/projects/other/simulations/{theirs['id']}", "outsider").json()
    assert mine["state"] == "queued"  # the cancel through 'sent' did not reach it


def test_outsiders_get_404_and_members_below_manager_403(sims: Any) -> None:
    sim = sims.post(SIMS, "manager", json=FAST).json()
    assert _learner(sims)
    calls = [
        ("get", SIMS, {}),
        ("post", SIMS, {"json": FAST}),
        ("get", f"{SIMS}/{sim['id']}", {}),
        ("get", f"{SIMS}/{sim['id']}/chart", {}),
        ("post", f"{SIMS}/{sim['id']}/cancel", {}),
    ]
    for call, path, kwargs in calls:
        r = getattr(sims, call)(path, "outsider", **kwargs)
        assert r.status_code == 404, (path, r.text)
        assert "margin" not in r.text and "sent" in r.json()["detail"]
        for role in ("annotator", "reviewer"):
            r = getattr(sims, call)(path, role, **kwargs)
            assert r.status_code == 403, (role, path, r.text)
            assert "<svg" not in r.text and "summary" not in r.text
        assert sims.client.request(call.upper(), path, **kwargs).status_code == 401
    assert len(sims.get(SIMS, "manager").json()) == 1  # nobody else queued one


def test_a_mistyped_field_is_refused_not_ignored(sims: Any) -> None:
    r = sims.post(SIMS, "manager", json={"seed": 5})  # 'seeds' meant: not the default of 3
    assert r.status_code == 422
    assert r.json()["detail"] == "seed: Extra inputs are not permitted"
    assert sims.get(SIMS, "manager").json() == []


def test_no_body_asks_for_the_defaults(sims: Any) -> None:
    r = sims.post(SIMS, "manager")
    assert r.status_code == 202, r.text
    assert r.json()["options"]["seeds"] == 3 and r.json()["options"]["budget"] == 500
