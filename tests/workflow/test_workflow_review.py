"""Review tiers: policies, accept / reject-and-rework / fix / escalate, adjudication, resolution
methods, and that no one reviews their own work."""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, update

from labelloop.errors import Conflict, LabelloopError, NotFound, PermissionDenied
from labelloop.govern.audit import verify_chain
from labelloop.quality import dawid_skene
from labelloop.store.audit import chain_rows
from labelloop.store.review import insert_flags
from labelloop.store.tables import annotation, assignment, item, item_label, review
from labelloop.store.users import now
from labelloop.workflow import review as wf_review
from labelloop.workflow import status, tasks

CLASSES = ("negative", "neutral", "positive")


def _setup(lab: Any, n: int = 9, **settings: Any) -> Any:
    ctx = lab.project(**settings)
    lab.import_rows(ctx, lab.rows(n))
    lab.train(ctx)
    return ctx


def _take(lab: Any, who: Any, label: str | None = None, *, active_ms: int = 4000) -> dict:
    """Lease the next item and answer it (truthfully unless ``label`` says otherwise)."""
    task = tasks.next_task(lab.db, who)
    assert task is not None, "the queue ran dry"
    answer = label or lab.truth(task["item"]["data"]["text"])
    done = tasks.submit(
        lab.db, who, task["assignment_id"], {"sentiment": answer}, active_ms=active_ms
    )
    return {**done, "task": task, "answer": answer}


def _wrong(label: str) -> str:
    return CLASSES[(CLASSES.index(label) + 1) % 3]


def _statuses(db: Any, item_id: int) -> list[str]:
    with db.read() as conn:
        q = select(annotation.c.status).where(annotation.c.item_id == item_id)
        return list(conn.execute(q.order_by(annotation.c.id)).scalars())


def _label(db: Any, item_id: int) -> dict | None:
    with db.read() as conn:
        row = conn.execute(select(item_label).where(item_label.c.item_id == item_id)).mappings()
        found = row.first()
    return dict(found) if found else None


def test_default_settings_review_nothing(lab: Any) -> None:
    _setup(lab)
    ann = lab.member("sent", "ann", "annotator")
    rev = lab.member("sent", "rev", "reviewer")
    done = _take(lab, ann)
    assert done["resolution"] == "single"
    assert wf_review.next_review(lab.db, rev) is None
    assert _statuses(lab.db, done["item_id"]) == ["submitted"]


def test_policy_all_holds_the_label_until_a_reviewer_accepts(lab: Any) -> None:
    ctx = _setup(lab, review_policy="all")
    ann = lab.member("sent", "ann", "annotator")
    rev = lab.member("sent", "rev", "reviewer")
    done = _take(lab, ann)
    assert done["resolution"] is None
    assert status.status(lab.db, ctx)["counts"]["labeled"] == 0
    view = wf_review.next_review(lab.db, rev)
    assert view["annotation"]["id"] == done["annotation_id"]
    assert view["annotation"]["user"] == "ann"
    assert view["item"]["id"] == done["item_id"]
    assert view["waiting"] == 1
    out = wf_review.review_annotation(lab.db, rev, done["annotation_id"], verdict="accept")
    assert out["resolution"] == "reviewed"
    label = _label(lab.db, done["item_id"])
    assert (label["label"], label["resolution"]) == (done["answer"], "reviewed")
    assert label["decided_by"] == rev.user.id
    assert wf_review.next_review(lab.db, rev) is None
    with pytest.raises(Conflict):  # a verdict is given once
        wf_review.review_annotation(lab.db, rev, done["annotation_id"], verdict="accept")
    with lab.db.read() as conn:
        events = chain_rows(conn, ctx.id)
    assert verify_chain(events) is None
    accepted = [e for e in events if e["action"] == "review.accept"]
    assert len(accepted) == 1 and accepted[0]["actor_id"] == rev.user.id
    assert accepted[0]["payload"]["annotation_id"] == done["annotation_id"]


