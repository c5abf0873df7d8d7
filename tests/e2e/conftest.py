"""End-to-end fixtures: a real `labelloop serve` on a fresh data dir, driven by Debian Chromium."""

from __future__ import annotations

import functools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
USERNAME = "alice"
PASSWORD = "correct-horse-battery"
MAIN = "reviews"
HOSTILE = "hostile"
HOSTILE_TEXTS = (
    "<script>window.__xss=1</script><b>bold</b>",
    "<img src=x onerror=window.__xss=1>",
)
LABELS = ("negative", "neutral", "positive")
# The pages' timers a test brings on with the page's clock (``page.clock.fast_forward``) instead
# of waiting them out: label.js reads the project's status, review.js its counts and labels.
STATUS_POLL_MS = 4000
COUNTS_MS = 15000

# Review templates with a distinct vocabulary per class, so a dozen labels teach the model something
# measurable; a few carry a clause in another class's words, so it is not trivially perfect.
TEMPLATES = {
    "negative": (
        "The {p} broke {when}. Really disappointed, sending it back for a refund.",
        "Flimsy {p}: the handle snapped {when}. Waste of money.",
        "Worst {p} I have owned, it stopped working {when}.",
        "Awful build quality; the {p} was useless {when} and support never replied.",
        "Returned the {p}. It felt cheap and failed {when}.",
    ),
    "neutral": (
        "The {p} arrived on {day} in a plain cardboard box.",
        "Package contained the {p}, a printed manual and a cable.",
        "The {p} measures about {n} cm and comes in {color}.",
        "Ordered the {p} on {day}; it shipped two days later.",
        "This {p} is the {year} model, sold in {color} and black.",
    ),
    "positive": (
        "Love this {p}! Excellent quality and it works perfectly {often}.",
        "Fantastic {p}, the whole family uses it {often}. Highly recommend.",
        "Brilliant value: the {p} is sturdy, quiet and beautifully made.",
        "Delighted with the {p}; it exceeded my expectations {often}.",
        "Superb {p}. I would happily buy it again.",
    ),
}
ASIDES = {
    "negative": " Shame, because it arrived on {day}.",
    "neutral": " Seems fine so far.",
    "positive": " The first one broke, though.",
}
SLOTS = {
    "p": [
        "kettle",
        "headset",
        "backpack",
        "desk lamp",
        "blender",
        "keyboard",
        "tent",
        "rain jacket",
        "coffee grinder",
        "phone stand",
    ],
    "when": [
        "after two days",
        "within a week",
        "on first use",
        "right out of the box",
        "after a month",
    ],
    "often": ["every single day", "on every trip", "all winter", "at work and at home"],
    "day": ["Monday", "Tuesday", "Friday", "the weekend"],
    "n": ["20", "35", "42", "60"],
    "color": ["blue", "grey", "olive", "white"],
    "year": ["2023", "2024"],
}


def _sentence(label: str, rng: random.Random) -> str:
    text = rng.choice(TEMPLATES[label])
    if rng.random() < 0.15:
        text += ASIDES[label]
    return text.format(**{k: rng.choice(v) for k, v in SLOTS.items()})


def make_reviews(n_pool: int, n_eval: int, seed: int = 11) -> tuple[list[dict], list[dict]]:
    """Distinct review texts with their true class, split into a pool and a labeled eval set."""
    rng = random.Random(seed)
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    while len(rows) < n_pool + n_eval:
        label = LABELS[len(rows) % len(LABELS)]
        text = _sentence(label, rng)
        if text in seen:
            continue
        seen.add(text)
        rows.append({"id": f"r{len(rows):03d}", "text": text, "label": label, "shop": "demo-shop"})
    rng.shuffle(rows)
    return rows[:n_pool], rows[n_pool:]


@dataclass
class Server:
    """The live server and what the tests need to know about the data behind it."""

    url: str
    home: Path
    truth: dict[str, str] = field(default_factory=dict)  # pool text -> its true class
    username: str = USERNAME
    password: str = PASSWORD
    main: str = MAIN
    hostile: str = HOSTILE
    labels: tuple[str, ...] = LABELS
    hostile_texts: tuple[str, ...] = HOSTILE_TEXTS

    def cli(self, *args: str, stdin: str | None = None) -> str:
        return run_cli(self.home, *args, stdin=stdin)


