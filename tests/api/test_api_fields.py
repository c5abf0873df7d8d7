"""Uploads into table and HTML projects: rows from CSV and Parquet, HTML cleaned before serving."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Lab

TABLE = {
    "name": "Loans",
    "data": {"type": "table", "field": "row", "columns": ["amount", "purpose"]},
    "controls": [{"name": "risk", "type": "choice", "labels": ["low", "high"], "target": True}],
}
HTML = {
    "name": "Mails",
    "data": {"type": "html", "field": "body"},
    "controls": [{"name": "kind", "type": "choice", "labels": ["spam", "ham"], "target": True}],
}


@pytest.fixture
def client(sqlite_lab: Lab, tmp_path: Path) -> Iterator[tuple[Any, dict[str, str]]]:
    from fastapi.testclient import TestClient

    from labelloop.config import get_settings
    from labelloop.server.app import create_app
    from labelloop.workflow import learning, projects
    from labelloop.workflow.accounts import create_token

    lab = sqlite_lab
    projects.create_project(lab.db, "loans", TABLE, actor=lab.admin)
    projects.create_project(lab.db, "mails", HTML, actor=lab.admin)
    auth = {"Authorization": f"Bearer {create_token(lab.db, 'admin')}"}
    settings = get_settings(home=tmp_path, secret_key="test")
    app = create_app(settings, db=lab.db, learner=False)
    with TestClient(app) as http:
        http.train = lambda slug: learning.train(  # type: ignore[attr-defined]
            lab.db, projects.system_context(lab.db, slug)
        )
        yield http, auth


def _upload(http: Any, auth: dict[str, str], slug: str, name: str, body: bytes, **form: str) -> Any:
    return http.post(
        f"/api/projects/{slug}/imports", files={"file": (name, body)}, data=form, headers=auth
    )


def test_csv_and_parquet_rows_upload_into_a_table_project(client: Any) -> None:
    http, auth = client
    csv = b"id,amount,purpose,risk,branch\n1,1200,car,low,north\n2,90000,yacht,,south\n"
    got = _upload(http, auth, "loans", "loans.csv", csv, id_field="id", label_field="risk")
    assert got.status_code == 201, got.text
    assert (got.json()["items"], got.json()["labeled"]) == (2, 1)
    bad = _upload(http, auth, "loans", "bad.csv", b"id,amount\n3,5\n")
    assert bad.status_code == 422
    assert "line 1" in bad.json()["detail"] and "purpose" in bad.json()["detail"]
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    sink = io.BytesIO()
    pq.write_table(pa.table({"amount": [300, 450], "purpose": ["phone", None]}), sink)
    got = _upload(http, auth, "loans", "more.parquet", sink.getvalue())
    assert got.status_code == 201, got.text
    assert got.json()["items"] == 2
    # Duplicates are numbered as the file counts its records: a Parquet file's and a CSV's rows
    sink = io.BytesIO()
    pq.write_table(pa.table({"amount": [5, 450], "purpose": ["tv", None]}), sink)
    again = _upload(http, auth, "loans", "again.parquet", sink.getvalue()).json()
    assert (again["items"], again["duplicate_lines"], again["unit"]) == (1, [2], "row")
    again = _upload(http, auth, "loans", "again.csv", csv, id_field="id", label_field="risk")
    assert (again.json()["duplicate_lines"], again.json()["unit"]) == ([2, 3], "row")
    # A row clashing with an earlier one names it, for a script too
    sink = io.BytesIO()
    ids = {"id": ["a", "b", "a"], "amount": [1, 2, 3], "purpose": ["x", "y", "z"]}
    pq.write_table(pa.table(ids), sink)
    clash = _upload(http, auth, "loans", "clash.parquet", sink.getvalue(), id_field="id")
    assert clash.status_code == 422
    said = clash.json()
    assert said["detail"].startswith("row 3, field 'id': id 'a' is also the id of row 1,")
    assert (said["line"], said["unit"], said["cites"]) == (3, "row", 1)
    http.train("loans")
    task = http.post("/api/projects/loans/tasks/next", json={}, headers=auth).json()["task"]
    assert set(task["item"]["data"]) == {"row"}
    assert list(task["item"]["data"]["row"]) == ["amount", "purpose"]


def test_html_is_cleaned_before_it_is_ever_served(client: Any) -> None:
    http, auth = client
    rows = [
        {"id": "m1", "body": '<p onclick="steal()">Win <a href="javascript:go()">big</a></p>'},
        {"id": "m2", "body": "<script>steal()</script>"},
    ]
    body = "".join(json.dumps(r) + "\n" for r in rows).encode()
    refused = _upload(http, auth, "mails", "m.jsonl", body, id_field="id", text_field="body")
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("line 2, field 'body'")
    got = _upload(
        http,
        auth,
        "mails",
        "m.jsonl",
        body.splitlines()[0] + b"\n",
        id_field="id",
        text_field="body",
    )
    assert got.status_code == 201, got.text
    http.train("mails")
    task = http.post("/api/projects/mails/tasks/next", json={}, headers=auth).json()["task"]
    data = task["item"]["data"]
    assert data["text"] == "Win big"
    assert "onclick" not in data["html"] and "javascript" not in data["html"]
    assert data["html"].startswith("<p>Win <a ")


def test_html_exports_its_cleaned_markup_and_imports_back(client: Any) -> None:
    http, auth = client
    body = json.dumps(
        {"id": "m1", "body": "<p>Win <b>big</b><script>x()</script></p>", "k": "spam"}
    )
    got = _upload(
        http,
        auth,
        "mails",
        "m.jsonl",
        body.encode() + b"\n",
        id_field="id",
        text_field="body",
        label_field="k",
    )
    assert got.status_code == 201, got.text
    out = http.get("/api/projects/mails/export?format=jsonl", headers=auth)
    record = json.loads(out.text.splitlines()[0])
    assert record["text"] == "<p>Win <b>big</b></p>" and record["label"] == "spam"
    again = _upload(
        http,
        auth,
        "mails",
        "again.jsonl",
        out.content,
        id_field="external_id",
        label_field="label",
    )
    assert again.json()["duplicates"] == 1  # the same cleaned markup: recognised, not doubled


def test_a_parquet_file_of_markup_uploads_into_an_html_project(client: Any) -> None:
    http, auth = client
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    sink = io.BytesIO()
    bodies = ["<p>Win <b>big</b></p>", "<p>Lunch at noon?</p>"]
    pq.write_table(pa.table({"id": ["m1", "m2"], "body": bodies, "kind": ["spam", None]}), sink)
    got = _upload(
        http, auth, "mails", "mails.parquet", sink.getvalue(), id_field="id", label_field="kind"
    )
    assert got.status_code == 201, got.text
    assert (got.json()["items"], got.json()["labeled"]) == (2, 1)
    bad = _upload(http, auth, "mails", "more.parquet", sink.getvalue(), text_field="text")
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("field 'text': no such column; columns are:")