def test_reject_sends_the_item_back_with_the_comment_and_the_rework_is_reviewed(lab: Any) -> None:
    _setup(lab, review_policy="all")
    ann = lab.member("sent", "ann", "annotator")
    other = lab.member("sent", "other", "annotator")
    rev = lab.member("sent", "rev", "reviewer")
    task = tasks.next_task(lab.db, ann)
    truth = lab.truth(task["item"]["data"]["text"])
    first = tasks.submit(
        lab.db, ann, task["assignment_id"], {"sentiment": _wrong(truth)}, active_ms=3000
    )
    with pytest.raises(LabelloopError, match="comment"):
        wf_review.review_annotation(lab.db, rev, first["annotation_id"], verdict="reject")
    wf_review.review_annotation(
        lab.db, rev, first["annotation_id"], verdict="reject", comment="read the <b>whole</b> text"
    )
    # Its own annotator gets it back first, with the comment; no one else gets it meanwhile.
    again = tasks.next_task(lab.db, ann)
    assert again["item"]["id"] == task["item"]["id"]
    others = set()
    while (theirs := tasks.next_task(lab.db, other)) is not None:
        tasks.submit(lab.db, other, theirs["assignment_id"], {"sentiment": "neutral"}, active_ms=9)
        others.add(theirs["item"]["id"])
    assert len(others) == 8 and task["item"]["id"] not in others
    assert again["selection"]["strategy"] == "rework"
    assert "read the <b>whole</b> text" in again["selection"]["reason"]
    assert again["rework"]["comment"] == "read the <b>whole</b> text"
    assert again["rework"]["previous_value"] == {"sentiment": _wrong(truth)}
    assert again["rework"]["reviewer"] == "rev"
    second = tasks.submit(lab.db, ann, again["assignment_id"], {"sentiment": truth}, active_ms=3000)
    assert second["resolution"] is None
    assert _statuses(lab.db, task["item"]["id"]) == ["rejected", "in_review"]
    skip: list[int] = []
    while (view := wf_review.next_review(lab.db, rev, skip=skip))["annotation"]["id"] != second[
        "annotation_id"
    ]:
        skip.append(view["annotation"]["id"])
    assert len(skip) <= 8
    assert view["annotation"]["rework"] is True
    assert [r["verdict"] for r in view["reviews"]] == ["reject"]
    wf_review.review_annotation(lab.db, rev, second["annotation_id"], verdict="accept")
    assert _label(lab.db, task["item"]["id"])["label"] == truth
    mine = wf_review.my_reviews(lab.db, ann)
    assert [r["verdict"] for r in mine] == ["accept", "reject"]
    assert wf_review.my_reviews(lab.db, other) == []


def test_a_rework_nobody_takes_up_frees_the_item_when_its_lease_ends(sqlite_lab: Any) -> None:
    lab = sqlite_lab
    _setup(lab, n=3, review_policy="all")
    ann = lab.member("sent", "ann", "annotator")
    rev = lab.member("sent", "rev", "reviewer")
    done = _take(lab, ann)
    out = wf_review.review_annotation(
        lab.db, rev, done["annotation_id"], verdict="reject", comment="no"
    )
    with lab.db.write() as conn:
        conn.execute(
            update(assignment)
            .where(assignment.c.id == out["rework_assignment_id"])
            .values(lease_expires_at=now() - timedelta(seconds=1))
        )
    late = lab.member("sent", "late", "annotator")
    served = {tasks.next_task(lab.db, late, held=[])["item"]["id"]}
    while len(served) < 3:
        task = tasks.next_task(lab.db, late, held=[])
        tasks.submit(lab.db, late, task["assignment_id"], {"sentiment": "neutral"}, active_ms=5000)
        served.add(task["item"]["id"])
    assert done["item_id"] in served


def test_fix_keeps_the_original_and_the_label_follows_the_correction(lab: Any) -> None:
    _setup(lab, review_policy="all")
    ann = lab.member("sent", "ann", "annotator")
    rev = lab.member("sent", "rev", "reviewer")
    done = _take(lab, ann)
    corrected = _wrong(done["answer"])
    with pytest.raises(LabelloopError):
        wf_review.review_annotation(lab.db, rev, done["annotation_id"], verdict="fix")
    # A "fix" to the answer as given is no fix: its annotator would read "corrected".
    as_given = {"sentiment": done["answer"]}
    with pytest.raises(LabelloopError) as same:
        wf_review.review_annotation(
            lab.db, rev, done["annotation_id"], verdict="fix", value=as_given
        )
    assert same.value.message == (
        "the fix is the answer as given: change the value, or accept the answer"
    )
    with lab.db.read() as conn:
        assert conn.execute(select(review.c.id)).first() is None  # nothing was recorded
    out = wf_review.review_annotation(
        lab.db, rev, done["annotation_id"], verdict="fix", value={"sentiment": corrected}
    )
    assert out["resolution"] == "reviewed"
    with lab.db.read() as conn:
        original = conn.execute(
            select(annotation.c.value).where(annotation.c.id == done["annotation_id"])
        ).scalar_one()
        fixed = conn.execute(select(review.c.corrected_value)).scalar_one()
    assert original == {"sentiment": done["answer"]}
    assert fixed == {"sentiment": corrected}
    assert _label(lab.db, done["item_id"])["value"] == {"sentiment": corrected}


