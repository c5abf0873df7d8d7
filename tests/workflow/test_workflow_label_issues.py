"""Label issues a later model no longer sees close by themselves: the "label issues" count
shows the labels the newest model doubts, not every suspicion an early, weak model left open.

The pool is small and clean (each text carries its class's words), so the round's model
agrees with every honest label; a flag on one is what an early round left behind."""

from __future__ import annotations

import re
from typing import Any

from labelloop.store import review as store_review
from labelloop.store.audit import chain_rows
from labelloop.workflow import flags, projects, quality, review, status, tasks

EARLY = "labeled 'neutral' but the model is 0.55 sure it is 'positive'"
"""The note a weak early round left (the label is right: its model was wrong)."""
CLOSED = re.compile(
    r"closed by the learner \(model v(\d+)\): it now agrees with '(\w+)' "
    r"\(p = (0\.\d\d|1\.00) out of fold\)"
)


def _labeled(lab: Any, *, n: int = 45, flip: set[int] = frozenset(), **settings: Any) -> Any:
    """A project with ``n`` labels by 'ann', the ``flip``-th answers wrong; returns the
    manager's context, the annotator's and the labeled tasks' (item id, annotation id)."""
    ctx = lab.project(contradiction_threshold=1.0, **settings)  # no flags while labeling
    lab.import_rows(ctx, lab.rows(90))
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    done = []
    for k in range(n):
        task = tasks.next_task(lab.db, ann)
        label = lab.truth(task["item"]["data"]["text"])
        if k in flip:
            label = lab.classes[(lab.classes.index(label) + 1) % 3]
        out = tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": label}, active_ms=4000)
        done.append((task["item"]["id"], out["annotation_id"]))
    return ctx, ann, done


def _raise_early(lab: Any, ctx: Any, item_id: int, *, to_review: bool = True) -> None:
    """The label_issue flag an early round's model raised on an item, as rounds write it."""
    with lab.db.read() as conn:
        src = store_review.label_sources(conn, [item_id])[item_id]
    found = {
        "item_id": item_id,
        "annotation_id": src["annotation_id"],
        "user_id": src["user_id"],
        "note": EARLY,
        "score": 0.3,
    }
    with lab.db.write() as conn:
        flagged = store_review.add_label_issues(conn, ctx.id, [found], to_review=to_review)
    assert flagged == [item_id]


def _issues(lab: Any, ctx: Any, item_id: int) -> list[dict[str, Any]]:
    detail = review.item_detail(lab.db, ctx, item_id)
    return [f for f in detail["flags"] if f["kind"] == "label_issue"]


def _status_of(lab: Any, ctx: Any, annotation_id: int) -> str:
    found = review.item_detail(lab.db, ctx, _item_of(lab, annotation_id))["annotations"]
    return next(a["status"] for a in found if a["id"] == annotation_id)


def _item_of(lab: Any, annotation_id: int) -> int:
    from labelloop.store import tasks as store_tasks

    with lab.db.read() as conn:
        return int(store_tasks.get_annotation(conn, annotation_id)["item_id"])


def _last(lab: Any, ctx: Any, action: str) -> dict[str, Any]:
    with lab.db.read() as conn:
        return next(r for r in reversed(chain_rows(conn, ctx.id)) if r["action"] == action)


