"""Gold items are checks, not work: they do not count as items to label, and removing gold from
an item makes it ordinary work again, its label resolved from the answers it already has."""

from __future__ import annotations

from typing import Any

from labelloop.store.audit import chain_rows
from labelloop.workflow import export, quality, status, tasks
from labelloop.workflow import review as wf_review

CLASSES = ("negative", "neutral", "positive")
NER = {
    "name": "People",
    "data": {"type": "text", "field": "text"},
    "controls": [{"name": "ents", "type": "spans", "labels": ["person"]}],
}


def _project(lab: Any, *, n: int, gold: int, **settings: Any) -> tuple[Any, list[dict]]:
    """A trained project of ``n`` items and ``gold`` gold items, whose gold answers are true."""
    ctx = lab.project(**settings)
    lab.import_rows(ctx, lab.rows(n))
    gold_rows = lab.rows(gold, start=500, prefix="gold")
    lab.import_rows(ctx, gold_rows)
    for row in gold_rows:
        quality.set_gold(lab.db, ctx, {"sentiment": lab.truth(row["text"])}, external_id=row["id"])
    lab.train(ctx)
    return ctx, gold_rows


def _label_all(lab: Any, *people: Any, answer: Any = None) -> list[dict]:
    """``people`` take turns answering what they are served until none of them is served more
    (truthfully, unless ``answer(who, task, truth)`` says otherwise); returns the tasks served."""
    served = []
    waiting = list(people)
    while waiting:
        for who in list(waiting):
            task = tasks.next_task(lab.db, who)
            if task is None:
                waiting.remove(who)
                continue
            truth = lab.truth(task["item"]["data"]["text"])
            label = answer(who, task, truth) if answer is not None else truth
            tasks.submit(lab.db, who, task["assignment_id"], {"sentiment": label}, active_ms=4000)
            served.append(task)
    return served


def _answered(lab: Any, ctx: Any) -> dict[str, int]:
    return {g["external_id"]: g["answered"] for g in quality.gold_items(lab.db, ctx)}


def test_gold_items_do_not_keep_a_finished_project_from_reading_done(lab: Any) -> None:
    ctx, gold_rows = _project(lab, n=12, gold=2, gold_rate=0.5)
    assert status.status(lab.db, ctx)["counts"]["remaining"] == 12
    ann = lab.member("sent", "ann", "annotator")
    _label_all(lab, ann)
    assert set(_answered(lab, ctx).values()) == {1}, "each gold item was answered as a check"
    assert tasks.idle(lab.db, ann) == {"state": "done", "remaining": 0, "leased_to_others": 0}
    counts = status.status(lab.db, ctx)["counts"]
    assert {k: counts[k] for k in ("pool", "gold", "labeled", "remaining")} == {
        "pool": 12,
        "gold": 2,
        "labeled": 12,
        "remaining": 0,
    }
    # A newcomer reads "done" as well: the gold checks they never saw are no work left.
    bob = lab.member("sent", "bob", "annotator")
    assert tasks.idle(lab.db, bob)["state"] == "done"


def test_a_gold_check_leased_to_someone_else_is_not_work_left(lab: Any) -> None:
    ctx, gold_rows = _project(lab, n=6, gold=1, gold_rate=0.5)
    ann = lab.member("sent", "ann", "annotator")
    bob = lab.member("sent", "bob", "annotator")
    held = None
    while held is None and (task := tasks.next_task(lab.db, bob)) is not None:
        if task["item"]["external_id"] == gold_rows[0]["id"]:
            held = task  # bob holds the gold check
        else:
            tasks.submit(lab.db, bob, task["assignment_id"], {"sentiment": "neutral"}, active_ms=9)
    assert held is not None
    _label_all(lab, ann)
    assert tasks.idle(lab.db, ann) == {"state": "done", "remaining": 0, "leased_to_others": 0}


def test_removing_gold_from_an_answered_item_resolves_its_label_from_the_answers(
    lab: Any,
) -> None:
    ctx, gold_rows = _project(lab, n=12, gold=1, gold_rate=0.5)
    gold_id = gold_rows[0]["id"]
    people = [lab.member("sent", name, "annotator") for name in ("ann", "bob")]
    _label_all(lab, *people)
    assert _answered(lab, ctx) == {gold_id: 2}
    item_id = quality.gold_items(lab.db, ctx)[0]["item_id"]
    truth = lab.truth(gold_rows[0]["text"])

    removed = quality.remove_gold(lab.db, ctx, external_id=gold_id)

    assert quality.gold_items(lab.db, ctx) == []
    label = wf_review.item_detail(lab.db, ctx, item_id)["label"]
    assert label is not None, "the answers it got as a check resolve its label"
    assert (label["label"], label["resolution"]) == (truth, "consensus")
    assert removed == {
        "item_id": item_id,
        "removed": True,
        "answers": 2,
        "resolution": "consensus",
        "label": truth,
    }
    counts = status.status(lab.db, ctx)["counts"]
    assert {k: counts[k] for k in ("pool", "gold", "labeled", "remaining")} == {
        "pool": 13,
        "gold": 0,
        "labeled": 13,
        "remaining": 0,
    }
    assert any(r.external_id == gold_id for r in export.records(lab.db, ctx))
    with lab.db.read() as conn:
        (event,) = [r for r in chain_rows(conn, ctx.id) if r["action"] == "gold.remove"]
    assert event["subject"] == f"item:{item_id}"
    assert event["payload"] == {"answers": 2, "resolution": "consensus", "label": truth}


