"""An error on a browser page is a page (heading, message, a way back); the API's stay JSON."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from starlette.responses import Response

from tests.pagetext import mentions

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
HOSTILE = "<img src=x onerror=alert(1)>"


def _cookie(api: Any, role: str) -> str:
    response = Response()
    api.client.app.state.sessions.issue(response, api.lab.users[role].id)
    return response.headers["set-cookie"].split(";", 1)[0]


def _page(api: Any, path: str, role: str | None = "annotator", **headers: str) -> Any:
    cookie = {"cookie": _cookie(api, role)} if role else {}
    return api.client.get(path, headers={**BROWSER, **cookie, **headers})


def _error(response: Any, status: int) -> tuple[str, str, list[str]]:
    """The error page's heading, message and the links it offers back, in order."""
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    text = response.text
    assert text.startswith("<!doctype html>") and '"error":' not in text
    title = re.search(r'<h1 id="error-title">(.*?)</h1>', text, re.S)
    detail = re.search(r'<p class="notice notice-error" id="error-detail">(.*?)</p>', text, re.S)
    links = re.search(r'<div class="btn-row" id="error-links">(.*?)</div>', text, re.S)
    assert title and detail and links, text
    hrefs = re.findall(r'href="([^"]*)"', links.group(1))
    return html.unescape(title.group(1)), html.unescape(detail.group(1)), hrefs


@pytest.mark.parametrize(
    ("view", "needs"),
    [
        ("quality", "reading its reports, team and model [view_insight]: reviewers and managers"),
        ("dashboard", "reading its reports, team and model [view_insight]: reviewers and managers"),
        ("review", "reviewing answers [review]: reviewers and managers"),
    ],
)
def test_a_page_the_role_may_not_open_says_so_and_leads_back(
    api: Any, view: str, needs: str
) -> None:
    """The refusal says in words what the role may not do and which roles may."""
    title, detail, links = _error(_page(api, f"/p/sent/{view}"), 403)
    assert title == "You can't open this page"
    assert detail == f"your role in project 'sent' (annotator) does not allow {needs} may"
    assert links == ["/p/sent", "/"]
    # and who to ask: the refusal alone left an annotator with nowhere to turn
    said = re.search(
        r'<p class="muted" id="error-help">(.*?)</p>', _page(api, f"/p/sent/{view}").text
    )
    assert said and html.unescape(said.group(1)) == (
        "You are an annotator of Review sentiment: a manager of the project can give you another"
        " role, from the Members panel of its page."
    )


def test_a_missing_project_or_page_is_a_page_not_found(api: Any) -> None:
    title, detail, links = _error(_page(api, "/p/nonexistent/label"), 404)
    assert title == "Page not found"
    assert detail == "no project 'nonexistent' that you are a member of"
    assert links == ["/"]
    title, detail, links = _error(_page(api, "/p/sent/items/1"), 404)
    assert (title, detail) == ("Page not found", "there is no page at /p/sent/items/1")
    assert links == ["/p/sent", "/"]  # the project exists and the annotator is a member
    assert _error(_page(api, "/nope"), 404)[1:] == ("there is no page at /nope", ["/"])
    # Nothing tells an outsider that the project exists.
    assert _error(_page(api, "/p/sent/items/1", "outsider"), 404)[2] == ["/"]
    assert _error(_page(api, "/p/sent/label", "outsider"), 404)[2] == ["/"]


def test_signed_out_a_missing_page_offers_sign_in_and_a_real_one_redirects(api: Any) -> None:
    assert _error(_page(api, "/nope", role=None), 404)[2] == ["/login"]
    signed_out = _page(api, "/p/sent/quality", role=None)
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/login?next=/p/sent/quality"


def test_the_message_quotes_user_input_as_text(api: Any) -> None:
    response = _page(api, "/p/" + HOSTILE + "/label")
    assert _error(response, 404)[1] == f"no project '{HOSTILE}' that you are a member of"
    assert "<img" not in response.text and html.escape(HOSTILE, quote=False) in response.text
    response = _page(api, "/x" + HOSTILE)
    assert _error(response, 404)[1] == f"there is no page at /x{HOSTILE}"
    assert "<img" not in response.text


