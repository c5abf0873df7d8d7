"""A site admin's Users panel and a project's Members panel in the browser, at desk and phone
width: every user's row and buttons stay in view, whatever the names."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.conftest import (
    PASSWORD,
    USERNAME,
    HeldAnswer,
    login,
    login_on_form,
    page_fetch,
    run_cli,
    serving,
)

pytestmark = pytest.mark.browser
LONG = "x" * 60 + "@" + "y" * 39
"""The longest name a user may have (100 characters, one word)."""
BOB = "bob-password-123"
EMPTY_POLL_MS = 2000  # label.js: how often a page with nothing to show asks for work


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("labelloop-home")
    run_cli(home, "init")
    run_cli(home, "users", "add", USERNAME, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    schema = {
        "name": "Accounts",
        "data": {"type": "text", "field": "text"},
        "controls": [{"name": "c", "type": "choice", "labels": ["a", "b"]}],
    }
    (home / "s.json").write_text(json.dumps(schema))
    run_cli(home, "projects", "create", "acc", "--schema", str(home / "s.json"))
    run_cli(home, "users", "add", LONG)
    run_cli(home, "users", "add", "bob", "--password-stdin", stdin=BOB + "\n")
    for name in (LONG, "bob"):
        run_cli(home, "projects", "member", "acc", name, "annotator")
    with serving(home, "serve", learner=False) as url:
        yield url


def _in_view(page: Any, table: str, name: str) -> dict[str, Any]:
    """Whether the table's scroll box shows all of it, and the row's last button."""
    return page.evaluate(
        """([table, name]) => {
            const t = document.querySelector(table);
            const box = t.closest('.table-wrap') || t;
            const row = t.querySelector(`tr[data-username="${name}"]`);
            const button = row.querySelector('button:last-of-type');
            return {
                fits: box.scrollWidth <= box.clientWidth + 1,
                button: button.getBoundingClientRect().right
                    <= box.getBoundingClientRect().right + 1,
            };
        }""",
        [table, name],
    )


@pytest.mark.parametrize("width", [1280, 390])
def test_e2e_a_long_user_name_wraps_and_leaves_every_button_in_view(
    site: str, browser: Any, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    login(page, site, "/")
    page.wait_for_selector(f"#users-table tr[data-username='{LONG}']")
    for name in (LONG, "bob"):
        assert _in_view(page, "#users-table", name) == {"fits": True, "button": True}, name
    page.goto(site + "/p/acc")
    page.wait_for_selector(f"#members-table tr[data-username='{LONG}']")
    assert _in_view(page, "#members-table", LONG) == {"fits": True, "button": True}
    context.close()


def test_e2e_deactivate_and_reset_password_ask_first(site: str, browser: Any) -> None:
    """Both cannot be taken back whole (a reactivated user's tokens stay revoked, the old
    password is gone), so the page asks, naming the user, and does nothing when told no."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login(page, site, "/")
    row = page.locator("#users-table tr[data-username='bob']")
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", answer)
    row.get_by_role("button", name="Deactivate: bob").click()
    row.get_by_role("button", name="Reset password: bob").click()
    page.wait_for_timeout(300)
    assert len(asked) == 2 and all("bob" in a for a in asked), asked
    assert "API tokens" in asked[0] and "signed out" in asked[1]
    users = {u["username"]: u for u in page_fetch(page, "GET", "/api/users")[1]}
    assert users["bob"]["is_active"]
    assert page.inner_text("#user-result") == ""
    context.close()


