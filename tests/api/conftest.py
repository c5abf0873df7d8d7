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

    def html(self, slug: str = SLUG, part: str = "") -> str:
        """The project's page, or its ``part`` (``/label``, ...), whitespace folded."""
        response = Response()
        self.app.state.sessions.issue(response, self.lab.admin.id)
        cookie = response.headers["set-cookie"].split(";", 1)[0]
        page = self.client.get(f"/p/{slug}{part}", headers={"cookie": cookie})
        assert page.status_code == 200
        return " ".join(page.text.split())


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
