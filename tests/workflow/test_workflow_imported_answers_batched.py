"""A Label Studio import with each annotator's answer resolves its items' labels many at a time
(``review.resolve_many``): every item ends exactly as resolving it on its own
(``review.resolve``, as the import did item by item) leaves it, whatever its answers, the
project's rules and where the import's chunks fall; and an item with a history resolves as its
own call would too."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from sqlalchemy import select

from labelloop.store import review as store_review
from labelloop.store.tables import AUTO, annotation, assignment, flag, item, item_label, user
from labelloop.workflow import imports, review, tasks
from tests.conftest import Lab
from tests.workflow.test_workflow_label_studio_answers import answer

LABELS = ("negative", "neutral", "positive")


def mixed_export(n: int) -> list[dict[str, Any]]:
    """``n`` tasks cycling through what an overlap project holds: all agree; two against one;
    a three-way tie; a cancelled answer leaving two (agreeing, or not); one answer only; all
    cancelled; an annotator who answered twice; an answer without the target. Answers are
    written out of time order, so which is earliest matters."""
    out = []
    ann = 0
    for t in range(n):
        a, b, c = LABELS[t % 3], LABELS[(t + 1) % 3], LABELS[(t + 2) % 3]
        kind = t % 9
        plan: list[tuple[str, str | None, bool]] = {
            0: [("ana", a, False), ("ben", a, False), ("cy", a, False)],
            1: [("ana", a, False), ("ben", b, False), ("cy", a, False)],
            2: [("cy", c, False), ("ana", a, False), ("ben", b, False)],
            3: [("ana", a, False), ("ben", a, True), ("cy", a, False)],
            4: [("ben", b, False), ("ana", a, True), ("cy", a, False)],
            5: [("cy", b, False)],
            6: [("ana", None, True), ("ben", None, True), ("cy", None, True)],
            7: [("ana", b, False), ("ana", a, False), ("ben", a, False), ("cy", b, False)],
            8: [("ana", a, False), ("ben", None, False), ("cy", b, False)],
        }[kind]
        annotations = []
        for k, (who, label, cancelled) in enumerate(plan):
            ann += 1
            minute = (7 * k + 3 * t) % 50  # not in the order the annotations are listed
            at = f"2024-05-{1 + t // 24:02d}T{t % 24:02d}:{minute:02d}:00Z"
            annotations.append(
                answer(who, label, at=at, lead=1 + k, cancelled=cancelled, ann_id=ann)
            )
        out.append(
            {"id": 1000 + t, "data": {"text": f"task {t} says {a}"}, "annotations": annotations}
        )
    return out


def _team(lab: Lab, slug: str, settings: dict[str, Any]) -> Any:
    ctx = lab.project(slug, **settings)
    for name in ("ana", "ben", "cy@example.com"):
        lab.member(slug, name, "annotator")
    return ctx


def one_by_one(
    conn: Any, ctx: Any, item_ids: Any, *, known: Any, to_review: Any = None
) -> dict[int, str | None]:
    """Each item resolved by its own ``review.resolve`` call, in order, once the answers
    ``to_review`` picks were sent to review in a statement of their own."""
    if to_review is not None:
        written = store_review.items_annotations(conn, item_ids)
        picked = [a["id"] for answers in written.values() for a in answers if to_review(a)]
        store_review.set_status(conn, picked, "in_review")
    return {i: review.resolve(conn, ctx, i, known=known[i]) for i in item_ids}


def state(lab: Lab, slug_id: int, *, timeless: bool = False) -> dict[str, Any]:
    """Everything resolving wrote, by task id: the label, the answers, the leases, the flags
    (``timeless``: without the times people's answers and resolving now gave them)."""
    found: dict[str, Any] = {}
    with lab.db.read() as conn:
        names = {int(i): n for i, n in conn.execute(select(user.c.id, user.c.username))}
        items = conn.execute(
            select(item.c.id, item.c.external_id, item.c.split).where(item.c.project_id == slug_id)
        ).all()
        answers = {
            int(r.id): r
            for r in conn.execute(select(annotation).where(annotation.c.project_id == slug_id))
        }
        for item_id, external_id, split in items:
            label = (
                conn.execute(select(item_label).where(item_label.c.item_id == item_id))
                .mappings()
                .first()
            )
            mine = sorted((a for a in answers.values() if a.item_id == item_id), key=lambda a: a.id)
            order = {a.id: k for k, a in enumerate(mine)}
            found[external_id] = {
                "split": split,
                "label": None
                if label is None
                else (
                    label["label"],
                    label["value"],
                    label["resolution"],
                    names[answers[label["annotation_id"]].user_id],
                    label["decided_by"],
                    label["decided_at"],
                ),
                "answers": [
                    (names[a.user_id], a.value, a.status, a.created_at, a.active_ms) for a in mine
                ],
                "leases": sorted(
                    (names[u], s, st, at)
                    for u, s, st, at in conn.execute(
                        select(
                            assignment.c.user_id,
                            assignment.c.state,
                            assignment.c.strategy,
                            assignment.c.leased_at,
                        ).where(assignment.c.item_id == item_id)
                    )
                ),
                "flags": [
                    (
                        f.kind,
                        f.note,
                        f.score,
                        names[f.user_id],
                        order[f.annotation_id],
                        f.resolved_at,
                    )
                    for f in conn.execute(
                        select(flag).where(flag.c.item_id == item_id).order_by(flag.c.id)
                    )
                ],
            }
    if timeless:
        for v in found.values():
            v["label"] = v["label"][:4] if v["label"] else None
            v["answers"] = [a[:3] for a in v["answers"]]
            v["leases"] = [lease[:3] for lease in v["leases"]]
    return found


@pytest.mark.parametrize(
    "settings",
    [
        {"overlap": 3},
        {"overlap": 2},
        {"overlap": 3, "review_policy": "disagreements"},
        {"overlap": 3, "review_policy": "flagged"},
        {"overlap": 3, "resolution": "adjudication"},
        {"overlap": 3, "resolution": "dawid_skene"},
    ],
    ids=["majority", "overlap2", "disagreements", "flagged", "adjudication", "dawid_skene"],
)
def test_imported_answers_resolve_together_as_each_item_alone(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any]
) -> None:
    monkeypatch.setattr(imports, "CHUNK", 8)  # chunks end inside the task kinds' cycle
    tasks_ = mixed_export(40)
    body = json.dumps(tasks_).encode()
    together_ctx = _team(lab, "together", settings)
    together = imports.import_items(
        lab.db, together_ctx, io.BytesIO(body), fmt="label_studio", filename="ls.json", answers=True
    )
    alone_ctx = _team(lab, "alone", settings)
    with monkeypatch.context() as patched:  # as the import did: an item at a time
        patched.setattr(imports, "CHUNK", 1)
        patched.setattr(review, "resolve_many", one_by_one)
        alone = imports.import_items(
            lab.db,
            alone_ctx,
            io.BytesIO(body),
            fmt="label_studio",
            filename="ls.json",
            answers=True,
        )
    assert (together.n_items, together.n_labeled) == (alone.n_items, alone.n_labeled)
    assert together.notes == alone.notes
    got, want = state(lab, together_ctx.id), state(lab, alone_ctx.id)
    assert got == want
    # the mix holds what it says: labels of every kind, flags, and items left unresolved
    kinds = {v["label"][2] if v["label"] else None for v in want.values()}
    assert None in kinds and kinds & {"consensus", "tie", "dawid_skene"}
    if settings.get("resolution") != "adjudication":
        assert any(v["flags"] for v in want.values())


