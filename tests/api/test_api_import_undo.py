"""Undoing an import through the API and the Python client: managers only, refused (409)
while people worked on its items, nothing of another project reachable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labelloop.client import ApiError, Client

URL = "http://testserver"
WRONG = b"".join(
    b'{"id": "w%d", "text": "wrong file line %d", "label": "neutral"}\n' % (i, i) for i in range(4)
)


def _delete(api: Any, path: str, role: str = "manager") -> Any:
    return api.client.delete(path, headers=api.auth(role))


def _upload(api: Any) -> int:
    sent = api.post(
        "/api/projects/sent/imports",
        role="manager",
        files={"file": ("wrong.jsonl", WRONG, "application/x-ndjson")},
        data={"id_field": "id", "label_field": "label"},
    )
    assert sent.status_code == 201, sent.text
    return int(sent.json()["batch_id"])


def test_a_manager_lists_and_undoes_an_import(api: Any) -> None:
    batch = _upload(api)
    listed = api.get("/api/projects/sent/imports", role="manager").json()
    assert [(b["filename"], b["split"], b["items"], b["labeled"]) for b in listed] == [
        ("wrong.jsonl", "pool", 4, 4),
        ("items.jsonl", "eval", 9, 9),
        ("items.jsonl", "pool", 30, 0),
    ]
    assert listed[0]["id"] == batch and listed[0]["by"] == "manager"
    assert (listed[0]["touched"], listed[0]["undoable"]) == (0, True)
    before = api.get("/api/projects/sent/status", role="manager").json()["counts"]

    undone = _delete(api, f"/api/projects/sent/imports/{batch}")
    assert undone.status_code == 200, undone.text
    assert undone.json() | {"batch_id": 0} == {
        "batch_id": 0,
        "filename": "wrong.jsonl",
        "split": "pool",
        "items": 4,
        "labels": 4,
        "predictions": 0,
        "leases": 0,
        "files": 0,
    }
    after = api.get("/api/projects/sent/status", role="manager").json()["counts"]
    assert (after["pool"], after["labeled"]) == (before["pool"] - 4, before["labeled"] - 4)
    assert len(api.get("/api/projects/sent/imports", role="manager").json()) == 2
    events = api.get("/api/projects/sent/audit", params={"action": "import.undo"}).json()
    assert [(e["subject"], e["payload"]["filename"]) for e in events] == [
        (f"import_batch:{batch}", "wrong.jsonl")
    ]
    gone = _delete(api, f"/api/projects/sent/imports/{batch}")
    assert gone.status_code == 404
    assert gone.json()["detail"] == f"project 'sent' has no import {batch}"


def test_a_file_whose_records_are_all_here_already_lists_no_import_to_undo(api: Any) -> None:
    """Importing a file again listed an import of "0 items" with an Undo button."""
    _upload(api)
    again = api.post(
        "/api/projects/sent/imports",
        role="manager",
        files={"file": ("wrong.jsonl", WRONG, "application/x-ndjson")},
    )
    assert again.status_code == 201, again.text
    said = again.json()
    assert (said["batch_id"], said["items"], said["duplicates"]) == (None, 0, 4)
    assert said["nothing_new"] == "nothing new: all 4 records were already in the project"
    assert (said["duplicate_lines"], said["unit"]) == ([1, 2, 3, 4], "line")
    listed = api.get("/api/projects/sent/imports", role="manager").json()
    assert [b["items"] for b in listed] == [4, 9, 30]  # no empty import to undo
    events = api.get("/api/projects/sent/audit", params={"action": "import"}).json()
    assert len(events) == 3  # nothing changed: nothing to audit


@pytest.mark.parametrize(
    ("role", "status"), [("annotator", 403), ("reviewer", 403), ("outsider", 404)]
)
def test_only_the_projects_managers_list_or_undo(api: Any, role: str, status: int) -> None:
    batch = _upload(api)
    assert api.get("/api/projects/sent/imports", role=role).status_code == status
    assert _delete(api, f"/api/projects/sent/imports/{batch}", role=role).status_code == status
    assert api.get("/api/projects/sent/imports", role="manager").json()[0]["items_now"] == 4


def test_an_import_with_answers_is_refused_and_kept(api: Any) -> None:
    first = api.get("/api/projects/sent/imports", role="manager").json()[-1]["id"]
    task = api.post("/api/projects/sent/tasks/next", role="annotator", json={}).json()["task"]
    done = api.post(
        f"/api/projects/sent/tasks/{task['assignment_id']}/submit",
        role="annotator",
        json={"value": {"sentiment": "neutral"}, "active_ms": 1200},
    )
    assert done.status_code == 200, done.text
    refused = _delete(api, f"/api/projects/sent/imports/{first}")
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"import {first} ('items.jsonl') cannot be undone: 1 of its 30 items has answers or "
        "labels from people. Those records stay traceable; nothing was removed"
    )
    counts = api.get("/api/projects/sent/status", role="manager").json()["counts"]
    assert counts["pool"] == 30


def test_the_client_lists_and_undoes(api: Any) -> None:
    batch = _upload(api)
    project = Client(URL, api.tokens["manager"], http=api.client).project("sent")
    assert project.imports()[0]["filename"] == "wrong.jsonl"
    assert project.undo_import(batch)["items"] == 4
    with pytest.raises(ApiError) as refused:
        Client(URL, api.tokens["annotator"], http=api.client).project("sent").undo_import(1)
    assert refused.value.status == 403


def _street(api: Any) -> Path:
    """A boxes project 'street' the manager manages; the site's media root."""
    from tests.workflow.test_workflow_uploads import BOXES

    made = api.post("/api/projects", json={"slug": "street", "schema": BOXES})
    assert made.status_code == 201, made.text
    assert api.put(
        "/api/projects/street/members", json={"username": "manager", "role": "manager"}
    ).is_success
    return Path(api.client.app.state.settings.media_root_paths[0])


