"""Bad input over HTTP: always a 4xx JSON body with a ``detail`` string, and nothing written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

BASE = "/api/projects/sent"


def _assert_json_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in response.text
    return body["detail"]


def _task(api: Any, role: str = "annotator") -> dict[str, Any]:
    return api.post(f"{BASE}/tasks/next", role, json={}).json()["task"]


def _counts(api: Any) -> dict[str, int]:
    return api.get(f"{BASE}/status").json()["counts"]


def test_a_label_outside_the_schema_is_422_naming_it(api: Any) -> None:
    task = _task(api)
    response = api.post(
        f"{BASE}/tasks/{task['assignment_id']}/submit",
        "annotator",
        json={"value": {"sentiment": "ecstatic"}},
    )
    assert "ecstatic" in _assert_json_error(response, 422)
    assert _counts(api)["annotations"] == 0


def test_an_unknown_control_is_422(sqlite_api: Any) -> None:
    task = _task(sqlite_api)
    response = sqlite_api.post(
        f"{BASE}/tasks/{task['assignment_id']}/submit",
        "annotator",
        json={"value": {"sentiment": "neutral", "mood": "calm"}},
    )
    assert "'mood' is not a control" in _assert_json_error(response, 422)


MALFORMED_BODIES = [
    b'{"value": {"sentiment": "neutral"',  # truncated
    b"not json at all",
    b"[1, 2]",
    b'{"value": 3}',  # a value that is no object
    b'{"value": {"sentiment": "neutral"}, "active_ms": -5}',
    b'{"value": {"sentiment": "neutral"}, "active_ms": 1000000000000000}',
]


def test_malformed_bodies_are_422_json(sqlite_api: Any, subtests: pytest.Subtests) -> None:
    for body in MALFORMED_BODIES:
        task = _task(sqlite_api)
        response = sqlite_api.post(
            f"{BASE}/tasks/{task['assignment_id']}/submit",
            "annotator",
            content=body,
            headers={"content-type": "application/json"},
        )
        with subtests.test(body=body):
            _assert_json_error(response, 422)


def test_a_malformed_next_body_is_422_json(sqlite_api: Any) -> None:
    response = sqlite_api.post(
        f"{BASE}/tasks/next",
        "annotator",
        content=b"{",
        headers={"content-type": "application/json"},
    )
    # the body as a whole is named: the detail began ": Invalid JSON", naming nothing
    assert _assert_json_error(response, 422).startswith("body: Invalid JSON")
    response = sqlite_api.post(f"{BASE}/tasks/next", "annotator", json=["held"])
    assert _assert_json_error(response, 422) == "body: Input should be an object"
    response = sqlite_api.post(f"{BASE}/tasks/next", "annotator", json={"held": ["x"]})
    assert _assert_json_error(response, 422).startswith("held.0: ")


def _upload(api: Any, lines: list[str], name: str = "more.jsonl", **form: str) -> Any:
    body = ("\n".join(lines) + "\n").encode()
    return api.post(f"{BASE}/imports", files={"file": (name, body)}, data=form)


def test_a_ten_megabyte_line_is_422_naming_the_line(api: Any) -> None:
    before = _counts(api)
    lines = [json.dumps({"text": "fine"}), json.dumps({"text": "x" * (10 * 1024 * 1024)})]
    detail = _assert_json_error(_upload(api, lines), 422)
    assert detail == "line 2: the line is longer than 2,097,152 bytes, the limit for one record"
    assert _counts(api) == before


def test_an_upload_with_a_bad_line_is_422_and_writes_nothing(api: Any) -> None:
    before = _counts(api)
    lines = [json.dumps({"text": f"new item {i}"}) for i in range(20)]
    lines[13] = '{"text": "broken'
    detail = _assert_json_error(_upload(api, lines), 422)
    assert detail.startswith("line 14")
    assert _counts(api) == before
    ok = _upload(api, [json.dumps({"text": f"new item {i}"}) for i in range(20)])
    assert ok.status_code == 201
    assert _counts(api)["pool"] == before["pool"] + 20


def test_a_csv_upload_with_a_bad_label_names_the_record(sqlite_api: Any) -> None:
    before = _counts(sqlite_api)
    lines = ["text,label", "good one,positive", "bad one,furious"]
    response = _upload(sqlite_api, lines, name="more.csv", label_field="label")
    detail = _assert_json_error(response, 422)
    assert "furious" in detail and "line" in detail
    assert _counts(sqlite_api) == before


def test_a_label_not_in_the_schema_refuses_an_upload_of_items_already_here(
    sqlite_api: Any,
) -> None:
    # without update_labels it came in, as "2 duplicates carry labels not read"
    rows = [{"text": f"already here {i}", "label": "positive"} for i in range(2)]
    first = _upload(sqlite_api, [json.dumps(r) for r in rows], label_field="label")
    assert first.status_code == 201, first.text
    before = _counts(sqlite_api)
    again = [json.dumps({**r, "label": "rose"}) for r in rows]
    for update in ("false", "true"):
        response = _upload(sqlite_api, again, label_field="label", update_labels=update)
        assert _assert_json_error(response, 422) == (
            "line 1, field 'label': sentiment: 'rose' is not one of negative, neutral, positive"
        )
    assert _counts(sqlite_api) == before


def test_an_unknown_format_is_a_4xx_json(sqlite_api: Any) -> None:
    response = _upload(sqlite_api, ["whatever"], name="data.xlsx")
    assert 400 <= response.status_code < 500
    _assert_json_error(response, response.status_code)


UNKNOWN_THINGS = [
    ("GET", "/api/projects/nope"),
    ("GET", "/api/projects/nope/status"),
    ("POST", "/api/projects/nope/tasks/next"),
    ("GET", "/api/projects/nope/export"),
    ("GET", "/api/no/such/route"),
]


def test_unknown_things_are_404_json(sqlite_api: Any, subtests: pytest.Subtests) -> None:
    for method, path in UNKNOWN_THINGS:
        headers = sqlite_api.auth("admin")
        response = sqlite_api.client.request(method, path, headers=headers, json={})
        with subtests.test(method=method, path=path):
            _assert_json_error(response, 404)


def test_unknown_task_is_404_and_wrong_method_is_405_json(sqlite_api: Any) -> None:
    response = sqlite_api.post(
        f"{BASE}/tasks/999999/submit", json={"value": {"sentiment": "neutral"}}
    )
    _assert_json_error(response, 404)
    wrong = sqlite_api.client.delete(f"{BASE}/status", headers=sqlite_api.auth("admin"))
    _assert_json_error(wrong, 405)
    assert wrong.headers["allow"] == "GET"  # which method the route takes, as HTTP says


def test_a_request_without_a_token_is_told_how_to_send_one(sqlite_api: Any) -> None:
    """A script whose token did not reach the request (an unset LABELLOOP_TOKEN) was told to
    "sign in first (session missing or expired)", as if it were a browser."""
    response = sqlite_api.client.get(f"{BASE}/status")
    detail = _assert_json_error(response, 401)
    assert detail == (
        "no API token and no signed-in session: send 'Authorization: Bearer <token>' "
        "(labelloop tokens create NAME, or the projects page's API token box), or sign in"
    )


def test_a_bad_project_schema_is_422_naming_the_problem(sqlite_api: Any) -> None:
    body = {
        "slug": "bad",
        "schema": {
            "name": "Bad",
            "data": {"type": "text"},
            "controls": [{"name": "c", "type": "sliders"}],
        },
    }
    detail = _assert_json_error(sqlite_api.post("/api/projects", json=body), 422)
    assert "sliders" in detail


def test_script_in_item_text_is_returned_verbatim_and_never_in_the_page(
    sqlite_api: Any,
) -> None:
    from labelloop.workflow import projects

    api = sqlite_api
    evil = '</script><script>alert("owned")</script> & <img src=x onerror=alert(1)>'
    schema = api.get(f"{BASE}").json()["schema"]
    projects.create_project(
        api.lab.db,
        "xss",
        {"name": "Evil " + evil, "data": schema["data"], "controls": schema["controls"]},
        actor=api.lab.admin,
    )
    ctx = api.lab.ctx("xss", api.lab.admin)
    api.lab.import_rows(ctx, [{"id": "e", "text": evil}])
    api.lab.train(ctx)
    projects.set_member(api.lab.db, ctx, "annotator", "annotator")
    task = api.post("/api/projects/xss/tasks/next", "annotator", json={}).json()["task"]
    assert task["item"]["data"]["text"] == evil
    page = _label_page(api, "xss")
    assert evil not in page
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;img src=x" in page  # the project name is there, escaped


def _label_page(api: Any, slug: str) -> str:
    from labelloop.workflow import projects

    lab = api.lab
    lab.user("page-user", password="page-user-password")
    projects.set_member(lab.db, lab.ctx(slug, lab.admin), "page-user", "annotator")
    form = api.client.get("/login").text
    token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    api.client.post(
        "/login",
        data={"username": "page-user", "password": "page-user-password", "csrf_token": token},
    )
    page = api.client.get(f"/p/{slug}/label")
    assert page.status_code == 200
    return page.text


def test_unknown_export_format_and_split_are_4xx_json(sqlite_api: Any) -> None:
    before = _counts(sqlite_api)
    export = sqlite_api.get(f"{BASE}/export?format=xml")
    assert "xml" in _assert_json_error(export, export.status_code)
    assert 400 <= export.status_code < 500
    upload = _upload(sqlite_api, [json.dumps({"text": "a new one"})], split="holdout")
    assert "holdout" in _assert_json_error(upload, upload.status_code)
    assert 400 <= upload.status_code < 500
    assert _counts(sqlite_api) == before


TOO_BIG = 99999999999999999999  # beyond the stores' signed 64-bit ids
LARGEST_ID = 2**63 - 1
VALUE = {"sentiment": "neutral"}

# (method, path, JSON body, the parameter the answer must name)
OUT_OF_RANGE = [
    ("GET", f"{BASE}/search?like={TOO_BIG}", None, "like"),
    ("GET", f"{BASE}/items/{TOO_BIG}/review", None, "item_id"),
    ("POST", f"{BASE}/tasks/{TOO_BIG}/skip", None, "assignment_id"),
    ("GET", f"{BASE}/annotations/previous?before={TOO_BIG}", None, "before"),
    ("POST", f"{BASE}/seeds", {"item_ids": [TOO_BIG], "query": "x"}, "item_ids.0"),
    ("POST", f"{BASE}/seeds", {"item_ids": [1], "like": TOO_BIG}, "like"),
    ("POST", f"{BASE}/tasks/next", {"held": [TOO_BIG]}, "held.0"),
    ("POST", f"{BASE}/tasks/{TOO_BIG}/submit", {"value": VALUE}, "assignment_id"),
    ("POST", f"{BASE}/tasks/{TOO_BIG}/flag", {}, "assignment_id"),
    ("POST", f"{BASE}/annotations/{TOO_BIG}/flag", {}, "annotation_id"),
    ("PUT", f"{BASE}/annotations/{TOO_BIG}", {"value": VALUE}, "annotation_id"),
    ("POST", f"{BASE}/reviews/{TOO_BIG}", {"verdict": "accept"}, "annotation_id"),
    ("GET", f"{BASE}/reviews/next?skip={TOO_BIG}", None, "skip.0"),
    ("GET", f"{BASE}/adjudications/next?skip={TOO_BIG}", None, "skip.0"),
    ("POST", f"{BASE}/items/{TOO_BIG}/adjudicate", {"value": VALUE}, "item_id"),
    ("GET", f"{BASE}/items/{TOO_BIG}/media", None, "item_id"),
    ("GET", f"{BASE}/items/{TOO_BIG}/thumbnail", None, "item_id"),
    ("PUT", f"{BASE}/gold", {"item_id": TOO_BIG, "value": VALUE}, "item_id"),
    ("DELETE", f"{BASE}/gold/{TOO_BIG}", None, "item_id"),
    ("GET", f"{BASE}/items/{-(2**63) - 1}/review", None, "item_id"),
    ("GET", f"/p/sent/search?like={TOO_BIG}", None, "like"),
    ("GET", f"/p/sent/adjudicate?item={TOO_BIG}", None, "item"),
]


def test_out_of_range_ids_are_422_naming_the_parameter(api: Any) -> None:
    before = _counts(api)
    answers = {}
    for method, path, body, name in OUT_OF_RANGE:
        response = api.client.request(method, path, headers=api.auth("admin"), json=body)
        answers[method, path, name] = (response.status_code, response.text)
    wrong = {
        request: answer
        for request, answer in answers.items()
        if answer[0] != 422 or f"{request[2]}: Input should be" not in answer[1]
    }
    assert wrong == {}
    assert _counts(api) == before


def test_the_largest_id_is_an_ordinary_not_found(api: Any) -> None:
    response = api.get(f"{BASE}/items/{LARGEST_ID}/review")
    assert f"no item {LARGEST_ID}" in _assert_json_error(response, 404)
    skipped = api.post(f"{BASE}/tasks/{LARGEST_ID}/skip", "annotator")
    _assert_json_error(skipped, 404)


COUNTS_THE_WORKFLOW_BOUNDS = {"limit", "active_ms"}  # clamped or refused there; not ids


def _integers(schema: Any, name: str, spec: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every integer in a JSON schema, as (the field's name, its maximum)."""
    if "$ref" in schema:
        yield from _integers(
            spec["components"]["schemas"][schema["$ref"].split("/")[-1]], name, spec
        )
        return
    if schema.get("type") == "integer":
        yield name, schema.get("maximum")
    for part in (*schema.get("anyOf", ()), *schema.get("allOf", ())):
        yield from _integers(part, name, spec)
    if "items" in schema:
        yield from _integers(schema["items"], name, spec)
    for field, part in schema.get("properties", {}).items():
        yield from _integers(part, field, spec)


