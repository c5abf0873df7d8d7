"""Leaving the labeling page while answers are still on their way (they go in the background):
the page says so, asks, waits on its own links, and a page closed anyway still delivers them.
The server is on a slow network (tests/e2e/slow_serve.py): answers wait before it reads them,
and one the browser cancels meanwhile never arrives."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    LABELS,
    USERNAME,
    left_while_held,
    login,
    serving,
    wait_task,
    write_jsonl,
)
from tests.e2e.stock import Stock, stocked

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def slow(
    tmp_path_factory: pytest.TempPathFactory, sqlite_migrated: Path
) -> Iterator[tuple[str, Path, Path]]:
    """A server whose answers wait while the gate file says ``hold``: its URL, the gate and its
    home."""
    home = tmp_path_factory.mktemp("labelloop-home")
    work = tmp_path_factory.mktemp("labelloop-data")
    # Each test's project, made before the server starts, with its cold-start round done here.
    with stocked(home, sqlite_migrated) as stock:
        stock.user(USERNAME, admin=True)
        for slug, (n, note, annotators) in PROJECTS.items():
            _project(stock, work, slug, n=n, note=note)
            for name in annotators:
                stock.user(name)
                stock.member(slug, name, "annotator")
        stock.user(REVIEWER)
        stock.member("redo", REVIEWER, "reviewer")
    gate = work / "gate"
    gate.write_text("", encoding="utf-8")
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {"SUBMIT_GATE": str(gate), "PYTHONPATH": path}
    # No learner: each project's first queue holds all its items, and no test waits for a round.
    with serving(home, "serve", env=env, module="tests.e2e.slow_serve", learner=False) as url:
        yield url, gate, home


PROJECTS = {  # each test's project: its items, whether it has a text control, its annotators
    "closing": (8, False, ()),
    "waiting": (8, False, ()),
    "long": (8, True, ()),
    "signout": (8, False, ()),
    "handback": (2, False, ("anna", "bert")),  # both items: the one shown, the one prefetched
    "cached": (2, False, ("cara", "dirk")),
    "goodnight": (3, False, ("gus",)),
    "late": (3, False, ("lena",)),
    "renewed": (3, False, ("rosa",)),
    "retaken": (3, False, ("remy",)),
    "redo": (3, False, ("rhea",)),
}
SETTINGS = {"redo": {"review_policy": "all"}}  # a project's settings, where not the defaults
REVIEWER = "ravi"  # of "redo"


def _project(stock: Stock, tmp_path: Path, slug: str, *, note: bool, n: int) -> None:
    controls: list[dict[str, Any]] = [{"name": "sentiment", "type": "choice", "labels": LABELS}]
    if note:
        controls.append({"name": "note", "type": "text", "max_chars": 12000})
    data = {"type": "text", "field": "text"}
    settings = SETTINGS.get(slug, {})
    stock.project(
        slug, {"name": slug.title(), "data": data, "controls": controls, "settings": settings}
    )
    rows = [{"id": f"r{i}", "text": f"{slug} pool text number {i}"} for i in range(n)]
    stock.add(slug, write_jsonl(tmp_path / f"{slug}.jsonl", rows), id_field="id")


def _answers_of(home: Path, assignment_ids: list[int]) -> int:
    """How many annotations the server holds for these leases."""
    from sqlalchemy import func, select

    from labelloop.store.db import Database
    from labelloop.store.tables import annotation

    db = Database(f"sqlite:///{home / 'labelloop.db'}")
    try:
        with db.write() as conn:
            mine = annotation.c.assignment_id.in_(assignment_ids)
            return int(conn.execute(select(func.count()).where(mine)).scalar_one())
    finally:
        db.dispose()


def _answer_while_slow(
    browser: Any, slow: tuple[str, Path, Path], slug: str, n: int
) -> tuple[Any, list[int]]:
    """A labeling page with ``n`` answers given on it still on their way; the page and the
    answered assignment ids."""
    url, gate, home = slow
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    login(page, url, f"/p/{slug}/label")
    shown = wait_task(page)
    gate.write_text("hold", encoding="utf-8")
    answered: list[int] = []
    for i in range(n):
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        answered.append(int(shown))
        if i < n - 1:
            shown = wait_task(page, other_than=shown)
    sending = page.locator("#sending-text")
    sending.filter(has_text=f"sending {n} answers…").wait_for()
    assert sending.get_attribute("role") == "status"  # read out as it changes
    return page, answered


def test_e2e_closing_the_page_with_answers_on_their_way_asks_and_still_delivers_them(
    slow: tuple[str, Path, Path], browser: Any
) -> None:
    """Answers go in the background; a page closed while some were still on their way (a slow
    network) lost them without a word."""
    _, gate, home = slow
    page, answered = _answer_while_slow(browser, slow, "closing", 3)
    assert _answers_of(home, answered) == 0  # still on their way
    dialogs: list[str] = []

    def answer(dialog: Any) -> None:
        dialogs.append(dialog.type)
        dialog.accept()

    page.on("dialog", answer)
    with page.expect_event("close", timeout=15000):
        page.close(run_before_unload=True)
    assert dialogs == ["beforeunload"]
    time.sleep(0.5)  # the closed page's first tries are cancelled and lost
    gate.write_text("", encoding="utf-8")  # the network is fast again
    deadline = time.monotonic() + 30
    while _answers_of(home, answered) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _answers_of(home, answered) == 3  # each once: a second try is refused
    page.context.close()


def test_e2e_the_pages_links_wait_for_answers_on_their_way(
    slow: tuple[str, Path, Path], browser: Any
) -> None:
    """My answers and the other links of the labeling page left at once, answers still on
    their way with it."""
    _, gate, home = slow
    page, answered = _answer_while_slow(browser, slow, "waiting", 2)
    here = page.url
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.type), d.dismiss()))
    page.click("#my-answers-link")
    page.locator("#sending-text", has_text="you leave once they are stored").wait_for()
    page.wait_for_timeout(300)
    assert page.url == here
    gate.write_text("", encoding="utf-8")
    page.wait_for_url("**/items*")
    assert dialogs == []  # nothing was left unsent, so the browser did not ask
    assert _answers_of(home, answered) == 2
    page.context.close()


def test_e2e_answers_beyond_the_keepalive_budget_go_on_the_next_visit(
    slow: tuple[str, Path, Path], browser: Any
) -> None:
    """The browser carries at most 64 KB of requests past a closing page: long answers beyond
    that are kept in the browser and sent when the labeling page is next opened."""
    url, gate, home = slow
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login(page, url, "/p/long/label")
    shown = wait_task(page)
    gate.write_text("hold", encoding="utf-8")
    answered: list[int] = []
    for i in range(3):  # 22 KB each (é is two bytes): two fit in the budget, one does not
        page.keyboard.press("1")
        page.fill(".text-field", "é" * 11000)
        page.click("#submit-btn")
        answered.append(int(shown))
        if i < 2:
            shown = wait_task(page, other_than=shown)
    page.locator("#sending-text", has_text="sending 3 answers…").wait_for()
    page.on("dialog", lambda d: d.accept())
    with page.expect_event("close", timeout=15000):
        page.close(run_before_unload=True)
    time.sleep(0.5)
    gate.write_text("", encoding="utf-8")
    deadline = time.monotonic() + 30
    while _answers_of(home, answered) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    assert _answers_of(home, answered) == 2

    again = context.new_page()
    again.goto(url + "/p/long/label")
    told = again.locator("#messages", has_text="Sent 1 answer left unsent")
    told.wait_for()
    assert _answers_of(home, answered) == 3
    wait_task(again)  # and labeling goes on
    context.close()


def test_e2e_log_out_waits_for_answers_on_their_way(
    slow: tuple[str, Path, Path], browser: Any
) -> None:
    """Log out on the labeling page signed out at once, answers still on their way with it."""
    url, gate, home = slow
    page, answered = _answer_while_slow(browser, slow, "signout", 2)
    here = page.url
    page.click(".logout-form button")
    page.locator("#sending-text", has_text="you leave once they are stored").wait_for()
    page.wait_for_timeout(300)
    assert page.url == here
    gate.write_text("", encoding="utf-8")
    page.wait_for_url("**/login*")
    assert _answers_of(home, answered) == 2
    page.context.close()


def _live_leases(home: Path, username: str) -> list[int]:
    """The items ``username`` holds a live lease on."""
    from sqlalchemy import select

    from labelloop.store.db import Database
    from labelloop.store.tables import assignment, user
    from labelloop.store.users import now

    db = Database(f"sqlite:///{home / 'labelloop.db'}")
    try:
        with db.read() as conn:
            q = (
                select(assignment.c.item_id)
                .join(user, user.c.id == assignment.c.user_id)
                .where(
                    user.c.username == username,
                    assignment.c.state == "leased",
                    assignment.c.lease_expires_at > now(),
                )
            )
            return sorted(conn.execute(q).scalars())
    finally:
        db.dispose()


def _labeling(
    browser: Any, url: str, home: Path, slug: str, name: str
) -> tuple[Any, str, list[int]]:
    """``name``'s labeling page of ``slug`` once it shows an item and has leased the next one:
    the page, the task shown and the items leased (the one on screen and the prefetched one)."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    login(page, url, f"/p/{slug}/label", username=name)
    shown = wait_task(page)
    deadline = time.monotonic() + 30
    while len(_live_leases(home, name)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    leased = _live_leases(home, name)
    assert len(leased) == 2
    return page, shown, leased


def test_e2e_a_page_left_gives_its_items_to_the_next_annotator_at_once(
    slow: tuple[str, Path, Path], browser: Any
) -> None:
    """The labeling page held the item on screen and the one it prefetched for the whole lease
    (10 minutes) after its annotator left it, so another annotator had nothing to label
    meanwhile. A page left gives both back; one its annotator comes back to leases again."""
    url, _, home = slow
    anna, _, held = _labeling(browser, url, home, "handback", "anna")

    anna.click("#my-answers-link")  # she leaves the page
    anna.wait_for_url("**/items*")
    deadline = time.monotonic() + 30
    while _live_leases(home, "anna") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _live_leases(home, "anna") == []

    bert = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    login(bert, url, "/p/handback/label", username="bert")
    wait_task(bert, timeout_ms=30000)  # at once, not when her leases run out (10 minutes)
    assert _live_leases(home, "bert") == held  # and the prefetched one too

    anna.go_back()  # from the browser's cache or not: nothing of bert's is shown to her
    anna.locator("#label-app[data-state=empty]").wait_for(timeout=15000)
    assert _live_leases(home, "anna") == []
    assert _live_leases(home, "bert") == held
    anna.context.close()
    bert.context.close()


def test_e2e_a_page_back_from_the_browsers_cache_leases_again(
    slow: tuple[str, Path, Path], browser: Any
) -> None:
    """A page the browser kept in its back-forward cache gave its items back as it was left;
    shown again, it takes the item on screen again while nobody else has it, or tells its
    annotator that someone does and moves on, rather than answering on a lease given back.
    (Chromium under Playwright keeps no page in that cache: the events are sent as it would.)"""
    url, _, home = slow
    cara, shown, both = _labeling(browser, url, home, "cached", "cara")

    def cached(event: str) -> None:
        cara.evaluate(f"dispatchEvent(new PageTransitionEvent('{event}', {{persisted: true}}))")

    cached("pagehide")
    deadline = time.monotonic() + 30
    while _live_leases(home, "cara") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _live_leases(home, "cara") == []
    cached("pageshow")  # nobody took them meanwhile: both are hers again
    deadline = time.monotonic() + 30
    while _live_leases(home, "cara") != both and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _live_leases(home, "cara") == both
    assert cara.get_attribute("#label-app", "data-assignment-id") == shown

    cached("pagehide")
    deadline = time.monotonic() + 30
    while _live_leases(home, "cara") and time.monotonic() < deadline:
        time.sleep(0.1)
    dirk = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    login(dirk, url, "/p/cached/label", username="dirk")
    wait_task(dirk, timeout_ms=30000)
    deadline = time.monotonic() + 30
    while _live_leases(home, "dirk") != both and time.monotonic() < deadline:
        time.sleep(0.1)
    cached("pageshow")  # dirk has both now: she is told, and shown none of his
    cara.locator("#messages", has_text="another annotator has the item now").wait_for()
    cara.locator("#label-app[data-state=empty]").wait_for(timeout=15000)
    assert _live_leases(home, "cara") == []
    cara.context.close()
    dirk.context.close()


def test_e2e_log_out_gives_the_pages_items_to_the_next_annotator(
    slow: tuple[str, Path, Path], browser: Any
) -> None:
    """Log out on the labeling page ended the session before the page, as it went, gave back its
    items: the give-back was refused as signed out, and the item on screen and the prefetched
    one stayed leased for the whole lease (10 minutes). They are given back, then the user is
    signed out."""
    url, _, home = slow
    gus, _, _ = _labeling(browser, url, home, "goodnight", "gus")
    gus.click(".logout-form button")
    gus.wait_for_url("**/login*")
    deadline = time.monotonic() + 30
    while _live_leases(home, "gus") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _live_leases(home, "gus") == []
    gus.context.close()


def test_e2e_an_item_fetched_ahead_that_lands_after_the_page_was_left_is_given_back(
    slow: tuple[str, Path, Path], browser: Any
) -> None:
    """The item the page asks for ahead, still on its way when the page was left, stayed leased
    for the whole lease: the page gave back only what it had. It gives it back as it lands.
    (Chromium under Playwright keeps no page in the back-forward cache: the events are sent as
    it would.)"""
    url, _, home = slow
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    ahead: list[Any] = []

    def hold_the_one_ahead(route: Any) -> None:
        if (route.request.post_data_json or {}).get("held"):  # after the item shown
            ahead.append(route)
        else:
            route.continue_()

    page.route("**/api/projects/late/tasks/next", hold_the_one_ahead)
    login(page, url, "/p/late/label", username="lena")
    wait_task(page)
    deadline = time.monotonic() + 30
    while not ahead and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert len(ahead) == 1 and len(_live_leases(home, "lena")) == 1
    page.evaluate("dispatchEvent(new PageTransitionEvent('pagehide', {persisted: true}))")
    # It reaches the server, which leases it, after the page was left (its answer awaited:
    # until then the leases read empty once the page gave back the one it showed).
    with page.expect_response(lambda response: response.request == ahead[0].request):
        ahead[0].continue_()
    deadline = time.monotonic() + 30
    while _live_leases(home, "lena") and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert _live_leases(home, "lena") == []
    page.context.close()


@pytest.mark.parametrize(
    ("slug", "name", "server_first"), [("renewed", "rosa", True), ("retaken", "remy", False)]
)
def test_e2e_a_renewal_that_lands_after_the_page_was_left_gives_the_item_back(
    slow: tuple[str, Path, Path], browser: Any, slug: str, name: str, server_first: bool
) -> None:
    """A renewal of the item on screen, on its way as the page was left, moved the lease's end
    before the give-back arrived, which named the end the page had: nothing was given back and
    the item stayed leased to its annotator for the whole lease. Arriving after the give-back,
    it took the item again (as after a lease ran out). It is given back as the renewal's answer
    lands. (Chromium under Playwright keeps no page in the back-forward cache: the event is
    sent as it would be.)"""
    url, _, home = slow
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    held: list[tuple[Any, Any]] = []

    def hold(route: Any) -> None:  # its answer (the server renewed), or the request itself
        held.append((route, route.fetch() if server_first else None))

    page.route(f"**/api/projects/{slug}/tasks/*/renew", hold)
    page.clock.install()  # to bring the renewal on, below
    login(page, url, f"/p/{slug}/label", username=name)
    wait_task(page)
    deadline = time.monotonic() + 30
    while len(_live_leases(home, name)) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert len(_live_leases(home, name)) == 2  # the item shown and the one fetched ahead
    page.clock.fast_forward(200_000)  # a third of the lease since the item was fetched
    page.mouse.move(300, 300)  # and its annotator at work
    page.clock.fast_forward(5000)  # the page's next look at its lease
    route, renewed = left_while_held(page, held)
    if not server_first:  # the give-back lands first, the renewal then takes the item again
        deadline = time.monotonic() + 30
        while _live_leases(home, name) and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert _live_leases(home, name) == []
    with page.expect_response(lambda response: response.request == route.request):
        if server_first:
            route.fulfill(response=renewed)
        else:
            route.continue_()
    deadline = time.monotonic() + 30
    while _live_leases(home, name) and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert _live_leases(home, name) == []
    page.context.close()


def _rework_stage(home: Path, slug: str, *, reject: bool = False) -> tuple[str, int | None]:
    """What the dashboard says waits back with the annotators; with ``reject``, once a reviewer
    sent back the answer waiting for review (waited for: answers go in the background), and
    the item sent back."""
    from labelloop.govern.permissions import Permission
    from labelloop.store.db import Database
    from labelloop.workflow import accounts, insight, projects, review

    db = Database(f"sqlite:///{home / 'labelloop.db'}")
    try:
        reviewer = accounts.user_by_name(db, REVIEWER)
        assert reviewer is not None
        ctx = projects.access(db, slug, reviewer, Permission.VIEW_PROJECT)
        sent = None
        if reject:
            held = _until(lambda: review.next_review(db, ctx))
            assert held, "no answer came to review"
            answer = held["annotation"]["id"]
            sent = review.review_annotation(db, ctx, answer, verdict="reject", comment="redo")
        stages = {s["key"]: s for s in insight.report(db, ctx, days=7)["stages"]}
        return stages["rework"]["waiting_text"], sent and sent["item_id"]
    finally:
        db.dispose()


def _until(check: Callable[[], object], *, seconds: float = 30) -> object:
    """``check()`` once it is truthy (the server hears of a page left in the background)."""
    deadline = time.monotonic() + seconds
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def test_e2e_a_rework_left_waits_for_its_annotator_again_at_once(
    slow: tuple[str, Path, Path], browser: Any
) -> None:
    """An item sent back for rework counted as being redone for a whole lease after its
    annotator left the labeling page. Leaving ends it at once; the item stays theirs."""
    url, _, home = slow
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    login(page, url, "/p/redo/label", username="rhea")
    wait_task(page)
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    waits, redo = _rework_stage(home, "redo", reject=True)
    assert waits == "1 item"
    page.click("#my-answers-link")  # she leaves, and comes back to the item sent back
    assert _until(lambda: _live_leases(home, "rhea") == [redo])
    page.goto(f"{url}/p/redo/label")
    page.locator("#rework-banner").wait_for()  # with the reviewer's note
    being_redone = "0 items, 1 more being redone now"
    assert _until(lambda: _rework_stage(home, "redo")[0] == being_redone)

    page.click("#my-answers-link")  # she leaves it
    assert _until(lambda: _rework_stage(home, "redo")[0] == "1 item")
    assert _live_leases(home, "rhea") == [redo]  # still hers, for nobody else
    page.context.close()
