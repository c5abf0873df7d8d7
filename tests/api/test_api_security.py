"""What every response tells the browser: a security policy that lets only labelloop's own scripts
and styles run, no type sniffing, no referrer to other sites; and the API docs, served offline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from labelloop.server.app import PAGE_POLICY

TEMPLATES = Path(__file__).resolve().parents[2] / "labelloop" / "server" / "web" / "templates"
EXPECTED = {
    "content-security-policy": PAGE_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def _requests(api: Any) -> dict[str, Any]:
    slug = f"/api/projects/{api.slug}"
    return {
        "sign-in page": api.client.get("/login"),
        "page that redirects": api.client.get(f"/p/{api.slug}"),
        "missing page": api.client.get("/p/nowhere/label", headers={"accept": "text/html"}),
        "API answer": api.get(f"{slug}/status"),
        "API error": api.get("/api/projects/nowhere/status"),
        "annotators' next (the hot route)": api.post(f"{slug}/tasks/next", "annotator", json={}),
        "annotators' submit (the hot route)": api.post(
            f"{slug}/tasks/999999/submit", "annotator", json={"value": {}}
        ),
        "static file": api.client.get("/static/app.css"),
        "API docs": api.client.get("/docs"),
        "OpenAPI description": api.client.get("/openapi.json"),
    }


def test_every_kind_of_response_carries_the_security_headers(sqlite_api: Any) -> None:
    for what, response in _requests(sqlite_api).items():
        assert response.status_code < 500, (what, response.text[:200])
        got = {name: response.headers.get(name) for name in EXPECTED}
        assert got == EXPECTED, what


def test_the_policy_allows_only_this_sites_scripts_and_no_framing() -> None:
    directives = dict(d.strip().split(" ", 1) for d in PAGE_POLICY.split(";"))
    assert directives["script-src"] == "'self'"  # no inline script, no eval
    assert directives["style-src"] == "'self'"  # no style attribute markup could carry
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert directives["connect-src"] == "'self'"  # a page's fetches stay on this server


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_templates_hold_nothing_the_policy_would_refuse(template: str) -> None:
    """An inline style, handler or script in a template would be refused by the browser (and
    the page would break there first): scripts come from /static, data in JSON blocks."""
    text = (TEMPLATES / template).read_text()
    assert not re.search(r"<style\b", text, re.I), "a <style> element: use a /static stylesheet"
    assert not re.search(r"\sstyle\s*=", text, re.I), "a style attribute: set it from script"
    assert not re.search(r"<[a-z][^<>]*\son[a-z]+\s*=", text, re.I), "an inline event handler"
    assert "javascript:" not in text.lower()
    for script in re.findall(r"<script\b[^>]*>", text, re.I):
        assert "src=" in script or 'type="application/json"' in script, script


def test_the_api_docs_load_nothing_from_the_network(sqlite_api: Any) -> None:
    client = sqlite_api.client
    docs = client.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    urls = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert "/static/apidocs/swagger-ui-bundle.js" in urls and "/openapi.json" not in docs.text
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        loaded = client.get(url)
        assert loaded.status_code == 200 and loaded.content, url
    assert "https://" not in docs.text and "cdn" not in docs.text.lower()
    assert client.get("/redoc").status_code == 404  # FastAPI's own pages use a CDN: gone


def test_the_api_description_says_how_to_authenticate(sqlite_api: Any) -> None:
    description = sqlite_api.client.get("/openapi.json").json()
    scheme = description["components"]["securitySchemes"]["token"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert "labelloop tokens create" in scheme["description"]
    assert description["security"] == [{"token": []}]
    assert description["paths"]["/api/health"]["get"]["security"] == []  # open to anyone
    next_task = description["paths"]["/api/projects/{slug}/tasks/next"]["post"]
    assert "security" not in next_task  # so the site-wide token applies


def test_the_api_description_says_what_every_route_does_and_how_it_errs(
    sqlite_api: Any,
) -> None:
    """Every operation says what it does, and its errors are described as the server answers
    them (``{"error", "detail"}``), where the description held FastAPI's ``{"detail": [...]}``
    for a 422 and said nothing of a 401, 403, 404 or 409."""
    description = sqlite_api.client.get("/openapi.json").json()
    schemas = description["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    error = schemas["Error"]
    assert set(error["required"]) == {"error", "detail"}
    undescribed, unerring = [], []
    for path, operations in description["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            if not operation.get("description"):
                undescribed.append(where)
            if path == "/api/health":
                continue
            said = {
                status: answer["content"]["application/json"]["schema"]
                for status, answer in operation["responses"].items()
                if status.startswith("4")
            }
            if said.get("4XX") != {"$ref": "#/components/schemas/Error"}:
                unerring.append(where)
            assert said.get("422", said["4XX"]) == said["4XX"], where
    assert undescribed == [] and unerring == []
    refused = sqlite_api.post(f"/api/projects/{sqlite_api.slug}/tasks/next", json={"held": [0]})
    assert refused.status_code == 422
    body = refused.json()
    assert set(error["required"]) <= body.keys() <= error["properties"].keys()
    assert all(isinstance(body[k], str) for k in error["required"])