def test_every_integer_a_request_carries_is_bounded(sqlite_api: Any) -> None:
    """A new route with a bare ``int`` id would overflow the driver (a 500) on a huge number."""
    spec = sqlite_api.client.app.openapi()
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            schemas = [(p["schema"], p["name"]) for p in operation.get("parameters", [])]
            body = operation.get("requestBody", {}).get("content", {}).values()
            schemas += [(content["schema"], "body") for content in body]
            found += [
                (f"{method} {path} {name}", maximum)
                for schema, where in schemas
                for name, maximum in _integers(schema, where, spec)
            ]
    assert len(found) > 20  # the walk reaches the ids
    unbounded = [
        where
        for where, maximum in found
        if maximum is None and where.split(" ")[-1] not in COUNTS_THE_WORKFLOW_BOUNDS
    ]
    assert unbounded == []


def test_a_nul_in_the_text_of_a_body_is_422_naming_where(api: Any) -> None:
    """PostgreSQL cannot store a NUL (it was a 500 there) and SQLite's LIKE stops at one."""
    task = _task(api)
    flagged = api.post(
        f"{BASE}/tasks/{task['assignment_id']}/flag", "annotator", json={"note": "odd\x00one"}
    )
    detail = _assert_json_error(flagged, 422)
    assert "note: text cannot contain the NUL character (U+0000)" in detail
    submitted = api.post(
        f"{BASE}/tasks/{task['assignment_id']}/submit",
        "annotator",
        json={"value": {"sentiment": "neutral", "notes\x00": "x"}},
    )
    assert "value: text cannot contain the NUL" in _assert_json_error(submitted, 422)
    assert _counts(api)["annotations"] == 0
    assert api.get(f"{BASE}/flags").json()["flags"] == []
    fine = api.post(f"{BASE}/tasks/{task['assignment_id']}/flag", "annotator", json={"note": "ok"})
    assert fine.status_code == 200, fine.text


