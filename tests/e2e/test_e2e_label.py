"""The labeling page in real Chromium against a real server: keyboard labeling drives the loop."""

from __future__ import annotations

import csv
import io
import json
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    STATUS_POLL_MS,
    login,
    login_on_form,
    make_reviews,
    page_fetch,
    wait_answer,
)

pytestmark = pytest.mark.browser

N_LABELS = 12


def _wait_task(page: Any, *, other_than: str | None = None, timeout_ms: int = 20000) -> str:
    """Wait until a leased item is on screen (a new one when ``other_than`` is given)."""
    page.wait_for_function(
        """(prev) => {
            const app = document.getElementById('label-app');
            return app.dataset.state === 'task' && app.dataset.assignmentId !== prev;
        }""",
        arg=other_than or "",
        timeout=timeout_ms,
    )
    return page.get_attribute("#label-app", "data-assignment-id")


def _shown(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => ({
            text: document.getElementById('item-text').textContent,
            id: document.getElementById('item-id').textContent,
            model: document.getElementById('model-version').textContent,
            suggestion: !document.getElementById('suggestion').hidden,
            why: !document.getElementById('why').hidden
                 && document.getElementById('why-reason').textContent.length > 0,
        })"""
    )


def _pressed(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        ".label-btn[aria-pressed=true]", "bs => bs.map(b => b.dataset.label)"
    )


class Labeler:
    """Labels what the page shows with the keyboard, choosing by the text's vocabulary."""

    def __init__(self, page: Any, server: Any, shots: Path) -> None:
        self.shots = shots
        self.page = page
        self.server = server
        self.keys = {label: str(i + 1) for i, label in enumerate(server.labels)}
        self.chosen: dict[str, str] = {}  # external id -> label
        self.screenshot: Path | None = None

    def label(self, n: int) -> None:
        for _ in range(n):
            shown = _shown(self.page)
            label = self.server.truth[shown["text"]]
            self.page.keyboard.press(self.keys[label])
            assert _pressed(self.page) == [label]
            assignment = self.page.get_attribute("#label-app", "data-assignment-id")
            self.page.keyboard.press("Enter")
            self.chosen[shown["id"]] = label
            _wait_task(self.page, other_than=assignment)
            self.maybe_screenshot()

    def maybe_screenshot(self) -> None:
        """The README picture: a few labels in, with the model's suggestion and reason shown."""
        shown = _shown(self.page)
        if self.screenshot is None and shown["suggestion"] and shown["why"]:
            self.page.wait_for_timeout(300)  # let the status line refresh, then settle
            self.page.wait_for_function("() => document.getAnimations().length === 0", timeout=5000)
            self.screenshot = self.shots / "labeling.png"
            self.page.screenshot(path=str(self.screenshot))


def test_e2e_keyboard_labeling_drives_the_loop(
    server: Any, browser: Any, screenshots: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.clock.install()  # to bring the page's status poll on, below
    login_on_form(page, server.url, f"/p/{server.main}/label")
    _wait_task(page, timeout_ms=60000)  # the first queue, made before the server started
    page.wait_for_function(
        "() => document.getElementById('model-version').textContent.startsWith('v')"
    )
    first_model = _shown(page)["model"]
    # The first queue came from the cold-start round, before any model: the card said "Picked
    # by model v1" beside a reason saying no model picked it; it names no model now.
    page.wait_for_function(
        "() => document.getElementById('why-model').textContent !== 'v1'", timeout=30000
    )
    assert page.inner_text("#why-model") == f"none ({first_model} was a cold start)"
    # nor does the status line's model chip ("none (cold start) trained on 0 labels (cold start)")
    title = page.get_attribute("#model-version", "title")
    assert title == f"no model trained yet: {first_model} is a cold start, on 0 labels"
    labeler = Labeler(page, server, screenshots)

    # The chosen label's key again clears the single choice, and the empty answer is refused
    # with the usual message: the item stays.
    first, key = server.labels[0], labeler.keys[server.labels[0]]
    page.keyboard.press(key)
    assert _pressed(page) == [first]
    page.keyboard.press(key)
    assert _pressed(page) == []
    unsent = page.get_attribute("#label-app", "data-assignment-id")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('messages').textContent.includes('Choose a label')"
    )
    assert page.get_attribute("#label-app", "data-assignment-id") == unsent
    assert _pressed(page) == []

    # The learner retrains in the background every 5 labels; the page shows the new version
    # at its next status poll once the round is stored (on a busy machine it takes a while).
    labeler.label(5)
    wait_answer(
        page,
        """(first) => fetch(location.pathname.replace('/p/', '/api/projects/')
                .replace('/label', '/models')).then(r => r.json())
            .then(ms => ms.some(m => 'v' + m.version !== first))""",
        first_model,
        timeout_ms=60000,
        every_ms=250,
    )
    page.clock.fast_forward(STATUS_POLL_MS)
    page.wait_for_function(
        "(first) => document.getElementById('model-version').textContent !== first",
        arg=first_model,
        timeout=30000,
    )
    labeler.label(4)

    # Backspace goes back to the last labeled item with its saved label; change it; Enter saves
    # and returns to the item that was leased.
    current = page.get_attribute("#label-app", "data-assignment-id")
    page.keyboard.press("Backspace")
    page.wait_for_function("() => document.getElementById('label-app').dataset.state === 'edit'")
    earlier = _shown(page)
    assert _pressed(page) == [labeler.chosen[earlier["id"]]]
    changed = next(x for x in server.labels if x != labeler.chosen[earlier["id"]])
    page.keyboard.press(labeler.keys[changed])
    assert _pressed(page) == [changed]
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('label-app').dataset.state === 'task'")
    assert page.get_attribute("#label-app", "data-assignment-id") == current
    labeler.chosen[earlier["id"]] = changed

    # Back to it again and Enter as it is: kept as it was, said so, not stored as a change.
    page.keyboard.press("Backspace")
    page.wait_for_function("() => document.getElementById('label-app').dataset.state === 'edit'")
    assert _pressed(page) == [changed]
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('label-app').dataset.state === 'task'")
    assert "Kept as it was." in page.inner_text("#messages")
    assert page.get_attribute("#label-app", "data-assignment-id") == current

    labeler.label(N_LABELS - len(labeler.chosen))
    assert len(labeler.chosen) == N_LABELS
    assert labeler.screenshot is not None, "no item with a model suggestion was served"
    page.wait_for_function(
        f"() => document.getElementById('progress-text').textContent.startsWith('{N_LABELS} /')",
        timeout=30000,
    )

    # The shortcut sheet is generated from the schema: every label with its key.
    page.keyboard.press("?")
    sheet = page.locator("#shortcuts")
    sheet.wait_for(state="visible")
    sheet_text = sheet.inner_text()
    for label, key in labeler.keys.items():
        assert label in sheet_text
        assert key in sheet_text
    assert "its key again clears it" in sheet_text.lower()
    page.keyboard.press("Escape")
    sheet.wait_for(state="hidden")

    # The export, downloaded with the page's own session, holds what was chosen and provenance.
    base = f"/api/projects/{server.main}/export"
    body = page.evaluate(f"fetch('{base}?format=jsonl').then(r => r.text())")
    rows = [json.loads(line) for line in body.splitlines() if line.strip()]
    assert len(rows) == N_LABELS
    assert {r["external_id"]: r["label"] for r in rows} == labeler.chosen
    for row in rows:
        assert row["annotator"] == server.username
        assert row["guideline_version"] == 1
        assert isinstance(row["model_version"], int)
        assert row["reason"]
        assert isinstance(row["active_ms"], int)
    assert sum(r["active_ms"] for r in rows) > 0
    table = page.evaluate(f"fetch('{base}?format=csv').then(r => r.text())")
    header = next(csv.reader(io.StringIO(table)))
    for column in ("label", "annotator", "guideline_version", "model_version", "reason"):
        assert column in header

    # The overview shows the same progress, the learning curve and the export links. The page
    # draws the models measured when it loads: wait for the learner's next round (on a busy
    # machine it can come a few seconds after the last label).
    wait_answer(
        page,
        f"""() => fetch('/api/projects/{server.main}/models').then(r => r.json())
            .then(ms => ms.filter(m => typeof m.metrics.accuracy === 'number').length >= 2)""",
        timeout_ms=60000,
        every_ms=500,
    )
    page.goto(server.url + "/")
    page.click(f"a[href='/p/{server.main}']")
    page.wait_for_url(server.url + f"/p/{server.main}")
    assert page.inner_text("#stat-labeled") == str(N_LABELS)
    assert page.locator("#learning-curve svg circle").count() >= 2
    assert page.locator("#models-table tbody tr").count() >= 2
    assert page.get_attribute("#export-csv", "href") == f"{base}?format=csv"
    page.screenshot(path=str(screenshots / "project.png"), full_page=True)
    assert errors == []
    context.close()


def test_e2e_phone_width_has_no_horizontal_scroll(
    server: Any, browser: Any, screenshots: Path
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, has_touch=True
    )
    page = context.new_page()
    login(page, server.url, f"/p/{server.main}/label")
    _wait_task(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for label in server.labels:
        button = page.locator(f".label-btn[data-label='{label}']")
        assert button.is_visible()
        box = button.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert box["height"] >= 44  # a comfortable tap target
    # The model's version, once the page's status names it (the first round is made before the
    # server starts; the page reads it with its status).
    page.wait_for_function(
        "() => document.getElementById('model-version').textContent.startsWith('v')",
        timeout=90_000,
    )
    page.screenshot(path=str(screenshots / "labeling-mobile.png"), full_page=True)
    context.close()


def test_e2e_hostile_item_text_stays_text(server: Any, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, server.url, f"/p/{server.hostile}/label")
    seen: set[str] = set()
    assignment = _wait_task(page)
    deadline = time.monotonic() + 60
    while len(seen) < len(server.hostile_texts) and time.monotonic() < deadline:
        shown = page.evaluate(
            """() => {
                const t = document.getElementById('item-text');
                return {text: t.textContent, children: t.children.length,
                        meta: document.getElementById('item-meta').textContent,
                        metaElements: document.querySelectorAll('#item-meta dd *').length};
            }"""
        )
        assert shown["text"] in server.hostile_texts
        assert shown["children"] == 0  # rendered as text: no <script>, <b> or <img> element
        assert "<img src=x onerror=window.__xss=1>" in shown["meta"]
        assert shown["metaElements"] == 0
        seen.add(shown["text"])
        page.keyboard.press("1")
        page.keyboard.press("Enter")
        if len(seen) < len(server.hostile_texts):
            assignment = _wait_task(page, other_than=assignment)
    assert seen == set(server.hostile_texts)
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("h1").first.inner_text() == "Hostile <texts>"
    assert dialogs == []
    context.close()


def _as(server: Any, token: str, method: str, path: str, body: Any = None) -> Any:
    """A JSON call to the live server with a bearer token."""
    request = urllib.request.Request(
        server.url + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _annotator_token(server: Any, slug: str, name: str) -> str:
    """A new annotator of ``slug`` named ``name``, and an API token of theirs."""
    server.cli("users", "add", name, "--password-stdin", stdin=f"{name}-password-123\n")
    server.cli("projects", "member", slug, name, "annotator")
    return str(server.cli("tokens", "create", name).strip().splitlines()[-1])


def _choice_project(server: Any, tmp_path: Path, slug: str, name: str, **settings: Any) -> str:
    """A new text project on the live server with the reviews' labels as one choice control."""
    schema = {
        "name": name,
        "data": {"type": "text", "field": "text"},
        "controls": [
            {"name": "sentiment", "type": "choice", "labels": list(server.labels), "target": True}
        ],
        "settings": settings,
    }
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    server.cli("projects", "create", slug, "--schema", str(tmp_path / "schema.json"))
    return slug


def _labeling_new_project(
    server: Any, browser: Any, tmp_path: Path, slug: str, n: int
) -> tuple[Any, Any, str]:
    """A new choice project ``slug`` of ``n`` texts, its labeling page open on its first item
    (after the learner's cold-start round): the browser context, the page, the item's lease."""
    _choice_project(server, tmp_path, slug, slug.title())
    rows = [{"id": f"{slug}-{i}", "text": f"{slug} pool text number {i}"} for i in range(n)]
    (tmp_path / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    server.cli("import", slug, str(tmp_path / "pool.jsonl"), "--id-field", "id")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login(page, server.url, f"/p/{slug}/label")
    return context, page, _wait_task(page, timeout_ms=60000)


def _empty_says(page: Any, state: str) -> str:
    """The empty labeling page's words once it has the server's reason ``state``."""
    page.wait_for_function(
        "(s) => document.getElementById('empty-state').dataset.idle === s",
        arg=state,
        timeout=15000,
    )
    return " ".join(page.inner_text("#empty-state").split())


def test_e2e_pages_say_why_nothing_is_served_and_where_the_metric_comes_from(
    server: Any, browser: Any, tmp_path: Path
) -> None:
    slug = _choice_project(server, tmp_path, "tiny", "Tiny")
    pool = [{"id": f"t{i}", "text": f"tiny pool text number {i}"} for i in range(2)]
    (tmp_path / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pool))
    server.cli("import", slug, str(tmp_path / "pool.jsonl"), "--id-field", "id")
    held_out = [
        {"id": f"e{i}", "text": f"tiny eval text {i}", "label": label}
        for i, label in enumerate(server.labels)
    ]
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in held_out))
    server.cli(
        "import",
        slug,
        str(tmp_path / "eval.jsonl"),
        "--id-field",
        "id",
        "--label-field",
        "label",
        "--split",
        "eval",
    )
    server.cli("users", "add", "carol", "--password-stdin", stdin="carol-password-123\n")
    server.cli("projects", "member", slug, "carol", "annotator")
    carol = server.cli("tokens", "create", "carol").strip().splitlines()[-1]

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, server.url, f"/p/{slug}")
    wait_answer(
        page,
        f"""() => fetch('/api/projects/{slug}/models').then(r => r.json())
            .then(ms => ms.length >= 1)""",
    )
    # Only the cold-start model: the eval items are there, the metric comes with a trained model.
    page.reload()
    assert page.inner_text("#stat-accuracy-sub") == (
        "3 labeled eval items; measured from the first model trained on labels"
    )
    assert page.inner_text("#learning-curve") == (
        "The curve appears once a model trained on labels is measured on the 3 labeled eval items."
    )
    verdict = " ".join(page.inner_text("#stop-recommendation").split())
    assert "Whether to stop is judged once models have trained on your labels." in verdict
    assert "still learning" not in verdict

    # Carol holds both pool items: the page says so instead of "the model is preparing more".
    held: list[int] = []
    for _ in range(2):
        task = _as(server, carol, "POST", f"/api/projects/{slug}/tasks/next", {"held": held})
        held.append(task["task"]["assignment_id"])
    page.goto(server.url + f"/p/{slug}/label")
    said = _empty_says(page, "leased")
    assert said.startswith("All 2 items left are being labeled by someone else right now.")
    assert "preparing more" not in said

    for assignment_id in held:
        _as(
            server,
            carol,
            "POST",
            f"/api/projects/{slug}/tasks/{assignment_id}/submit",
            {"value": {"sentiment": server.labels[0]}, "active_ms": 1000},
        )
    page.reload()
    assert _empty_says(page, "done").startswith("Everything is labeled.")
    assert errors == []
    context.close()