def test_no_one_reviews_or_adjudicates_their_own_work(sqlite_lab: Any) -> None:
    lab = sqlite_lab
    _setup(lab, review_policy="all")
    rev = lab.member("sent", "rev", "reviewer")
    man = lab.member("sent", "man", "manager")
    own = _take(lab, rev)  # a reviewer may also label
    assert wf_review.next_review(lab.db, rev) is None
    with pytest.raises(PermissionDenied, match="own work"):
        wf_review.review_annotation(lab.db, rev, own["annotation_id"], verdict="accept")
    mine = _take(lab, man)
    with pytest.raises(PermissionDenied, match="own work"):
        wf_review.adjudicate(lab.db, man, mine["item_id"], {"sentiment": "neutral"})
    # Each can review the other's.
    assert wf_review.next_review(lab.db, rev)["annotation"]["id"] == mine["annotation_id"]
    assert wf_review.next_review(lab.db, man)["annotation"]["id"] == own["annotation_id"]


def test_escalation_reaches_the_expert_tier_only(sqlite_lab: Any) -> None:
    lab = sqlite_lab
    lab.user("expert")  # the tier names a user; a project file may name them before their role
    _setup(lab, review_policy="all", escalate_to=["expert"])
    ann = lab.member("sent", "ann", "annotator")
    rev = lab.member("sent", "rev", "reviewer")
    expert = lab.member("sent", "expert", "reviewer")
    man = lab.member("sent", "man", "manager")
    one, two = _take(lab, ann), _take(lab, ann)
    wf_review.review_annotation(lab.db, rev, one["annotation_id"], verdict="escalate", comment="?")
    wf_review.review_annotation(lab.db, rev, two["annotation_id"], verdict="escalate")
    assert _statuses(lab.db, one["item_id"]) == ["escalated"]
    with pytest.raises(PermissionDenied):
        wf_review.review_annotation(lab.db, rev, one["annotation_id"], verdict="accept")
    with pytest.raises(PermissionDenied):
        wf_review.next_adjudication(lab.db, rev)
    with pytest.raises(PermissionDenied):
        wf_review.adjudicate(lab.db, ann, one["item_id"], {"sentiment": "neutral"})
    # A manager accepts at tier 2; the designated expert adjudicates the other.
    first = wf_review.next_adjudication(lab.db, man)
    assert first["item"]["id"] == one["item_id"]
    assert first["waiting"] == 2
    out = wf_review.review_annotation(lab.db, man, one["annotation_id"], verdict="accept")
    assert (out["tier"], out["resolution"]) == (2, "reviewed")
    with pytest.raises(Conflict):
        wf_review.review_annotation(lab.db, man, two["annotation_id"], verdict="escalate")
    assert wf_review.next_adjudication(lab.db, expert)["item"]["id"] == two["item_id"]
    wf_review.adjudicate(lab.db, expert, two["item_id"], {"sentiment": "positive"}, comment="ok")
    label = _label(lab.db, two["item_id"])
    assert (label["label"], label["resolution"]) == ("positive", "adjudicated")
    assert label["decided_by"] == expert.user.id
    assert wf_review.next_adjudication(lab.db, man) is None


def test_disagreements_go_to_adjudication_and_stay_decided(lab: Any) -> None:
    _setup(lab, n=3, overlap=2, resolution="adjudication")
    a = lab.member("sent", "a", "annotator")
    b = lab.member("sent", "b", "annotator")
    man = lab.member("sent", "man", "manager")
    first = _take(lab, a)
    agreeing = _take(lab, b, first["answer"])
    assert agreeing["item_id"] == first["item_id"]
    assert agreeing["resolution"] == "consensus"
    x = _take(lab, a)
    y = _take(lab, b, _wrong(x["answer"]))
    assert y["item_id"] == x["item_id"] and y["resolution"] is None
    assert _statuses(lab.db, x["item_id"]) == ["escalated", "escalated"]
    view = wf_review.next_adjudication(lab.db, man)
    assert view["item"]["id"] == x["item_id"]
    assert {f["kind"] for f in view["flags"]} == {"disagreement"}
    assert sorted(a["user"] for a in view["annotations"]) == ["a", "b"]
    assert any(h["action"] == "annotation.submit" for h in view["history"])
    wf_review.adjudicate(
        lab.db, man, x["item_id"], {"sentiment": x["answer"]}, comment="a is right"
    )
    label = _label(lab.db, x["item_id"])
    assert (label["resolution"], label["decided_by"], label["label"]) == (
        "adjudicated",
        man.user.id,
        x["answer"],
    )
    assert not any(f["open"] for f in wf_review.item_detail(lab.db, man, x["item_id"])["flags"])
    # An annotator changing their answer later does not undo the decision.
    previous = tasks.previous(lab.db, b)
    tasks.edit(lab.db, b, previous["annotation_id"], {"sentiment": _wrong(x["answer"])})
    assert _label(lab.db, x["item_id"])["resolution"] == "adjudicated"


