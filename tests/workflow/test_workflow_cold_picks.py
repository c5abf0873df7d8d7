"""A cold-start round's picks (queued before there were labels to train a model on) say so
wherever they are shown or exported, however long after that round they are."""

from __future__ import annotations

from typing import Any

from labelloop.workflow import browse, export, seeding, tasks


def test_a_cold_start_pick_says_so_when_served_again_after_a_model_was_trained(
    lab: Any, ready: Any
) -> None:
    """A lease from v1 (the cold start) served again once v2 is trained says no model picked
    it; a new pick from v2's queue names v2; the Items trace and the exports say the same."""
    lab.label_next(ready, n=6)
    held = tasks.next_task(lab.db, ready)
    assert held is not None and held["selection"]["model_version"] == 1
    assert lab.train(ready) == 2  # a model now, trained on the six labels

    again = tasks.next_task(lab.db, ready)  # the page reloaded: its lease is served again
    assert again is not None and again["assignment_id"] == held["assignment_id"]
    assert again["selection"]["model_version"] == 1
    assert again["selection"]["cold_start"] is True
    assert again["selection"]["picked_by"] == "none (v1 was a cold start)"

    fresh = tasks.next_task(lab.db, ready, held=[held["assignment_id"]])
    assert fresh is not None and fresh["selection"]["rank"] is not None
    assert fresh["selection"]["model_version"] == 2
    assert fresh["selection"]["cold_start"] is False
    assert fresh["selection"]["picked_by"] == "v2"

    # The trace of an item answered from the cold start's queue, and of one from v2's.
    for task in (held, fresh):
        value = {"sentiment": lab.truth(task["item"]["data"]["text"])}
        tasks.submit(lab.db, ready, task["assignment_id"], value, active_ms=900)
    old = browse.item_trace(lab.db, ready, item_id=held["item"]["id"])["annotations"][0]
    assert old["selection"]["picked_by"] == "none (v1 was a cold start)"
    new = browse.item_trace(lab.db, ready, item_id=fresh["item"]["id"])["annotations"][0]
    assert new["selection"]["picked_by"] == "v2"

    # The exports' "why picked" says it of the cold start's picks only.
    reasons = {r.item_id: r.reason for r in export.records(lab.db, ready)}
    assert reasons[held["item"]["id"]].endswith("; picked by model: none (v1 was a cold start)")
    assert "picked by model" not in reasons[fresh["item"]["id"]]
    answers = {r.item_id: r.reason for r in export.answer_records(lab.db, ready)}
    assert answers[held["item"]["id"]] == reasons[held["item"]["id"]]
    assert answers[fresh["item"]["id"]] == fresh["selection"]["reason"]

    # The Items page's "Picked by" choices: the cold start's strategy ranked nothing.
    texts = {c["value"]: c["text"] for c in browse.picked_by_choices(lab.db, ready)}
    assert texts["diversity"] == "diversity (a cold start's picks, before any model)"
    assert texts["margin"] == "margin (the model's ranking)"


def test_a_search_pick_in_a_cold_start_names_no_model(lab: Any, ready: Any) -> None:
    """An item sent to the queue from a search while v1 (a cold start) is current was picked by
    no model at all: it says v1 was current, as before, not that v1 picked it."""
    item_id = browse.list_items(lab.db, ready, limit=1)["items"][0]["id"]
    seeding.send_to_queue(lab.db, ready, [item_id], query="awful")
    task = tasks.next_task(lab.db, ready)
    assert task is not None and task["item"]["id"] == item_id
    assert task["selection"]["cold_start"] is False
    assert task["selection"]["picked_by"] == "no (v1 was current)"


def test_idle_says_when_the_settings_stop_every_round(lab: Any) -> None:
    """A project whose stored settings name a featurizer this server cannot use (a plug-in
    since uninstalled) runs no round, however many labels come: the labeling page's reason was
    "more labels start it"; ``blocked`` now says what stops it, first round or later ones."""
    from sqlalchemy import select

    from labelloop.store.tables import project as project_table

    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(12))
    with lab.db.write() as conn:
        schema = conn.execute(
            select(project_table.c.schema).where(project_table.c.id == ctx.id)
        ).scalar_one()
        schema = {**schema, "settings": {**schema["settings"], "featurizer": "gone"}}
        conn.execute(
            project_table.update().where(project_table.c.id == ctx.id).values(schema=schema)
        )
    lab.db.memo.forget()  # as a process started on this store would read it
    ann = lab.member("sent", "ann", "annotator")
    assert tasks.next_task(lab.db, ann) is None
    why = tasks.idle(lab.db, ann)
    assert (why["state"], why["first"], why["remaining"]) == ("unqueued", True, 12)
    assert why["blocked"].startswith("settings.featurizer: unknown featurizer 'gone'")