def test_a_flag_an_early_model_raised_closes_when_a_later_model_agrees(lab: Any) -> None:
    ctx, _, done = _labeled(lab, review_policy="flagged")
    item_id, annotation_id = done[7]
    label = review.item_detail(lab.db, ctx, item_id)["label"]["label"]
    _raise_early(lab, ctx, item_id)  # under "flagged" it sent the answer back to review
    assert status.status(lab.db, ctx)["open_label_issues"] == 1
    assert review.summary(lab.db, ctx)["in_review"] == 1
    assert review.next_review(lab.db, lab.member("sent", "rev", "reviewer"))["item"]["id"] == (
        item_id
    )

    version = lab.train(ctx)

    (closed,) = _issues(lab, ctx, item_id)
    assert closed["open"] is False and closed["note"] == EARLY
    found = CLOSED.fullmatch(closed["resolved_note"])
    assert found, closed["resolved_note"]
    assert (int(found.group(1)), found.group(2)) == (version, label)
    assert float(found.group(3)) > 1 / 3  # the model's guess: more than any other class
    # Nobody waits for it any more: not the count, not the alert, not the review queue.
    info = status.status(lab.db, ctx)
    assert info["open_label_issues"] == 0
    assert review.summary(lab.db, ctx)["in_review"] == 0
    assert review.flags(lab.db, ctx, kind="label_issue") == []
    assert review.next_review(lab.db, lab.ctx("sent", lab.users["rev"])) is None
    # The answer is back where it was, its label untouched; the round's audit row says so.
    assert _status_of(lab, ctx, annotation_id) == "submitted"
    assert review.item_detail(lab.db, ctx, item_id)["label"]["label"] == label
    payload = _last(lab, ctx, "model.train")["payload"]
    assert payload["relabel_closed"] == [item_id]
    assert payload["relabel_returned"] == [annotation_id]
    # The quality page tells the learner's closes apart, and no annotator is blamed for them.
    report = quality.report(lab.db, ctx, n_boot=0)
    assert report["flags"]["open_by_kind"].get("label_issue", 0) == 0
    assert report["flags"]["model_closed_by_kind"] == {"label_issue": 1}
    assert report["annotators"][0]["flags"] == {}


def test_a_reviewers_verdict_stands_and_another_flag_keeps_an_answer_in_review(
    lab: Any,
) -> None:
    """An answer a reviewer accepted before the flag returns to accepted, not to submitted;
    one its annotator flagged as ambiguous stays in review for that question; one a reviewer
    escalated keeps its flag for the expert tier."""
    ctx, ann, done = _labeled(lab, review_policy="all")
    rev = lab.member("sent", "rev", "reviewer")
    for _, annotation_id in done:
        review.review_annotation(lab.db, rev, annotation_id, verdict="accept")
    projects.change_settings(lab.db, ctx, {"review_policy": "flagged"})
    ctx = lab.ctx("sent", lab.admin)
    (kept_item, kept), (asked_item, asked), (up_item, up) = done[4], done[10], done[16]
    for item_id in (kept_item, asked_item, up_item):
        _raise_early(lab, ctx, item_id)
    flags.flag_annotation(lab.db, ann, asked, note="is 'listed' neutral?")
    review.review_annotation(lab.db, rev, up, verdict="escalate", comment="expert, please")
    assert review.summary(lab.db, ctx)["in_review"] == 2

    lab.train(ctx)

    assert not any(f["open"] for f in _issues(lab, ctx, kept_item) + _issues(lab, ctx, asked_item))
    assert _status_of(lab, ctx, kept) == "accepted"
    assert review.item_detail(lab.db, ctx, kept_item)["label"]["resolution"] == "reviewed"
    assert _status_of(lab, ctx, asked) == "in_review"  # the question still waits for a reviewer
    assert review.summary(lab.db, ctx)["in_review"] == 1
    assert review.next_review(lab.db, rev)["item"]["id"] == asked_item
    assert [f["open"] for f in _issues(lab, ctx, up_item)] == [True]  # a person is on it
    assert _status_of(lab, ctx, up) == "escalated"
    assert status.status(lab.db, ctx)["open_label_issues"] == 1


