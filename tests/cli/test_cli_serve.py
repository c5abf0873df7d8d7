"""labelloop serve: an address it cannot listen on, or a LABELLOOP_* variable that does not read
as its setting, is one line and exit 1, before it says it serves anywhere."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from labelloop.cli import app


def _serve(tmp_path: Path, *args: str, **variables: str) -> Any:
    env = {"LABELLOOP_HOME": str(tmp_path / "home"), "LABELLOOP_LEARNER": "off", **variables}
    return CliRunner().invoke(app, ["serve", *args], env=env)


def test_a_port_in_use_is_refused_before_serving_is_said(
    tmp_path: Path, no_labelloop_env: None
) -> None:
    """It printed "labelloop serving on http://127.0.0.1:8850/", then uvicorn's "ERROR: [Errno
    98] error while attempting to bind", and exited 3."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve(tmp_path, "--port", str(port))
    assert done.exit_code == 1, done.output
    assert "serving on" not in done.output
    assert done.stderr.strip() == (
        f"error: cannot serve on 127.0.0.1:{port}: Address already in use (another labelloop "
        "or program serves there; choose another --port)"
    )


def test_a_host_or_port_that_is_none_is_refused(tmp_path: Path, no_labelloop_env: None) -> None:
    """--port 99999 served on port 34463 (99999 less 65536) while it said 99999."""
    done = _serve(tmp_path, "--port", "99999")
    assert done.exit_code == 2 and "serving on" not in done.output
    assert "Invalid value for '--port'" in done.output
    done = _serve(tmp_path, "--host", "300.1.1.1", "--port", "8765")
    assert done.exit_code == 1 and "serving on" not in done.output
    assert done.stderr.startswith("error: cannot serve on 300.1.1.1:8765: ")


@pytest.mark.parametrize("command", [("serve",), ("status", "team"), ("worker",)])
def test_a_variable_that_is_not_its_setting_is_named(
    tmp_path: Path, no_labelloop_env: None, command: tuple[str, ...]
) -> None:
    """LABELLOOP_PORT=abc was pydantic's traceback; LABELLOOP_PORT=99999 served on 34463."""
    env = {"LABELLOOP_HOME": str(tmp_path / "home"), "LABELLOOP_PORT": "abc"}
    done = CliRunner().invoke(app, list(command), env={**env, "LABELLOOP_SECURE_COOKIES": "maybe"})
    assert done.exit_code == 1 and "Traceback" not in done.output, done.output
    assert done.stderr.strip() == (
        "error: LABELLOOP_PORT: Input should be a valid integer, unable to parse string as an "
        "integer, not 'abc'; LABELLOOP_SECURE_COOKIES: Input should be a valid boolean, unable "
        "to interpret input, not 'maybe'"
    )
    done = _serve(tmp_path, LABELLOOP_PORT="99999")
    assert done.exit_code == 1 and "serving on" not in done.output
    assert done.stderr.strip() == (
        "error: LABELLOOP_PORT: Input should be less than or equal to 65535, not '99999'"
    )
