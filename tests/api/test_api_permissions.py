"""Who may do what over HTTP: members by role, non-members learn nothing, no token no entry."""

from __future__ import annotations

import json
from typing import Any

import pytest

SLUG = "sent"
MEMBERS = ("admin", "manager", "reviewer", "annotator")


def _upload(text: str) -> dict[str, Any]:
    body = (json.dumps({"text": text}) + "\n").encode()
    return {"files": {"file": ("more.jsonl", body, "application/x-ndjson")}}


def _call(api: Any, role: str, action: str, slug: str = SLUG) -> Any:
    base = f"/api/projects/{slug}"
    if action == "detail":
        return api.get(base, role)
    if action == "status":
        return api.get(f"{base}/status", role)
    if action == "models":
        return api.get(f"{base}/models", role)
    if action == "members":
        return api.get(f"{base}/members", role)
    if action == "next":
        return api.post(f"{base}/tasks/next", role, json={})
    if action == "idle":
        return api.get(f"{base}/tasks/idle", role)
    if action == "submit":
        return api.post(f"{base}/tasks/1/submit", role, json={"value": {"sentiment": "neutral"}})
    if action == "previous":
        return api.get(f"{base}/annotations/previous", role)
    if action == "export":
        return api.get(f"{base}/export", role)
    if action == "import":
        return api.post(f"{base}/imports", role, **_upload(f"new text from {role}"))
    if action == "audit":
        return api.get(f"{base}/audit/verify", role)
    if action == "set_member":
        return api.put(f"{base}/members", role, json={"username": "annotator", "role": "annotator"})
    raise AssertionError(action)


ALLOWED = {
    # action: (status for roles allowed, roles allowed)
    "detail": (200, MEMBERS),
    "status": (200, MEMBERS),
    # the model's history and the team: reviewers and managers (not annotators)
    "models": (200, ("admin", "manager", "reviewer")),
    "members": (200, ("admin", "manager", "reviewer")),
    "next": (200, MEMBERS),
    "idle": (200, MEMBERS),
    "previous": (200, MEMBERS),
    "export": (200, ("admin", "manager")),
    "import": (201, ("admin", "manager")),
    "set_member": (200, ("admin", "manager")),
    "audit": (200, ("admin", "manager")),
}


@pytest.mark.parametrize("action", sorted(ALLOWED))
def test_permission_matrix(sqlite_api: Any, action: str) -> None:
    ok, allowed = ALLOWED[action]
    for role in (*MEMBERS, "outsider"):
        response = _call(sqlite_api, role, action)
        expected = ok if role in allowed else 404 if role == "outsider" else 403
        assert response.status_code == expected, (role, action, response.text)
        if expected >= 400:
            assert response.headers["content-type"].startswith("application/json")
            assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize("action", ["status", "next", "submit", "export", "import"])
def test_a_non_member_learns_nothing(api: Any, action: str) -> None:
    hidden = _call(api, "outsider", action)
    unknown = _call(api, "outsider", action, slug="no-such-project")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["detail"].replace(SLUG, "X") == unknown.json()["detail"].replace(
        "no-such-project", "X"
    )
    assert set(hidden.json()) == set(unknown.json())


def test_non_member_writes_leave_no_trace(api: Any) -> None:
    before = api.get(f"/api/projects/{SLUG}/status").json()["counts"]
    _call(api, "outsider", "import")
    _call(api, "outsider", "next")
    assert api.get(f"/api/projects/{SLUG}/status").json()["counts"] == before


def test_annotator_cannot_manage_but_can_label(sqlite_api: Any) -> None:
    api = sqlite_api
    for action in ("import", "export", "set_member"):
        refused = _call(api, "annotator", action)
        assert refused.status_code == 403
        assert refused.json()["error"] == "PermissionDenied"
    task = api.post(f"/api/projects/{SLUG}/tasks/next", "annotator", json={}).json()["task"]
    done = api.post(
        f"/api/projects/{SLUG}/tasks/{task['assignment_id']}/submit",
        "annotator",
        json={"value": {"sentiment": "positive"}, "active_ms": 1200},
    )
    assert done.status_code == 200
    # How the item came out is not the annotator's to read: it would tell a gold check (never
    # labeled) from an ordinary item, and whether the others on an item said the same.
    assert set(done.json()) == {
        "annotation_id",
        "item_id",
        "guideline_version",
        "current_guideline_version",
    }
    changed = api.put(
        f"/api/projects/{SLUG}/annotations/{done.json()['annotation_id']}",
        "annotator",
        json={"value": {"sentiment": "negative"}},
    )
    assert changed.status_code == 200 and "resolution" not in changed.json()
    assert api.get(f"/api/projects/{SLUG}/status").json()["counts"]["labeled"] >= 1
    task = api.post(f"/api/projects/{SLUG}/tasks/next", "manager", json={}).json()["task"]
    done = api.post(
        f"/api/projects/{SLUG}/tasks/{task['assignment_id']}/submit",
        "manager",
        json={"value": {"sentiment": "positive"}, "active_ms": 1200},
    )
    assert done.json()["resolution"] == "single"  # the expert tier reads it


