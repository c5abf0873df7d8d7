"""The project page's Settings panel: a form of the live settings, built from the settings model
(type, bounds, default, hint) and the workflow's groups, so a new setting needs no template."""

from __future__ import annotations

from functools import cache
from typing import Any

from labelloop.govern.permissions import Permission
from labelloop.schema.settings import ProjectSettings
from labelloop.store.db import Database
from labelloop.workflow.projects import LIVE_GROUPS, ProjectContext, settings_notes

FIXED_SHOWN = ("overlap", "double_label_share", "resolution", "featurizer", "model")
"""The settings fixed at creation that a manager weighing the live ones needs to see: how many
answers an item gets and how they combine, and the features and model rounds compare across."""


def settings_form(db: Database, ctx: ProjectContext) -> dict[str, Any] | None:
    """The panel's groups of fields with their current values, and the fixed settings shown
    read-only; ``None`` for a caller who may not change them."""
    if not ctx.allows(Permission.MANAGE_PROJECT):
        return None
    values = ctx.settings.model_dump()
    props = _properties()
    notes = settings_notes(db, ctx)
    fields = {
        title: [
            {**_field(name, props[name], values[name]), "note": notes.get(name)} for name in names
        ]
        for title, names in LIVE_GROUPS
    }
    groups = [
        {"id": title.lower(), "title": title, "fields": shown} for title, shown in fields.items()
    ]
    fixed = [
        {
            "name": name,
            "label": _label(name),
            "text": _text(values[name]) or "none",
            "note": notes.get(name),
        }
        for name in FIXED_SHOWN
    ]
    # What settings.js needs to tell a changed field and send its value with the right type.
    data = [
        {key: f[key] for key in ("name", "kind", "optional", "value")}
        for shown in fields.values()
        for f in shown
    ]
    return {"groups": groups, "fixed": fixed, "data": data}


@cache
def _properties() -> dict[str, dict[str, Any]]:
    """Each setting's JSON schema (type, bounds, default, description), made once."""
    return dict(ProjectSettings.model_json_schema()["properties"])


def _field(name: str, prop: dict[str, Any], value: Any) -> dict[str, Any]:
    """One form field: its input kind, bounds and options, its value as JSON and as the text
    the input shows (empty for none)."""
    typed = [p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"][0]
    optional = "anyOf" in prop
    kind = {"integer": "int", "number": "float", "boolean": "bool", "array": "names"}.get(
        typed.get("type", ""), "text"
    )
    options: list[dict[str, str]] = []
    default = prop.get("default")
    if "enum" in typed or name == "strategy":
        kind = "choice"
        choices = list(typed["enum"]) if "enum" in typed else _strategies()
        if value not in choices:  # a stored plug-in name since uninstalled stays selectable
            choices.insert(0, value)
        options = [{"value": c, "label": f"{c} (default)" if c == default else c} for c in choices]
    low = typed.get("minimum")
    high = typed.get("maximum")
    return {
        "name": name,
        "label": _label(name),
        "hint": prop.get("description", ""),
        "bounds": _bounds(low, high),
        "kind": kind,
        "optional": optional,
        "value": value,
        "text": _text(value),
        "min": low,
        "max": high,
        "options": options,
    }


def _strategies() -> list[str]:
    from labelloop.learn import STRATEGIES  # importing the package registers the built-ins

    return STRATEGIES.names()


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _text(value: Any) -> str:
    """A value as an input shows it: names comma-separated, none as empty."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _bounds(low: float | None, high: float | None) -> str:
    """The range a number may take, as the hint says it."""
    if low is not None and high is not None:
        return f"From {low:g} to {high:g}."
    if low is not None:
        return f"At least {low:g}."
    return ""