def test_a_user_name_with_a_nul_is_a_failed_sign_in(lab: Any) -> None:
    from labelloop.errors import AuthenticationFailed
    from labelloop.workflow import accounts

    lab.user("pat", password="correct horse battery")
    with pytest.raises(AuthenticationFailed, match="wrong username or password"):
        accounts.authenticate(lab.db, "pat\x00", "correct horse battery")


NUL_PATHS = [
    "/api/projects/a%00b/status",
    f"{BASE}/flags?kind=%00",
    f"{BASE}/quality?cohort_field=%00",
    f"{BASE}/search?q=x&like=%00",
    "/p/%00",
]


def test_a_nul_in_a_path_or_query_is_400_on_every_store(
    api: Any, subtests: pytest.Subtests
) -> None:
    """PostgreSQL refuses NUL in a query parameter: these were 500s there."""
    for path in NUL_PATHS:
        with subtests.test(path=path):
            detail = _assert_json_error(api.get(path), 400)
            assert detail == "the request's path or query holds a NUL character (U+0000)"


def test_a_field_the_body_does_not_take_is_422_naming_it(api: Any) -> None:
    """A misspelt or guessed field was dropped without a word: a site admin asking for a
    token ``{"username": "annotator"}`` got one of their own, and ``activeMs`` stored no time."""
    before = [t["id"] for t in api.get("/api/tokens").json()]
    response = api.post("/api/tokens", json={"name": "for a script", "username": "annotator"})
    detail = _assert_json_error(response, 422)
    assert detail == "username: Extra inputs are not permitted"
    assert [t["id"] for t in api.get("/api/tokens").json()] == before
    task = _task(api)
    body = {"value": {"sentiment": "neutral"}, "activeMs": 2100}
    response = api.post(f"{BASE}/tasks/{task['assignment_id']}/submit", "annotator", json=body)
    assert _assert_json_error(response, 422) == "activeMs: Extra inputs are not permitted"
    assert _counts(api)["annotations"] == 0


