"""Browser sessions: the login form with its CSRF token, the cookie, and CSRF on API writes."""

from __future__ import annotations

import html
import json
import re
import time
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from labelloop.server.auth import LOGIN_REFUSAL_COOKIE, SESSION_COOKIE

PASSWORD = "correct horse battery"
NEXT = "/api/projects/sent/tasks/next"


@pytest.fixture
def web(sqlite_api: Any) -> Any:
    """The API with a password user 'pat' who annotates in 'sent'; no cookies yet."""
    from labelloop.workflow import projects

    sqlite_api.lab.user("pat", password=PASSWORD)
    admin_ctx = sqlite_api.lab.ctx("sent", sqlite_api.lab.admin)
    projects.set_member(sqlite_api.lab.db, admin_ctx, "pat", "annotator")
    return sqlite_api


def _login_form(client: Any) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the login form carries no CSRF token"
    assert client.cookies.get("labelloop_login_csrf")
    return found.group(1)


def _sign_in(client: Any) -> Any:
    token = _login_form(client)
    return client.post(
        "/login",
        data={
            "username": "pat",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/p/sent/label",
        },
    )


def _page_csrf(client: Any) -> str:
    page = client.get("/p/sent/label")
    assert page.status_code == 200
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)


def test_login_sets_an_httponly_lax_session_cookie(web: Any) -> None:
    response = _sign_in(web.client)
    assert response.status_code == 303
    assert response.headers["location"] == "/p/sent/label"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")
    )
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes  # plain http by default: a Secure cookie would not return


def test_secure_cookies_are_marked_secure_for_a_server_behind_https(
    web: Any, tmp_path: Any
) -> None:
    """LABELLOOP_SECURE_COOKIES=1: the sign-in form's cookie and the session cookie are sent
    over HTTPS only."""
    from fastapi.testclient import TestClient

    from labelloop.config import get_settings
    from labelloop.server.app import create_app

    settings = get_settings(home=tmp_path, secret_key="test", secure_cookies=True)
    app = create_app(settings, db=web.lab.db, learner=False)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        form = client.get("/login")
        response = _sign_in(client)
    assert response.headers["location"] == "/p/sent/label"
    for set_cookie in [
        *form.headers.get_list("set-cookie"),
        *response.headers.get_list("set-cookie"),
    ]:
        assert "secure" in {part.strip().lower() for part in set_cookie.split(";")}, set_cookie


