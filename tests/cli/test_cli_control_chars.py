"""What members typed or files held reaches the terminal as text, never as a command: escape
sequences in an item's text or id, a project or label name (a store from before new names were
refused them), a flag note or a review comment print as visible stand-ins (ESC as "␛", a
direction override left open as "�", so the rest of the line is not shown backwards), and
brackets as typed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labelloop.cli.common import Terminal
from tests.api.test_api_permissions import DISGUISED, REFUSED_LABEL

CLEAR = "\x1b[2J\x1b[H"  # clear the screen, cursor home: earlier output gone
TITLE = "\x1b]0;owned\x1b\\"  # an OSC sequence (window title; clipboard alike), ended by ST
CSI = "\x9b31m"  # the one-character CSI of C1 controls
RLO = "\u202e"  # a right-to-left override left open: what follows on the line reads backwards
NAME = f"Plain {CLEAR}name"
LABELS = [f"yes{TITLE}", "no"]
TEXTS = [f"row {i} {CLEAR}{CSI}says [red]{'warm' if i % 2 else 'cold'}[/red]" for i in range(12)]


def _controls(text: str) -> list[str]:
    return sorted(
        {
            c
            for c in text
            if (ord(c) < 0x20 and c not in "\n\t")
            or 0x7F <= ord(c) < 0xA0
            or 0x202A <= ord(c) <= 0x202E
            or 0x2066 <= ord(c) <= 0x2069
        }
    )


@pytest.fixture
def hostile(cli: Any, tmp_path: Path) -> Any:
    from labelloop.store.db import Database
    from labelloop.workflow import accounts, flags, learning, projects, review, tasks

    schema = {
        "name": "Plain name",
        "data": {"type": "text", "field": "text"},
        "controls": [{"name": "c", "type": "choice", "labels": ["yes", "no"], "target": True}],
        "settings": {"review_policy": "all"},
    }
    (tmp_path / "s.json").write_text(json.dumps(schema))
    rows = [{"id": f"r{i}{TITLE}{RLO}", "text": t} for i, t in enumerate(TEXTS)]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cli("init")
    cli("projects", "create", "esc", "--schema", str(tmp_path / "s.json"))
    _named_before_the_check(Database(cli.db_url), "esc")
    cli("import", "esc", str(tmp_path / "rows.jsonl"), "--id-field", "id")
    cli("gold", "set", "esc", f"r11{TITLE}{RLO}", LABELS[0])
    db = Database(cli.db_url)
    for name, role in (("ann", "annotator"), ("rev", "reviewer")):
        accounts.create_user(db, name, None)
        projects.set_member(db, projects.system_context(db, "esc"), name, role)
    learning.train(db, projects.system_context(db, "esc"))  # the first round queues the pool
    ann = projects.access(db, "esc", accounts.user_by_name(db, "ann"), "view_project")
    rev = projects.access(db, "esc", accounts.user_by_name(db, "rev"), "view_project")
    task = tasks.next_task(db, ann)
    assert task is not None
    done = tasks.submit(db, ann, task["assignment_id"], {"c": LABELS[0]}, active_ms=900)
    flags.flag_annotation(db, ann, done["annotation_id"], note=f"unsure {CLEAR}{RLO}")
    review.review_annotation(
        db, rev, done["annotation_id"], verdict="accept", comment=f"fine {TITLE}\u2067"
    )
    cli.shown = "#" + str(done["item_id"])  # type: ignore[attr-defined]
    return cli


def _named_before_the_check(db: Any, slug: str) -> None:
    """The project's name and first label with escapes in them, as a store written before new
    names were refused such characters holds them (they stay readable)."""
    from sqlalchemy import select, update

    from labelloop.store.tables import project

    with db.write() as conn:
        stored = conn.execute(select(project.c.schema).where(project.c.slug == slug)).scalar_one()
        stored["name"] = NAME
        stored["controls"][0]["labels"] = LABELS
        conn.execute(update(project).where(project.c.slug == slug).values(name=NAME, schema=stored))


@pytest.mark.parametrize(
    ("schema", "said"),
    [
        (
            {"name": NAME, "controls": [{"name": "c", "type": "choice", "labels": ["a"]}]},
            "name: 'Plain \\x1b[2J\\x1b[Hname' holds U+001B (a control character) at character 7",
        ),
        (  # as the API and the new-project page say it
            {"name": "P", "controls": [{"name": "s", "type": "choice", "labels": DISGUISED}]},
            REFUSED_LABEL,
        ),
    ],
)
def test_a_new_name_that_could_disguise_itself_is_refused(
    cli: Any, tmp_path: Path, schema: dict[str, Any], said: str
) -> None:
    (tmp_path / "s.json").write_text(json.dumps(schema))
    cli("init")
    refused = cli("projects", "create", "esc", "--schema", str(tmp_path / "s.json"), code=1)
    assert said in " ".join(refused.output.split())
    assert cli("projects", "list").stdout.strip() == ""


@pytest.mark.parametrize(
    "args",
    [
        ("projects", "list"),
        ("status", "esc"),
        ("items", "esc"),
        ("items", "esc", "--show", "SHOWN"),
        ("gold", "list", "esc"),
        ("quality", "esc"),
    ],
)
def test_control_characters_print_as_stand_ins(hostile: Any, args: tuple[str, ...]) -> None:
    args = tuple(hostile.shown if a == "SHOWN" else a for a in args)
    out = hostile(*args).output
    assert _controls(out) == [], out
    if args[0] == "items" and len(args) == 2:
        assert "␛[2J␛[H" in out and "[red]" in out  # shown, and brackets as typed
    if "--show" in args:
        assert "␛[2J␛[H\ufffd31msays [red]" in out  # the item's text, shown
        assert "unsure ␛[2J␛[H\ufffd" in out and "fine ␛]0;owned␛\\\ufffd" in out
    if args in (("items", "esc"), ("gold", "list", "esc")):
        assert "r11␛]0;owned␛\\\ufffd" in out  # the id, its override shown


def test_the_consoles_own_styling_still_reaches_a_terminal() -> None:
    import io

    written = io.StringIO()
    Terminal(file=written, force_terminal=True, color_system="standard").print(
        f"[red]error:[/red] {CLEAR}", highlight=False
    )
    assert "\x1b[31merror:" in written.getvalue()  # the console's colour
    assert "␛[2J␛[H" in written.getvalue()  # the text's escapes, shown
