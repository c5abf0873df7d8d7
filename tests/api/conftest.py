"""The project page as the server renders it, for a signed-in admin, on a fresh SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import Response

SLUG = "sent"


class Page:
    def __init__(self, lab: Any, client: Any, app: Any) -> None:
        self.lab, self.client, self.app = lab, client, app

    def html(self, slug: str = SLUG) -> str:
        return " ".join(self.get_as(self.lab.admin, f"/p/{slug}").text.split())

    def get_as(self, user: Any, path: str) -> Any:
        """``path`` as ``user`` reads it signed in (their session cookie), checked to be a 200."""
        response = Response()
        self.app.state.sessions.issue(response, user.id)
        cookie = response.headers["set-cookie"].split(";", 1)[0]
        got = self.client.get(path, headers={"cookie": cookie})
        assert got.status_code == 200, (path, got.status_code, got.text[:200])
        return got


@pytest.fixture
def page(sqlite_lab: Any, tmp_path: Path) -> Iterator[Page]:
    from fastapi.testclient import TestClient

    from labelloop.config import get_settings
    from labelloop.server.app import create_app

    app = create_app(
        get_settings(home=tmp_path, secret_key="test"), db=sqlite_lab.db, learner=False
    )
    with TestClient(app, follow_redirects=False) as client:
        yield Page(sqlite_lab, client, app)