def test_items_with_a_history_resolve_together_as_each_alone(lab: Lab) -> None:
    """Items labeled, flagged and auto-labeled before: resolving many at once leaves each as
    its own call does (a label replaced, one the model gave giving way, a disagreement flagged
    once)."""
    results = {}
    for slug in ("together", "alone"):
        ctx = _team(lab, slug, {"overlap": 2})
        lab.import_rows(ctx, lab.rows(12))
        lab.train(ctx)  # the cold-start queue
        for name in ("ana", "ben"):
            who = lab.ctx(slug, lab.users[name])
            for _ in range(12):
                task = tasks.next_task(lab.db, who)
                assert task is not None
                n = int(task["item"]["external_id"].rsplit("-", 1)[1])
                label = LABELS[n % 3] if name == "ana" or n % 3 else LABELS[(n + 1) % 3]
                tasks.submit(
                    lab.db, who, task["assignment_id"], {"sentiment": label}, active_ms=900
                )
        with lab.db.write(project_id=ctx.id) as conn:
            ids = [
                int(i)
                for (i,) in conn.execute(
                    select(item.c.id).where(item.c.project_id == ctx.id).order_by(item.c.id)
                )
            ]
            conn.execute(item_label.delete().where(item_label.c.item_id.in_(ids[::2])))
            conn.execute(flag.delete().where(flag.c.item_id.in_(ids[::4])))
            conn.execute(
                item_label.update()
                .where(item_label.c.item_id.in_(ids[1::4]))
                .values(resolution=AUTO, annotation_id=None)
            )
            known = {
                i: {"gold": None, "resolution": r}
                for i, r in conn.execute(
                    select(item.c.id, item_label.c.resolution)
                    .outerjoin(item_label, item_label.c.item_id == item.c.id)
                    .where(item.c.project_id == ctx.id)
                )
            }
            resolve = review.resolve_many if slug == "together" else one_by_one
            results[slug] = resolve(conn, ctx, ids, known=known)
    assert list(results["together"].values()) == list(results["alone"].values())
    assert {"consensus", "tie"} <= set(results["alone"].values())
    together, alone = (state(lab, lab.ctx(s, lab.admin).id, timeless=True) for s in results)
    assert together == alone