def run_cli(home: Path, *args: str, stdin: str | None = None) -> str:
    """Run ``labelloop *args`` on ``home`` in this process; its standard output.

    The command is the one ``python -m labelloop`` runs, with the environment that process
    would get, but without a new interpreter importing labelloop again (most of the ~0.9 s a
    subprocess took); the CLI's own tests cover the command line itself."""
    from typer.testing import CliRunner

    from labelloop.cli import app

    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("LABELLOOP_")}
    env = {**unset, **_labelloop_env(home)}
    done = CliRunner().invoke(app, list(args), input=stdin, env=env)
    assert done.exit_code == 0, (
        f"labelloop {' '.join(args)} failed:\n{done.stderr}{done.exception or ''}"
    )
    return done.stdout


def _labelloop_env(home: Path) -> dict[str, str]:
    return {"LABELLOOP_HOME": str(home), "LABELLOOP_LEARNER_POLL_S": "0.2"}


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABELLOOP_")}
    return {**env, **_labelloop_env(home)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """``rows`` as JSON lines in ``path``."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _schema(path: Path, name: str) -> Path:
    schema = {
        "name": name,
        "data": {"type": "text", "field": "text"},
        "controls": [
            {
                "name": "sentiment",
                "type": "choice",
                "labels": list(LABELS),
                "hotkeys": ["1", "2", "3"],
                "descriptions": {
                    "negative": "The reviewer is unhappy with the product.",
                    "neutral": "Facts about the product or delivery, no opinion.",
                    "positive": "The reviewer likes the product.",
                },
                "target": True,
            }
        ],
        "guideline": (
            "# Review sentiment\n\nLabel the **reviewer's opinion** of the product.\n\n"
            "- *negative*: complaints, returns, refunds.\n"
            "- *neutral*: delivery, packaging, measurements.\n"
            "- *positive*: praise, recommendations.\n"
        ),
        "settings": {"retrain_every": 5, "preselect_suggestion": True},
    }
    path.write_text(json.dumps(schema), encoding="utf-8")
    return path


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Wait for ``url`` to answer healthy. `labelloop demo` chooses its first items before it
    serves: with every core busy that took over 30 s for the digits, hence 90."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"labelloop serve exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=2) as response:
                if json.load(response).get("status") == "ok":
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"labelloop serve did not become healthy:\n{log.read_text()}")


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started that still run, from any of its threads (the server's
    watch thread starts a learner again after one died); Linux, none known elsewhere."""
    found = []
    for thread in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (thread / "children").read_text().split()]
        except OSError:  # the thread ended meanwhile
            continue
    return found


@contextmanager
def serving(
    home: Path,
    *args: str,
    env: dict[str, str] | None = None,
    module: str = "labelloop",
    learner: bool = True,
) -> Iterator[str]:
    """Run ``labelloop *args --port N`` on ``home`` (with ``env`` added to its environment)
    until the block ends; its URL once healthy. ``module`` is what ``python -m`` runs: a test's
    own wrapper of the CLI that hooks into the server. Without ``learner`` the server runs none
    (LABELLOOP_LEARNER=off), for tests that need no round, first queue or simulation of it: an
    idle learner still costs its start and a look at the store every fraction of a second, and
    one that trains on what the tests label costs far more.

    The server's learner is stopped at once as the block ends, not after the round it runs (up
    to 15 s at its idle priority on a busy machine): a round's results come in one transaction,
    so none is left half-written, and the tests of the learner process itself
    (tests/api/test_api_learner_process.py) stop it as `labelloop serve` does."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = home / f"{args[0]}.log"
    off = {} if learner else {"LABELLOOP_LEARNER": "off"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args, "--port", str(port)],
            env={**_env(home), **off, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        from tests.e2e.sessions import forget

        forget(url)  # a later server may get the port: its sessions are not this one's
        for child in _children(proc.pid):
            os.kill(child, signal.SIGKILL)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wide_elements(page: Any) -> list[str]:
    """The innermost elements reaching past the viewport's right edge, to name in a failure."""
    return page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)
            .filter(e => {
                for (let a = e.parentElement; a; a = a.parentElement)
                    if (getComputedStyle(a).overflowX !== 'visible') return false;
                return true;
            })
            .filter(e => ![...e.children].some(
                c => c.getBoundingClientRect().right > innerWidth + 0.5))
            .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className)"""
    )


def phone(
    browser: Any, width: int = 390, *, confirms: list[str] | None = None
) -> tuple[Any, Any, list[str]]:
    """A phone-wide page (its context, the page, and the problems it records: script errors and
    any dialog, such as an alert() that ran). With ``confirms``, a confirm() is no problem: its
    question is added there and it is accepted."""
    context = browser.new_context(viewport={"width": width, "height": 844}, is_mobile=True)
    return _watched(context, confirms)


def desk(
    browser: Any, width: int = 1280, *, confirms: list[str] | None = None
) -> tuple[Any, Any, list[str]]:
    """A desk-wide page (``width`` x 900), its context and problems, as :func:`phone`."""
    return _watched(browser.new_context(viewport={"width": width, "height": 900}), confirms)


def _watched(context: Any, confirms: list[str] | None) -> tuple[Any, Any, list[str]]:
    page = context.new_page()
    problems: list[str] = []

    def answer(dialog: Any) -> None:
        if confirms is not None and dialog.type == "confirm":
            confirms.append(dialog.message)
            dialog.accept()
        else:
            problems.append(f"dialog: {dialog.message}")
            dialog.dismiss()

    page.on("pageerror", lambda exc: problems.append(f"error: {exc}"))
    page.on("dialog", answer)
    return context, page, problems


FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
"""The sign-in form's CSRF token."""
PAGE_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
"""A signed-in page's CSRF token, which the API asks of a request made with the session."""


