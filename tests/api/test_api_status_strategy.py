"""The status a boxes or spans project reports names the strategy its rounds record (box
confidence, token entropy), which the ``strategy`` setting does not reach: through the API, on
the project page and in ``labelloop status``; the setting stays where it is set."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from typer.testing import CliRunner

from labelloop.cli import app
from labelloop.store.tables import COLD_START_MODEL
from labelloop.workflow import projects
from tests.api.conftest import Page
from tests.conftest import make_rows

SETTING = {"strategy": "entropy"}  # a choice target's strategy, which these rounds do not use
BOXES = {
    "name": "Pets",
    "data": {"type": "image", "field": "image"},
    "controls": [{"name": "objects", "type": "boxes", "labels": ["cat", "dog"]}],
    "settings": SETTING,
}
SPANS = {
    "name": "Places",
    "data": {"type": "text", "field": "text"},
    "controls": [{"name": "entities", "type": "spans", "labels": ["city", "person"]}],
    "settings": {**SETTING, "span_scoring": "max"},
}


@pytest.mark.parametrize(
    ("schema", "recorded"), [(BOXES, "box_confidence"), (SPANS, "max_token_entropy")]
)
def test_the_status_names_what_a_boxes_or_spans_projects_rounds_record(
    page: Page, schema: dict[str, Any], recorded: str
) -> None:
    lab = page.lab
    projects.create_project(lab.db, "p", schema, actor=lab.admin)
    told = page.get_as(lab.admin, "/api/projects/p/status").json()
    assert told["strategy"] == recorded
    detail = page.get_as(lab.admin, "/api/projects/p").json()
    assert detail["settings"]["strategy"] == "entropy"  # the setting, where it is set

    html = page.html("p")
    # The header names what the rounds record, and a saved setting does not change it there.
    assert f'strategy: <span id="strategy-setting">{recorded}</span>' in html
    found = re.search(r'<script id="settings-data" type="application/json">(.*?)</script>', html)
    assert found, "the Settings panel"
    fields = {f["name"]: f["value"] for f in json.loads(found.group(1))["fields"]}
    assert fields["strategy"] == "entropy"

    env = {"LABELLOOP_DATABASE_URL": lab.db.url, "COLUMNS": "200"}
    printed = CliRunner().invoke(app, ["status", "p"], env=env)
    assert printed.exit_code == 0, printed.output
    assert re.search(rf"│ strategy +│ {recorded} +│", printed.output), printed.output
    as_json = CliRunner().invoke(app, ["status", "p", "--json"], env=env)
    assert json.loads(as_json.output)["strategy"] == recorded


def test_a_choice_projects_header_follows_its_strategy_setting(page: Page) -> None:
    page.lab.project("p", strategy="entropy")
    assert page.get_as(page.lab.admin, "/api/projects/p/status").json()["strategy"] == "entropy"
    html = page.html("p")
    assert 'strategy: <span id="strategy-setting" data-setting="strategy">entropy</span>' in html


def test_a_models_params_are_its_classifiers_and_the_strategy_setting_stands_apart(
    page: Page,
) -> None:
    lab = page.lab
    ctx = lab.project("p", strategy="entropy")
    lab.import_rows(ctx, make_rows(30, labeled=True), labeled=True)
    lab.import_rows(ctx, make_rows(20, start=100), filename="more.jsonl")
    lab.train(ctx)
    model = page.get_as(lab.admin, "/api/projects/p/status").json()["model"]
    assert model["model"] != COLD_START_MODEL and model["params"], model
    assert "strategy_setting" not in model["params"]
    # scikit-learn's placeholder for a parameter on its way out says nothing of the model
    assert "deprecated" not in model["params"].values()
    assert model["strategy_setting"] == "entropy"
    versions = page.get_as(lab.admin, "/api/projects/p/models").json()
    assert versions[-1]["params"] == model["params"]  # the learning curve's, alike