def test_a_bad_address_or_method_on_a_page_is_a_page_too(api: Any) -> None:
    title, detail, links = _error(_page(api, "/p/sent/adjudicate?item=abc", "manager"), 422)
    assert title == "This page can't be shown"
    assert detail.startswith("query.item: Input should be a valid integer")
    assert links == ["/p/sent", "/"]
    refused = api.client.post("/p/sent", headers={**BROWSER, "cookie": _cookie(api, "manager")})
    assert _error(refused, 405)[1] == "Method Not Allowed"
    assert refused.headers["allow"] == "GET"


def test_an_unexpected_error_on_a_page_is_a_page_that_asks_the_database_nothing(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from labelloop.server.web import pages

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(pages.status, "models", broken)
    client = TestClient(api.client.app, raise_server_exceptions=False)
    response = client.get("/p/sent", headers={**BROWSER, "cookie": _cookie(api, "admin")})
    title, detail, links = _error(response, 500)
    assert title == "Something went wrong"
    assert detail == "an unexpected error happened; see the server log"
    assert links == ["/"] and not mentions(response.text, "boom")


def test_a_database_away_a_moment_is_a_503_to_try_again_not_an_unexpected_error(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A PostgreSQL restart or failover answered every request "an unexpected error happened"
    # (500), as if labelloop were broken; it is a moment to wait.
    from fastapi.testclient import TestClient
    from sqlalchemy.exc import OperationalError

    from labelloop.server.web import pages

    def away(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(pages.status, "models", away)
    client = TestClient(api.client.app, raise_server_exceptions=False)
    answer = client.get("/api/projects/sent/models", headers=api.auth("admin"))
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert answer.json() == {
        "error": "DatabaseUnavailable",
        "detail": "the database cannot be reached right now; try again in a few seconds",
    }
    page = client.get("/p/sent", headers={**BROWSER, "cookie": _cookie(api, "admin")})
    title, detail, _ = _error(page, 503)
    assert detail == "the database cannot be reached right now; try again in a few seconds"


def test_a_database_away_a_moment_is_answered_without_an_error_in_the_server_log(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # During a PostgreSQL restart the 503 went out, but the exception then went on to the
    # server, which logged "Exception in ASGI application" with its traceback for each such
    # request (a walk of a team deployment: 5 in one restart), beside labelloop's own one-line
    # warning. The TestClient raises whatever reaches the server.
    from fastapi.testclient import TestClient
    from sqlalchemy.exc import InterfaceError, OperationalError

    from labelloop.server.web import pages

    client = TestClient(api.client.app)
    for error in (OperationalError, InterfaceError):

        def away(*args: Any, error: Any = error, **kwargs: Any) -> Any:
            raise error("SELECT 1", {}, ConnectionRefusedError("connection refused"))

        monkeypatch.setattr(pages.status, "models", away)
        answer = client.get("/api/projects/sent/models", headers=api.auth("admin"))
        assert answer.status_code == 503 and answer.json()["error"] == "DatabaseUnavailable"
        page = client.get("/p/sent", headers={**BROWSER, "cookie": _cookie(api, "admin")})
        assert _error(page, 503)[1].startswith("the database cannot be reached right now")


def test_the_error_page_keeps_the_signed_in_header(api: Any) -> None:
    text = _page(api, "/p/sent/quality").text
    assert '<span class="user-name" title="Signed in as annotator">' in text
    assert 'action="/logout"' in text and 'name="csrf-token"' in text


def test_the_api_keeps_its_json_errors_whatever_the_client_accepts(api: Any) -> None:
    denied = _page(api, "/api/projects/sent/quality")
    assert denied.status_code == 403
    assert denied.json() == {
        "error": "PermissionDenied",
        "detail": "your role in project 'sent' (annotator) does not allow reading its reports,"
        " team and model [view_insight]: reviewers and managers may",
    }
    missing = _page(api, "/api/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": "HTTPError", "detail": "Not Found"}
    assert _page(api, "/static/nope.js").json() == {"error": "HTTPError", "detail": "Not Found"}
    # A script asking a page path for JSON (and not HTML) gets the JSON body.
    asked = _page(api, "/p/sent/quality", accept="application/json")
    assert asked.status_code == 403 and asked.json()["error"] == "PermissionDenied"