def api_token(url: str, username: str, password: str = PASSWORD) -> str:
    """A new API token of ``username``'s, made as a person makes one: signed in on the form (its
    CSRF token, then the name and password), then with that session's CSRF token."""
    with httpx.Client(base_url=url, timeout=30) as http:
        form = FORM_CSRF.search(http.get("/login").text)
        assert form is not None, f"no CSRF token on {url}/login"
        data = {"username": username, "password": password, "csrf_token": form.group(1)}
        signed = http.post("/login", data=data)
        assert signed.status_code == 303 and "error" not in signed.headers["location"]
        page = PAGE_CSRF.search(http.get("/").text)
        assert page is not None, f"{username}'s page holds no CSRF token"
        made = http.post(
            "/api/tokens", json={"name": "e2e"}, headers={"X-CSRF-Token": page.group(1)}
        )
        assert made.status_code == 201, made.text
        return str(made.json()["token"])


def sign_in(requests: Any, url: str, *, username: str = USERNAME, password: str = PASSWORD) -> None:
    """Sign in to the server at ``url`` through ``requests`` (a Playwright APIRequestContext:
    a context's ``request``, which shares its cookies) as the sign-in form does: fetch the form
    for its CSRF token and cookie, post the name and password with it."""
    form = requests.get(url + "/login").text()
    token = FORM_CSRF.search(form)
    assert token is not None, f"no CSRF token on {url}/login"
    signed = requests.post(
        url + "/login",
        form={"username": username, "password": password, "csrf_token": token.group(1)},
        max_redirects=0,
    )
    assert (signed.status, signed.headers.get("location")) == (303, "/"), (
        f"{username} was not signed in: {signed.status} to {signed.headers.get('location')}"
    )


def login(
    page: Any, url: str, path: str, *, username: str = USERNAME, password: str = PASSWORD
) -> None:
    """Sign ``page``'s context in (:func:`sign_in`) and open ``path``: one page load, where the
    form took two and its typing; the tests of signing in use :func:`login_on_form`."""
    sign_in(page.request, url, username=username, password=password)
    opened = page.goto(url + path)
    assert opened is not None and opened.url == url + path, f"{path} opened {page.url}"


def login_on_form(
    page: Any, url: str, path: str, *, username: str = USERNAME, password: str = PASSWORD
) -> None:
    """Open ``path`` signed out, get sent to the sign-in form, sign in on it, and land back on
    ``path``."""
    page.goto(url + path)
    assert "/login" in page.url, f"{path} opened {page.url}, not the sign-in form"
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_url(url + path)