def _zip_upload(api: Any, images: dict[str, int], name: str = "cars.zip") -> Any:
    from tests.workflow.test_workflow_uploads import yolo_zip

    files = {"file": (name, yolo_zip(images).getvalue(), "application/zip")}
    return api.post("/api/projects/street/imports", role="manager", files=files)


def test_undoing_an_upload_deletes_the_images_it_stored(api: Any) -> None:
    from tests.workflow.test_workflow_uploads import stored

    media = _street(api)
    first = _zip_upload(api, {"train/a": 10, "val/b": 20}).json()
    again = _zip_upload(api, {"train/a": 10, "train/c": 30}, name="more.zip").json()
    assert (again["items"], again["duplicates"]) == (1, 1)
    assert "the file of the 1 duplicate image was not kept: the project has it" in (again["notes"])
    assert len(stored(media)) == 3  # a once, b and c
    listed = api.get("/api/projects/street/imports", role="manager").json()
    assert all(b["upload_folder"].startswith("uploads/street/") for b in listed)

    undone = _delete(api, f"/api/projects/street/imports/{first['batch_id']}")
    assert undone.status_code == 200, undone.text
    assert (undone.json()["items"], undone.json()["files"]) == (2, 2)
    assert [p.rsplit("/", 1)[1] for p in stored(media)] == ["c.png"]
    events = api.get("/api/projects/street/audit", params={"action": "import.undo"}).json()
    assert events[0]["payload"]["upload_folder"] == first_folder(listed, first["batch_id"])
    project = Client(URL, api.tokens["manager"], http=api.client).project("street")
    assert project.undo_import(again["batch_id"])["files"] == 1
    assert not (media / "uploads" / "street").exists()


def first_folder(listed: list[dict[str, Any]], batch_id: int) -> str:
    return next(b["upload_folder"] for b in listed if b["id"] == batch_id)


