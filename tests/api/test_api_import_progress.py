"""An upload's progress, as the project page polls it: the records checked and the stage, kept
per (user, project, key) in the server's memory for a few minutes, and told to nobody else."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from labelloop.server.import_progress import ImportProgress
from tests.conftest import jsonl, make_rows

KEY = "0123456789abcdef0123456789abcdef"
PROGRESS = "/api/projects/sent/imports/progress"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_running_import_is_read_under_its_user_project_and_key_only() -> None:
    registry = ImportProgress()
    with registry.tracking(7, 1, KEY) as tracker:
        tracker.records(2000)
        tracker.stage("saving")
        assert registry.read(7, 1, KEY) == {"state": "running", "records": 2000, "stage": "saving"}
        assert registry.read(8, 1, KEY) is None  # another user, same project and key
        assert registry.read(7, 2, KEY) is None  # the same user's other project
        assert registry.read(7, 1, KEY[::-1]) is None
    assert registry.read(7, 1, KEY) == {"state": "done", "records": 2000, "stage": "saving"}


def test_a_failed_import_says_so_and_the_error_goes_on() -> None:
    registry = ImportProgress()
    with pytest.raises(ValueError), registry.tracking(7, 1, KEY) as tracker:
        tracker.records(4000)
        raise ValueError("line 4001")
    assert registry.read(7, 1, KEY) == {
        "state": "failed",
        "records": 4000,
        "stage": "checking records",
    }


def test_an_ended_import_is_forgotten_after_keep_s_a_running_one_is_not() -> None:
    clock = Clock()
    registry = ImportProgress(keep_s=300, clock=clock)
    with registry.tracking(7, 1, "ended-import"):
        pass
    with registry.tracking(7, 1, "still-running"):
        clock.now += 299
        assert registry.read(7, 1, "ended-import") is not None
        clock.now += 2
        assert registry.read(7, 1, "ended-import") is None
        clock.now += 10_000
        assert registry.read(7, 1, "still-running") is not None
    clock.now += 300
    assert registry.read(7, 1, "still-running") is not None
    clock.now += 1
    assert registry.read(7, 1, "still-running") is None


def test_the_registry_keeps_at_most_limit_imports_the_oldest_going_first() -> None:
    registry = ImportProgress(limit=3)
    for n in range(10):
        with registry.tracking(7, 1, f"import-{n:03d}"):
            pass
    kept = [n for n in range(10) if registry.read(7, 1, f"import-{n:03d}") is not None]
    assert kept == [7, 8, 9]
    assert len(registry._entries) == 3


def test_imports_in_threads_report_while_others_read() -> None:
    registry = ImportProgress(limit=50)
    start = threading.Barrier(9)

    def run(user: int) -> None:
        start.wait()
        with registry.tracking(user, 1, KEY) as tracker:
            for n in range(1, 2001):
                tracker.records(n)

    def poll() -> None:
        start.wait()
        for _ in range(2000):
            for user in range(8):
                answer = registry.read(user, 1, KEY)
                assert answer is None or 0 <= answer["records"] <= 2000

    threads = [threading.Thread(target=run, args=(u,)) for u in range(8)]
    threads.append(threading.Thread(target=poll))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [registry.read(u, 1, KEY) for u in range(8)] == [
        {"state": "done", "records": 2000, "stage": "checking records"}
    ] * 8


def _upload(api: Any, role: str, rows: list[dict[str, Any]], key: str | None = KEY) -> Any:
    return api.post(
        "/api/projects/sent/imports",
        role=role,
        files={"file": ("more.jsonl", jsonl(rows).getvalue(), "application/x-ndjson")},
        data={"id_field": "id", **({"progress_key": key} if key else {})},
    )


def test_the_uploader_reads_how_far_the_import_came(api: Any) -> None:
    sent = _upload(api, "manager", make_rows(4500, start=5000))
    assert sent.status_code == 201, sent.text
    assert sent.json()["items"] == 4500
    got = api.get(PROGRESS, role="manager", params={"key": KEY})
    assert got.status_code == 200, got.text
    assert got.json() == {"state": "done", "records": 4500, "stage": "saving"}


def test_a_refused_import_reads_as_failed(api: Any) -> None:
    sent = _upload(api, "manager", [*make_rows(3, start=5000), "not json"])
    assert sent.status_code == 422, sent.text
    got = api.get(PROGRESS, role="manager", params={"key": KEY}).json()
    assert got == {"state": "failed", "records": 0, "stage": "checking records"}


def test_another_users_or_projects_key_and_a_key_nobody_sent_are_unknown(api: Any) -> None:
    assert _upload(api, "manager", make_rows(3, start=5000)).status_code == 201
    unknown = {"state": "unknown", "records": None, "stage": None}
    assert api.get(PROGRESS, role="admin", params={"key": KEY}).json() == unknown
    other = "/api/projects/other/imports/progress"
    assert api.get(other, role="outsider", params={"key": KEY}).json() == unknown
    nobody = api.get(PROGRESS, role="manager", params={"key": "f" * 32})
    assert nobody.json() == unknown


@pytest.mark.parametrize(
    ("role", "status"), [("annotator", 403), ("reviewer", 403), ("outsider", 404)]
)
def test_only_those_who_may_import_read_progress(api: Any, role: str, status: int) -> None:
    assert _upload(api, "manager", make_rows(3, start=5000)).status_code == 201
    got = api.get(PROGRESS, role=role, params={"key": KEY})
    assert got.status_code == status
    assert "4500" not in got.text and "running" not in got.text


@pytest.mark.parametrize("key", ["short", "x" * 65, "../../etc", "<script>"])
def test_a_malformed_key_is_refused(api: Any, key: str) -> None:
    assert api.get(PROGRESS, role="manager", params={"key": key}).status_code == 422
    sent = _upload(api, "manager", make_rows(3, start=5000), key=key)
    assert sent.status_code == 422
    assert api.get("/api/projects/sent/imports", role="manager").json()[0]["items"] == 9


def test_an_upload_without_a_key_imports_as_before(api: Any) -> None:
    sent = _upload(api, "manager", make_rows(3, start=5000), key=None)
    assert sent.status_code == 201 and sent.json()["items"] == 3