def test_e2e_suggestion_is_preselected_only_when_the_model_is_sure_enough(
    server: Any, browser: Any, tmp_path: Path
) -> None:
    """`preselect_suggestion` pre-selects the model's label only at `preselect_confidence` or
    above: below it the suggestion is shown and tagged, but Enter does not accept it."""
    slug = _choice_project(server, tmp_path, "sure", "Sure", preselect_suggestion=True)
    labeled, unlabeled = make_reviews(n_pool=30, n_eval=10, seed=5)
    rows = labeled + [{k: v for k, v in r.items() if k != "label"} for r in unlabeled]
    (tmp_path / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    server.cli(
        "import", slug, str(tmp_path / "pool.jsonl"), "--id-field", "id", "--label-field", "label"
    )

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login(page, server.url, f"/p/{slug}/label")
    _wait_task(page, timeout_ms=60000)

    def suggested() -> tuple[str, float]:
        """The model's label and its confidence as the page shows it (two decimals)."""
        page.wait_for_function("() => !document.getElementById('suggestion').hidden", timeout=60000)
        label = page.inner_text("#suggestion strong")
        shown = page.inner_text("#suggestion")
        return label, float(shown.rsplit("(", 1)[1].rstrip(")"))

    def reload_at(floor: float) -> tuple[str, float]:
        status, _ = page_fetch(
            page, "PATCH", f"/api/projects/{slug}/settings", {"preselect_confidence": floor}
        )
        assert status == 200
        page.reload()
        _wait_task(page)
        return suggested()

    label, confidence = suggested()
    # Just above what the model says: shown and tagged as suggested, but nothing pre-selected.
    assert reload_at(confidence + 0.01) == (label, confidence)  # the same leased item
    assert _pressed(page) == []
    tagged = page.eval_on_selector_all(
        ".label-btn.is-suggested", "bs => bs.map(b => b.dataset.label)"
    )
    assert tagged == [label]
    # Just below it: pre-selected, so agreeing costs one key.
    assert reload_at(confidence - 0.01) == (label, confidence)
    assert _pressed(page) == [label]
    # Its key takes the suggestion (it does not clear it); the same key again clears it.
    key = page.get_attribute(f".label-btn[data-label='{label}']", "aria-keyshortcuts")
    page.keyboard.press(key)
    assert _pressed(page) == [label]
    page.keyboard.press(key)
    assert _pressed(page) == []

    # Changed while the page is open: the next item follows the project's setting, no reload.
    for floor, expect_pressed in ((1.0, False), (0.0, True)):
        status, _ = page_fetch(
            page, "PATCH", f"/api/projects/{slug}/settings", {"preselect_confidence": floor}
        )
        assert status == 200
        wait_answer(  # the page's status poll brings the setting
            page,
            """(floor) => fetch(location.pathname.replace('/p/', '/api/projects/')
                    .replace('/label', '/status')).then(r => r.json())
                .then(s => s.labeling.preselect_confidence === floor)""",
            floor,
            every_ms=250,
        )
        page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
        page.wait_for_timeout(500)
        shown = page.get_attribute("#label-app", "data-assignment-id")
        page.keyboard.press("s")  # skip to the next item
        _wait_task(page, other_than=shown)
        next_label, _ = suggested()
        assert _pressed(page) == ([next_label] if expect_pressed else [])
    context.close()


def _lease_item(server: Any, assignment_id: int, *, end: bool = False) -> int:
    """The item of a lease on the server; with ``end``, the lease ends now, as if the page had
    been left open past it."""
    from sqlalchemy import select, update

    from labelloop.store.db import Database
    from labelloop.store.tables import assignment
    from labelloop.store.users import now

    db = Database(f"sqlite:///{server.home / 'labelloop.db'}")
    try:
        with db.write() as conn:
            mine = assignment.c.id == assignment_id
            if end:
                ended = now() - timedelta(seconds=1)
                conn.execute(update(assignment).where(mine).values(lease_expires_at=ended))
            return int(conn.execute(select(assignment.c.item_id).where(mine)).scalar_one())
    finally:
        db.dispose()


def test_e2e_an_open_page_keeps_its_lease_and_a_late_answer_counts(
    server: Any, browser: Any, tmp_path: Path
) -> None:
    """A page left open past a one-minute lease lost the answer and showed the same item again
    under a message saying it had moved on."""
    slug = _choice_project(server, tmp_path, "leases", "Leases", lease_minutes=1)
    rows = [{"id": f"l{i}", "text": f"lease pool text number {i}"} for i in range(6)]
    (tmp_path / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    server.cli("import", slug, str(tmp_path / "pool.jsonl"), "--id-field", "id")
    dora = _annotator_token(server, slug, "dora")

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.clock.install()
    login(page, server.url, f"/p/{slug}/label")
    first = int(_wait_task(page, timeout_ms=60000))
    # Twenty-odd seconds of work on a one-minute lease: the page renews it.
    page.mouse.move(200, 200)
    with page.expect_response(lambda r: r.url.endswith(f"/tasks/{first}/renew")) as renewed:
        page.clock.run_for(25000)
    assert renewed.value.status == 200

    # The lease ran out anyway (the tab was hidden, say) and nobody took the item: it counts.
    item_id = _lease_item(server, first, end=True)
    page.keyboard.press("1")
    with page.expect_response(lambda r: r.url.endswith(f"/tasks/{first}/submit")) as sent:
        page.keyboard.press("Enter")
    assert sent.value.status == 200
    second = int(_wait_task(page, other_than=str(first)))
    status, body = page_fetch(page, "GET", f"/api/projects/{slug}/annotations/previous")
    assert status == 200 and body["annotation"]["item"]["id"] == item_id

    # This time another annotator took the item meanwhile: the answer is refused, truly said.
    taken = _lease_item(server, second, end=True)
    held: list[int] = []
    for _ in rows:
        task = _as(server, dora, "POST", f"/api/projects/{slug}/tasks/next", {"held": held})
        held.append(task["task"]["assignment_id"])
        if task["task"]["item"]["id"] == taken:
            break
    page.keyboard.press("1")
    with page.expect_response(lambda r: r.url.endswith(f"/tasks/{second}/submit")) as refused:
        page.keyboard.press("Enter")
    assert refused.value.status == 409
    warning = page.locator("#messages", has_text="another annotator has the item now")
    warning.wait_for()
    assert "nothing was recorded" in warning.inner_text()
    page.wait_for_function(
        "() => document.getElementById('label-app').dataset.state === 'task'", timeout=15000
    )
    shown = int(page.get_attribute("#label-app", "data-assignment-id"))
    assert shown != second and _lease_item(server, shown) != taken
    context.close()


def test_e2e_the_unreachable_message_goes_once_the_server_answers(
    server: Any, browser: Any, tmp_path: Path
) -> None:
    """A submit sent while the server restarted said it could not be reached, and the message
    stayed on the page after the next submit went through, as if the server were still away."""
    context, page, first = _labeling_new_project(server, browser, tmp_path, "restarts", 6)
    unreachable = page.locator("#messages .message", has_text="could not be reached")

    page.route("**/api/**", lambda route: route.abort())  # the server is away
    page.keyboard.press("1")
    for _ in range(2):
        with page.expect_event("requestfailed", lambda r: r.url.endswith(f"/tasks/{first}/submit")):
            page.keyboard.press("Enter")
        unreachable.first.wait_for()
        # the item comes back with its answer, to send again (not merely any item on screen:
        # on a loaded machine the next one could still show)
        page.wait_for_function(
            """(id) => {
                const app = document.getElementById('label-app');
                return app.dataset.state === 'task' && app.dataset.assignmentId === id
                    && !!document.querySelector('.label-btn[aria-pressed="true"]');
            }""",
            arg=first,
        )
    assert unreachable.count() == 1  # one message, however many calls failed
    assert page.get_attribute("#label-app", "data-assignment-id") == first

    page.unroute("**/api/**")  # it is back
    with page.expect_response(lambda r: r.url.endswith(f"/tasks/{first}/submit")) as sent:
        page.keyboard.press("Enter")
    assert sent.value.status == 200
    unreachable.wait_for(state="detached")
    context.close()


def test_e2e_answers_waiting_for_review_are_said_on_the_status_line(
    server: Any, browser: Any, tmp_path: Path
) -> None:
    """With every answer reviewed, labels count only once reviewed: after two answers the
    labeling page's status line says they are answered and in review, and that the next model
    waits for reviewed labels, instead of a "0 / 3 labeled" that looks stuck."""
    slug = _choice_project(server, tmp_path, "reviewed", "Reviewed", review_policy="all")
    pool = [{"id": f"r{i}", "text": f"reviewed pool text number {i}"} for i in range(3)]
    (tmp_path / "pool.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pool))
    server.cli("import", slug, str(tmp_path / "pool.jsonl"), "--id-field", "id")
    nina = _annotator_token(server, slug, "nina")
    for _ in range(2):
        deadline = time.monotonic() + 30
        while (task := _as(server, nina, "POST", f"/api/projects/{slug}/tasks/next", {}))[
            "task"
        ] is None and time.monotonic() < deadline:
            time.sleep(0.2)  # the learner's cold-start round makes the first queue
        _as(
            server,
            nina,
            "POST",
            f"/api/projects/{slug}/tasks/{task['task']['assignment_id']}/submit",
            {"value": {"sentiment": server.labels[0]}, "active_ms": 1000},
        )
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login(page, server.url, f"/p/{slug}/label")
    page.wait_for_function(
        "() => document.getElementById('progress-text').textContent.includes('in review')",
        timeout=15000,
    )
    assert page.inner_text("#progress-text") == "0 / 3 labeled · 2 answered, in review"
    page.wait_for_function(
        "() => document.getElementById('training-text').textContent.includes('reviewed')",
        timeout=15000,
    )
    assert "more reviewed label" in page.inner_text("#training-text")
    context.close()


def test_e2e_the_choice_announcement_goes_when_the_next_item_is_shown(
    server: Any, browser: Any, tmp_path: Path
) -> None:
    """A screen reader hears "sentiment: X" when a label is chosen; the next item, and an
    earlier one gone back to, start with nothing in that live region, not the last choice."""
    context, page, first = _labeling_new_project(server, browser, tmp_path, "news", 3)
    page.keyboard.press("1")
    assert page.text_content("#choice-news") == f"sentiment: {server.labels[0]}"
    page.keyboard.press("Enter")
    _wait_task(page, other_than=first)
    assert page.text_content("#choice-news") == ""
    page.keyboard.press("2")
    assert page.text_content("#choice-news") == f"sentiment: {server.labels[1]}"
    page.keyboard.press("Backspace")  # back to the first item, as answered
    page.wait_for_function("() => document.getElementById('label-app').dataset.state === 'edit'")
    assert page.text_content("#choice-news") == ""
    context.close()