def test_e2e_the_audit_logs_say_who_did_what_to_whom(site: str, browser: Any) -> None:
    """The site admin reads the site's log on the projects page, a manager the project's on
    its page; each filters by action and links its JSON."""
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    login(page, site, "/")
    page_fetch(page, "POST", "/api/users/bob/deactivate")
    page_fetch(page, "POST", "/api/users/bob/activate")
    page.reload()
    first = page.locator("#site-audit tbody tr").first
    first.wait_for()
    assert first.get_attribute("data-action") == "user.activate"
    assert first.locator("[data-actor]").inner_text() == USERNAME
    assert "bob" in first.locator("td").nth(1).inner_text()
    page.fill("#site-audit-action", "user.create")
    page.press("#site-audit-action", "Enter")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#site-audit tbody tr')]"
        ".every(r => r.dataset.action === 'user.create')"
    )
    assert page.locator("#site-audit tbody tr").count() == 3  # alice, the long name and bob
    assert (
        page.get_attribute("#site-audit-json", "href") == "/api/audit?limit=50&action=user.create"
    )

    page.goto(site + "/p/acc")
    row = page.locator("#project-audit tbody tr[data-action='member.set']").first
    row.wait_for()
    assert "bob" in row.locator("td").nth(1).inner_text()
    assert '"role":"annotator"' in row.locator("td").nth(2).inner_text()
    context.close()


def test_e2e_a_member_taken_out_while_labeling_is_told_once(site: str, browser: Any) -> None:
    """The labeling page asks for work every 2 s; once bob is no longer a member each ask is
    refused alike, and the page says so once, not once per ask."""
    admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    login(admin, site, "/")
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    page.clock.install()  # to bring the page's asks on, below

    def ask() -> None:
        """The page's next ask for work, brought on with its clock, and its answer."""
        with page.expect_response(lambda r: r.url.endswith("/api/projects/acc/tasks/next")):
            page.clock.fast_forward(EMPTY_POLL_MS)

    login(page, site, "/p/acc/label", username="bob", password=BOB)
    page.wait_for_function("() => document.getElementById('label-app').dataset.state === 'empty'")
    assert page_fetch(admin, "DELETE", "/api/projects/acc/members/bob")[0] == 200
    try:
        said = page.locator(".message-error", has_text="no project 'acc'")
        ask()
        said.first.wait_for(timeout=30000)
        for _ in range(3):  # two more asks, each refused (the third comes once those are told)
            ask()
        assert said.count() == 1
    finally:
        page_fetch(
            admin, "PUT", "/api/projects/acc/members", {"username": "bob", "role": "annotator"}
        )
        admin.context.close()
        context.close()


