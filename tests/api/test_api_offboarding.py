"""Offboarding over HTTP: who may remove a member, deactivate a user or reset a password, and
that a copied session cookie or a token stops answering once its user signed out or left."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from labelloop.server.auth import SESSION_COOKIE

PASSWORD = "correct horse battery"


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("manager", 200), ("reviewer", 403), ("annotator", 403), ("outsider", 404)],
)
def test_who_may_remove_a_member(sqlite_api: Any, role: str, status: int) -> None:
    sqlite_api.lab.member("sent", "leaver", "annotator")
    got = sqlite_api.client.delete(
        "/api/projects/sent/members/leaver", headers=sqlite_api.auth(role)
    )
    assert got.status_code == status, got.text
    names = [m["username"] for m in sqlite_api.get("/api/projects/sent/members").json()]
    assert ("leaver" in names) == (status != 200)


@pytest.mark.parametrize("role", ["manager", "reviewer", "annotator", "outsider"])
def test_only_a_site_admin_deactivates_or_resets_a_password(sqlite_api: Any, role: str) -> None:
    sqlite_api.lab.user("pat", password=PASSWORD)
    for method, path, body in (
        ("POST", "/api/users/pat/deactivate", None),
        ("POST", "/api/users/pat/activate", None),
        ("PUT", "/api/users/pat/password", {"password": "taken-over-123"}),
    ):
        got = sqlite_api.client.request(method, path, json=body, headers=sqlite_api.auth(role))
        assert got.status_code == 403, (path, got.text)
        assert got.json()["detail"] == "only a site admin may do this"
    assert _sign_in(sqlite_api.client, "pat", PASSWORD).headers["location"] == "/"


def test_a_member_removed_through_the_api_gets_404_and_keeps_their_label(api: Any) -> None:
    task = api.post("/api/projects/sent/tasks/next", "annotator", json={}).json()["task"]
    value = {"sentiment": "positive"}
    submitted = api.post(
        f"/api/projects/sent/tasks/{task['assignment_id']}/submit",
        "annotator",
        json={"value": value, "active_ms": 1200},
    )
    assert submitted.status_code == 200, submitted.text
    removed = api.client.delete("/api/projects/sent/members/annotator", headers=api.auth("manager"))
    assert removed.json() == {
        "username": "annotator",
        "role": None,
        "was": "annotator",
        "leases_released": 0,
        "review_leases_released": 0,
    }
    for path in ("/api/projects/sent", "/api/projects/sent/my-answers"):
        got = api.get(path, "annotator")
        assert got.status_code == 404, path
    exported = api.get("/api/projects/sent/export?format=jsonl").text.splitlines()
    mine = [r for r in map(json.loads, exported) if r["item_id"] == task["item"]["id"]]
    assert [r["annotator"] for r in mine] == ["annotator"]
    audit = api.get("/api/projects/sent/audit?action=member.remove", "manager").json()
    assert audit[0]["payload"]["username"] == "annotator"


def test_a_deactivated_users_token_and_copied_cookie_stop_at_once(sqlite_api: Any) -> None:
    sqlite_api.lab.user("pat", password=PASSWORD)
    token = _token(sqlite_api, "pat")
    cookie = _session_cookie(sqlite_api.client, "pat", PASSWORD)
    assert _me(sqlite_api.client, cookie=cookie) == 200
    assert _me(sqlite_api.client, token=token) == 200

    done = sqlite_api.post("/api/users/pat/deactivate")

    assert done.json()["tokens_revoked"] == 1
    assert _me(sqlite_api.client, cookie=cookie) == 401
    assert _me(sqlite_api.client, token=token) == 401
    refused = _sign_in(sqlite_api.client, "pat", PASSWORD)
    assert refused.status_code == 303 and refused.headers["location"] == "/login?next=/"
    assert "account is deactivated" in sqlite_api.client.get(refused.headers["location"]).text
    assert sqlite_api.post("/api/users/admin/deactivate").status_code == 409
    listed = {u["username"]: u["is_active"] for u in sqlite_api.get("/api/users").json()}
    assert listed["pat"] is False
    assert sqlite_api.post("/api/users/pat/activate").status_code == 200
    assert _sign_in(sqlite_api.client, "pat", PASSWORD).headers["location"] == "/"


def test_a_copied_cookie_stops_working_after_sign_out(sqlite_api: Any) -> None:
    sqlite_api.lab.user("pat", password=PASSWORD)
    cookie = _session_cookie(sqlite_api.client, "pat", PASSWORD)
    csrf = _page_csrf(sqlite_api.client, cookie)
    out = sqlite_api.client.post(
        "/logout", data={"csrf_token": csrf}, headers={"cookie": f"{SESSION_COOKIE}={cookie}"}
    )
    assert out.status_code == 303
    assert _me(sqlite_api.client, cookie=cookie) == 401
    page = sqlite_api.client.get("/", headers={"cookie": f"{SESSION_COOKIE}={cookie}"})
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    again = _session_cookie(sqlite_api.client, "pat", PASSWORD)  # signing in again works
    assert _me(sqlite_api.client, cookie=again) == 200


def test_a_password_reset_ends_sessions_and_a_change_keeps_only_this_one(
    sqlite_api: Any,
) -> None:
    sqlite_api.lab.user("pat", password=PASSWORD)
    first = _session_cookie(sqlite_api.client, "pat", PASSWORD)
    made = sqlite_api.client.put(
        "/api/users/pat/password", json={}, headers=sqlite_api.auth("admin")
    ).json()["password"]
    assert _me(sqlite_api.client, cookie=first) == 401

    here = _session_cookie(sqlite_api.client, "pat", made)
    there = _session_cookie(sqlite_api.client, "pat", made)
    csrf = _page_csrf(sqlite_api.client, here)
    headers = {"cookie": f"{SESSION_COOKIE}={here}", "x-csrf-token": csrf}
    wrong = sqlite_api.client.put(
        "/api/me/password",
        json={"current_password": "not-it-at-all", "new_password": "brand-new-pass"},
        headers=headers,
    )
    assert wrong.status_code == 403
    changed = sqlite_api.client.put(
        "/api/me/password",
        json={"current_password": made, "new_password": "brand-new-pass"},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    renewed = changed.cookies.get(SESSION_COOKIE)
    assert renewed and _me(sqlite_api.client, cookie=renewed) == 200
    assert _me(sqlite_api.client, cookie=there) == 401
    assert _sign_in(sqlite_api.client, "pat", "brand-new-pass").headers["location"] == "/"


# --------------------------------------------------------------------------------------------


def _token(api: Any, username: str) -> str:
    from labelloop.workflow.accounts import create_token

    return create_token(api.lab.db, username, "script")


def _sign_in(client: Any, username: str, password: str) -> Any:
    client.cookies.clear()
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
    )


def _session_cookie(client: Any, username: str, password: str) -> str:
    """A session cookie's value, as someone could copy it out of the browser."""
    signed_in = _sign_in(client, username, password)
    assert signed_in.headers["location"] == "/", signed_in.headers["location"]
    value = signed_in.cookies.get(SESSION_COOKIE)
    client.cookies.clear()
    return str(value)


