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
