"""Managing from the browser: create a project, add a user, give a role, import; roles hide it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.admin_only import admin_only
from tests.e2e.conftest import Server, login_on_form, page_fetch, wide_elements

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server holding the admin alone: these tests make their own project."""
    with admin_only(tmp_path_factory) as live:
        yield live


SLUG = "news-topics"
NAME = "News <topics> of the QuarterlyEditorialDeskNewsroomArchive"
"""One word wider than a phone: the header must wrap it, not widen the page."""
ANNOTATOR = ("bob", "bob-password-123")
BROKEN_SCHEMA = """name: News
data: {type: text, field: text}
controls:
  - name: topic
    type: choice
    labels: []
"""
SCHEMA = (
    f"name: {NAME}\n"
    + """data: {type: text, field: text}
controls:
  - name: topic
    type: choice
    labels: [business, sport, tech, politics]
    target: true
"""
)
GOOD_ROWS = [
    {"id": "n1", "text": "Stocks rallied after the central bank held rates.", "label": "business"},
    {"id": "n2", "text": "The striker scored twice in the derby.", "label": "sport"},
    {"id": "n3", "text": "A new phone chip promises longer battery life."},
    {"id": "n4", "text": "Parliament passed the budget late on Tuesday."},
    {"id": "n5", "text": "Stocks rallied after the central bank held rates."},  # duplicate of n1
    {"id": "n6", "text": "<img src=x onerror=window.__xss=1> a hostile headline"},
]
BAD_LINES = [
    json.dumps({"id": "m1", "text": "Fresh text that must not be imported."}),
    json.dumps({"id": "m2", "text": "Another fresh text, also rolled back."}),
    '{"id": "m3", "text": ',
    json.dumps({"id": "m4", "text": "Never read."}),
]


def _counts(page: Any) -> dict[str, str]:
    return page.evaluate(
        """() => Object.fromEntries(['labeled', 'pool', 'remaining', 'eval'].map(
            k => [k, document.getElementById('stat-' + k).textContent]))"""
    )


def _api_counts(page: Any) -> dict[str, int]:
    return page.evaluate(
        f"fetch('/api/projects/{SLUG}/status').then(r => r.json()).then(s => s.counts)"
    )


def _message(page: Any, box: str, containing: str) -> str:
    """The text of the message shown in ``box`` once it contains ``containing``."""
    page.wait_for_function(
        """([box, part]) => {
            const m = document.querySelector('#' + box + ' .message');
            return m !== null && m.textContent.includes(part);
        }""",
        arg=[box, containing],
        timeout=30000,
    )
    return page.inner_text(f"#{box} .message")