def _page_csrf(client: Any, cookie: str) -> str:
    page = client.get("/", headers={"cookie": f"{SESSION_COOKIE}={cookie}"})
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)


def _me(client: Any, *, cookie: str | None = None, token: str | None = None) -> int:
    client.cookies.clear()
    headers = (
        {"Authorization": f"Bearer {token}"} if token else {"cookie": f"{SESSION_COOKIE}={cookie}"}
    )
    return int(client.get("/api/me", headers=headers).status_code)


def test_the_members_list_says_who_is_deactivated(sqlite_api: Any) -> None:
    sqlite_api.lab.member("sent", "leaver", "annotator")
    sqlite_api.post("/api/users/leaver/deactivate")
    members = {m["username"]: m for m in sqlite_api.get("/api/projects/sent/members").json()}
    assert members["leaver"]["is_active"] is False
    assert members["manager"]["is_active"] is True


def test_a_site_admin_grants_and_takes_back_site_admin_rights(api: Any) -> None:
    api.lab.user("pat", password=PASSWORD)
    for role in ("manager", "reviewer", "annotator"):  # nobody else makes themselves one
        own = api.client.put(
            f"/api/users/{role}/admin", json={"is_admin": True}, headers=api.auth(role)
        )
        assert own.status_code == 403, own.text
    made = api.put("/api/users/pat/admin", json={"is_admin": True})
    assert made.json() == {"username": "pat", "is_admin": True}, made.text
    assert api.put("/api/users/pat/admin", json={"is_admin": True}).status_code == 409
    users = {u["username"]: u for u in api.get("/api/users").json()}
    assert users["pat"]["is_admin"]
    own = api.put("/api/users/admin/admin", json={"is_admin": False})
    assert own.status_code == 409 and "your own" in own.json()["detail"]
    taken = api.put("/api/users/pat/admin", json={"is_admin": False})
    assert taken.json() == {"username": "pat", "is_admin": False}
    alike = api.post("/api/users", json={"username": "PAT", "password": PASSWORD})
    assert alike.status_code == 409 and "differs only in case from 'pat'" in alike.text
    events = api.get("/api/audit?action=user.admin").json()
    assert [(e["whom"], e["payload"]["is_admin"]) for e in events] == [
        ("pat", False),
        ("pat", True),
    ]
