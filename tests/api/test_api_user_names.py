"""User names a site admin may give: each one reads as itself in every list and address."""

from __future__ import annotations

from typing import Any

import pytest

PASSWORD = "correct horse battery"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("nl\n", "may use only letters"),  # a trailing line break would hide in every list
        ("..", "dots only"),  # a browser reads /api/users/../deactivate as /api/deactivate
        (".", "dots only"),
        ("Annotator", "differs only in case from 'annotator'"),
    ],
)
def test_a_name_that_would_not_read_as_itself_is_refused(
    sqlite_api: Any, name: str, why: str
) -> None:
    got = sqlite_api.post("/api/users", json={"username": name, "password": PASSWORD})
    assert got.status_code in (400, 409), got.text
    assert why in got.json()["detail"]
    names = [u["username"] for u in sqlite_api.get("/api/users").json()]
    assert name not in names


def test_names_with_dots_inside_and_at_signs_still_do(sqlite_api: Any) -> None:
    for name in ("j.doe", "j.doe@example.org", "...x"):
        got = sqlite_api.post("/api/users", json={"username": name, "password": PASSWORD})
        assert got.status_code == 201, got.text
        gone = sqlite_api.post(f"/api/users/{name}/deactivate")
        assert gone.json()["username"] == name


def test_a_user_made_without_a_password_gets_one_answered_once(sqlite_api: Any) -> None:
    made = sqlite_api.post("/api/users", json={"username": "pat"})
    assert made.status_code == 201, made.text
    password = made.json()["password"]
    assert len(password) >= 16
    client = sqlite_api.client
    form = client.get("/login").text
    token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed = client.post(
        "/login",
        data={"username": "pat", "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert signed.headers["location"] == "/"
    given = sqlite_api.post("/api/users", json={"username": "sam", "password": PASSWORD})
    assert "password" not in given.json()  # a password the admin chose is not echoed
    listed = sqlite_api.get("/api/users").json()
    assert all("password" not in u for u in listed)


def _sign_in(client: Any, name: str, password: str = PASSWORD) -> str:
    """Sign in through the sign-in page as a person does; where it sends the browser, or
    ``refused`` / ``throttled`` when it is sent back to the form, which keeps the name."""
    form = client.get("/login").text
    token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    signed = client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    if signed.headers["location"] != "/login?next=/":
        return str(signed.headers["location"])
    form = client.get(signed.headers["location"]).text
    assert f'value="{name}"' in form
    return "throttled" if "too many failed sign-ins" in form else "refused"


@pytest.mark.parametrize("typed", ["alice", "ALICE", "aLiCe"])
def test_a_user_signs_in_with_their_name_in_any_case(sqlite_api: Any, typed: str) -> None:
    made = sqlite_api.lab.user("Alice", password=PASSWORD)
    assert _sign_in(sqlite_api.client, typed) == "/"
    me = sqlite_api.client.get("/api/me").json()  # the session cookie, no token
    assert me == {"id": made.id, "username": "Alice", "is_admin": False}


def test_a_wrong_password_in_another_case_is_refused_like_an_unknown_name(
    sqlite_api: Any,
) -> None:
    sqlite_api.lab.user("Alice", password=PASSWORD)
    assert _sign_in(sqlite_api.client, "alice", "not her password") == "refused"
    assert _sign_in(sqlite_api.client, "alicia", PASSWORD) == "refused"
    assert sqlite_api.client.get("/api/me").status_code == 401


def test_failed_sign_ins_under_any_case_of_a_name_count_together(sqlite_api: Any) -> None:
    """Changing the case of the name does not buy a guesser more attempts: ten failures spread
    over spellings of one name refuse every spelling, the right password too."""
    sqlite_api.lab.user("Alice", password=PASSWORD)
    for i in range(10):
        typed = ("alice", "ALICE", "Alice", "aLICE", "AliCe")[i % 5]
        assert _sign_in(sqlite_api.client, typed, f"guess-{i:08}") == "refused"
    for typed in ("Alice", "alice", "ALICE"):
        assert _sign_in(sqlite_api.client, typed) == "throttled"
    assert sqlite_api.client.get("/api/me").status_code == 401


def test_admins_and_managers_name_a_user_in_any_case(sqlite_api: Any) -> None:
    made = sqlite_api.lab.user("Alice", password=PASSWORD)
    granted = sqlite_api.put("/api/users/alice/admin", json={"is_admin": True})
    assert granted.status_code == 200, granted.text
    assert granted.json() == {"username": "Alice", "is_admin": True}
    sqlite_api.put("/api/users/ALICE/admin", json={"is_admin": False})

    added = sqlite_api.put(
        "/api/projects/sent/members", json={"username": "alice", "role": "reviewer"}
    )
    assert added.status_code == 200, added.text
    assert added.json() == {"username": "Alice", "role": "reviewer"}
    members = {
        m["username"]: m["role"] for m in sqlite_api.get("/api/projects/sent/members").json()
    }
    assert members["Alice"] == "reviewer" and "alice" not in members

    reset = sqlite_api.put("/api/users/aLiCe/password", json={"password": "another long one"})
    assert reset.json()["username"] == "Alice"
    assert _sign_in(sqlite_api.client, "alice", "another long one") == "/"
    sqlite_api.client.cookies.clear()

    removed = sqlite_api.client.delete(
        "/api/projects/sent/members/ALICE", headers=sqlite_api.auth("manager")
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["username"] == "Alice"
    gone = sqlite_api.post("/api/users/ALICE/deactivate")
    assert gone.json()["username"] == "Alice"
    again = sqlite_api.post("/api/users/alice/deactivate")
    assert again.status_code == 409 and "Alice is deactivated already" in again.json()["detail"]
    audit = sqlite_api.get("/api/projects/sent/audit", params={"action": "member.set"}).json()
    assert any(e["payload"].get("username") == "Alice" for e in audit), audit
    assert made.id in {u["id"] for u in sqlite_api.get("/api/users").json()}


def test_the_items_list_filters_by_an_annotator_named_in_any_case(sqlite_api: Any) -> None:
    lab = sqlite_api.lab
    lab.label_next(lab.ctx("sent", lab.users["annotator"]), n=2)
    everyone = sqlite_api.get("/api/projects/sent/items", params={"annotator": "annotator"})
    assert everyone.json()["total"] == 2, everyone.text
    for typed in ("Annotator", "ANNOTATOR"):
        got = sqlite_api.get("/api/projects/sent/items", params={"annotator": typed})
        assert got.json() == everyone.json()
        own = sqlite_api.get("/api/projects/sent/items", "annotator", params={"annotator": typed})
        assert own.status_code == 200, own.text  # an annotator naming themselves


def test_names_alike_but_for_case_made_before_the_rule_are_told_apart(sqlite_api: Any) -> None:
    """Two users whose names differ only in case (made before such names were refused): each
    signs in with their own spelling; a third spelling could be either, so it is neither."""
    from labelloop.store import users as store_users
    from labelloop.workflow import accounts

    sqlite_api.lab.user("Alice", password=PASSWORD)
    with sqlite_api.lab.db.write() as conn:
        other = store_users.insert_user(
            conn,
            username="alice",
            password_hash=accounts._password_hash(PASSWORD),
            is_admin=False,
        )
    assert _sign_in(sqlite_api.client, "alice") == "/"
    assert sqlite_api.client.get("/api/me").json()["id"] == other
    sqlite_api.client.cookies.clear()
    assert _sign_in(sqlite_api.client, "Alice") == "/"
    assert sqlite_api.client.get("/api/me").json()["username"] == "Alice"
    sqlite_api.client.cookies.clear()
    assert _sign_in(sqlite_api.client, "ALICE") == "refused"
    assert sqlite_api.put("/api/users/ALICE/admin", json={"is_admin": True}).status_code == 404
    made = sqlite_api.post("/api/users", json={"username": "ALICE", "password": PASSWORD})
    assert made.status_code == 409


def test_the_expert_tier_keeps_its_members_names_as_created(sqlite_api: Any) -> None:
    """A manager naming a reviewer in another case puts that reviewer in the expert tier: the
    name is kept as created, so the reviewer is then an expert (sees gold checks)."""
    sqlite_api.lab.member("sent", "Dana", "reviewer")
    gold = {"status": "gold"}
    refused = sqlite_api.get("/api/projects/sent/items", "reviewer", params=gold)
    assert refused.status_code == 400  # not of the expert tier yet
    changed = sqlite_api.client.patch(
        "/api/projects/sent/settings",
        json={"escalate_to": ["DANA", "dana", "Reviewer"]},
        headers=sqlite_api.auth("manager"),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["escalate_to"] == ["Dana", "reviewer"]
    assert sqlite_api.get("/api/projects/sent/items", "reviewer", params=gold).status_code == 200