def test_dawid_skene_outvotes_two_spammers_with_one_reliable_annotator(sqlite_lab: Any) -> None:
    lab = sqlite_lab
    _setup(lab, n=40, overlap=3, resolution="dawid_skene")
    good = [lab.member("sent", n, "annotator") for n in ("a", "b")]
    spam = [lab.member("sent", n, "annotator") for n in ("s1", "s2")]
    # Reliabilities are learned first: a and b agree with the truth, one spammer says "negative".
    for spammer in spam:
        for _ in range(9):
            x = _take(lab, good[0])
            _take(lab, good[1], x["answer"])
            last = _take(lab, spammer, "negative")
            assert last["item_id"] == x["item_id"]
            assert last["resolution"] == "dawid_skene"
    # Now the two spammers outnumber the reliable annotator on an item that is not negative.
    while True:
        x = _take(lab, good[0])
        _take(lab, spam[0], "negative")
        last = _take(lab, spam[1], "negative")
        if x["answer"] != "negative":
            break
    label = _label(lab.db, x["item_id"])
    assert (label["resolution"], label["label"]) == ("dawid_skene", x["answer"])
    # The same estimate straight from the votes.
    with lab.db.read() as conn:
        rows = conn.execute(select(annotation.c.item_id, annotation.c.user_id, annotation.c.value))
        votes = [(i, u, v["sentiment"]) for i, u, v in rows]
    items = sorted({i for i, _, _ in votes})
    users = sorted({u for _, u, _ in votes})
    R = np.full((len(users), len(items)), np.nan)
    for i, u, v in votes:
        R[users.index(u), items.index(i)] = CLASSES.index(v)
    assert CLASSES[dawid_skene(R, n_categories=3).labels[items.index(x["item_id"])]] == x["answer"]


def test_qualification_reviews_an_annotator_until_they_pass(sqlite_lab: Any) -> None:
    lab = sqlite_lab
    _setup(
        lab,
        n=20,
        review_policy="qualification",
        qualification_items=3,
        qualification_accept_rate=0.6,
    )
    ann = lab.member("sent", "ann", "annotator")
    poor = lab.member("sent", "poor", "annotator")
    rev = lab.member("sent", "rev", "reviewer")
    for _ in range(3):
        assert _take(lab, ann)["resolution"] is None
        view = wf_review.next_review(lab.db, rev)
        wf_review.review_annotation(lab.db, rev, view["annotation"]["id"], verdict="accept")
    assert _take(lab, ann)["resolution"] == "single"  # qualified: no more review
    for _ in range(3):
        assert _take(lab, poor)["resolution"] is None
        view = wf_review.next_review(lab.db, rev)
        fix = {"sentiment": _wrong(view["annotation"]["value"]["sentiment"])}
        wf_review.review_annotation(lab.db, rev, view["annotation"]["id"], verdict="fix", value=fix)
    assert _take(lab, poor)["resolution"] is None  # 0 of 3 accepted: still reviewed


def test_share_policy_reviews_a_stable_share(sqlite_lab: Any) -> None:
    lab = sqlite_lab
    _setup(lab, n=40, review_policy="share", review_share=0.3)
    ann = lab.member("sent", "ann", "annotator")
    held = [_take(lab, ann)["resolution"] is None for _ in range(40)]
    assert 5 <= sum(held) <= 20
    expected = [wf_review._fraction(2, i + 1) < 0.3 for i in range(40)]  # annotation ids 1..40
    assert held == expected


def test_disagreements_policy_reviews_only_disagreeing_items(sqlite_lab: Any) -> None:
    lab = sqlite_lab
    _setup(lab, n=4, overlap=2, review_policy="disagreements")
    a = lab.member("sent", "a", "annotator")
    b = lab.member("sent", "b", "annotator")
    rev = lab.member("sent", "rev", "reviewer")
    x = _take(lab, a)
    assert _take(lab, b, x["answer"])["resolution"] == "consensus"
    y = _take(lab, a)
    assert _take(lab, b, _wrong(y["answer"]))["resolution"] is None
    assert _statuses(lab.db, y["item_id"]) == ["in_review", "in_review"]
    for _ in range(2):
        view = wf_review.next_review(lab.db, rev)
        assert view["item"]["id"] == y["item_id"]
        assert {f["kind"] for f in view["flags"]} == {"disagreement"}
        wf_review.review_annotation(lab.db, rev, view["annotation"]["id"], verdict="accept")
    assert _label(lab.db, y["item_id"])["resolution"] == "tie"
    assert wf_review.next_review(lab.db, rev) is None