def test_e2e_admin_manages_from_the_browser(
    server: Any, browser: Any, tmp_path: Path, screenshots: Path
) -> None:
    good = tmp_path / "news.jsonl"
    good.write_text("".join(json.dumps(r) + "\n" for r in GOOD_ROWS), encoding="utf-8")
    bad = tmp_path / "broken.jsonl"
    bad.write_text("\n".join(BAD_LINES) + "\n", encoding="utf-8")

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login_on_form(page, server.url, "/")

    # A broken schema: the server's error names the path of the problem; nothing is created.
    page.fill("#new-project-slug", SLUG)
    page.fill("#new-project-schema", BROKEN_SCHEMA)
    page.click("#new-project-submit")
    problem = _message(page, "new-project-result", "not created")
    assert "controls[0].labels" in problem
    assert page.url == server.url + "/"

    # A valid one (submitted with Enter from the slug field): the browser lands on the project.
    page.fill("#new-project-schema", SCHEMA)
    page.focus("#new-project-slug")
    page.keyboard.press("Enter")
    page.wait_for_url(server.url + f"/p/{SLUG}")
    assert page.locator("h1").first.inner_text() == NAME
    assert page.locator("#import-panel").is_visible()
    page.wait_for_selector(f"#members-table tr[data-username='{server.username}']")
    assert page.inner_text(f"#members-table tr[data-username='{server.username}']").split() == [
        server.username,
        "manager",
        "Remove",
    ]

    # Users panel: add bob; he appears in the list.
    page.goto(server.url + "/")
    page.fill("#user-username", ANNOTATOR[0])
    page.fill("#user-password", ANNOTATOR[1])
    page.click("#user-submit")
    assert _message(page, "user-result", "Added") == f"Added user {ANNOTATOR[0]}."
    page.wait_for_selector(f"#users-table tr[data-username='{ANNOTATOR[0]}']")

    # Members panel: an unknown name is refused; bob becomes an annotator, from the keyboard.
    page.goto(server.url + f"/p/{SLUG}")
    page.fill("#member-username", "nobody-here")
    page.click("#member-submit")
    assert _message(page, "member-result", "nobody-here") == (
        "Could not set the role: no user named 'nobody-here'"
    )
    page.fill("#member-username", ANNOTATOR[0])
    page.select_option("#member-role", "annotator")
    page.focus("#member-username")
    page.keyboard.press("Enter")
    assert _message(page, "member-result", "now") == f"{ANNOTATOR[0]} is now annotator."
    page.wait_for_selector(f"#members-table tr[data-username='{ANNOTATOR[0]}']")
    assert "annotator" in page.inner_text(f"#members-table tr[data-username='{ANNOTATOR[0]}']")

    # Import: upload progress, then the server's counts, and the page's counts refreshed.
    assert _counts(page) == {"labeled": "0", "pool": "0", "remaining": "0", "eval": "0"}
    page.set_input_files("#import-file", str(good))
    page.fill("#import-id-field", "id")
    page.fill("#import-label-field", "label")
    page.click("#import-submit")
    done = _message(page, "import-result", "Imported")
    assert done == "Imported 5 items, 2 with labels, 1 duplicate skipped (line 5)"
    assert page.get_attribute("#import-progress", "aria-valuenow") == "100"
    assert page.inner_text("#import-progress-text") == "100%"
    page.wait_for_function("() => document.getElementById('stat-pool').textContent === '5'")
    assert _counts(page) == {"labeled": "2", "pool": "5", "remaining": "3", "eval": "0"}
    page.wait_for_function("() => document.getAnimations().length === 0", timeout=5000)
    page.screenshot(path=str(screenshots / "project-manage.png"), full_page=True)

    # A malformed file: the error names line 3 and nothing from it is imported.
    before = _api_counts(page)
    page.set_input_files("#import-file", str(bad))
    page.click("#import-submit")
    page.wait_for_function("() => document.getElementById('import-form').dataset.state === 'error'")
    failure = _message(page, "import-result", "Nothing")
    assert failure.startswith("Nothing was imported: line 3")
    assert page.locator("#import-result .message-error").count() == 1
    assert page.is_hidden("#import-upload")  # no '100% · checking records…' beside the refusal
    assert _api_counts(page) == before
    assert _counts(page) == {"labeled": "2", "pool": "5", "remaining": "3", "eval": "0"}

    # A newer export of the same news, labeled further: "Update labels" brings its labels in.
    newer = tmp_path / "news-newer.jsonl"
    labeled = {"n1": "tech", "n3": "tech", "n4": "politics"}
    newer.write_text(
        "".join(
            json.dumps({**r, "label": labeled[r["id"]]}) + "\n"
            for r in GOOD_ROWS
            if r["id"] in labeled
        ),
        encoding="utf-8",
    )
    # Without "Update labels" the file's labels are not used, and the summary says so (it
    # said "0 items, 3 duplicates skipped", as if the file held no labels).
    page.set_input_files("#import-file", str(newer))
    page.click("#import-submit")
    unread = _message(page, "import-result", "not used")
    assert unread.startswith(
        "Nothing new: all 3 records were already in the project (lines 1, 2, 3); 3 duplicates "
        "carry labels not used: the item a duplicate repeats (already here, or earlier in the "
        "file) keeps its own"
    )
    # A label not in the schema refuses the file, though every record of it is here already
    # (it came in as "3 duplicates carry labels not read"), with "Update labels" or without.
    weather = tmp_path / "news-weather.jsonl"
    weather.write_text(newer.read_text().replace('"tech"', '"weather"'), encoding="utf-8")
    for update in (False, True):
        page.set_input_files("#import-file", str(weather))
        page.set_checked("#import-update-labels", update)
        page.click("#import-submit")
        page.wait_for_function(
            "() => document.getElementById('import-form').dataset.state === 'error'"
        )
        assert _message(page, "import-result", "Nothing") == (
            "Nothing was imported: line 1, field 'label': topic: 'weather' is not one of "
            "business, sport, tech, politics"
        )
    assert _counts(page) == {"labeled": "2", "pool": "5", "remaining": "3", "eval": "0"}
    page.set_input_files("#import-file", str(newer))
    page.check("#import-update-labels")
    page.click("#import-submit")
    updated = _message(page, "import-result", "took")
    assert updated == (
        "Imported 0 items, 3 duplicates skipped (lines 1, 2, 3); 3 items already here took the "
        "file's label"
    )
    page.wait_for_function("() => document.getElementById('stat-labeled').textContent === '4'")
    assert _counts(page) == {"labeled": "4", "pool": "5", "remaining": "1", "eval": "0"}

    # A wrong file comes in, is listed under Imports, and Undo (after saying how many items
    # go) takes it out again: the counts drop back.
    wrong = tmp_path / "wrong-split.jsonl"
    wrong.write_text(
        "".join(
            json.dumps({"id": f"t{n}", "text": f"A headline from the test split, {n}."}) + "\n"
            for n in (1, 2)
        ),
        encoding="utf-8",
    )
    page.uncheck("#import-update-labels")
    # The label field still names "label", which no record of this file holds: refused, as a
    # misspelt name would bring every record in unlabeled; cleared, the file comes in.
    page.set_input_files("#import-file", str(wrong))
    page.click("#import-submit")
    assert _message(page, "import-result", "Nothing") == (
        "Nothing was imported: line 1, field 'label': the label field is in no record of the "
        "file (for a file without labels, leave it out); the first record has: id, text"
    )
    page.fill("#import-label-field", "")
    page.set_input_files("#import-file", str(wrong))
    page.click("#import-submit")
    assert _message(page, "import-result", "Imported 2") == "Imported 2 items"
    page.wait_for_function("() => document.getElementById('stat-pool').textContent === '7'")
    row = page.locator("#imports-table tbody tr", has_text="wrong-split.jsonl")
    row.wait_for()
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    row.get_by_role("button", name="Undo import").click()
    assert "wrong-split.jsonl" in _message(page, "imports-result", "undone")
    assert asked and "Its 2 items will be removed from the project" in asked[0]
    page.wait_for_function("() => document.getElementById('stat-pool').textContent === '5'")
    assert _counts(page) == {"labeled": "4", "pool": "5", "remaining": "1", "eval": "0"}
    # The counts and the imports list are fetched side by side: wait for the list's row to go.
    page.locator("#imports-table tbody tr", has_text="wrong-split.jsonl").wait_for(state="detached")
    assert page.locator("#imports-table tbody tr", has_text="news.jsonl").count() == 1

    # Every panel fits a phone's width.
    page.set_viewport_size({"width": 390, "height": 844})
    for path in (f"/p/{SLUG}", "/", f"/p/{SLUG}/label", f"/p/{SLUG}/quality", f"/p/{SLUG}/review"):
        page.goto(server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, (
            path,
            wide_elements(page),
        )
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert errors == []
    context.close()

    # The annotator sees neither the panels nor New project, and the API refuses him too.
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login_on_form(page, server.url, "/", username=ANNOTATOR[0], password=ANNOTATOR[1])
    assert page.locator(f"#project-list a[href='/p/{SLUG}']").count() >= 1
    assert page.locator("#new-project-form").count() == 0
    assert page.locator("#users-panel").count() == 0
    assert "New project" not in page.inner_text("main")

    # He makes himself an API token for a script: shown once, it works outside the browser.
    page.fill("#token-name", "notebook")
    page.click("#token-submit")
    assert "created" in _message(page, "token-result", "created")
    token = page.input_value("#token-value")
    assert token.startswith("ll_")

    def as_token(path: str) -> Any:
        request = urllib.request.Request(
            server.url + path, headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    assert as_token("/api/me")["username"] == ANNOTATOR[0]
    assert as_token(f"/api/projects/{SLUG}/status")["counts"]["pool"] >= 4
    page.reload()
    assert page.locator("#token-shown").is_hidden()  # never shown again
    row = page.locator("#token-list li", has_text="notebook")
    row.get_by_role("button", name="Revoke the token notebook").click()
    assert "revoked" in _message(page, "token-result", "revoked")
    page.wait_for_selector("#token-list li.token-revoked")
    with pytest.raises(urllib.error.HTTPError) as refused:
        as_token("/api/me")
    assert refused.value.code == 401
    page.goto(server.url + f"/p/{SLUG}")
    assert page.locator("#label-link").is_visible()
    assert page.locator("#import-panel").count() == 0
    assert page.locator("#members-panel").count() == 0
    refused, _ = page_fetch(
        page, "PUT", f"/api/projects/{SLUG}/members", {"username": "bob", "role": "manager"}
    )
    assert refused == 403

    # A page his role does not open, or one that is not there, is a page saying so, with the
    # way back, at a phone's width.
    page.set_viewport_size({"width": 390, "height": 844})
    for path, status, title, back in (
        (f"/p/{SLUG}/quality", 403, "You can't open this page", True),
        (f"/p/{SLUG}/items/1", 404, "Page not found", True),
        ("/p/no-such-project/label", 404, "Page not found", False),
    ):
        response = page.goto(server.url + path)
        assert response is not None and response.status == status, path
        assert page.inner_text("h1") == title
        assert page.locator("#error-project").count() == int(back), path
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, (
            path,
            wide_elements(page),
        )
    assert page.inner_text("#error-detail") == (
        "no project 'no-such-project' that you are a member of"
    )
    page.goto(server.url + f"/p/{SLUG}/quality")
    assert page.inner_text("#error-detail") == (
        f"your role in project '{SLUG}' (annotator) does not allow reading its reports, team"
        " and model [view_insight]: reviewers and managers may"
    )
    page.click("#error-project")
    page.wait_for_url(server.url + f"/p/{SLUG}")
    assert page.inner_text("h1") == NAME
    _admin_offboards_bob(server, browser, page)
    context.close()


def _admin_offboards_bob(server: Any, browser: Any, bobs_page: Any) -> None:
    """From the Users panel the admin resets bob's password and deactivates him: bob's open
    session stops at once, the new password does not sign him in; Reactivate lets him back."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login_on_form(page, server.url, "/")
    page.on("dialog", lambda dialog: dialog.accept())  # yes, deactivate; yes, a new password
    row = page.locator(f"#users-table tr[data-username='{ANNOTATOR[0]}']")
    row.get_by_role("button", name=f"Reset password: {ANNOTATOR[0]}").click()
    fresh = _message(page, "user-result", "shown once").rsplit(": ", 1)[1]
    assert len(fresh) >= 12
    row.get_by_role("button", name=f"Deactivate: {ANNOTATOR[0]}").click()
    assert _message(page, "user-result", "deactivated").startswith(
        f"{ANNOTATOR[0]} is deactivated: signed out everywhere"
    )
    page.wait_for_selector(f"#users-table tr.user-deactivated[data-username='{ANNOTATOR[0]}']")
    assert page_fetch(bobs_page, "GET", "/api/me")[0] == 401

    bobs_page.goto(server.url + "/login")
    bobs_page.fill("#username", ANNOTATOR[0])
    bobs_page.fill("#password", fresh)
    bobs_page.click("#login-submit")
    bobs_page.wait_for_selector(".notice-error")
    assert "account is deactivated" in bobs_page.inner_text(".notice-error")
    assert "/login" in bobs_page.url

    row.get_by_role("button", name=f"Reactivate: {ANNOTATOR[0]}").click()
    assert _message(page, "user-result", "again") == f"{ANNOTATOR[0]} can sign in again."
    context.close()

    # Bob signs in with the password the admin gave him and sets his own on the home page.
    bobs_page.fill("#username", ANNOTATOR[0])
    bobs_page.fill("#password", fresh)
    bobs_page.click("#login-submit")
    bobs_page.wait_for_url(server.url + "/")
    own = "bobs-own-password-1"

    def change(current: str, again: str, expect: str) -> str:
        bobs_page.fill("#password-current", current)
        bobs_page.fill("#password-new", own)
        bobs_page.fill("#password-again", again)
        bobs_page.click("#password-submit")
        return _message(bobs_page, "password-result", expect)

    assert "differ" in change(fresh, own + "x", "nothing was changed")
    assert change("not-the-password", own, "Not changed") == (
        "Not changed: the current password is not right"
    )
    assert change(fresh, own, "Password changed").startswith("Password changed.")
    assert page_fetch(bobs_page, "GET", "/api/me")[0] == 200  # this browser stays signed in
    later = browser.new_context(viewport={"width": 1280, "height": 800})
    login_on_form(later.new_page(), server.url, "/", username=ANNOTATOR[0], password=own)
    later.close()


def test_e2e_api_docs_work_offline_with_a_token(server: Any, browser: Any) -> None:
    """/docs is Swagger UI from installed files: it lists the API, takes a token through
    Authorize, and "Try it out" calls the API as that user."""
    token = server.cli("tokens", "create", server.username).strip().splitlines()[-1]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda r: elsewhere.append(r.url) if not r.url.startswith(server.url) else None,
    )
    page.goto(server.url + "/docs")
    page.wait_for_selector(".opblock-summary-path[data-path='/api/projects/{slug}/tasks/next']")

    page.click(".auth-wrapper .authorize")
    page.fill(".auth-container input", token)
    page.click(".auth-btn-wrapper .modal-btn.authorize")
    page.click(".auth-btn-wrapper .btn-done")

    me = page.locator(".opblock-summary-path[data-path='/api/me']").first
    me.click()
    block = page.locator(".opblock", has=me)
    block.locator(".try-out__btn").click()
    block.locator(".execute").click()
    answer = block.locator(".live-responses-table tbody tr").first
    answer.wait_for()
    assert answer.locator(".response-col_status").inner_text().strip() == "200"
    assert f'"username": "{server.username}"' in answer.locator("pre").first.inner_text()
    assert elsewhere == [] and errors == []
    context.close()