def test_api_writes_with_a_cookie_need_the_csrf_header(web: Any) -> None:
    _sign_in(web.client)
    assert web.client.get("/api/me").json()["username"] == "pat"  # reads need no token
    refused = web.client.post(NEXT, json={})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    wrong = web.client.post(NEXT, json={}, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    csrf = _page_csrf(web.client)
    accepted = web.client.post(NEXT, json={}, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 200
    assert accepted.json()["task"]["item"]["id"]


def test_a_refused_write_changes_nothing(web: Any) -> None:
    _sign_in(web.client)
    web.client.post(NEXT, json={})
    assert web.get("/api/projects/sent/status").json()["counts"]["leased"] == 0


@pytest.mark.parametrize("token", ["", "forged-token"], ids=["missing", "forged"])
def test_login_without_the_form_token_fails(web: Any, token: str) -> None:
    _login_form(web.client)
    data = {"username": "pat", "password": PASSWORD, "next": "/"}
    if token:
        data["csrf_token"] = token
    response = web.client.post("/login", data=data)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert "error=" in response.headers["location"]
    assert SESSION_COOKIE not in web.client.cookies
    assert web.client.get("/api/me").status_code == 401


def test_a_wrong_password_fails_with_the_same_message_as_an_unknown_user(web: Any) -> None:
    said = []
    for user, password in (("pat", "wrong password"), ("nobody", PASSWORD)):
        page = _attempt(web.client, user, password)
        assert page.startswith("refused:")
        said.append(re.search(r'role="alert">([^<]*)<', page).group(1))
    assert said[0] == said[1]
    assert "wrong username or password" in said[0]
    assert SESSION_COOKIE not in web.client.cookies


def _form_field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}"[^>]*?value="([^"]*)"', page)
    assert found, f"the sign-in form has no {name} value"
    return html.unescape(found.group(1))


def test_a_refused_sign_in_is_sent_back_to_the_form_with_the_name_typed_and_no_password(
    web: Any,
) -> None:
    """After a wrong password the browser is sent back (303) to the sign-in page, which says
    why with the name filled in, escaped, the cursor in the password field, and the page asked
    for kept; the typed words are in no address (a password typed into the name field lands
    in no log or history) and the password in no cookie. Reloading that page sends nothing
    again and shows a fresh form. The right password on the form signs in and lands on the
    page asked for."""
    name = '<script>alert("pat")</script>'
    token = _login_form(web.client)
    refused = web.client.post(
        "/login",
        data={"username": name, "password": "wrong-Sesame", "csrf_token": token, "next": NEXT},
    )
    assert refused.status_code == 303
    back = refused.headers["location"]
    assert back == f"/login?next={NEXT}"
    noted = refused.cookies.get(LOGIN_REFUSAL_COOKIE)
    said = URLSafeTimedSerializer("test", salt="labelloop-login-refusal").loads(noted)
    assert "wrong-Sesame" not in json.dumps(said) and name in said
    page = web.client.get(back)
    assert page.status_code == 200
    assert "wrong username or password" in page.text
    assert "<script>alert" not in page.text
    assert _form_field(page.text, "username") == name
    assert re.search(r'<input type="password"[^>]*autofocus', page.text)
    assert _form_field(page.text, "next") == NEXT
    again = web.client.get(back)  # the page reloaded: a fresh form
    assert 'role="alert"' not in again.text and _form_field(again.text, "username") == ""

    token = _login_form(web.client)
    web.client.post(
        "/login",
        data={"username": "pat", "password": "wrong", "csrf_token": token, "next": NEXT},
    )
    form = web.client.get(back).text
    assert _form_field(form, "username") == "pat"
    signed = web.client.post(
        "/login",
        data={
            "username": _form_field(form, "username"),
            "password": PASSWORD,
            "csrf_token": _form_field(form, "csrf_token"),
            "next": _form_field(form, "next"),
        },
    )
    assert signed.status_code == 303 and signed.headers["location"] == NEXT
    assert SESSION_COOKIE in web.client.cookies


def test_a_refusal_noted_by_another_key_or_long_ago_is_not_shown(web: Any) -> None:
    """The sign-in page says only what this server noted, and only just after: a forged or
    stale note shows a plain form."""

    class Aged(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 120

    for secret, signer in (("not-the-key", TimestampSigner), ("test", Aged)):
        note = URLSafeTimedSerializer(secret, salt="labelloop-login-refusal", signer=signer)
        web.client.cookies.set(
            LOGIN_REFUSAL_COOKIE, note.dumps(["refused", "pat", None]), path="/login"
        )
        page = web.client.get("/login").text
        assert 'role="alert"' not in page and _form_field(page, "username") == ""
        web.client.cookies.clear()


def test_the_sign_in_page_shows_only_its_own_sentences(web: Any) -> None:
    """A link carrying words of someone else's choosing does not show them on the sign-in
    page: the address names a message, it does not hold one."""
    bait = "Your account is locked. Call +1 555 0100 to unlock it."
    page = web.client.get("/login", params={"error": bait}).text
    assert "555 0100" not in page and 'role="alert"' not in page
    page = web.client.get("/login", params={"error": "expired"}).text
    assert "the form expired; please try again" in page


def _cookie(uid: int, *, age_s: int, secret: str = "test") -> str:
    class Aged(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_s

    signer = URLSafeTimedSerializer(secret, salt="labelloop-session", signer=Aged)
    return signer.dumps({"uid": uid, "csrf": "c"})


def test_a_fresh_forged_cookie_with_the_right_key_is_accepted(web: Any) -> None:
    """Control for the next test: the hand-made cookies are well formed."""
    web.client.cookies.set(SESSION_COOKIE, _cookie(web.lab.users["pat"].id, age_s=0))
    assert web.client.get("/api/me").json()["username"] == "pat"


@pytest.mark.parametrize(
    "value",
    ["expired", "garbled", "wrong-key"],
)
def test_a_bad_session_cookie_is_401_on_the_api_and_a_redirect_on_pages(
    web: Any, value: str
) -> None:
    uid = web.lab.users["pat"].id
    cookie = {
        "expired": _cookie(uid, age_s=15 * 24 * 3600),
        "garbled": "eyJ1aWQiOjF9.garbage.!!",
        "wrong-key": _cookie(uid, age_s=0, secret="not-the-key"),
    }[value]
    web.client.cookies.set(SESSION_COOKIE, cookie)
    api = web.client.get("/api/projects/sent/status")
    assert api.status_code == 401
    assert api.headers["content-type"].startswith("application/json")
    assert isinstance(api.json()["detail"], str)
    page = web.client.get("/p/sent/label")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/p/sent/label"


def test_pages_without_a_session_redirect_to_login(web: Any) -> None:
    for path in ("/", "/p/sent", "/p/sent/label"):
        response = web.client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


@pytest.mark.parametrize(
    "link",
    [
        "/p/sent/search?q=refund",
        "/p/sent/adjudicate?item=301",
        "/p/sent/search?q=caf%C3%A9+%26+refund&offset=20",
        "/p/sent/search?q=//evil.example",
    ],
    ids=["search", "adjudicate", "escaped-words", "site-like-query"],
)
def test_signing_in_from_a_link_lands_on_the_whole_link(web: Any, link: str) -> None:
    visit = web.client.get(link)
    assert visit.status_code == 303
    form = web.client.get(visit.headers["location"])
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    target = html.unescape(re.search(r'name="next" value="([^"]*)"', form.text).group(1))
    response = web.client.post(
        "/login",
        data={"username": "pat", "password": PASSWORD, "csrf_token": token, "next": target},
    )
    assert response.status_code == 303
    assert response.headers["location"] == link


OFF_SITE = ["//evil.example/steal", "https://evil.example", "/\\evil.example", "javascript:x"]


@pytest.mark.parametrize("target", OFF_SITE)
def test_login_next_never_leaves_the_site(web: Any, target: str) -> None:
    token = _login_form(web.client)
    response = web.client.post(
        "/login",
        data={"username": "pat", "password": PASSWORD, "csrf_token": token, "next": target},
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"


@pytest.mark.parametrize("target", OFF_SITE)
def test_the_login_form_never_carries_an_off_site_next(web: Any, target: str) -> None:
    form = web.client.get("/login", params={"next": target})
    assert re.search(r'name="next" value="([^"]*)"', form.text).group(1) == "/"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _attempt(client: Any, user: str, password: str) -> str:
    """Where a sign-in sends the browser, or ``refused:`` / ``throttled:`` and the sign-in
    page it is sent back to instead (the name kept on it)."""
    token = _login_form(client)
    response = client.post(
        "/login", data={"username": user, "password": password, "csrf_token": token}
    )
    assert response.status_code == 303
    where = response.headers["location"]
    if where != "/login?next=/":
        return where
    page = client.get(where)
    assert page.status_code == 200 and _form_field(page.text, "username") == user
    said = re.search(r'role="alert">([^<]*)<', page.text).group(1)
    return ("throttled:" if said.startswith("too many") else "refused:") + page.text


def test_guessing_a_password_is_slowed_per_name_and_address(web: Any) -> None:
    """Ten wrong passwords for a name from one address within 15 minutes, and that name is
    refused from there (the right password too) until the oldest failure is 15 minutes old;
    a name nobody has is refused exactly alike, so the refusal tells no one which names exist;
    other names sign in meanwhile."""
    from labelloop.server.throttle import SignInThrottle

    clock = Clock()
    web.client.app.state.sign_ins = SignInThrottle(clock=clock)
    for name in ("pat", "nobody"):
        for _ in range(10):
            assert _attempt(web.client, name, "guess-123456").startswith("refused:")
            clock.now += 30
    assert _attempt(web.client, "PAT", PASSWORD).startswith("throttled:")  # any spelling of it
    assert SESSION_COOKIE not in web.client.cookies
    refused = _attempt(web.client, "nobody", "guess-123456")  # its first failure was at 1300
    assert "too many failed sign-ins for this name from here; try again in 10 minutes" in refused

    web.lab.user("sam", password=PASSWORD)  # someone else is not held up by it
    assert _attempt(web.client, "sam", PASSWORD) == "/"
    web.client.cookies.clear()

    clock.now = 1000.0 + 15 * 60 + 1  # pat's first failure is 15 minutes old
    assert _attempt(web.client, "pat", PASSWORD) == "/"


def test_checking_the_current_password_is_slowed_like_a_sign_in(web: Any) -> None:
    """A stolen session or token cannot guess its user's password through a password change:
    past ten wrong current passwords the change answers 429 with Retry-After, the right one
    too, until the window has moved on."""
    from labelloop.server.throttle import SignInThrottle
    from labelloop.workflow.accounts import create_token

    clock = Clock()
    web.client.app.state.sign_ins = SignInThrottle(clock=clock)
    auth = {"Authorization": f"Bearer {create_token(web.lab.db, 'pat')}"}

    def change(current: str) -> Any:
        body = {"current_password": current, "new_password": "a-brand-new-pass"}
        return web.client.put("/api/me/password", json=body, headers=auth)

    for _ in range(10):
        assert change("guess-123456").status_code == 403
    refused = change(PASSWORD)
    assert refused.status_code == 429
    assert refused.json()["error"] == "TooManyAttempts"
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
    clock.now += 15 * 60 + 1
    assert change(PASSWORD).status_code == 200


def test_the_throttle_forgets_the_least_recent_pairs_past_its_bound() -> None:
    from labelloop.server.throttle import SignInThrottle

    clock = Clock()
    throttle = SignInThrottle(limit=2, max_pairs=3, clock=clock)
    for name in ("a", "b", "c", "a", "d"):  # 'b' failed least recently once 'd' comes
        assert throttle.begin(name, "10.0.0.1") == 0  # counted as failed until it succeeds
    assert throttle.wait_s("a", "10.0.0.1") == 15 * 60
    assert throttle.wait_s("a", "10.0.0.2") == 0  # another address
    assert throttle.begin("b", "10.0.0.1") == 0
    assert throttle.wait_s("b", "10.0.0.1") == 0  # its first failure was forgotten
    throttle.succeeded("a", "10.0.0.1")
    assert throttle.wait_s("a", "10.0.0.1") == 0


def test_a_spray_of_other_names_does_not_free_a_refused_pair() -> None:
    # Past its bound the throttle forgets a pair; a guesser who fails once under each of many
    # other names must not make it forget the one it is refusing.
    from labelloop.server.throttle import SignInThrottle

    clock = Clock()
    throttle = SignInThrottle(limit=3, max_pairs=4, clock=clock)
    for _ in range(3):
        throttle.begin("admin", "10.0.0.9")
    assert throttle.wait_s("admin", "10.0.0.9") == 15 * 60
    clock.now += 60
    for i in range(20):
        assert throttle.begin(f"name{i}", "10.0.0.9") == 0
    assert throttle.wait_s("admin", "10.0.0.9") == 14 * 60  # still refused
    assert len(throttle._failures) == 4  # still bounded


def test_pairs_refused_long_ago_do_not_stay_protected_past_the_bound() -> None:
    # Names failed to their limit once, an hour ago, are not being refused any more: past the
    # bound they are forgotten first, not the name being guessed now.
    from labelloop.server.throttle import SignInThrottle

    clock = Clock()
    throttle = SignInThrottle(limit=3, max_pairs=4, clock=clock)
    for i in range(3):
        for _ in range(3):
            throttle.begin(f"filler{i}", "10.0.0.9")
    clock.now += 3600
    checked = 0
    for _ in range(20):
        checked += throttle.begin("admin", "10.0.0.9") == 0
        throttle.begin("dummy", "10.0.0.9")
    assert checked == 3


def test_an_address_trying_many_names_is_refused_whatever_the_name() -> None:
    from labelloop.server.throttle import SignInThrottle

    clock = Clock()
    throttle = SignInThrottle(limit=10, address_limit=5, clock=clock)
    for i in range(5):
        assert throttle.begin(f"name{i}", "10.0.0.9") == 0
    assert throttle.begin("admin", "10.0.0.9") == 15 * 60  # a name it never tried
    assert throttle.wait_s("admin", "10.0.0.9") == 15 * 60
    assert throttle.begin("admin", "10.0.0.7") == 0  # another address is not held up
    throttle.succeeded("name0", "10.0.0.9")  # a right password does not clear the address
    assert throttle.begin("name0", "10.0.0.9") > 0
    clock.now += 15 * 60 + 1
    assert throttle.begin("admin", "10.0.0.9") == 0


def _exports(api: Any) -> int:
    events = api.get("/api/projects/sent/audit", params={"limit": 1000}).json()
    return sum(e["action"] == "export" for e in events)


def test_another_sites_link_to_the_api_does_not_act_with_the_session(web: Any) -> None:
    """A link or a script's navigation on another site is sent with the session cookie
    (SameSite=Lax lets a top-level GET carry it), and some reads act: an export is audited as
    its reader's, a model file is trained, the next review is leased. The browser says where a
    request came from (Sec-Fetch-Site): one from another site reaches no API route with a
    session; from labelloop's own pages, the address bar or a bookmark it does."""
    from labelloop.workflow import projects

    projects.set_member(web.lab.db, web.lab.ctx("sent", web.lab.admin), "pat", "manager")
    _sign_in(web.client)
    before = _exports(web)
    for path in ("/api/projects/sent/export", "/api/me"):
        refused = web.client.get(path, headers={"sec-fetch-site": "cross-site"})
        assert refused.status_code == 403, (path, refused.status_code)
        assert refused.json()["detail"].startswith("a request from another site")
    assert _exports(web) == before
    for site in ("same-origin", "none"):
        got = web.client.get("/api/projects/sent/export", headers={"sec-fetch-site": site})
        assert got.status_code == 200, (site, got.text)
    assert _exports(web) == before + 2
    token = {"sec-fetch-site": "cross-site", **web.auth("manager")}
    assert web.client.get("/api/projects/sent/export", headers=token).status_code == 200
