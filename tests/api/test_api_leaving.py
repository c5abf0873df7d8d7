"""The labeling page gives its leases back as it is left (``tasks/release``): the next
annotator is served those items at once, and the page that comes back takes its item again
while nobody else did."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from labelloop.store.tables import assignment

BASE = "/api/projects/sent"


def _next(api: Any, role: str, held: list[int]) -> dict[str, Any]:
    response = api.post(f"{BASE}/tasks/next", role, json={"held": held})
    assert response.status_code == 200, response.text
    task = response.json()["task"]
    assert task is not None
    return task


def _submit(api: Any, task: dict[str, Any]) -> Any:
    """The annotator's answer to ``task``, as the labeling page sends it."""
    path = f"{BASE}/tasks/{task['assignment_id']}/submit"
    return api.post(path, "annotator", json={"value": {"sentiment": "neutral"}})


def _release(api: Any, role: str, tasks: list[dict[str, Any]]) -> Any:
    """Give back ``tasks`` as a page that was served them does: each with the end it was told."""
    leases = [{k: t[k] for k in ("assignment_id", "lease_expires_at")} for t in tasks]
    return api.post(f"{BASE}/tasks/release", role, json={"leases": leases})


def _ends(api: Any, assignment_id: int) -> Any:
    with api.lab.db.read() as conn:
        q = select(assignment.c.lease_expires_at).where(assignment.c.id == assignment_id)
        return conn.execute(q).scalar_one()


def test_leaving_gives_back_ones_own_leases_and_the_next_annotator_gets_them(api: Any) -> None:
    shown = _next(api, "annotator", [])
    prefetched = _next(api, "annotator", [shown["assignment_id"]])
    theirs = _next(api, "reviewer", [])  # overlap 1: an item the annotator does not hold
    assert theirs["item"]["id"] not in {shown["item"]["id"], prefetched["item"]["id"]}
    answered = _next(api, "annotator", [shown["assignment_id"], prefetched["assignment_id"]])
    done = _submit(api, answered)
    assert done.status_code == 200, done.text
    before = _ends(api, theirs["assignment_id"])

    ids = [shown, prefetched, theirs, answered]
    released = _release(api, "annotator", ids)
    assert released.status_code == 200, released.text
    mine = sorted([shown["assignment_id"], prefetched["assignment_id"]])
    assert released.json() == {"released": mine}
    assert _ends(api, theirs["assignment_id"]) == before  # another user's lease stays

    # The other annotator is served the items the page gave back, at once.
    first = _next(api, "reviewer", [theirs["assignment_id"]])
    second = _next(api, "reviewer", [theirs["assignment_id"], first["assignment_id"]])
    assert {first["item"]["id"], second["item"]["id"]} == {
        shown["item"]["id"],
        prefetched["item"]["id"],
    }
    # ... and the page that comes back is told its item is someone else's now.
    late = _submit(api, shown)
    assert late.status_code == 409
    assert "another annotator has the item now" in late.json()["detail"]


def test_a_page_that_comes_back_takes_its_item_again_while_nobody_else_did(api: Any) -> None:
    shown = _next(api, "annotator", [])
    prefetched = _next(api, "annotator", [shown["assignment_id"]])
    ids = [shown["assignment_id"], prefetched["assignment_id"]]
    assert _release(api, "annotator", [shown, prefetched]).json() == {"released": sorted(ids)}
    again = api.post(f"{BASE}/tasks/{shown['assignment_id']}/renew", "annotator")
    assert again.status_code == 200, again.text
    late = _submit(api, prefetched)
    assert late.status_code == 200, late.text
    assert late.json()["item_id"] == prefetched["item"]["id"]
    # The lease taken again is not served to anyone else.
    other = _next(api, "reviewer", [])
    assert other["item"]["id"] not in {shown["item"]["id"], prefetched["item"]["id"]}


def test_no_one_gives_back_leases_in_a_project_they_are_no_member_of(api: Any) -> None:
    shown = _next(api, "annotator", [])
    before = _ends(api, shown["assignment_id"])
    # 'outsider' manages 'other' only: 'sent' is a project they cannot see
    assert _release(api, "outsider", [shown]).status_code == 404
    body = {"leases": [{k: shown[k] for k in ("assignment_id", "lease_expires_at")}]}
    # ... and in their own project, another project's lease is no lease of theirs
    elsewhere = api.post("/api/projects/other/tasks/release", "outsider", json=body)
    assert elsewhere.status_code == 200, elsewhere.text
    assert elsewhere.json() == {"released": []}
    assert _ends(api, shown["assignment_id"]) == before
    too_many = _release(api, "annotator", [shown] * 21)
    assert too_many.status_code == 422
    unnamed = {"leases": [{"assignment_id": shown["assignment_id"]}]}
    assert api.post(f"{BASE}/tasks/release", "annotator", json=unnamed).status_code == 422


def test_a_reloaded_page_keeps_its_item_when_the_old_page_gives_it_back_late(api: Any) -> None:
    shown = _next(api, "annotator", [])
    again = _next(api, "annotator", [])  # the page reloaded: it shows the same item again
    assert again["assignment_id"] == shown["assignment_id"]
    assert again["lease_expires_at"] > shown["lease_expires_at"]
    # The old page's give-back reaches the server after the reload was served: it names the
    # lease as the old page knew it, which is no longer the lease.
    stale = _release(api, "annotator", [shown])
    assert stale.status_code == 200, stale.text
    assert stale.json() == {"released": []}
    other = _next(api, "reviewer", [])
    assert other["item"]["id"] != shown["item"]["id"]
    # The reloaded page, left in turn, gives it back.
    assert _release(api, "annotator", [again]).json() == {"released": [again["assignment_id"]]}
    assert _next(api, "reviewer", [other["assignment_id"]])["item"]["id"] == shown["item"]["id"]