def _split(tasks_: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tasks with every other answer moved to a copy of the task at the end of the file
    (as a Label Studio project holding each text twice), past the import's first chunks."""
    firsts = [{**t, "annotations": t["annotations"][::2]} for t in tasks_]
    copies = [
        {**t, "id": 5000 + k, "annotations": t["annotations"][1::2]} for k, t in enumerate(tasks_)
    ]
    return firsts + copies


def _as_a_whole(found: dict[str, Any]) -> dict[str, Any]:
    """``state`` without the order answers and flags were written in."""
    return {
        task: {
            **v,
            "answers": sorted(v["answers"], key=repr),
            "flags": sorted((f[:4] + f[5:] for f in v["flags"]), key=repr),
        }
        for task, v in found.items()
    }


@pytest.mark.parametrize(
    "settings",
    [
        {"overlap": 3},
        {"overlap": 2},
        {"overlap": 3, "review_policy": "disagreements"},
        {"overlap": 3, "review_policy": "all"},
        {"overlap": 3, "resolution": "adjudication"},
    ],
    ids=["majority", "overlap2", "disagreements", "all", "adjudication"],
)
def test_a_task_repeated_chunks_later_resolves_as_the_tasks_merged(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any]
) -> None:
    """Each text's answers split over two tasks far apart in the file: its item resolved
    when its chunk was written resolves again once the copy's answers join it, ending as
    the item of the one task holding all of them does (label, flags, reviews, leases)."""
    monkeypatch.setattr(imports, "CHUNK", 4)
    whole = mixed_export(18)
    reports = {}
    for slug, tasks_ in (("merged", whole), ("repeated", _split(whole))):
        ctx = _team(lab, slug, settings)
        body = io.BytesIO(json.dumps(tasks_).encode())
        reports[slug] = imports.import_items(
            lab.db, ctx, body, fmt="label_studio", filename="ls.json", answers=True
        )
    merged, repeated = reports["merged"], reports["repeated"]
    assert (repeated.n_items, repeated.n_labeled) == (merged.n_items, merged.n_labeled)
    assert repeated.notes[0] == merged.notes[0]
    got, want = (_as_a_whole(state(lab, lab.ctx(s, lab.admin).id)) for s in reports)
    assert got == want
    kinds = {v["label"][2] if v["label"] else None for v in want.values()}
    if settings.get("review_policy") == "all":  # every answer waits for its reviewer
        assert kinds == {None}
        assert {a[2] for v in want.values() for a in v["answers"]} == {"in_review"}
    else:
        assert None in kinds and len(kinds) > 1


def test_dawid_skene_resolves_an_import_from_one_estimate_of_every_answer(lab: Lab) -> None:
    """Under Dawid–Skene the annotators' reliabilities come from every answer of the import
    (it fits in one chunk), not from the answers of the tasks before each one: the first
    tasks, where two annotators agree against the one who is always right, resolve as the
    estimate over the whole file says, as do all the others."""
    import numpy as np

    from labelloop.workflow.quality import dawid_skene_labels

    rng = np.random.default_rng(0)
    tasks_, truth = [], {}
    ann = 0
    for t in range(60):
        right = LABELS[t % 3]
        said = {"ana": right}
        for who in ("ben", "cy"):  # right 60% of the time, else another label
            other = LABELS[(t % 3 + 1 + int(rng.integers(2))) % 3]
            said[who] = right if rng.random() < 0.6 else other
        if t < 4:  # the file opens with ben and cy agreeing on a wrong label
            said["ben"] = said["cy"] = LABELS[(t + 1) % 3]
        annotations = []
        for who, label in said.items():
            ann += 1
            annotations.append(answer(who, label, at=f"2024-05-01T10:{t:02d}:00Z", ann_id=ann))
        tasks_.append({"id": t, "data": {"text": f"task {t}"}, "annotations": annotations})
        truth[f"task {t}"] = right
    ctx = _team(lab, "ds", {"overlap": 3, "resolution": "dawid_skene"})
    imports.import_items(
        lab.db,
        ctx,
        io.BytesIO(json.dumps(tasks_).encode()),
        fmt="label_studio",
        filename="ls.json",
        answers=True,
    )
    with lab.db.read() as conn:
        votes = [
            (int(r.item_id), int(r.user_id), r.value["sentiment"])
            for r in conn.execute(select(annotation).where(annotation.c.project_id == ctx.id))
        ]
        labels = {
            int(r.item_id): (r.label, r.resolution)
            for r in conn.execute(select(item_label).where(item_label.c.project_id == ctx.id))
        }
    estimate = dawid_skene_labels(votes, classes=list(LABELS))
    assert len(labels) == 60 and {how for _, how in labels.values()} == {"dawid_skene"}
    assert {item_id: label for item_id, (label, _) in labels.items()} == estimate
