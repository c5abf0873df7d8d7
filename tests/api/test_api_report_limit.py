"""Heavy reports per user: past the limit within a minute a user is answered 429 with
Retry-After and the standard error body, before any work; other users are not held up, and
the count starts again as the minute passes."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from starlette.responses import Response

from labelloop.server.throttle import REPORT_LIMIT, REPORT_WINDOW_S, ReportThrottle

BASE = "/api/projects/sent"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(sqlite_api: Any) -> Clock:
    clock = Clock()
    sqlite_api.client.app.state.reports = ReportThrottle(limit=3, clock=clock)
    return clock


def _page(api: Any, name: str, path: str) -> Any:
    response = Response()
    api.client.app.state.sessions.issue(response, api.lab.users[name].id)
    cookie = response.headers["set-cookie"].split(";", 1)[0]
    return api.client.get(path, headers={"cookie": cookie, "accept": "text/html"})


def test_a_user_past_the_limit_is_told_when_to_try_again(sqlite_api: Any, clock: Clock) -> None:
    api = sqlite_api
    for route in ("/gain", "/dashboard", "/gain"):  # every heavy report counts alike
        assert api.get(BASE + route, "reviewer").status_code == 200
        clock.now += 10
    refused = api.get(f"{BASE}/quality", "reviewer")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == str(int(REPORT_WINDOW_S - 30))
    assert refused.json() == {
        "error": "TooManyAttempts",
        "detail": "too many reports asked for within a minute (3 at most); try again in 30 seconds",
    }
    # the page that computes the same report is refused as a page, saying why
    page = _page(api, "reviewer", "/p/sent/dashboard")
    assert page.status_code == 429 and page.headers["retry-after"] == "30"
    assert "too many reports asked for within a minute" in page.text
    assert "Too many requests" in page.text
    # others are not held up, nor the user's cheap reads
    assert api.get(f"{BASE}/gain", "manager").status_code == 200
    assert api.get(f"{BASE}/status", "reviewer").status_code == 200
    clock.now += 30  # the first request left the minute: one more may go
    assert api.get(f"{BASE}/gain", "reviewer").status_code == 200
    assert api.get(f"{BASE}/gain", "reviewer").status_code == 429


def test_a_script_in_a_loop_is_held_to_the_limit(sqlite_api: Any) -> None:
    answers = [sqlite_api.get(f"{BASE}/gain", "manager").status_code for _ in range(REPORT_LIMIT)]
    assert answers == [200] * REPORT_LIMIT
    refused = sqlite_api.get(f"{BASE}/coverage", "manager")
    assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 60
    assert sqlite_api.get(f"{BASE}/gain", "reviewer").status_code == 200


def test_a_burst_at_the_same_moment_passes_no_more_than_the_limit() -> None:
    throttle = ReportThrottle(limit=10)
    barrier = threading.Barrier(25)

    def ask(_: int) -> float:
        barrier.wait()
        return throttle.begin(7)

    with ThreadPoolExecutor(25) as pool:
        waits = list(pool.map(ask, range(25)))
    assert waits.count(0.0) == 10 and all(w > 0 for w in waits if w)
    assert throttle.begin(8) == 0.0  # another user


def test_the_users_remembered_are_bounded() -> None:
    clock = Clock()
    throttle = ReportThrottle(limit=1, max_users=3, clock=clock)
    for user_id in range(5):
        assert throttle.begin(user_id) == 0.0
    assert throttle.begin(4) > 0  # the most recent are kept
    assert throttle.begin(0) == 0.0  # the least recent went first
