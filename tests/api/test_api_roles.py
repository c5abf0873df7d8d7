"""What each role reads within its own project: annotators see what their labeling uses (the
item, why it was picked, the current model's version and accuracy, their progress, the
guideline), not the team's accounts, the model's history or the auto-label thresholds; reviewers
and managers read them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from starlette.responses import Response

from labelloop.workflow.projects import LABELING_SETTINGS

SLUG = "sent"
BASE = f"/api/projects/{SLUG}"
SURE = 0.87  # an auto-label confidence no other setting or figure of the project holds

RESTRICTED = {
    # route: what it holds that is no annotator's to read
    "/members": "the team's accounts: user ids and roles",
    "/models": "every model version's parameters, metrics and stopping state",
    "/autolabel": "the auto-label thresholds and runs",
    "/gain": "the models trained on the labels and the random controls",
    "/dashboard": "everyone's pace, the forecast and drift",
    "/quality": "agreement and the annotator table",
    "/coverage": "how sure the model is of the pool, against the eval items",
}


@pytest.fixture
def roles(sqlite_api: Any) -> Any:
    response = sqlite_api.client.patch(
        f"{BASE}/settings",
        headers=sqlite_api.auth("manager"),
        json={"auto_label_confidence": SURE, "auto_label_min_accuracy": 0.93},
    )
    assert response.status_code == 200, response.text
    lab = sqlite_api.lab
    lab.label_next(lab.ctx(SLUG, lab.admin), n=9)  # labels of every class: coverage can train
    lab.train(lab.ctx(SLUG, lab.admin))
    return sqlite_api


@pytest.mark.parametrize("route", sorted(RESTRICTED))
def test_an_annotator_is_refused_what_only_reviewers_and_managers_read(
    roles: Any, route: str
) -> None:
    refused = roles.get(BASE + route, "annotator")
    assert refused.status_code == 403, (route, refused.text)
    assert refused.headers["content-type"].startswith("application/json")
    body = refused.json()
    assert set(body) == {"error", "detail"} and body["error"] == "PermissionDenied"
    assert body["detail"] == (
        f"your role in project '{SLUG}' (annotator) does not allow reading its reports, team"
        " and model [view_insight]: reviewers and managers may"
    )
    for role in ("manager", "reviewer", "admin"):
        allowed = roles.get(BASE + route, role)
        assert allowed.status_code == 200, (route, role, allowed.text)
    assert roles.get(BASE + route, "outsider").status_code == 404


def test_managers_read_the_members_and_annotators_are_not_told_who_they_are(roles: Any) -> None:
    listed = roles.get(f"{BASE}/members", "manager").json()
    assert {m["username"]: m["role"] for m in listed} == {
        "admin": "manager",
        "manager": "manager",
        "reviewer": "reviewer",
        "annotator": "annotator",
    }
    assert all(isinstance(m["id"], int) for m in listed)


def test_an_annotator_reads_the_labeling_settings_only(roles: Any) -> None:
    mine = roles.get(BASE, "annotator").json()
    assert set(mine["settings"]) == set(LABELING_SETTINGS)
    assert set(mine["schema"]["settings"]) <= set(LABELING_SETTINGS)
    assert str(SURE) not in json.dumps(mine) and "0.93" not in json.dumps(mine)
    assert mine["schema"]["controls"] and mine["guideline"]["html"]  # what labeling needs
    full = roles.get(BASE, "manager").json()
    assert full["settings"]["auto_label_confidence"] == SURE
    assert full["settings"]["auto_label_min_accuracy"] == 0.93
    assert full["schema"]["settings"]["auto_label_confidence"] == SURE
    assert roles.get(BASE, "reviewer").json()["settings"] == full["settings"]


def test_an_annotator_reads_the_status_the_labeling_page_shows(roles: Any) -> None:
    mine = roles.get(f"{BASE}/status", "annotator").json()
    full = roles.get(f"{BASE}/status", "manager").json()
    model = full["model"]
    assert model["params"] and model["stopping"] and "featurizer" in model
    # the labeling page's status line: the model's version and name, its training size and
    # eval accuracy, when the next one trains, whether to stop, and the progress
    assert mine["model"] == {
        "version": model["version"],
        "model": model["model"],
        "n_train": model["n_train"],
        "cold_start": model["cold_start"],
        "created_at": model["created_at"],
        "metrics": {k: v for k, v in model["metrics"].items() if k in ("accuracy", "span_f1")},
    }
    assert mine["model"]["metrics"]["accuracy"] == model["metrics"]["accuracy"]
    assert set(mine["training"]) == {"retrain_every", "labels_since_model", "due", "learner"}
    assert mine["counts"] == {k: v for k, v in full["counts"].items() if k != "gold"}
    for kept in ("stop_recommended", "guideline_version", "labeling", "role"):
        assert mine[kept] == full[kept] or kept == "role"
    for hidden in ("strategy", "featurizer", "model_setting", "random_share", "features"):
        assert hidden not in mine and hidden in full


def _session(roles: Any, name: str) -> dict[str, str]:
    response = Response()
    user = roles.lab.users.get(name) or roles.lab.admin
    roles.client.app.state.sessions.issue(response, user.id)
    return {"cookie": response.headers["set-cookie"].split(";", 1)[0]}


def _embedded(html: str, element_id: str) -> Any:
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html)
    return json.loads(found.group(1)) if found else None


def test_an_annotators_pages_hold_no_thresholds_no_model_history_and_no_team(
    roles: Any,
) -> None:
    cookie = _session(roles, "annotator")
    project = roles.client.get(f"/p/{SLUG}", headers=cookie)
    assert project.status_code == 200, project.text
    html = project.text
    assert _embedded(html, "models-data") is None
    data = _embedded(html, "page-data")
    assert data["autolabel_confidence"] is None and data["autolabel_floor"] is None
    assert data["can_insight"] is False and data["strategy"] is None
    for absent in ('id="models-table"', 'id="gain-panel"', 'id="autolabel-runs"'):
        assert absent not in html
    assert 'id="stat-model">v' in html  # the current model's version, as the labeling page
    labeling = roles.client.get(f"/p/{SLUG}/label", headers=cookie)
    assert labeling.status_code == 200
    shown = _embedded(labeling.text, "project-data")
    assert set(shown["settings"]) == set(LABELING_SETTINGS)
    assert str(SURE) not in labeling.text
    for page in ("dashboard", "quality"):
        assert roles.client.get(f"/p/{SLUG}/{page}", headers=cookie).status_code == 403

    manager = roles.client.get(f"/p/{SLUG}", headers=_session(roles, "manager")).text
    assert _embedded(manager, "models-data")
    assert _embedded(manager, "page-data")["autolabel_confidence"] == SURE
    assert 'id="gain-panel"' in manager and 'id="models-table"' in manager