def test_a_person_resolved_flag_blocks_a_new_one_a_learner_closed_flag_does_not(
    lab: Any, monkeypatch: Any
) -> None:
    from labelloop.learn import round as learn_round

    ctx, _, done = _labeled(lab, review_policy="flagged", flip={5, 13, 21, 29, 37})
    flipped = {done[k][0] for k in (5, 13, 21, 29, 37)}
    # The later round's check finds what this one finds: each round draws its own folds, and
    # on 45 labels whether a flip the model doubted stays doubted is the folds' (and the
    # library versions') luck; what is checked here is what the flags do with it.
    checks: list[Any] = []
    real_check = learn_round.check_labels

    def same_check(*args: Any, **kwargs: Any) -> Any:
        checks.append(checks[0] if checks else real_check(*args, **kwargs))
        return checks[-1]

    monkeypatch.setattr(learn_round, "check_labels", same_check)
    lab.train(ctx)
    flagged = {f["item_id"]: f for f in review.flags(lab.db, ctx, kind="label_issue")}
    # the two flips the model is surest of: the next round's model contradicts them too
    caught = sorted(set(flagged) & flipped, key=lambda i: flagged[i]["score"])
    assert len(caught) >= 2, (flagged, flipped)
    kept_item, closed_item = caught[:2]
    # A reviewer looks and keeps the (wrong) label: resolved by a person.
    rev = lab.member("sent", "rev", "reviewer")
    kept_answer = next(a for i, a in done if i == kept_item)
    review.review_annotation(lab.db, rev, kept_answer, verdict="accept")
    # An earlier round's model agreed with the other one for a while: closed by the learner.
    with lab.db.write() as conn:
        store_review.close_by_model(
            conn,
            {flagged[closed_item]["id"]: "closed by the learner (model v2): it now agrees ..."},
        )
    assert status.status(lab.db, ctx)["open_label_issues"] == len(flagged) - 2

    lab.train(ctx)  # this model contradicts both labels again

    suggested = {r["item_id"] for r in _last_round(lab, ctx)["relabel"]}
    assert {kept_item, closed_item} <= suggested
    raised = _last(lab, ctx, "model.train")["payload"]["relabel_flagged"]
    assert closed_item in raised and kept_item not in raised
    old, new = _issues(lab, ctx, closed_item)
    assert (old["open"], new["open"]) == (False, True)
    assert old["resolved_note"].startswith("closed by the learner") and new["resolved_note"] is None
    assert [f["open"] for f in _issues(lab, ctx, kept_item)] == [False]


def _last_round(lab: Any, ctx: Any) -> dict[str, Any]:
    from labelloop.store import learning as store_learning

    with lab.db.read() as conn:
        return store_learning.latest(conn, ctx.id)["stopping"]


def test_items_the_check_did_not_judge_keep_their_flags(lab: Any) -> None:
    """A class with a single label cannot be cross-validated: its item's flag waits for a
    person, while the judged item's closes."""
    ctx = lab.project(contradiction_threshold=1.0)
    rows = lab.rows(60, labeled=True)
    lone = next(r for r in rows if r["label"] == "positive")
    kept = [r for r in rows if r["label"] != "positive"] + [lone]
    lab.import_rows(ctx, kept, labeled=True)
    ids = {d["external_id"]: d["id"] for d in _items(lab, ctx)}
    judged_item = ids[next(r["id"] for r in kept if r["label"] == "neutral")]
    _raise_early(lab, ctx, ids[lone["id"]], to_review=False)
    _raise_early(lab, ctx, judged_item, to_review=False)

    lab.train(ctx)

    assert [f["open"] for f in _issues(lab, ctx, judged_item)] == [False]
    (waiting,) = _issues(lab, ctx, ids[lone["id"]])
    assert waiting["open"] and waiting["resolved_note"] is None
    assert status.status(lab.db, ctx)["open_label_issues"] == 1


def _items(lab: Any, ctx: Any) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from labelloop.store.tables import item

    with lab.db.read() as conn:
        q = select(item.c.id, item.c.external_id).where(item.c.project_id == ctx.id)
        return [dict(r) for r in conn.execute(q).mappings()]


def test_the_label_error_scan_closes_flags_its_model_agrees_with(lab: Any) -> None:
    ctx, _, done = _labeled(lab, review_policy="flagged")
    item_id, annotation_id = done[3]
    _raise_early(lab, ctx, item_id)

    found = quality.scan(lab.db, ctx)

    assert (found["closed"], found["closed_items"]) == (1, [item_id])
    (closed,) = _issues(lab, ctx, item_id)
    assert not closed["open"]
    assert closed["resolved_note"].startswith("closed by a label-error scan's model: it now agrees")
    assert _status_of(lab, ctx, annotation_id) == "submitted"
    payload = _last(lab, ctx, "quality.scan")["payload"]
    assert (payload["closed"], payload["returned"]) == ([item_id], [annotation_id])
    assert status.status(lab.db, ctx)["open_label_issues"] == 0