def test_e2e_a_user_added_without_a_password_is_given_one_shown_once(
    site: str, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    login(page, site, "/")
    page.fill("#user-username", "cleo")
    page.click("#user-submit")
    said = page.locator("#user-result .message-info")
    said.wait_for()
    assert said.inner_text().startswith("Added user cleo; their password (shown once): ")
    password = said.inner_text().rsplit(": ", 1)[1]
    context.close()
    fresh = browser.new_context(viewport={"width": 390, "height": 900})
    login_on_form(fresh.new_page(), site, "/", username="cleo", password=password)
    fresh.close()


def test_e2e_the_members_panel_marks_a_deactivated_member(site: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    login(page, site, "/")
    assert page_fetch(page, "POST", "/api/users/bob/deactivate")[0] == 200
    try:
        page.goto(site + "/p/acc")
        row = page.locator("#members-table tr[data-username='bob']")
        row.wait_for()
        assert row.locator(".badge-muted").inner_text() == "deactivated"
        assert page.locator(f"#members-table tr[data-username='{LONG}'] .badge-muted").count() == 0
    finally:
        page_fetch(page, "POST", "/api/users/bob/activate")
        context.close()


def test_e2e_a_site_admin_makes_another_one_and_takes_it_back(site: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    login(page, site, "/")
    page.on("dialog", lambda dialog: dialog.accept())
    row = page.locator("#users-table tr[data-username='bob']")
    row.get_by_role("button", name="Make admin: bob").click()
    row.locator(".badge", has_text="site admin").wait_for()
    assert page.inner_text("#user-result") == "bob is a site admin."
    assert _in_view(page, "#users-table", "bob") == {"fits": True, "button": True}
    row.get_by_role("button", name="Remove admin: bob").click()
    row.get_by_role("button", name="Make admin: bob").wait_for()
    assert page.inner_text("#user-result") == "bob is no longer a site admin."
    mine = page.locator(f"#users-table tr[data-username='{USERNAME}']")
    mine.get_by_role("button", name=f"Remove admin: {USERNAME}").click()
    refused = page.locator("#user-result .message-error")
    refused.wait_for()
    assert "your own site admin rights" in refused.inner_text()
    context.close()


def _refused(page: Any, username: str, password: str) -> str:
    """Sign in on the form shown with a name and password it refuses; what it says then."""
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():  # a refusal before is still on screen until then
        page.click("#login-submit")
    return str(page.locator(".notice-error").inner_text())


def test_e2e_a_user_signs_in_and_is_made_a_member_with_their_name_in_another_case(
    site: str, browser: Any
) -> None:
    """Dora, made as "Dora", is added to the project as "dora" on the Members panel and signs
    in as "DORA": each time the page shows her name as it was made."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login(page, site, "/p/acc")
    made = page_fetch(page, "POST", "/api/users", {"username": "Dora", "password": BOB})
    assert made[0] == 201, made
    page.fill("#member-username", "dora")
    page.select_option("#member-role", "reviewer")
    page.click("#member-submit")
    said = page.locator("#member-result .message-info")
    said.wait_for()
    assert said.inner_text() == "Dora is now reviewer."
    page.wait_for_selector("#members-table tr[data-username='Dora']")
    assert page.locator("#members-table tr[data-username='dora']").count() == 0
    context.close()

    fresh = browser.new_context(viewport={"width": 1280, "height": 900})
    page = fresh.new_page()
    page.goto(site + "/p/acc")
    _refused(page, "dora", "not-her-password")
    refused = page.locator("main").inner_text()
    _refused(page, "nobody-at-all", BOB)
    assert page.locator("main").inner_text() == refused  # the name's case tells nothing more
    login_on_form(page, site, "/p/acc", username="DORA", password=BOB)
    assert page.locator(".user-name").inner_text() == "Dora"
    fresh.close()


def test_e2e_after_a_wrong_password_only_the_password_is_typed_again(
    site: str, browser: Any
) -> None:
    """A wrong password brings the form back with the name still in it and the cursor in the
    password field: typing the right password and pressing Enter signs in, onto the page
    asked for, and nothing typed shows in the address."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(site + "/p/acc")
    assert "wrong username or password" in _refused(page, "bob", "not-bobs-password")
    assert page.input_value("#username") == "bob"
    assert "bob" not in page.url and "not-bobs" not in page.url
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(BOB)
    page.keyboard.press("Enter")
    page.wait_for_url(site + "/p/acc")
    assert page.locator(".user-name").inner_text() == "bob"
    context.close()


def test_e2e_reloading_the_page_after_a_wrong_password_sends_nothing_again(
    site: str, browser: Any
) -> None:
    """A refused sign-in lands on the sign-in page by an address of its own (no password in
    it), so reloading that page asks for the form again: the browser neither offers to send
    the form again nor sends the password a second time."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(site + "/p/acc")
    assert "wrong username or password" in _refused(page, "bob", "not-bobs-password")
    assert page.url == site + "/login?next=/p/acc"
    sent: list[str] = []
    page.on("request", lambda request: sent.append(f"{request.method} {request.url}"))
    page.reload()
    assert [s for s in sent if "/login" in s] == [f"GET {site}/login?next=/p/acc"]
    assert dialogs == []
    page.fill("#password", BOB)  # the form reloaded still signs in, onto the page asked for
    page.fill("#username", "bob")
    page.click("#login-submit")
    page.wait_for_url(site + "/p/acc")
    context.close()


def test_e2e_two_tokens_revoked_close_together_both_stay_revoked(site: str, browser: Any) -> None:
    """Each revoke fetches the token list again; the first one's list, answered here only after
    the second's is drawn, offered again to revoke the second token, until a reload."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login(page, site, "/")
    for name in ("first-e2e", "second-e2e"):
        assert page_fetch(page, "POST", "/api/tokens", {"name": name})[0] == 201
    page.reload()
    rows = {name: page.locator("#token-list li", has_text=name) for name in ("first", "second")}
    rows["second"].get_by_role("button", name="Revoke the token second-e2e").wait_for()
    held = HeldAnswer(page, f"{site}/api/tokens")
    rows["first"].get_by_role("button", name="Revoke the token first-e2e").click()
    assert '"revoked_at":null' in held.text("the tokens after the first revoke").replace(" ", "")
    rows["second"].get_by_role("button", name="Revoke the token second-e2e").click()
    page.locator("#token-list li.token-revoked", has_text="second-e2e").wait_for()
    held.release()
    for row in rows.values():
        assert row.get_attribute("class") == "token-row token-revoked"
        assert row.get_by_role("button").count() == 0
    context.close()


def _pressed_close_together(
    page: Any,
    table: str,
    listed: str,
    button: Callable[[str], str],
    drawn: Callable[[Any, str], None],
) -> dict[str, Any]:
    """Press the button ``button(name)`` on bob's row of ``table``, and on the long name's once
    the list fetched after it (at ``listed``) is on its way; that list's answer is held until the
    second press's list is drawn (``drawn`` waits for it on the row), then handed to the page.
    The two rows by name."""
    rows = {name: page.locator(f"{table} tr[data-username='{name}']") for name in ("bob", LONG)}
    rows[LONG].wait_for()
    held = HeldAnswer(page, listed)
    rows["bob"].get_by_role("button", name=button("bob")).click()
    held.text(f"{listed} after bob's button")
    rows[LONG].get_by_role("button", name=button(LONG)).click()
    drawn(rows[LONG], LONG)
    held.release()
    return rows


def test_e2e_two_users_made_admins_close_together_both_show_it(site: str, browser: Any) -> None:
    """The users list, fetched after each change, answered for the first change only after the
    second's was drawn: it showed the second user as no admin, offering Make admin again."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login(page, site, "/")
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        rows = _pressed_close_together(
            page,
            "#users-table",
            f"{site}/api/users",
            lambda name: f"Make admin: {name}",
            lambda row, name: row.get_by_role("button", name=f"Remove admin: {name}").wait_for(),
        )
        for name, row in rows.items():
            assert row.locator(".badge", has_text="site admin").count() == 1, name
            assert row.get_by_role("button", name=f"Make admin: {name}").count() == 0, name
    finally:
        for name in ("bob", LONG):
            page_fetch(page, "PUT", f"/api/users/{name}/admin", {"is_admin": False})
        context.close()


def test_e2e_two_members_removed_close_together_both_leave_the_panel(
    site: str, browser: Any
) -> None:
    """The members list, fetched after each removal, answered for the first only after the
    second's was drawn: it listed the second member again, until a reload."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login(page, site, "/p/acc")
    try:
        rows = _pressed_close_together(
            page,
            "#members-table",
            f"{site}/api/projects/acc/members",
            lambda name: f"Remove {name} from the project",
            lambda row, _name: row.wait_for(state="detached"),
        )
        assert rows["bob"].count() == 0 and rows[LONG].count() == 0
    finally:
        for name in ("bob", LONG):
            body = {"username": name, "role": "annotator"}
            page_fetch(page, "PUT", "/api/projects/acc/members", body)
        context.close()


def test_e2e_the_audit_log_shows_the_last_filter_asked_for(site: str, browser: Any) -> None:
    """A second action filtered for while the first one's events were on their way: the first
    answer, arriving last, listed its events under the second action's name."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login(page, site, "/")
    assert page_fetch(page, "POST", "/api/tokens", {"name": "audited"})[0] == 201
    page.locator("#site-audit tbody tr").first.wait_for()
    held = HeldAnswer(page, re.compile(re.escape(site) + r"/api/audit\?"))
    page.fill("#site-audit-action", "user.create")
    page.press("#site-audit-action", "Enter")
    assert "user.create" in held.text("the user.create events")
    page.fill("#site-audit-action", "token.create")
    page.press("#site-audit-action", "Enter")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#site-audit tbody tr')]"
        ".every(r => r.dataset.action === 'token.create')"
    )
    held.release()
    actions = page.eval_on_selector_all(
        "#site-audit tbody tr", "rows => rows.map(r => r.dataset.action)"
    )
    assert actions and set(actions) == {"token.create"}
    assert page.inner_text("#site-audit-status").endswith("of token.create.")
    context.close()