def test_a_disagreement_a_reviewer_settled_by_a_fix_is_recorded_as_theirs(
    sqlite_lab: Any,
) -> None:
    # The reviewer fixed one of two disagreeing answers to the other's label: the label was
    # recorded as a consensus decided by no one, as if the annotators had agreed.
    lab = sqlite_lab
    _setup(lab, n=2, overlap=2, review_policy="disagreements")
    a = lab.member("sent", "a", "annotator")
    b = lab.member("sent", "b", "annotator")
    rev = lab.member("sent", "rev", "reviewer")
    y = _take(lab, a)
    right = _wrong(y["answer"])
    assert _take(lab, b, right)["resolution"] is None
    for _ in range(2):
        view = wf_review.next_review(lab.db, rev)
        answer = view["annotation"]
        if answer["value"]["sentiment"] == right:
            wf_review.review_annotation(lab.db, rev, answer["id"], verdict="accept")
        else:
            wf_review.review_annotation(
                lab.db, rev, answer["id"], verdict="fix", value={"sentiment": right}
            )
    label = _label(lab.db, y["item_id"])
    assert (label["label"], label["resolution"]) == (right, "reviewed")
    assert label["decided_by"] == rev.user.id


def test_low_model_agreement_and_flagged_policies(sqlite_lab: Any) -> None:
    lab = sqlite_lab
    _setup(lab, n=6, review_policy="low_model_agreement", contradiction_threshold=0.8)
    ann = lab.member("sent", "ann", "annotator")

    def with_suggestion(label: str, confidence: float) -> dict:
        task = tasks.next_task(lab.db, ann)
        with lab.db.write() as conn:
            conn.execute(
                update(assignment)
                .where(assignment.c.id == task["assignment_id"])
                .values(suggestion=label, suggestion_confidence=confidence)
            )
        return tasks.submit(
            lab.db, ann, task["assignment_id"], {"sentiment": "neutral"}, active_ms=5000
        )

    assert with_suggestion("positive", 0.951237)["resolution"] is None  # confidently contradicted
    assert with_suggestion("positive", 0.6)["resolution"] == "single"  # not confident
    assert with_suggestion("neutral", 0.99)["resolution"] == "single"  # agrees
    flags = wf_review.flags(lab.db, lab.ctx("sent", lab.admin))
    assert [f["kind"] for f in flags] == ["model_contradicts"]
    assert "positive (0.95)" in flags[0]["note"]
    # the model's suggestion is kept as data, to 4 decimals as a label-error scan keeps it
    assert (flags[0]["suggestion"], flags[0]["confidence"]) == ("positive", 0.9512)


def test_flagged_policy_reviews_implausibly_fast_answers(sqlite_lab: Any) -> None:
    lab = sqlite_lab
    _setup(lab, n=4, review_policy="flagged")
    ann = lab.member("sent", "ann", "annotator")
    fast = _take(lab, ann, active_ms=120)
    slow = _take(lab, ann, active_ms=6000)
    unknown = _take(lab, ann, active_ms=0)  # no timing reported: not judged
    assert fast["resolution"] is None
    assert slow["resolution"] == unknown["resolution"] == "single"
    view = wf_review.next_review(lab.db, lab.member("sent", "rev", "reviewer"))
    assert view["annotation"]["id"] == fast["annotation_id"]
    assert [f["kind"] for f in view["flags"]] == ["too_fast"]


def test_double_label_share_gives_a_share_of_items_a_second_annotator(sqlite_lab: Any) -> None:
    lab = sqlite_lab
    ctx = _setup(lab, n=40, double_label_share=0.25)
    people = [lab.member("sent", n, "annotator") for n in ("a", "b", "c")]
    while True:
        served = False
        for who in people:
            task = tasks.next_task(lab.db, who)
            if task is not None:
                served = True
                tasks.submit(
                    lab.db, who, task["assignment_id"], {"sentiment": "neutral"}, active_ms=5000
                )
        if not served:
            break
    with lab.db.read() as conn:
        rows = list(conn.execute(select(annotation.c.item_id, annotation.c.user_id)))
    per_item: dict[int, set[int]] = {}
    for item_id, user_id in rows:
        per_item.setdefault(item_id, set()).add(user_id)
    assert len(rows) == sum(len(u) for u in per_item.values())  # nobody labeled an item twice
    doubled = {i for i, u in per_item.items() if len(u) == 2}
    expected = {i for i in per_item if wf_review.needed_labels(ctx.settings, i) == 2}
    assert doubled == expected
    assert 4 <= len(doubled) <= 18
    assert max(len(u) for u in per_item.values()) == 2
    assert status.status(lab.db, ctx)["counts"]["labeled"] == 40


