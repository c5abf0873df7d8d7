"""``labelloop`` on a slow network: while the file ``SUBMIT_GATE`` names says ``hold``, answers
(``POST …/submit``) wait before the server reads them, and one whose browser gave up on it
meanwhile (the page closed and cancelled it) is lost, as on a network that never delivered it."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from labelloop.cli import app
from labelloop.server import app as server_app

GATE = Path(os.environ["SUBMIT_GATE"])
WAIT_S = 60.0
"""Longest hold: a test that failed before opening the gate still ends."""
_create_app = server_app.create_app


def _holding() -> bool:
    try:
        return GATE.read_text(encoding="utf-8").strip() == "hold"
    except OSError:
        return False


def _slow(inner: Any) -> Any:
    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/submit"):
            await inner(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        deadline = asyncio.get_running_loop().time() + WAIT_S
        while _holding() and asyncio.get_running_loop().time() < deadline:
            try:
                message = await asyncio.wait_for(receive(), timeout=0.05)
            except TimeoutError:
                continue
            if message["type"] == "http.disconnect":
                return  # the browser cancelled it: it never arrives

        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await inner(scope, replay, send)

    return asgi


def _create_slow_app(*args: Any, **kwargs: Any) -> Any:
    return _slow(_create_app(*args, **kwargs))


server_app.create_app = _create_slow_app  # type: ignore[assignment]  # the hook this server is for

if __name__ == "__main__":
    app(prog_name="labelloop")
