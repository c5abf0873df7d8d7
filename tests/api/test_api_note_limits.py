"""The notes' limits have one definition each: the labeling page's flag note and the review
page's pin note take their maxlength from the limit the server refuses a longer note by, and a
text answer's field its limit from the schema the server sends."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.responses import Response

from tests.conftest import SCHEMA

BASE = "/api/projects/sent"
LIMIT = 40  # a limit no page writes by hand


def _page(api: Any, path: str, role: str) -> str:
    """``path`` as ``role`` reads it signed in."""
    response = Response()
    api.client.app.state.sessions.issue(response, api.lab.users[role].id)
    cookie = response.headers["set-cookie"].split(";", 1)[0]
    got = api.client.get(path, headers={"cookie": cookie})
    assert got.status_code == 200, (path, got.text[:200])
    return got.text


def _tag(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    return page[page.rindex("<", 0, start) : page.index(">", start)]


def _flag(api: Any, note: str) -> Any:
    """The annotator flags the item in front of them (the same lease each time)."""
    task = api.post(f"{BASE}/tasks/next", "annotator", json={"held": []}).json()["task"]
    return api.post(f"{BASE}/tasks/{task['assignment_id']}/flag", "annotator", json={"note": note})


def _flag_notes(api: Any) -> list[str]:
    return [f["note"] for f in api.get(f"{BASE}/flags", "reviewer").json()["flags"]]


EXAMPLES = f"{BASE}/guidelines/examples"


def _pin(api: Any, note: str) -> Any:
    body = {"external_id": "doc-4", "value": {"sentiment": "positive"}, "note": note}
    return api.post(EXAMPLES, "manager", json=body)


def _pin_notes(api: Any) -> list[str]:
    return [e["note"] for e in api.get(EXAMPLES, "annotator").json()["examples"]]


@dataclass(frozen=True)
class Note:
    module: str  # under labelloop.workflow, with the note's MAX_NOTE_CHARS
    page: str
    role: str  # who reads the page and writes the note
    field: str
    send: Callable[[Any, str], Any]
    notes: Callable[[Any], list[str]]
    refusal: str  # the API's detail for a note of LIMIT + 1 characters
    kept: int  # the status of a note kept


NOTES = [
    Note(
        "flags",
        "/p/sent/label",
        "annotator",
        "flag-note",
        _flag,
        _flag_notes,
        f"note: {LIMIT + 1} characters; the limit is {LIMIT}",
        200,
    ),
    Note(
        "guidelines",
        "/p/sent/review",
        "manager",
        "pin-note",
        _pin,
        _pin_notes,
        f"the note has {LIMIT + 1} characters; at most {LIMIT}",
        201,
    ),
]


@pytest.mark.parametrize("note", NOTES, ids=[n.field for n in NOTES])
def test_a_note_field_stops_where_the_server_refuses(
    sqlite_api: Any, monkeypatch: pytest.MonkeyPatch, note: Note
) -> None:
    """The flag and pin note fields were written maxlength="2000" beside a server limit of
    their own: a limit changed in one place changes both what the page lets be typed and what
    the API keeps."""
    api = sqlite_api
    monkeypatch.setattr(
        importlib.import_module(f"labelloop.workflow.{note.module}"), "MAX_NOTE_CHARS", LIMIT
    )
    assert f'maxlength="{LIMIT}"' in _tag(_page(api, note.page, note.role), note.field)
    refused = note.send(api, "x" * (LIMIT + 1))
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"] == note.refusal
    assert note.notes(api) == []
    kept = note.send(api, "x" * LIMIT)
    assert kept.status_code == note.kept, kept.text
    assert note.notes(api) == ["x" * LIMIT]


def test_a_text_control_without_max_chars_reaches_the_page_with_the_default(
    sqlite_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The labeling page's text field takes its limit from the control the server sends, which
    carries the schema's default where the schema names none."""
    from labelloop.schema import project as schema_project
    from labelloop.workflow import projects

    api = sqlite_api
    monkeypatch.setattr(schema_project, "DEFAULT_TEXT_CHARS", LIMIT)
    schema = {**SCHEMA, "controls": [*SCHEMA["controls"], {"name": "why", "type": "text"}]}
    projects.create_project(api.lab.db, "notes", schema, actor=api.lab.admin)
    page = _page(api, "/p/notes/label", "admin")
    start = page.index('<script id="project-data" type="application/json">')
    sent = json.loads(page[page.index(">", start) + 1 : page.index("</script>", start)])
    (why,) = [c for c in sent["schema"]["controls"] if c["name"] == "why"]
    assert why["max_chars"] == LIMIT