def wait_task(page: Any, *, other_than: str = "", timeout_ms: int = 60000) -> str:
    """Wait until a leased item is on screen (a new one when ``other_than`` is given); its id.

    A project's first item waits for the learner's cold-start round; with the suite's two
    workers sharing two cores that can take longer than a person would wait, hence a minute."""
    page.wait_for_function(
        """(prev) => {
            const app = document.getElementById('label-app');
            return app.dataset.state === 'task' && app.dataset.assignmentId !== prev;
        }""",
        arg=other_than,
        timeout=timeout_ms,
    )
    return page.get_attribute("#label-app", "data-assignment-id")


def admin_and_project(tmp_path: Path, slug: str, schema: dict[str, Any]) -> tuple[Path, Path]:
    """A data dir (its home) with the admin and project ``slug`` made from ``schema`` by the
    CLI, and a work folder for the test's files: both under ``tmp_path``."""
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    run_cli(home, "init")
    run_cli(home, "users", "add", USERNAME, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    (work / "schema.json").write_text(json.dumps(schema))
    run_cli(home, "projects", "create", slug, "--schema", str(work / "schema.json"))
    return home, work


def first_rounds(home: Path) -> None:
    """One pass of the learner over ``home``'s projects, in this process, taking each project's
    training lock as the server's own learner does: the cold-start round the server's learner
    (a process at idle priority, slow to start on a loaded machine) would otherwise run first,
    with the features and alerts of that pass; the server may be running already. A round
    that failed fails the fixture here, naming the project, rather than a test later waiting
    for an item that never comes."""
    from labelloop.config import get_settings
    from labelloop.store import learning as store_learning
    from labelloop.store import projects as store_projects
    from labelloop.store.db import Database
    from labelloop.workflow.learning import FeatureCache, Learner

    settings = get_settings(home=home)
    db = Database(settings.db_url)
    try:
        cache = FeatureCache(settings.features_dir, media_roots=settings.media_root_paths)
        Learner(db, cache=cache).run_once()
        with db.read() as conn:
            failed = {
                store_projects.by_id(conn, project_id)["slug"]: failure["error"]
                for project_id in store_projects.all_ids(conn)
                if (failure := store_learning.round_failure_of(conn, project_id)) is not None
            }
    finally:
        db.dispose()
    assert not failed, f"a first round failed (project: error): {failed}"


@pytest.fixture(scope="session")
def _reviews_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The data behind :func:`server`, made once per test process with the CLI, its first round
    trained; and each pool text's true class. Each module's server runs on a copy of it."""
    home = tmp_path_factory.mktemp("labelloop-home-made")
    work = tmp_path_factory.mktemp("labelloop-data")
    run_cli(home, "init")
    run_cli(home, "users", "add", USERNAME, "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    run_cli(home, "projects", "create", MAIN, "--schema", str(_schema(work / "a.json", "Reviews")))
    run_cli(
        home,
        "projects",
        "create",
        HOSTILE,
        "--schema",
        str(_schema(work / "b.json", "Hostile <texts>")),
    )
    pool, held_out = make_reviews(n_pool=120, n_eval=30)
    pool_file = write_jsonl(
        work / "pool.jsonl", [{k: v for k, v in r.items() if k != "label"} for r in pool]
    )
    run_cli(home, "import", MAIN, str(pool_file), "--id-field", "id")
    eval_file = write_jsonl(work / "eval.jsonl", held_out)
    run_cli(
        home,
        "import",
        MAIN,
        str(eval_file),
        "--id-field",
        "id",
        "--split",
        "eval",
        "--label-field",
        "label",
    )
    hostile = [
        {"id": f"h{i}", "text": text, "note": "<img src=x onerror=window.__xss=1>"}
        for i, text in enumerate(HOSTILE_TEXTS)
    ]
    run_cli(
        home,
        "import",
        HOSTILE,
        str(write_jsonl(work / "hostile.jsonl", hostile)),
        "--id-field",
        "id",
    )
    first_rounds(home)
    return home, {r["text"]: r["label"] for r in pool}


@pytest.fixture(scope="module")
def learner() -> bool:
    """Whether the module's :func:`server` runs a learner. A module whose tests need no round
    after the one the data was made with (no new model, no first queue of a project they make)
    overrides this fixture with one that is False: see :func:`serving`."""
    return True


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    _reviews_home: tuple[Path, dict[str, str]],
    learner: bool,
) -> Iterator[Server]:
    """Two projects made with the CLI (reviews to learn from, with the learner's cold-start
    round done, and hostile texts) and a live server on a data dir of this module's own, with
    a learner if ``learner``."""
    made, truth = _reviews_home
    home = tmp_path_factory.mktemp("labelloop-home")
    # The store is closed: its file and write-ahead log are all there is; locks are per process.
    shutil.copytree(
        made, home, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.lock", "*-shm")
    )
    with serving(home, "serve", learner=learner) as url:
        yield Server(url=url, home=home, truth=truth)


def _chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0:
        subprocess.run(
            [apt, "install", "-y", "chromium"], capture_output=True, timeout=600, check=False
        )
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing and apt-get could not install chromium")
    return CHROMIUM


@functools.cache
def _api_queries() -> list[tuple[re.Pattern[str], set[str], list[str]]]:
    """Each /api route in the order the server matches them: its path, methods and the query
    parameters its OpenAPI description lists."""
    import fastapi.routing

    from labelloop.config import get_settings
    from labelloop.server.app import create_app

    with tempfile.TemporaryDirectory() as home:
        app = create_app(get_settings(home=Path(home), secret_key="e2e"), learner=False)
        spec = app.openapi()
        routes = [c.original_route for c in fastapi.routing.iter_route_contexts(app.routes)]
    return [
        (
            route.path_regex,
            route.methods,
            [
                p["name"]
                for m in route.methods
                for p in spec["paths"][route.path][m.lower()].get("parameters", [])
                if p["in"] == "query"
            ],
        )
        for route in routes
        if route.path.startswith("/api/") and hasattr(route, "methods")
    ]


def undeclared_query(method: str, url: str) -> str | None:
    """What an API call a page made holds in its query that its route does not list (the server
    refuses it with a 422), or None."""
    parts = urllib.parse.urlsplit(url)
    if not parts.query or not parts.path.startswith("/api/"):
        return None
    sent = {name for name, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)}
    for pattern, methods, takes in _api_queries():
        if method in methods and pattern.match(parts.path):
            extra = sorted(sent - set(takes))
            return f"{method} {url}: {', '.join(extra)}" if extra else None
    return None


class WatchedBrowser:
    """A launched browser whose every page reports what the page's security policy refused
    (``refusals``): an inline script, style or a load from elsewhere that labelloop's own pages
    should never need; and each API call whose query holds a parameter its route does not list.
    ``_no_refusals`` fails each browser test that met one."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser
        self.refusals: list[str] = []

    def _record(self, message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.refusals.append(message.text)

    def _check(self, request: Any) -> None:
        extra = undeclared_query(request.method, request.url)
        if extra is not None:
            self.refusals.append(f"a query parameter its route does not list: {extra}")

    def new_context(self, *args: Any, **kwargs: Any) -> Any:
        context = self._browser.new_context(*args, **kwargs)
        context.on("console", self._record)
        context.on("request", self._check)
        return context

    def new_page(self, *args: Any, **kwargs: Any) -> Any:
        page = self._browser.new_page(*args, **kwargs)
        page.on("console", self._record)
        page.on("request", self._check)
        return page

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


@pytest.fixture(scope="session")
def _chromium_launcher() -> Iterator[Callable[[], Any]]:
    """What gives each module Debian's Chromium under Playwright (Playwright's own browser
    download is not used): launched once per test process, as starting Playwright's driver and
    the browser again for each module cost about a second of CPU; launched again if it died.

    While Playwright runs, its event loop counts as running in the test process's main thread,
    also between calls: a test that runs an event loop of its own (``asyncio.run``) does so in
    a thread of its own."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = _chromium()
    _api_queries()  # read once here: an event handler that takes seconds stalls the browser
    with sync_api.sync_playwright() as p:
        launched: Any = None

        def connected() -> Any:
            nonlocal launched
            if launched is None or not launched.is_connected():
                launched = p.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
            return launched

        try:
            yield connected
        finally:
            if launched is not None:
                launched.close()


@pytest.fixture(scope="module")
def browser(_chromium_launcher: Callable[[], Any]) -> Iterator[WatchedBrowser]:
    """The browser for a module's tests; the contexts (pages, sessions) they leave open are
    closed as the module ends, so none reaches the next module."""
    launched = _chromium_launcher()
    try:
        yield WatchedBrowser(launched)
    finally:
        for context in launched.contexts if launched.is_connected() else []:
            context.close()


@pytest.fixture(autouse=True)
def _no_refusals(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each browser test: no page it opened had anything refused by the security policy,
    nor sent an API call a query parameter its route does not list."""
    yield
    if "browser" in request.fixturenames:
        watched = request.getfixturevalue("browser")
        refused, watched.refusals[:] = sorted(set(watched.refusals)), []
        assert refused == [], f"the page's security policy or the API refused: {refused}"


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where browser tests save screenshots: the README's folder only when asked.

    ``LABELLOOP_SCREENSHOTS=docs/screenshots`` refreshes the README's pictures; otherwise they
    go to a temporary folder so a test run leaves the work tree as it found it.
    """
    target = os.environ.get("LABELLOOP_SCREENSHOTS")
    path = Path(target) if target else Path(tempfile.gettempdir()) / "labelloop-screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def page_fetch(page: Any, method: str, path: str, body: Any = None) -> Any:
    """Call the API from the page, with its session and CSRF token: the status and JSON body."""
    return page.evaluate(
        """([method, path, body]) => fetch(path, {
            method,
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token':
                      document.querySelector('meta[name=csrf-token]').content},
            body: body === null ? undefined : JSON.stringify(body),
        }).then(async r => [r.status, await r.json()])""",
        [method, path, body],
    )


def answer_served(
    page: Any, slug: str, answer: Callable[[dict[str, Any]], Any], *, active_ms: int = 3200
) -> dict[str, Any]:
    """Lease the next item as the page's session and answer it through the API with the value
    ``answer(task)`` gives; the task served (its item and why it was picked)."""
    status, body = page_fetch(page, "POST", f"/api/projects/{slug}/tasks/next", {})
    assert status == 200, body
    task = dict(body["task"])
    status, body = page_fetch(
        page,
        "POST",
        f"/api/projects/{slug}/tasks/{task['assignment_id']}/submit",
        {"value": answer(task), "active_ms": active_ms},
    )
    assert status == 200, body
    return task


def wait_answer(
    page: Any, expression: str, arg: Any = None, *, timeout_ms: int = 30000, every_ms: int = 300
) -> Any:
    """Ask the page ``expression`` (which may return a promise, e.g. a fetch) until its answer
    is truthy; that answer. ``page.wait_for_function`` is no use for this: it takes the promise
    itself for a truthy answer and returns at once."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        answer = page.evaluate(expression, arg)
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"the page never answered truthily within {timeout_ms} ms")
        page.wait_for_timeout(every_ms)