def test_disagreeing_answers_of_a_former_gold_item_go_to_adjudication(lab: Any) -> None:
    """Removing gold resolves as the project does: under ``resolution: adjudication`` answers
    that disagree wait for the expert tier instead of being decided by the order they came in."""
    ctx, gold_rows = _project(lab, n=12, gold=1, gold_rate=0.5, resolution="adjudication")
    gold_id = gold_rows[0]["id"]
    ann = lab.member("sent", "ann", "annotator")
    bob = lab.member("sent", "bob", "annotator")
    _label_all(
        lab,
        ann,
        bob,
        answer=lambda who, task, truth: (
            CLASSES[(CLASSES.index(truth) + 1) % 3]  # bob gets the gold item wrong
            if who is bob and task["item"]["external_id"] == gold_id
            else truth
        ),
    )
    assert _answered(lab, ctx) == {gold_id: 2}

    removed = quality.remove_gold(lab.db, ctx, external_id=gold_id)

    waiting = wf_review.next_adjudication(lab.db, ctx)
    assert waiting is not None and waiting["item"]["external_id"] == gold_id
    assert tasks.idle(lab.db, ann)["remaining"] == 1  # work again, waiting for the expert
    assert (removed["answers"], removed["resolution"], removed["label"]) == (2, None, None)


def test_removing_gold_from_an_unanswered_item_serves_it_again(lab: Any) -> None:
    ctx, gold_rows = _project(lab, n=6, gold=1)  # gold_rate 0: never served as a check
    ann = lab.member("sent", "ann", "annotator")
    gold_id = gold_rows[0]["id"]
    served = _label_all(lab, ann)
    assert gold_id not in {t["item"]["external_id"] for t in served}, "a check, not work"

    removed = quality.remove_gold(lab.db, ctx, external_id=gold_id)

    assert tasks.idle(lab.db, ann)["remaining"] == 1
    again = _label_all(lab, ann)  # from the queue it was ranked in, with no new round
    assert [t["item"]["external_id"] for t in again] == [gold_id]
    assert tasks.idle(lab.db, ann)["state"] == "done"
    assert (removed["answers"], removed["resolution"]) == (0, None)


def test_a_spans_item_is_made_gold_with_the_label_it_has(lab: Any) -> None:
    """A spans answer cannot be picked from a list of label names: the item's own label (its
    reviewed spans, say) is its known answer, and an item without one is refused."""
    import pytest

    from labelloop.errors import LabelloopError
    from labelloop.workflow import projects

    projects.create_project(lab.db, "ner", NER, actor=lab.admin)
    ctx = lab.ctx("ner", lab.admin)
    spans = [{"start": 0, "end": 3, "label": "person"}]
    rows = [
        {"id": "a", "text": "Ann flew home", "label": spans},
        {"id": "b", "text": "Bo stayed in"},
    ]
    lab.import_rows(ctx, rows, labeled=True)
    done = quality.set_gold(lab.db, ctx, None, external_id="a")
    assert done["value"] == {"ents": spans}
    assert [g["value"] for g in quality.gold_items(lab.db, ctx)] == [{"ents": spans}]
    with pytest.raises(LabelloopError, match="item 'b' has no label"):
        quality.set_gold(lab.db, ctx, None, external_id="b")


def test_the_cli_and_the_api_make_a_spans_item_gold_with_its_label(
    sqlite_lab: Any, no_labelloop_env: None, tmp_path: Any
) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from labelloop.cli import app
    from labelloop.config import get_settings
    from labelloop.server.app import create_app
    from labelloop.workflow import accounts, projects

    lab = sqlite_lab
    projects.create_project(lab.db, "ner", NER, actor=lab.admin)
    ctx = lab.ctx("ner", lab.admin)
    spans = [{"start": 0, "end": 3, "label": "person"}]
    rows = [{"id": k, "text": f"Ann said {k}", "label": spans} for k in ("a", "b")]
    lab.import_rows(ctx, rows, labeled=True)
    env = {"LABELLOOP_DATABASE_URL": lab.db.url, "COLUMNS": "200"}

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, list(args), env=env)
        assert result.exit_code == code, (args, result.output, result.exception)
        return " ".join(result.output.split())

    assert "item a is gold: 1 span: person" in run("gold", "set", "ner", "a")
    # A label name is no spans answer: the refusal says what to do instead.
    assert "leave out LABEL" in run("gold", "set", "ner", "b", "person", code=1)
    token = accounts.create_token(lab.db, "admin")
    settings = get_settings(home=tmp_path, secret_key="test")
    with TestClient(create_app(settings, db=lab.db, learner=False)) as http:
        done = http.put(
            "/api/projects/ner/gold",
            json={"external_id": "b", "value": None},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert done.status_code == 200, done.text
    assert [g["value"] for g in quality.gold_items(lab.db, ctx)] == [{"ents": spans}] * 2