def test_every_json_body_says_it_takes_no_other_field(sqlite_api: Any) -> None:
    """The OpenAPI description tells a client generator so, and the server holds to it; the
    settings route names a wrong setting itself, listing those that change."""
    spec = sqlite_api.client.get("/openapi.json").json()

    def resolved(schema: dict[str, Any]) -> dict[str, Any]:
        given = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
        assert len(given) == 1, schema  # a body, or a body or none
        ref = given[0].get("$ref", "")
        return spec["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else given[0]

    bodies = {
        f"{method.upper()} {path}": resolved(content["schema"])
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for kind, content in operation.get("requestBody", {}).get("content", {}).items()
        if kind == "application/json"
    }
    assert len(bodies) > 20
    open_ = sorted(w for w, s in bodies.items() if s.get("additionalProperties") is not False)
    assert open_ == ["PATCH /api/projects/{slug}/settings"]


def test_a_misspelt_query_parameter_is_422_naming_it(api: Any) -> None:
    """``items?stauts=labeled`` answered every item, as if no filter was given, so a script
    with a typo read the wrong rows without a word."""
    task = _task(api)
    done = api.post(
        f"{BASE}/tasks/{task['assignment_id']}/submit", "annotator", json={"value": VALUE}
    )
    assert done.status_code == 200, done.text
    labeled = api.get(f"{BASE}/items?status=labeled&split=pool")
    assert labeled.status_code == 200, labeled.text
    assert [i["id"] for i in labeled.json()["items"]] == [task["item"]["id"]]
    misspelt = api.get(f"{BASE}/items?stauts=labeled&split=pool")
    assert _assert_json_error(misspelt, 422) == (
        "query: unknown query parameter 'stauts'; this route takes: "
        "status, split, label, resolution, annotator, q, picked_by, order, limit, offset"
    )
    assert misspelt.json()["error"] == "ValidationError"
    both = api.get(f"{BASE}/tasks/idle?stauts=labeled&limt=5", "annotator")
    assert _assert_json_error(both, 422) == (
        "query: unknown query parameters 'stauts', 'limt'; this route takes none"
    )


def test_every_api_route_refuses_a_query_parameter_it_does_not_declare(sqlite_api: Any) -> None:
    """Every /api route, read or write, the annotators' two hot routes too, refuses ``zzz``
    before it does anything, and lists the query parameters its OpenAPI description gives;
    pages keep taking what a bookmark or the page's own script adds."""
    from tests.api.test_api_isolation import REQUESTS, app_routes

    app = sqlite_api.client.app
    spec = app.openapi()
    values = {"slug": "sent", "kind": "drift", "username": "annotator"}
    audit = [_read(sqlite_api, "/api/audit"), _read(sqlite_api, f"{BASE}/audit")]
    before = _counts(sqlite_api)
    wrong = {}
    routes = [r for r in app_routes(app) if r.path.startswith("/api/")]
    assert len(routes) > 80
    for route in routes:
        url = route.url(**{p: values.get(p, 1) for p in route.params})
        sent = REQUESTS.get((route.method, route.path), {})
        query = {**sent.get("params", {}), "zzz": "1"}
        response = sqlite_api.client.request(
            route.method,
            url,
            headers=sqlite_api.auth("admin"),
            **{**sent, "params": query},
        )
        declared = [
            p["name"]
            for p in spec["paths"][route.path][route.method.lower()].get("parameters", [])
            if p["in"] == "query"
        ]
        takes = f"this route takes: {', '.join(declared)}" if declared else "this route takes none"
        expected = f"query: unknown query parameter 'zzz'; {takes}"
        if response.status_code != 422 or response.json().get("detail") != expected:
            wrong[f"{route.method} {route.path}"] = (response.status_code, response.text[:200])
    assert wrong == {}
    assert _counts(sqlite_api) == before
    assert [_read(sqlite_api, "/api/audit"), _read(sqlite_api, f"{BASE}/audit")] == audit
    page = sqlite_api.client.get("/login?next=/p/sent&zzz=1")
    assert page.status_code == 200


def _read(api: Any, path: str) -> Any:
    """An audit log's newest events, as the admin reads them."""
    response = api.get(path, params={"limit": 1000})
    assert response.status_code == 200, response.text
    return response.json()