def left_while_held(page: Any, held: list[Any]) -> Any:
    """Once the page's ``page.route`` handler has held one request (appended to ``held``), leave
    the page as the browser does (pagehide; one kept in the back-forward cache, which Chromium
    under Playwright keeps none in); what was held."""
    deadline = time.monotonic() + 30
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert len(held) == 1
    page.evaluate("dispatchEvent(new PageTransitionEvent('pagehide', {persisted: true}))")
    return held[0]


class HeldAnswer:
    """The server's answer to the first GET of ``url`` (a glob or pattern, as ``page.route``
    takes) the page sends from now on, kept from the page until :meth:`release`: an older answer
    that reaches the page after the newer ones it asked for since, as on a busy machine."""

    def __init__(self, page: Any, url: str | re.Pattern[str]) -> None:
        self.page = page
        self.held: list[tuple[Any, Any]] = []
        page.route(url, self._hold_first)

    def _hold_first(self, route: Any) -> None:
        if route.request.method != "GET" or self.held:
            route.continue_()
        else:
            self.held.append((route, route.fetch()))

    def text(self, what: str) -> str:
        """The held answer's body, once the page asked for it (``what`` names what it fetches)."""
        deadline = time.monotonic() + 30
        while not self.held and time.monotonic() < deadline:
            self.page.wait_for_timeout(100)
        assert self.held, f"the page did not fetch {what}"
        return str(self.held[0][1].text())

    def release(self) -> None:
        """Hand the held answer to the page, and give it the time to draw it."""
        route, answer = self.held[0]
        with self.page.expect_response(lambda r: r.request.url == route.request.url):
            route.fulfill(response=answer)
        self.page.wait_for_timeout(500)
