"""The project page's Settings panel as the server renders it: every live setting once, with its
value, range and hint from the settings model; the fixed ones read-only; managers only."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from labelloop.schema.settings import ProjectSettings
from labelloop.workflow.projects import LIVE_GROUPS, LIVE_SETTINGS
from tests.api.conftest import SLUG, Page


def _html(page: Page, user: Any) -> str:
    return str(page.get_as(user, f"/p/{SLUG}").text)


def _settings_data(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="settings-data" type="application/json">(.*?)</script>', html)
    assert found, "no settings data on the page"
    return json.loads(found.group(1))


def test_every_setting_says_what_it_does_and_every_live_one_has_a_group() -> None:
    """A setting without a hint would be a blank line in the panel; one in no group, missing."""
    grouped = [name for _, names in LIVE_GROUPS for name in names]
    assert sorted(grouped) == sorted(set(grouped)) == sorted(LIVE_SETTINGS)
    undocumented = [k for k, f in ProjectSettings.model_fields.items() if not f.description]
    assert undocumented == []


def test_a_manager_gets_the_form_with_the_projects_values(page: Page) -> None:
    for name in ("dana", "eve"):
        page.lab.user(name)
    page.lab.project(SLUG, review_policy="share", budget=300, escalate_to=["dana", "eve"])
    html = _html(page, page.lab.admin)
    fields = {f["name"]: f for f in _settings_data(html)["fields"]}
    assert list(fields) == list(LIVE_SETTINGS)
    assert fields["review_policy"] == {
        "name": "review_policy",
        "kind": "choice",
        "optional": False,
        "value": "share",
    }
    assert fields["budget"]["value"] == 300 and fields["budget"]["optional"] is True
    assert fields["escalate_to"]["kind"] == "names"
    assert fields["preselect_suggestion"]["kind"] == "bool"
    assert fields["random_share"]["kind"] == "float" and fields["batch_size"]["kind"] == "int"

    # Each input is labelled, shows the value and describes itself with a hint and the range.
    text = " ".join(html.split())
    assert '<label for="setting-budget">Budget</label>' in text
    assert re.search(r'<input type="number" id="setting-budget" name="budget" value="300"', text)
    assert 'min="0.0" max="0.5"' in text  # random_share's range, from the model
    assert '<option value="share" selected>share</option>' in text
    assert '<option value="auto">auto (default)</option>' in text  # the registered strategies
    assert 'value="dana, eve"' in text
    # named before they were given a role: the panel says the tier counts them once they are
    note = re.search(r'<p class="setting-note" id="setting-escalate_to-note">(.*?)</p>', text)
    assert note and "&#39;dana&#39;, &#39;eve&#39; are not members of project" in note.group(1)
    assert (
        '<p class="setting-hint" id="setting-random_share-hint">Share of served items picked at '
        "random: the control for what active learning bought. From 0 to 0.5.</p>"
    ) in text
    # The fixed settings are shown, not offered.
    assert '<dd id="fixed-overlap">1</dd>' in text
    assert 'id="setting-overlap"' not in text and 'id="setting-resolution"' not in text


def test_a_strategy_no_longer_registered_stays_selected(page: Page) -> None:
    """A stored project naming a plug-in since uninstalled: the select keeps its name, so saving
    other settings does not change the strategy."""
    from labelloop.store import projects as store_projects

    ctx = page.lab.project(SLUG)
    with page.lab.db.write() as conn:
        schema = dict(store_projects.by_id(conn, ctx.id)["schema"])
        schema["settings"] = {**schema.get("settings", {}), "strategy": "gone_plugin"}
        store_projects.set_schema(conn, ctx.id, schema)
    page.lab.db.memo.forget()
    text = " ".join(_html(page, page.lab.admin).split())
    assert '<option value="gone_plugin" selected>gone_plugin</option>' in text


@pytest.mark.parametrize("role", ["annotator", "reviewer"])
def test_only_managers_and_site_admins_see_the_panel(page: Page, role: str) -> None:
    page.lab.project(SLUG)
    manager = page.lab.member(SLUG, "mona", "manager").user
    assert 'id="settings-panel"' in _html(page, manager)
    other = page.lab.member(SLUG, "otto", role).user
    html = _html(page, other)
    assert 'id="settings-panel"' not in html and 'id="settings-data"' not in html
    assert "/static/settings.js" not in html


def test_dawid_skene_under_overlap_2_is_said_where_the_setting_is_shown(page: Page) -> None:
    """Dawid–Skene decides an item from 3 answers up: a project created with it and overlap 2
    is not refused (an import may bring 3 answers an item), but its manager reads, beside the
    fixed setting, on the Quality page and in the API, that the majority decides its items."""
    page.lab.project(SLUG, overlap=2, resolution="dawid_skene")
    text = " ".join(_html(page, page.lab.admin).split())
    note = re.search(r'<p class="setting-note" id="fixed-resolution-note">(.*?)</p>', text)
    assert note and "with overlap 2 an item gets at most 2 answers here" in note.group(1)
    assert "the majority decides each" in note.group(1)
    detail = page.get_as(page.lab.admin, f"/api/projects/{SLUG}").json()
    assert "from 3 answers up" in detail["settings_notes"]["resolution"]
    quality = page.get_as(page.lab.admin, f"/p/{SLUG}/quality").text
    assert 'id="resolution-note"' in quality


def test_a_resolution_that_applies_as_set_has_no_note(page: Page) -> None:
    page.lab.project(SLUG, overlap=3, resolution="dawid_skene")
    assert 'id="fixed-resolution-note"' not in _html(page, page.lab.admin)