def test_an_upload_the_disk_cannot_hold_is_refused_507_storing_nothing(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from labelloop.workflow import uploads

    media = _street(api)
    real = shutil.disk_usage
    monkeypatch.setattr(uploads.shutil, "disk_usage", lambda p: real(p)._replace(free=5 << 20))
    refused = _zip_upload(api, {"train/a": 10})
    assert refused.status_code == 507
    body = refused.json()
    assert body["error"] == "InsufficientStorage"
    assert body["detail"].startswith("the zip's images need ")
    assert (
        "the media root's disk has 5.0 MiB free (100.0 MiB of it is kept free)" in (body["detail"])
    )
    assert not (media / "uploads").exists()
    assert api.get("/api/projects/street/imports", role="manager").json() == []


def test_an_undo_while_an_import_runs_is_refused_409_removing_nothing(api: Any) -> None:
    """The page's Undo pressed while an upload to the project was still being written
    waited for it, as long as it took, and then undid: 409 at once, saying why."""
    from labelloop.workflow import batches

    batch = _upload(api)
    with api.lab.db.read() as conn:
        from labelloop.store import projects as store_projects

        project_id = store_projects.by_slug(conn, "sent")["id"]
    with batches.importing(api.lab.db, project_id):  # another server's import, say
        refused = _delete(api, f"/api/projects/sent/imports/{batch}")
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == (
        f"import {batch} cannot be undone while an import into project 'sent' is still "
        "running: nothing was removed; undo it once that import has finished"
    )
    assert _delete(api, f"/api/projects/sent/imports/{batch}").json()["items"] == 4


def test_finish_undo_pressed_while_the_undo_runs_says_so_409(api: Any) -> None:
    """The page's "Finish undo" (or Undo in a second tab) pressed while that import's undo
    ran elsewhere was told an import was still running: it is told the import is being undone
    right now, and nothing more is done."""
    from sqlalchemy import update

    from labelloop.store import projects as store_projects
    from labelloop.store.tables import import_batch
    from labelloop.store.users import now
    from labelloop.workflow import batches

    batch = _upload(api)
    with api.lab.db.write() as conn:  # withdrawn by an undo another server is running
        project_id = store_projects.by_slug(conn, "sent")["id"]
        conn.execute(
            update(import_batch).where(import_batch.c.id == batch).values(undoing_at=now())
        )
    with batches.undoing(api.lab.db, project_id, batch) as running:
        assert running is None
        refused = _delete(api, f"/api/projects/sent/imports/{batch}")
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == (
        f"import {batch} ('wrong.jsonl') is being undone right now: its items are being "
        "removed; wait for that undo to end (the imports list shows how many are left)"
    )
    assert _delete(api, f"/api/projects/sent/imports/{batch}").json()["items"] == 4


def test_finish_undo_pressed_while_another_import_is_undone_finishes_it(api: Any) -> None:
    """The page's "Finish undo" of an import whose undo stopped half way, pressed while an
    undo of another import of the project ran, was told (409) that its import was being undone
    right now, which it was not: it finishes the undo, and only Undo of the import whose undo
    runs is told so, naming it."""
    from sqlalchemy import update

    from labelloop.store import projects as store_projects
    from labelloop.store.tables import import_batch
    from labelloop.store.users import now
    from labelloop.workflow import batches

    batch = _upload(api)
    listed = api.get("/api/projects/sent/imports", role="manager").json()
    other = next(b["id"] for b in listed if b["split"] == "pool" and b["id"] != batch)
    with api.lab.db.write() as conn:  # an undo of it stopped half way
        project_id = store_projects.by_slug(conn, "sent")["id"]
        conn.execute(
            update(import_batch).where(import_batch.c.id == batch).values(undoing_at=now())
        )
    with batches.undoing(api.lab.db, project_id, other) as running:  # on another server
        assert running is None
        refused = _delete(api, f"/api/projects/sent/imports/{other}")
        finished = _delete(api, f"/api/projects/sent/imports/{batch}")
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == (
        f"import {other} ('items.jsonl') is being undone right now: its items are being "
        "removed; wait for that undo to end (the imports list shows how many are left)"
    )
    assert finished.status_code == 200, finished.text
    assert (finished.json()["batch_id"], finished.json()["items"]) == (batch, 4)
    listed = api.get("/api/projects/sent/imports", role="manager").json()
    assert [b["filename"] for b in listed] == ["items.jsonl", "items.jsonl"]


def test_the_page_reads_how_many_items_an_undo_removed_under_its_key(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Imports page sends a key with its undo and polls how many items are gone, as it
    does for an upload; only the manager who sent it reads it."""
    from labelloop.workflow import batches

    monkeypatch.setattr(batches, "SLICE", 3)
    batch = _upload(api)
    key = "f" * 32
    progress = f"/api/projects/sent/imports/progress?key={key}"
    assert api.get(progress, role="manager").json()["state"] == "unknown"
    undone = _delete(api, f"/api/projects/sent/imports/{batch}?progress_key={key}")
    assert undone.status_code == 200, undone.text
    assert api.get(progress, role="manager").json() == {
        "state": "done",
        "records": 4,
        "stage": "removing items",
    }
    bad = _delete(api, f"/api/projects/sent/imports/{batch}?progress_key=..%2F")
    assert bad.status_code == 422
