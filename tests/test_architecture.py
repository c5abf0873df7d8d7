"""The house rules that keep labelloop's rooms apart and its start-up cheap."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from labelloop.store.db import Database
from tests.conftest import Lab

ROOT = Path(__file__).resolve().parents[1]
PURE = ["schema", "learn", "ingest", "govern", "quality", "insight"]
FORBIDDEN = [
    "sqlalchemy",
    "fastapi",
    "starlette",
    "labelloop.store",
    "labelloop.server",
    "labelloop.workflow",
]


@pytest.mark.parametrize("room", PURE)
def test_pure_rooms_import_no_store_server_or_workflow(room: str) -> None:
    # every public name, as a room may load its modules at their first use (ingest does)
    code = (
        f"import sys, labelloop.{room} as room\n"
        "[getattr(room, name) for name in getattr(room, '__all__', ())]\n"
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"labelloop.{room} pulled in {out.stdout.strip()}"


def test_pure_rooms_do_not_mention_sql_layers_in_source() -> None:
    for room in PURE:
        for path in (ROOT / "labelloop" / room).rglob("*.py"):
            text = path.read_text()
            for name in FORBIDDEN:
                assert not re.search(rf"^\s*(from|import)\s+{re.escape(name)}\b", text, re.M), (
                    f"{path.relative_to(ROOT)} imports {name}"
                )


def test_the_client_imports_only_httpx_and_the_errors() -> None:
    """A script that labels over the network needs neither the server nor the learner."""
    heavy = [*FORBIDDEN, "numpy", "sklearn", "scipy", "yaml"]
    code = (
        "import sys, labelloop.client\n"
        f"bad = [m for m in {heavy!r} if m in sys.modules]\n"
        "own = [m for m in sys.modules if m.startswith('labelloop.')]\n"
        "print(','.join(bad), ','.join(sorted(own)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    bad, own = out.stdout.split(" ")
    assert bad == "", f"labelloop.client pulled in {bad}"
    assert own.strip() == "labelloop.client,labelloop.errors"


def test_only_store_issues_sql() -> None:
    for path in (ROOT / "labelloop").rglob("*.py"):
        rel = path.relative_to(ROOT / "labelloop").as_posix()
        if rel.startswith("store/"):
            continue
        text = path.read_text()
        assert not re.search(r"^\s*from sqlalchemy|^\s*import sqlalchemy", text, re.M), (
            f"{rel} speaks SQL; only labelloop/store may"
        )


def _loaded(code: str, modules: list[str], **env: str) -> list[str]:
    """Which of ``modules`` a fresh Python process running ``code`` has loaded at its end."""
    code += f"\nimport sys\nprint(','.join(m for m in {modules!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    return [m for m in out.stdout.splitlines()[-1].split(",") if m]


def _command(*args: str) -> str:
    """Code that runs ``labelloop ARGS`` in-process and fails unless the command succeeds."""
    return (
        "from labelloop.cli import app\n"
        "try:\n"
        f"    app({list(args)!r})\n"
        "except SystemExit as stop:\n"
        "    assert not stop.code, stop.code"
    )


def test_importing_the_app_does_no_work() -> None:
    """No engine, settings, app, learner or migrations at import time: a server and every test's
    server start about a second sooner without scikit-learn, SciPy and Alembic."""
    heavy = ["sklearn", "scipy", "alembic", "uvicorn"]
    assert _loaded("import labelloop.cli, labelloop.server.app", heavy) == []


def test_the_command_s_help_loads_neither_settings_nor_the_store() -> None:
    """`labelloop --help` answers before pydantic, SQLAlchemy and Alembic load: each command
    opens the settings and the store only when it runs."""
    assert _loaded(_command("--help"), ["pydantic", "sqlalchemy", "alembic"]) == []


def test_a_command_on_a_sqlite_store_loads_neither_alembic_nor_postgresql(
    sqlite_db: Database,
) -> None:
    """Every command and server checks the store's schema as it starts; Alembic is loaded only
    when there is something to migrate, SQLAlchemy's PostgreSQL dialect only for PostgreSQL."""
    url = str(sqlite_db.engine.url)
    heavy = ["alembic", "sqlalchemy.dialects.postgresql"]
    assert _loaded(_command("users", "list"), heavy, LABELLOOP_DATABASE_URL=url) == []


def test_every_export_column_is_documented_in_the_readme() -> None:
    from labelloop.domain import ANSWER_COLUMNS, EXPORT_COLUMNS

    readme = (ROOT / "README.md").read_text()
    missing = [name for name in (*EXPORT_COLUMNS, *ANSWER_COLUMNS) if f"`{name}`" not in readme]
    assert not missing, f"README does not document the export columns: {', '.join(missing)}"


def test_every_strategy_an_item_can_be_served_under_is_documented_in_the_readme() -> None:
    # Cold-start picks of a margin project were served as `diversity`, which the README's
    # list of strategies did not name.
    from labelloop.learn import STRATEGIES
    from labelloop.learn.round import COLD_START_STRATEGY

    readme = (ROOT / "README.md").read_text()
    picks = readme[readme.index("2. **The model picks.**") : readme.index("3. **It says when")]
    names = [*STRATEGIES.names(), COLD_START_STRATEGY]
    missing = [name for name in names if f"`{name}`" not in picks]
    assert not missing, f"README does not document the strategies: {', '.join(missing)}"


def test_every_cli_command_is_documented_in_the_readme() -> None:
    from typer.main import get_command

    from labelloop.cli import app

    readme = (ROOT / "README.md").read_text()
    root = get_command(app)
    names = []
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        names += [f"{name} {sub}" for sub in subs] if subs else [name]
    missing = [n for n in names if f"labelloop {n}" not in readme]
    assert not missing, f"README does not document: {', '.join(missing)}"


def test_browser_tests_never_wait_on_a_promise_with_wait_for_function() -> None:
    """Playwright's ``wait_for_function`` takes a returned promise (a fetch) for a truthy answer
    and returns at once, so such a wait waits for nothing; ``wait_answer`` polls it for real."""
    call = re.compile(r"wait_for_function\(((?:[^()]|\((?:[^()]|\([^()]*\))*\))*)\)", re.S)
    found = [
        f"{path.name}:{text[: m.start()].count(chr(10)) + 1}"
        for path in sorted((ROOT / "tests" / "e2e").glob("*.py"))
        for text in [path.read_text()]
        for m in call.finditer(text)
        if re.search(r"\bfetch\(|\.then\(|\bawait\b|\bPromise\b", m.group(1))
    ]
    assert found == []


def test_a_project_s_status_loads_no_scikit_learn(sqlite_lab: Lab) -> None:
    """`labelloop status` and a server's first status read counts and settings: the defaults
    are known without the learner, whose scikit-learn import took most of a status's seconds."""
    sqlite_lab.project("p")  # strategy margin, the default featurizer and model
    code = (
        "import sys\n"
        "from labelloop.store.db import Database\n"
        "from labelloop.workflow import projects, status\n"
        f"db = Database({str(sqlite_lab.db.engine.url)!r})\n"
        "found = status.status(db, projects.system_context(db, 'p'))\n"
        "print(found['training']['error'], found['features'], 'sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["None", "None", "False"]
