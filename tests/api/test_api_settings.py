"""PATCH /api/projects/SLUG/settings: managers change a live project's learning settings."""

from __future__ import annotations

from typing import Any

import pytest

SETTINGS = "/api/projects/sent/settings"


def _patch(api: Any, role: str, body: Any) -> Any:
    return api.client.patch(SETTINGS, headers=api.auth(role), json=body)


def test_a_manager_changes_the_strategy_and_the_project_shows_it(api: Any) -> None:
    r = _patch(api, "manager", {"strategy": "entropy", "stop_changed": 0.02})
    assert r.status_code == 200, r.text
    assert r.json()["strategy"] == "entropy" and r.json()["stop_changed"] == 0.02
    detail = api.get("/api/projects/sent", "reviewer").json()
    assert detail["settings"]["strategy"] == "entropy"
    assert api.get("/api/projects/sent/status", "reviewer").json()["strategy"] == "entropy"


@pytest.mark.parametrize(
    ("role", "status"), [("annotator", 403), ("reviewer", 403), ("outsider", 404)]
)
def test_only_managers_change_settings(api: Any, role: str, status: int) -> None:
    assert _patch(api, role, {"strategy": "entropy"}).status_code == status
    assert api.get("/api/projects/sent", "admin").json()["settings"]["strategy"] == "margin"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"overlap": 3}, "settings.overlap: fixed when the project was created"),
        ({"strategy": "psychic"}, "settings.strategy: unknown strategy 'psychic'"),
        ({"batch_size": "many"}, "settings.batch_size: input should be a valid integer"),
        ({}, "settings: name at least one setting to change"),
        ({"strategy": "mar\u0000gin"}, "cannot contain the NUL character"),
    ],
)
def test_a_wrong_setting_is_a_422_naming_it(api: Any, body: Any, detail: str) -> None:
    r = _patch(api, "manager", body)
    assert r.status_code == 422, r.text
    assert detail in r.json()["detail"]
    assert api.get("/api/projects/sent", "admin").json()["settings"]["strategy"] == "margin"


def test_the_audit_lists_settings_changes_for_managers_only(api: Any) -> None:
    _patch(api, "manager", {"strategy": "entropy"})
    r = api.get("/api/projects/sent/audit", "manager", params={"action": "project.settings"})
    assert r.status_code == 200, r.text
    (event,) = r.json()
    assert event["actor"] == "manager" and event["subject"] == "project:sent"
    assert event["payload"] == {"changed": {"strategy": {"from": "margin", "to": "entropy"}}}
    everything = api.get("/api/projects/sent/audit", "manager", params={"limit": 2}).json()
    assert len(everything) == 2 and everything[0]["action"] == "project.settings"
    assert api.get("/api/projects/sent/audit", "annotator").status_code == 403
    assert api.get("/api/projects/sent/audit", "outsider").status_code == 404
    assert api.get("/api/projects/sent/audit", "manager", params={"limit": 0}).status_code == 422