def test_only_admins_manage_users_and_create_projects(sqlite_api: Any) -> None:
    api = sqlite_api
    schema = api.get(f"/api/projects/{SLUG}").json()["schema"]
    body = {
        "slug": "new-one",
        "schema": {"name": "New", "data": {"type": "text"}, "controls": schema["controls"]},
    }
    for role in ("manager", "annotator", "outsider"):
        assert api.get("/api/users", role).status_code == 403
        assert api.post("/api/projects", role, json=body).status_code == 403
        assert (
            api.post("/api/users", role, json={"username": "x", "password": "x" * 12}).status_code
            == 403
        )
    assert api.get("/api/users").status_code == 200
    assert api.post("/api/projects", json=body).status_code == 201
    listed = {p["slug"] for p in api.get("/api/projects", "annotator").json()}
    assert listed == {SLUG}


@pytest.mark.parametrize(
    "header",
    [None, "Bearer ll_not-a-real-token", "Bearer ", "Basic dXNlcjpwdw==", "ll_token-alone"],
    ids=["missing", "invalid", "empty", "basic", "no-scheme"],
)
def test_missing_or_invalid_token_is_401_json(sqlite_api: Any, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    for method, path in (
        ("GET", f"/api/projects/{SLUG}/status"),
        ("POST", f"/api/projects/{SLUG}/tasks/next"),
        ("GET", "/api/me"),
    ):
        response = sqlite_api.client.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["content-type"].startswith("application/json")
        assert isinstance(response.json()["detail"], str)


def test_a_user_lists_and_revokes_their_own_tokens_and_no_one_elses(api: Any) -> None:
    made = api.post("/api/tokens", "annotator", json={"name": "laptop"}).json()["token"]
    laptop = {"Authorization": f"Bearer {made}"}
    mine = api.get("/api/tokens", "annotator").json()
    assert [t["name"] for t in mine] == ["laptop", "cli"]  # newest first, then the fixture's
    assert set(mine[0]) == {"id", "name", "created_at", "revoked_at"}  # never the token
    laptop_id = mine[0]["id"]
    others = api.client.delete(f"/api/tokens/{laptop_id}", headers=api.auth("reviewer"))
    assert others.status_code == 404  # another user's token is not even named
    assert others.json()["detail"] == f"no token {laptop_id} of yours"
    nowhere = api.client.delete("/api/tokens/99999", headers=api.auth("admin"))
    assert nowhere.json()["detail"] == "no token 99999"  # an admin's reach is every token
    assert api.get("/api/tokens", "reviewer", params={"username": "annotator"}).status_code == 403
    assert api.client.get("/api/me", headers=laptop).status_code == 200
    gone = api.client.delete(f"/api/tokens/{laptop_id}", headers=api.auth("annotator"))
    assert gone.json() == {"id": laptop_id, "name": "laptop", "username": "annotator"}
    assert api.client.get("/api/me", headers=laptop).status_code == 401  # at once
    again = api.client.delete(f"/api/tokens/{laptop_id}", headers=api.auth("annotator"))
    assert again.status_code == 409 and "revoked already" in again.json()["detail"]
    listed = api.get("/api/tokens", "admin", params={"username": "annotator"}).json()
    assert listed[0]["revoked_at"] is not None and listed[1]["revoked_at"] is None
    assert api.get("/api/me", "annotator").status_code == 200  # the other token still works


def test_a_token_works_and_says_who_it_is(sqlite_api: Any) -> None:
    me = sqlite_api.get("/api/me", "annotator").json()
    assert (me["username"], me["is_admin"]) == ("annotator", False)
    new = sqlite_api.post("/api/tokens", "annotator", json={"name": "laptop"})
    assert new.status_code == 201
    again = sqlite_api.client.get(
        "/api/me", headers={"Authorization": f"Bearer {new.json()['token']}"}
    )
    assert again.json()["username"] == "annotator"


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("a\nb\x1b[31mred\x07", "cannot hold control or formatting characters"),
        ("\u202eevil", "cannot hold control or formatting characters"),
        ("   ", "give the token a name"),
    ],
)
def test_a_token_name_that_could_disguise_itself_is_refused(
    sqlite_api: Any, name: str, detail: str
) -> None:
    before = sqlite_api.get("/api/tokens", "annotator").json()
    refused = sqlite_api.post("/api/tokens", "annotator", json={"name": name})
    assert refused.status_code == 400 and detail in refused.json()["detail"]
    assert sqlite_api.get("/api/tokens", "annotator").json() == before


DISGUISED = ["positive", "neg\u202eevitisop"]
REFUSED_LABEL = (
    "controls[0].labels[1]: 'neg\\u202eevitisop' holds U+202E (RIGHT-TO-LEFT OVERRIDE) at "
    "character 4; names cannot hold control or formatting characters, which could make one "
    "look like another"
)
"""What the CLI, the API and the new-project page all say of the label "neg", a right-to-left
override and "evitisop", which shows as "negpositive"."""


def test_a_schema_name_that_could_look_like_another_is_refused(sqlite_api: Any) -> None:
    api = sqlite_api
    body = {
        "slug": "disguised",
        "schema": {
            "name": "New",
            "controls": [{"name": "s", "type": "choice", "labels": DISGUISED}],
        },
    }
    refused = api.post("/api/projects", json=body)
    assert (refused.status_code, refused.json()["detail"]) == (422, REFUSED_LABEL)
    assert "disguised" not in {p["slug"] for p in api.get("/api/projects").json()}
    before = api.get(f"/api/projects/{SLUG}").json()["schema"]
    added = api.post(f"/api/projects/{SLUG}/labels", json={"label": DISGUISED[1]})
    assert added.status_code == 422 and "holds U+202E" in added.json()["detail"]
    assert api.get(f"/api/projects/{SLUG}").json()["schema"] == before
