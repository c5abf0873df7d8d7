"""The project page's Settings panel: a manager changes live settings in a form and sees what
changed; the API and CLI read the same; a wrong value changes nothing; annotators never see it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.admin_only import admin_only
from tests.e2e.conftest import Server, login, page_fetch, wide_elements

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server holding the admin alone, without a learner: the settings panel saves and
    shows what a manager changes; no round is needed for that."""
    with admin_only(tmp_path_factory, learner=False) as live:
        yield live


SLUG = "tuning"
ANNOTATOR = ("erin", "erin-password-123")
SCHEMA = {
    "name": "Tuning",
    "data": {"type": "text", "field": "text"},
    "controls": [{"name": "topic", "type": "choice", "labels": ["sport", "tech"], "target": True}],
}


def _result(page: Any, containing: str) -> str:
    """The panel's message once it says ``containing``."""
    page.wait_for_function(
        """(part) => {
            const m = document.querySelector('#settings-result .message');
            return m !== null && m.textContent.includes(part);
        }""",
        arg=containing,
        timeout=30000,
    )
    return page.inner_text("#settings-result .message")


def _shoot(page: Any, path: Path) -> None:
    """The panel in one picture: a viewport as tall as the page, so the save bar, which sticks
    to the bottom of a shorter one, rests in its place."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": 4000})
    page.locator("#settings-panel").screenshot(path=str(path))
    page.set_viewport_size(size)


def _api_settings(page: Any) -> dict[str, Any]:
    status, body = page_fetch(page, "GET", f"/api/projects/{SLUG}")
    assert status == 200, body
    return body["settings"]


def _settings_events(server: Any) -> list[dict[str, Any]]:
    found = json.loads(server.cli("audit", SLUG, "--last", "20", "--json"))
    return [e for e in found["last"] if e["action"] == "project.settings"]


def test_e2e_a_manager_changes_live_settings_from_the_project_page(
    server: Any, browser: Any, tmp_path: Path, screenshots: Path
) -> None:
    (tmp_path / "schema.json").write_text(json.dumps(SCHEMA))
    server.cli("projects", "create", SLUG, "--schema", str(tmp_path / "schema.json"))
    server.cli("users", "add", ANNOTATOR[0], "--password-stdin", stdin=ANNOTATOR[1] + "\n")
    server.cli("projects", "member", SLUG, ANNOTATOR[0], "annotator")

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, server.url, f"/p/{SLUG}")

    # The form shows the project's values, each field named by its label, with its hint.
    assert page.locator("#settings-panel").is_visible()
    batch = page.get_by_label("Batch size", exact=True)
    policy = page.get_by_label("Review policy", exact=True)
    assert batch.input_value() == "10" and policy.input_value() == "none"
    assert page.get_by_label("Strategy", exact=True).input_value() == "auto"
    assert page.get_by_label("Budget", exact=True).input_value() == ""  # none
    assert page.get_by_label("Preselect suggestion", exact=True).is_checked() is False
    hint = page.inner_text("#" + batch.get_attribute("aria-describedby"))
    assert hint.endswith("At least 1.")
    assert page.inner_text("#fixed-overlap") == "1"
    assert page.locator("#settings-fixed input, #settings-fixed select").count() == 0
    assert "stay as the project was created" in page.inner_text("#settings-fixed")
    assert page.inner_text("#settings-dirty") == "No unsaved changes."

    # Review on, a bigger batch and another strategy; saved with Enter from the batch field.
    page.evaluate("() => { window.__samePage = true; }")
    page.get_by_label("Strategy", exact=True).select_option("entropy")
    policy.select_option("all")
    batch.fill("25")
    assert page.inner_text("#settings-dirty") == (
        "Not saved yet: strategy, batch_size, review_policy."
    )
    _shoot(page, screenshots / "settings-changed.png")
    batch.press("Enter")
    assert _result(page, "Saved") == (
        "Saved: strategy auto → entropy, batch_size 10 → 25, review_policy none → all"
    )
    assert page.inner_text("#strategy-setting") == "entropy"  # the header line, no reload
    assert page.evaluate("() => window.__samePage === true")
    assert page.inner_text("#settings-dirty") == "No unsaved changes."

    # Reloaded, the page holds them; the API and the CLI read the same.
    page.reload()
    assert page.get_by_label("Review policy", exact=True).input_value() == "all"
    assert page.get_by_label("Batch size", exact=True).input_value() == "25"
    assert page.get_by_label("Strategy", exact=True).input_value() == "entropy"
    assert page.inner_text("#strategy-setting") == "entropy"
    got = _api_settings(page)
    assert (got["review_policy"], got["batch_size"], got["strategy"]) == ("all", 25, "entropy")
    assert json.loads(server.cli("status", SLUG, "--json"))["strategy"] == "entropy"
    (event,) = _settings_events(server)
    assert event["actor"] == server.username
    assert event["payload"]["changed"] == {
        "strategy": {"from": "auto", "to": "entropy"},
        "batch_size": {"from": 10, "to": 25},
        "review_policy": {"from": "none", "to": "all"},
    }

    # The expert tier names users who exist: a typo is refused, naming it.
    page.get_by_label("Escalate to", exact=True).fill("dana, erni")
    page.click("#settings-save")
    assert _result(page, "Not saved") == (
        "Not saved, nothing changed: settings.escalate_to: no user named 'dana', 'erni'"
    )
    server.cli("users", "add", "dana", "--password-stdin", stdin="a-long-password\n")
    server.cli("projects", "member", SLUG, "dana", "reviewer")

    # A budget and the expert tier; an empty budget is none again later.
    page.get_by_label("Budget", exact=True).fill("2000")
    page.get_by_label("Escalate to", exact=True).fill(" dana ,  erin ")
    page.click("#settings-save")
    assert _result(page, "Saved") == "Saved: budget none → 2000, escalate_to none → dana, erin"
    assert page.get_by_label("Escalate to", exact=True).input_value() == "dana, erin"
    assert _api_settings(page)["escalate_to"] == ["dana", "erin"]

    # A wrong value: the server's message beside the button, the field marked, nothing changed
    # (not even the right value sent with it).
    before = _api_settings(page)
    page.get_by_label("Random share", exact=True).fill("0.9")
    page.get_by_label("Gold rate", exact=True).fill("0.1")
    page.get_by_label("Budget", exact=True).fill("")
    page.click("#settings-save")
    assert _result(page, "Not saved") == (
        "Not saved, nothing changed: settings.random_share: input should be less than or equal "
        "to 0.5"
    )
    assert page.locator("#settings-result .message-error").count() == 1
    share = page.get_by_label("Random share", exact=True)
    assert share.get_attribute("aria-invalid") == "true"
    assert page.evaluate("() => document.activeElement.id") == "setting-random_share"
    assert _api_settings(page) == before
    assert len(_settings_events(server)) == 2

    # Fixed, it saves; "Discard" puts an unsaved edit back.
    share.fill("0.1")
    page.click("#settings-save")
    assert _result(page, "Saved") == (
        "Saved: budget 2000 → none, random_share 0 → 0.1, gold_rate 0 → 0.1"
    )
    assert share.get_attribute("aria-invalid") is None
    assert page.locator("#random-control").is_visible()  # the header names the control
    assert page.inner_text("#random-share-setting") == "10"
    after = _api_settings(page)
    assert (after["budget"], after["random_share"], after["gold_rate"]) == (None, 0.1, 0.1)
    batch = page.get_by_label("Batch size", exact=True)
    batch.fill("30")
    assert page.inner_text("#settings-dirty") == "Not saved yet: batch_size."
    page.click("#settings-discard")
    assert batch.input_value() == "25"
    assert page.inner_text("#settings-dirty") == "No unsaved changes."
    assert _api_settings(page)["batch_size"] == 25
    _shoot(page, screenshots / "settings.png")

    # At a phone's width the panel fits without scrolling sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, wide_elements(page)
    _shoot(page, screenshots / "settings-phone.png")
    assert errors == []
    context.close()

    # An annotator sees no panel, and the API refuses the change.
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    login(page, server.url, f"/p/{SLUG}", username=ANNOTATOR[0], password=ANNOTATOR[1])
    assert page.locator("h1").inner_text() == SCHEMA["name"]
    for hidden in ("#settings-panel", "#settings-link", "#settings-data"):
        assert page.locator(hidden).count() == 0, hidden
    assert "Settings" not in page.inner_text("main")
    changes = len(_settings_events(server))
    status, _ = page_fetch(page, "PATCH", f"/api/projects/{SLUG}/settings", {"batch_size": 5})
    assert status == 403
    assert len(_settings_events(server)) == changes  # nothing changed
    # an annotator reads the settings their labeling applies, not batch sizes or thresholds
    assert set(_api_settings(page)) == {
        "lease_minutes",
        "preselect_suggestion",
        "preselect_confidence",
    }
    context.close()


def test_e2e_a_spans_projects_header_keeps_the_strategy_its_rounds_record(
    server: Any, browser: Any, tmp_path: Path
) -> None:
    """A spans round ranks by token entropy whatever the strategy setting says: the header
    names that, before and after the manager saves another strategy in the panel."""
    spans = {
        "name": "Places",
        "data": {"type": "text", "field": "text"},
        "controls": [{"name": "entities", "type": "spans", "labels": ["city", "person"]}],
    }
    (tmp_path / "spans.json").write_text(json.dumps(spans))
    server.cli("projects", "create", "places", "--schema", str(tmp_path / "spans.json"))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, server.url, "/p/places")
    assert page.inner_text("#strategy-setting") == "mean_token_entropy"
    page.get_by_label("Strategy", exact=True).select_option("entropy")
    page.click("#settings-save")
    assert _result(page, "Saved") == "Saved: strategy auto → entropy"
    assert page.inner_text("#strategy-setting") == "mean_token_entropy"
    page.reload()
    assert page.get_by_label("Strategy", exact=True).input_value() == "entropy"
    assert page.inner_text("#strategy-setting") == "mean_token_entropy"
    assert errors == []
    context.close()