def test_gold_items_are_mixed_in_checked_and_never_resolved(
    lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.workflow import quality

    ctx = _setup(lab, n=12, gold_rate=0.5)
    gold_rows = lab.rows(3, start=500, prefix="gold")
    lab.import_rows(ctx, gold_rows)
    for row in gold_rows:
        answer = {"sentiment": lab.truth(row["text"])}
        quality.set_gold(lab.db, ctx, answer, external_id=row["id"])
    ann = lab.member("sent", "ann", "annotator")
    with pytest.raises(PermissionDenied):
        quality.gold_items(lab.db, ann)
    shown: list[dict] = []
    wrong_gold = None
    for _ in range(15):
        task = tasks.next_task(lab.db, ann)
        if task is None:
            break
        assert set(task) == {
            "assignment_id",
            "item",
            "selection",
            "suggestion",
            "lease_expires_at",
            "guideline_version",
            "schema_version",
        }
        assert task["selection"]["strategy"] and task["selection"]["reason"]
        is_gold = task["item"]["external_id"].startswith("gold")
        truth = lab.truth(task["item"]["data"]["text"])
        answer = _wrong(truth) if is_gold and wrong_gold is None else truth
        if is_gold and wrong_gold is None:
            wrong_gold = task["item"]["id"]
        out = tasks.submit(
            lab.db, ann, task["assignment_id"], {"sentiment": answer}, active_ms=4000
        )
        shown.append({**task, "resolution": out["resolution"], "gold": is_gold})
    golds = [t for t in shown if t["gold"]]
    assert len(golds) == 3, "each gold item is served once to each annotator"
    assert len({t["item"]["id"] for t in shown}) == len(shown)
    assert all(t["resolution"] is None for t in golds)
    assert all(_label(lab.db, t["item"]["id"]) is None for t in golds)
    report = quality.report(lab.db, ctx, n_boot=0)
    row = next(u for u in report["annotators"] if u["username"] == "ann")
    assert (row["gold_answered"], row["gold_accuracy"]) == (3, pytest.approx(2 / 3, abs=1e-4))
    assert row["flags"].get("gold_wrong") == 1
    # Gold checks are invisible to the annotator's own feedback and to reviewers.
    assert wf_review.my_reviews(lab.db, ann) == []
    rev = lab.member("sent", "rev", "reviewer")
    assert all(f["kind"] != "gold_wrong" for f in wf_review.flags(lab.db, rev))
    assert wrong_gold is not None
    with pytest.raises(NotFound):  # to a reviewer a gold check is not there at all
        wf_review.item_detail(lab.db, rev, wrong_gold)
    assert wf_review.item_detail(lab.db, ctx, wrong_gold)["gold"] is not None
    with pytest.raises(Conflict):
        wf_review.adjudicate(lab.db, ctx, wrong_gold, {"sentiment": "neutral"})
    _a_reviewer_asking_meanwhile_gets_no_gold(lab, ctx, rev, monkeypatch)


def _a_reviewer_asking_meanwhile_gets_no_gold(
    lab: Any, manager: Any, reviewer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quality report runs once for everyone asking while it runs; a reviewer who asked
    while a manager's ran got the manager's, gold checks and all."""
    from labelloop.workflow import quality

    entered, release = threading.Semaphore(0), threading.Event()
    real = quality._report

    def held(*args: Any) -> Any:
        entered.release()
        assert release.wait(30)
        return real(*args)

    monkeypatch.setattr(quality, "_report", held)
    got: dict[str, Any] = {}

    def ask(who: str, ctx: Any) -> threading.Thread:
        thread = threading.Thread(target=lambda: got.update({who: quality.report(lab.db, ctx)}))
        thread.start()
        return thread

    running = [ask("manager", manager)]
    assert entered.acquire(timeout=30)
    running.append(ask("reviewer", reviewer))
    entered.acquire(timeout=3)  # the reviewer's own run starts (it waited on the manager's)
    release.set()
    for thread in running:
        thread.join(30)
    assert got["manager"]["flags"]["by_kind"].get("gold_wrong") == 1
    assert "gold_wrong" not in got["reviewer"]["flags"]["by_kind"]


def test_review_turned_on_and_off_on_a_live_project_applies_from_the_next_answer(lab: Any) -> None:
    """A team that started without review turns it on (and names an expert) when a new
    annotator joins: earlier labels stay as resolved, the next answers wait for a reviewer;
    turned off again, what waits in review stays there and new answers resolve at once."""
    from labelloop.workflow import projects

    ctx = _setup(lab, n=12)
    lab.member("sent", "ann", "annotator")
    lab.member("sent", "rev", "reviewer")
    lab.member("sent", "expert", "reviewer")

    def now_as(name: str) -> Any:  # settings are read per request, as a page or the API would
        lab.db.memo.forget()
        return lab.ctx("sent", lab.users[name])

    before = _take(lab, now_as("ann"))
    assert before["resolution"] == "single"
    with pytest.raises(PermissionDenied):
        wf_review.next_adjudication(lab.db, now_as("expert"))

    after = projects.change_settings(
        lab.db, ctx, {"review_policy": "all", "escalate_to": ["expert"]}
    )
    assert (after["review_policy"], after["escalate_to"]) == ("all", ["expert"])
    held = _take(lab, now_as("ann"))
    assert held["resolution"] is None
    assert _statuses(lab.db, before["item_id"]) == ["submitted"]
    assert _label(lab.db, before["item_id"])["resolution"] == "single"
    view = wf_review.next_review(lab.db, now_as("rev"))
    assert (view["annotation"]["id"], view["waiting"]) == (held["annotation_id"], 1)
    wf_review.review_annotation(lab.db, now_as("rev"), held["annotation_id"], verdict="escalate")
    # The expert named on the live project now forms the expert tier.
    assert wf_review.next_adjudication(lab.db, now_as("expert"))["item"]["id"] == held["item_id"]

    projects.change_settings(lab.db, ctx, {"review_policy": "none"})
    assert _take(lab, now_as("ann"))["resolution"] == "single"
    assert _statuses(lab.db, held["item_id"]) == ["escalated"]  # still waits for the expert
    wf_review.adjudicate(lab.db, now_as("expert"), held["item_id"], {"sentiment": "neutral"})
    assert _label(lab.db, held["item_id"])["resolution"] == "adjudicated"


def test_a_rejected_answer_is_reviewed_again_after_review_was_turned_off(lab: Any) -> None:
    """Turning review off must not let a rejected answer become the label unreviewed."""
    from labelloop.workflow import projects

    ctx = _setup(lab, review_policy="all")
    lab.member("sent", "ann", "annotator")
    lab.member("sent", "rev", "reviewer")

    def now_as(name: str) -> Any:
        lab.db.memo.forget()
        return lab.ctx("sent", lab.users[name])

    done = _take(lab, now_as("ann"), "negative")
    wf_review.review_annotation(
        lab.db, now_as("rev"), done["annotation_id"], verdict="reject", comment="read it again"
    )
    projects.change_settings(lab.db, ctx, {"review_policy": "none"})
    rework = tasks.next_task(lab.db, now_as("ann"))
    assert rework is not None and rework["item"]["id"] == done["item_id"]
    again = tasks.submit(
        lab.db, now_as("ann"), rework["assignment_id"], {"sentiment": "negative"}, active_ms=3000
    )
    assert again["resolution"] is None
    assert _statuses(lab.db, done["item_id"]) == ["rejected", "in_review"]
    assert _label(lab.db, done["item_id"]) is None


@pytest.mark.parametrize(
    ("data", "record", "flagged", "note"),
    [
        # a text project whose field is not called "text": 2 s for 600 characters is too fast
        ({"type": "text", "field": "review"}, {"review": "word " * 120}, True, "600 characters"),
        # an HTML page is read by its visible words, not its markup
        ({"type": "html", "field": "body"}, {"body": "<p>" + "word " * 120 + "</p>"}, True, None),
        # a table row is judged by the floor alone (0.4 s), not by its JSON's length
        ({"type": "table", "field": "row"}, {"a": 1.5, "b": "x" * 300}, False, None),
    ],
)
def test_too_fast_reads_what_the_annotator_reads(
    sqlite_lab: Any,
    data: dict[str, Any],
    record: dict[str, Any],
    flagged: bool,
    note: str | None,
) -> None:
    """The check took the item's text from the payload under the schema's field name, which
    holds nothing for a text project whose field is not 'text' or for an HTML page (never too
    fast, however long), and a table row's Python repr for a row (2 s on a row with a long
    cell was 'too fast for 353 characters')."""
    from labelloop.workflow import imports, projects
    from tests.conftest import SCHEMA

    lab = sqlite_lab
    schema = {**SCHEMA, "data": data, "settings": {"review_policy": "flagged"}}
    projects.create_project(lab.db, "docs", schema, actor=lab.admin)
    ctx = lab.ctx("docs", lab.admin)
    line = json.dumps(record if data["type"] != "table" else record) + "\n"
    imports.import_items(lab.db, ctx, io.BytesIO(line.encode()), fmt="jsonl", filename="d.jsonl")
    lab.train(ctx)
    ann = lab.member("docs", "ann", "annotator")
    task = tasks.next_task(lab.db, ann)
    assert task is not None
    tasks.submit(lab.db, ann, task["assignment_id"], {"sentiment": "neutral"}, active_ms=2000)
    found = [f for f in wf_review.flags(lab.db, ctx) if f["kind"] == "too_fast"]
    assert bool(found) is flagged
    if note is not None:
        assert note in found[0]["note"]


def test_a_page_of_flags_is_full_for_a_reviewer_and_pages_on_with_offset(sqlite_lab: Any) -> None:
    """Gold checks gone wrong are the expert tier's; a reviewer's page leaves them out before it
    is cut, so the newest flags being gold checks does not empty the reviewer's first page."""
    lab = sqlite_lab
    ctx = _setup(lab, n=6)
    with lab.db.write() as conn:
        ids = list(conn.execute(select(item.c.id).order_by(item.c.id)).scalars())
        rows = [{"project_id": ctx.id, "item_id": i, "kind": "ambiguous"} for i in ids[:3]]
        rows += [{"project_id": ctx.id, "item_id": i, "kind": "gold_wrong"} for i in ids[3:]]
        insert_flags(conn, rows)  # the gold checks are the newest
    rev = lab.member("sent", "rev", "reviewer")

    def page(who: Any, **kw: Any) -> list[tuple[str, int]]:
        return [(f["kind"], f["item_id"]) for f in wf_review.flags(lab.db, who, **kw)]

    assert page(rev, limit=2) == [("ambiguous", ids[2]), ("ambiguous", ids[1])]
    assert page(rev, limit=2, offset=2) == [("ambiguous", ids[0])]
    assert page(rev, limit=2, offset=3) == []
    assert page(ctx, limit=2) == [("gold_wrong", ids[5]), ("gold_wrong", ids[4])]
    assert page(ctx, limit=2, offset=4) == [("ambiguous", ids[1]), ("ambiguous", ids[0])]


def test_a_project_file_may_name_the_expert_tier_in_any_case(sqlite_lab: Any) -> None:
    """Sign-in takes a name in any case; so does the tier a project file names at creation,
    before they are members: it is kept as the users were created."""
    lab = sqlite_lab
    lab.user("dana")
    ctx = _setup(lab, n=4, escalate_to=["DANA", "dana"])
    assert ctx.settings.escalate_to == ["dana"]
    dana = lab.member("sent", "dana", "reviewer")
    rev = lab.member("sent", "rev", "reviewer")
    assert wf_review.is_expert(dana) and not wf_review.is_expert(rev)
    assert wf_review.next_adjudication(lab.db, dana) is None  # the tier's page opens
    with pytest.raises(PermissionDenied):
        wf_review.next_adjudication(lab.db, rev)


def test_the_status_counts_answers_waiting_for_review_and_another_annotator(lab: Any) -> None:
    """Under review and overlap an answer is not yet a label: an annotator who answered 3 items
    sees 0 labeled, and the status says the 3 are answered and in review; once accepted and
    waiting only for a second annotator, they wait for another answer, not for review."""
    _setup(lab, overlap=2, review_policy="all")
    ann = lab.member("sent", "ann", "annotator")
    rita = lab.member("sent", "rita", "reviewer")
    given = [_take(lab, ann) for _ in range(3)]
    counts = status.status(lab.db, ann)["counts"]
    assert counts["labeled"] == 0
    assert (counts["awaiting_label"], counts["awaiting_review"]) == (3, 3)
    for g in given:
        wf_review.review_annotation(lab.db, rita, g["annotation_id"], verdict="accept")
    counts = status.status(lab.db, ann)["counts"]
    assert (counts["labeled"], counts["awaiting_label"], counts["awaiting_review"]) == (0, 3, 0)


def test_the_expert_tier_is_checked_alike_at_creation_and_when_set(lab: Any) -> None:
    """A project created naming a non-member in escalate_to was accepted, and projects set
    refused the same value: one check now serves both. A name no user has is refused by both
    with one message; a user not yet a member is kept by both, and the project says so
    until they are given a role, when the tier counts them."""
    from labelloop.workflow import projects

    lab.user("dana")
    with pytest.raises(LabelloopError) as at_creation:
        lab.project("typo", escalate_to=["dnaa"])
    ctx = lab.project(escalate_to=["dana"])
    with pytest.raises(LabelloopError) as when_set:
        projects.change_settings(lab.db, ctx, {"escalate_to": ["dnaa"]})
    assert (
        at_creation.value.message
        == when_set.value.message
        == ("settings.escalate_to: no user named 'dnaa'")
    )
    after = projects.change_settings(lab.db, ctx, {"escalate_to": ["dana"], "rework_hours": 48})
    assert after["escalate_to"] == ["dana"]
    ctx = lab.ctx("sent", lab.admin)
    note = projects.settings_notes(lab.db, ctx)["escalate_to"]
    assert note.startswith("'dana' is not a member of project 'sent' yet")
    dana = lab.member("sent", "dana", "reviewer")
    assert wf_review.is_expert(dana)
    assert "escalate_to" not in projects.settings_notes(lab.db, lab.ctx("sent", lab.admin))
