"""A flagged imported label waits in the review queue under the review policy ``flagged``, and
a reviewer keeps or fixes it, as a flagged answer is reviewed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from labelloop.errors import Conflict, LabelloopError, PermissionDenied
from labelloop.store.audit import chain_rows
from labelloop.store.review import insert_flags, live_votes
from labelloop.store.tables import item
from labelloop.workflow import export, guidelines, insight, quality
from labelloop.workflow import imported_issues as issues
from labelloop.workflow import review as wf_review

CLASSES = ("negative", "neutral", "positive")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _flipped_import(lab: Any, *, policy: str = "flagged") -> tuple[Any, set[str]]:
    """45 labeled items imported, every seventh label flipped, and a label-error scan run: the
    admin's context and the ids of the flipped items."""
    ctx = lab.project(review_policy=policy)
    rows = lab.rows(45, labeled=True)
    flipped = set()
    for k, row in enumerate(rows):
        if k % 7 == 3:  # two of each class
            row["label"] = CLASSES[(CLASSES.index(row["label"]) + 1) % 3]
            flipped.add(row["id"])
    lab.import_rows(ctx, rows, labeled=True, filename="tweets.jsonl")
    found = quality.scan(lab.db, ctx)
    assert found["flagged"] >= 4, found
    return ctx, flipped


def test_flagged_imported_labels_wait_in_review_and_a_reviewer_keeps_or_fixes_them(
    lab: Any,
) -> None:
    ctx, flipped = _flipped_import(lab)
    rev = lab.member("sent", "rev", "reviewer")
    waiting = wf_review.summary(lab.db, rev)["imported_labels"]
    assert waiting >= 4

    # Served as an answer in review is: the label, why it is doubted and where it came from.
    view = wf_review.next_review(lab.db, rev)
    assert view is not None and view["annotation"] is None
    shown = view["imported_label"]
    assert shown["filename"] == "tweets.jsonl" and "says" in shown["note"]
    assert view["item"]["external_id"] in flipped
    truth = lab.truth(view["item"]["data"]["text"])
    assert shown["label"] != truth
    guidelines.edit(lab.db, ctx, "Label the author's attitude.", "v2")
    fixed = issues.second_look(
        lab.db, rev, view["item"]["id"], verdict="fix", value={"sentiment": truth}
    )
    assert (fixed["label"], fixed["resolution"]) == (truth, "reviewed")
    with pytest.raises(Conflict):  # the flag is closed: a second verdict records nothing
        issues.second_look(lab.db, rev, view["item"]["id"], verdict="keep")

    # The fix is rev's answer under the guideline in force; the export says rev decided it.
    detail = wf_review.item_detail(lab.db, rev, view["item"]["id"])
    (answer,) = detail["annotations"]
    assert (answer["user"], answer["guideline_version"]) == ("rev", 2)
    assert (detail["label"]["label"], detail["label"]["resolution"]) == (truth, "reviewed")
    row = next(r for r in export.records(lab.db, ctx) if r.item_id == view["item"]["id"])
    assert (row.label, row.decided_by, row.annotators) == (truth, "rev", ("rev",))
    with lab.db.read() as conn:
        event = chain_rows(conn, ctx.id)[-1]
    assert event["action"] == "review.imported_label.fix"
    assert event["payload"]["imported"] == {"sentiment": shown["label"]}
    assert event["payload"]["filename"] == "tweets.jsonl"

    # Kept: the flag closes as a person's decision, and the next scan does not raise it again.
    kept = wf_review.next_review(lab.db, rev)
    assert kept is not None and kept["item"]["id"] != view["item"]["id"]
    issues.second_look(lab.db, rev, kept["item"]["id"], verdict="keep", comment="sarcasm")
    assert wf_review.summary(lab.db, rev)["imported_labels"] == waiting - 2
    assert kept["item"]["id"] not in quality.scan(lab.db, ctx)["items"]
    label = wf_review.item_detail(lab.db, rev, kept["item"]["id"])["label"]
    assert label["resolution"] == "imported"  # the import's label, as it came


def test_imported_labels_wait_only_under_the_flagged_policy_and_need_a_reviewer(
    sqlite_lab: Any,
) -> None:
    lab = sqlite_lab
    ctx, _ = _flipped_import(lab, policy="none")
    rev = lab.member("sent", "rev", "reviewer")
    ann = lab.member("sent", "ann", "annotator")
    assert wf_review.next_review(lab.db, rev) is None
    assert wf_review.summary(lab.db, rev)["imported_labels"] == 0
    flagged = {f["item_id"] for f in wf_review.flags(lab.db, rev, kind="label_issue")}
    some = min(flagged)
    with pytest.raises(LabelloopError):  # an annotator gives no second look
        issues.second_look(lab.db, ann, some, verdict="keep")
    with pytest.raises(LabelloopError, match="verdict"):
        issues.second_look(lab.db, rev, some, verdict="accept")
    with pytest.raises(LabelloopError, match="is not one of"):  # a label the schema lacks
        issues.second_look(lab.db, rev, some, verdict="fix", value={"sentiment": "<b>x</b>"})
    issues.second_look(lab.db, rev, some, verdict="keep")  # still possible from the flag list
    assert some not in {f["item_id"] for f in wf_review.flags(lab.db, rev, kind="label_issue")}


def test_the_flagged_imported_labels_are_listed_with_the_scan_s_suggestion(lab: Any) -> None:
    """What a scan flagged, listed for reviewers in the order the review queue serves it: the
    imported label, and the class the model says instead, at least 0.5 sure (its rule)."""
    ctx, flipped = _flipped_import(lab)
    rev = lab.member("sent", "rev", "reviewer")
    found = issues.flagged(lab.db, rev)
    assert found["in_review_queue"] is True
    listed = found["items"]
    assert len(listed) == wf_review.summary(lab.db, rev)["imported_labels"] >= 4
    assert {r["external_id"] for r in listed} <= {
        f["external_id"] for f in wf_review.flags(lab.db, rev, kind="label_issue")
    }
    for r in listed:
        assert r["suggestion"] in CLASSES and r["suggestion"] != r["label"]
        assert r["confidence"] >= 0.5 and f"says {r['suggestion']} (" in r["note"]
        assert r["filename"] == "tweets.jsonl"
    flipped_listed = [r for r in listed if r["external_id"] in flipped]
    assert flipped_listed  # a planted flip, its true class the suggestion
    for r in flipped_listed:
        truth = next(t for t in lab.rows(45) if t["id"] == r["external_id"])["text"]
        assert r["suggestion"] == lab.truth(truth)
    served = wf_review.next_review(lab.db, rev)
    assert served is not None and served["item"]["id"] == listed[0]["item_id"]
    with pytest.raises(PermissionDenied):
        issues.flagged(lab.db, lab.member("sent", "ann", "annotator"))
    issues.second_look(lab.db, rev, listed[0]["item_id"], verdict="keep")
    assert [r["item_id"] for r in issues.flagged(lab.db, rev)["items"]] == [
        r["item_id"] for r in listed[1:]
    ]


def test_a_round_s_flags_on_imported_labels_are_listed_with_the_round_s_suggestion(
    lab: Any,
) -> None:
    """A training round flags flipped imported labels (its re-label suggestions): the list
    gives each the class the round's model says instead and how sure it is, as its note says."""
    ctx = lab.project(review_policy="flagged")
    rows = lab.rows(45, labeled=True)
    flipped = {}
    for k, row in enumerate(rows):
        if k % 7 == 3:
            flipped[row["id"]] = row["label"]
            row["label"] = CLASSES[(CLASSES.index(row["label"]) + 1) % 3]
    lab.import_rows(ctx, rows, labeled=True, filename="tweets.jsonl")
    lab.train(ctx)
    listed = issues.flagged(lab.db, lab.member("sent", "rev", "reviewer"))["items"]
    assert {r["external_id"] for r in listed} & set(flipped), listed
    for r in listed:
        assert r["suggestion"] in CLASSES and r["suggestion"] != r["label"]
        assert r["confidence"] >= 0.5
        assert r["note"].endswith(f"{r['confidence']:.2f} sure it is '{r['suggestion']}'")
        if r["external_id"] in flipped:
            assert r["suggestion"] == flipped[r["external_id"]]


def test_the_list_shows_the_suggestion_the_flag_holds_not_one_read_from_its_note(
    sqlite_lab: Any,
) -> None:
    """The suggestion is the flag's own data: a note in other words still shows it, and a note
    that names a label shows none when the flag holds none."""
    lab = sqlite_lab
    ctx = lab.project()
    rows = [
        {"id": "t1", "text": "awful", "label": "positive"},
        {"id": "t2", "text": "lovely", "label": "negative"},
    ]
    lab.import_rows(ctx, rows, labeled=True)
    with lab.db.write(project_id=ctx.id) as conn:
        ids = dict(conn.execute(select(item.c.external_id, item.c.id)).all())
        flag = {"project_id": ctx.id, "kind": "label_issue", "score": 0.1}
        insert_flags(
            conn,
            [
                {
                    **flag,
                    "item_id": ids["t1"],
                    "note": "the model doubts this label",
                    "suggestion": "negative",
                    "suggestion_confidence": 0.8734,
                },
                {
                    **flag,
                    "item_id": ids["t2"],
                    "note": "cross-validated model says positive (0.91)",
                    "suggestion": None,
                    "suggestion_confidence": None,
                },
            ],
        )
    listed = issues.flagged(lab.db, ctx)["items"]
    assert [(r["external_id"], r["suggestion"], r["confidence"]) for r in listed] == [
        ("t1", "negative", 0.8734),
        ("t2", None, None),
    ]


def test_the_cli_keeps_or_fixes_a_flagged_imported_label(
    sqlite_lab: Any, no_labelloop_env: None
) -> None:
    from typer.testing import CliRunner

    from labelloop.cli import app

    lab = sqlite_lab
    ctx, _ = _flipped_import(lab)
    lab.member("sent", "rev", "reviewer")
    lab.member("sent", "ann", "annotator")
    env = {"LABELLOOP_DATABASE_URL": lab.db.url, "COLUMNS": "200"}

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, list(args), env=env)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result.output

    first, second, *_ = sorted(
        f["external_id"] for f in wf_review.flags(lab.db, ctx, kind="label_issue")
    )
    with lab.db.read() as conn:
        from labelloop.workflow.values import find_item

        text = find_item(conn, ctx, item_id=None, external_id=first)["payload"]["text"]
    truth = lab.truth(text)
    assert "--as" in run("second-look", "sent", first, "fix", truth, code=1)
    refused = run("second-look", "sent", first, "keep", "--as", "ann", code=1)
    assert "(annotator) does not allow reviewing" in refused
    said = run("second-look", "sent", first, "fix", truth, "--as", "rev")
    assert f"imported label fixed as '{truth}'" in said
    assert "imported label kept" in run("second-look", "sent", second, "keep", "--as", "rev")
    assert "nothing was recorded" in run("second-look", "sent", second, "keep", code=1)
    assert "no item 'nope'" in run("second-look", "sent", "nope", "keep", code=1)


def test_a_reviewers_fix_of_an_imported_label_is_no_annotation_agreement_compares(
    lab: Any,
) -> None:
    """rev fixes a flagged imported label; later ana's answer to the same text comes in from
    Label Studio and joins the item. rev's fix is a reviewer's decision, not an independent
    annotation: agreement between annotators (the Quality page, the dashboard) compares no
    item of it, and rev's agreement with the resolved label counts none."""
    from tests.workflow.test_workflow_label_studio_answers import _import, answer

    ctx, _ = _flipped_import(lab)
    rev = lab.member("sent", "rev", "reviewer")
    lab.member("sent", "ana", "annotator")
    view = wf_review.next_review(lab.db, rev)
    assert view is not None
    text = view["item"]["data"]["text"]
    truth = lab.truth(text)
    issues.second_look(lab.db, rev, view["item"]["id"], verdict="fix", value={"sentiment": truth})
    other = CLASSES[(CLASSES.index(truth) + 1) % 3]
    joined = [{"id": 900, "data": {"text": text}, "annotations": [answer("ana", other, at=_now())]}]
    _import(lab, ctx, joined, answers=True)
    detail = wf_review.item_detail(lab.db, ctx, view["item"]["id"])
    assert sorted(a["user"] for a in detail["annotations"]) == ["ana", "rev"]

    found = quality.report(lab.db, ctx, n_boot=0)
    assert found["agreement"]["overall"]["n_items"] == 0
    assert {a["username"]: a["n_compared"] for a in found["annotators"]}["rev"] == 0
    assert insight.report(lab.db, ctx)["agreement"]["n_items"] == 0


TEXT = "the service was fine I guess"


def _fixed_label(lab: Any, **settings: Any) -> tuple[Any, int]:
    """One item imported labeled ``negative``, flagged as a likely error (as a label-error scan
    flags it) and fixed to ``positive`` by the reviewer rev; ana and ben annotate. The admin's
    context and the item's id."""
    ctx = lab.project(**{"review_policy": "flagged", **settings})
    rev = lab.member("sent", "rev", "reviewer")
    lab.member("sent", "ana", "annotator")
    lab.member("sent", "ben", "annotator")
    lab.import_rows(ctx, [{"id": "t1", "text": TEXT, "label": "negative"}], labeled=True)
    with lab.db.write(project_id=ctx.id) as conn:
        item_id = int(conn.execute(select(item.c.id)).scalar_one())
        flag = {"project_id": ctx.id, "item_id": item_id, "kind": "label_issue", "score": 0.1}
        insert_flags(conn, [{**flag, "note": "cross-validated model says positive (0.91)"}])
    fixed = issues.second_look(lab.db, rev, item_id, verdict="fix", value={"sentiment": "positive"})
    assert (fixed["label"], fixed["resolution"]) == ("positive", "reviewed")
    return ctx, item_id


def _join(lab: Any, ctx: Any, **labels: str) -> None:
    """The members' answers to the item (``ana="neutral"``, ...) come in from Label Studio."""
    from tests.workflow.test_workflow_label_studio_answers import _import, answer

    given = [
        answer(who, label, at=_now(), ann_id=k) for k, (who, label) in enumerate(labels.items())
    ]
    _import(lab, ctx, [{"id": 900, "data": {"text": TEXT}, "annotations": given}], answers=True)


def _state(lab: Any, ctx: Any, item_id: int) -> tuple[Any, dict[str, str], list[str]]:
    """The item's label (label, resolution, who decided it; None: no label), each answer's
    status by its annotator, and whose answers are flagged as disagreeing."""
    detail = wf_review.item_detail(lab.db, ctx, item_id)
    label = detail["label"]
    shown = (label["label"], label["resolution"], label["decided_by"]) if label else None
    statuses = {a["user"]: a["status"] for a in detail["annotations"]}
    disagreeing = sorted(f["user"] for f in detail["flags"] if f["kind"] == "disagreement")
    return shown, statuses, disagreeing


@pytest.mark.parametrize(
    ("joined", "ben_status"),
    [({"ana": "neutral"}, None), ({"ana": "negative", "ben": "negative"}, "submitted")],
    ids=["one-answer-against-it", "two-agreeing-answers-against-it"],
)
def test_a_reviewers_fix_of_an_imported_label_stays_the_label_when_answers_join(
    lab: Any, joined: dict[str, str], ben_status: str | None
) -> None:
    """rev's fix is the label's answer, not a vote: ana's later answer does not tie with it
    (before: a disagreement, the label withdrawn, ana's answer sent to review), and two
    answers for the imported label do not outvote it 2:1. Nothing waits for review, and rev's
    fix is compared with nobody, as agreement between annotators leaves it out."""
    ctx, item_id = _fixed_label(lab)
    _join(lab, ctx, **joined)
    label, statuses, disagreeing = _state(lab, ctx, item_id)
    assert label == ("positive", "reviewed", "rev")
    assert statuses == {"rev": "accepted", "ana": "submitted"} | (
        {"ben": ben_status} if ben_status else {}
    )
    assert disagreeing == []
    assert wf_review.next_review(lab.db, lab.member("sent", "rita", "reviewer")) is None
    shared = len(joined) > 1  # an item two annotators answered
    with lab.db.read() as conn:  # Dawid–Skene learns annotators' reliability without it too
        voters = {v["user_id"] for v in live_votes(conn, ctx.id, limit_items=10)}
    assert len(voters) == (2 if shared else 0)
    found = quality.report(lab.db, ctx, n_boot=0)
    assert found["agreement"]["overall"]["n_items"] == (1 if shared else 0)


def test_answers_that_join_a_fixed_label_and_disagree_go_where_the_project_sends_them(
    lab: Any,
) -> None:
    """ana and ben disagree with each other after rev fixed the imported label: under the
    review policy ``flagged`` their disagreement (theirs alone, not rev's) goes to review; the
    label stays rev's meanwhile, and stays when a reviewer accepts either answer."""
    ctx, item_id = _fixed_label(lab)
    _join(lab, ctx, ana="neutral", ben="negative")
    label, statuses, disagreeing = _state(lab, ctx, item_id)
    assert label == ("positive", "reviewed", "rev")
    assert statuses == {"rev": "accepted", "ana": "in_review", "ben": "in_review"}
    assert disagreeing == ["ana", "ben"]

    rita = lab.member("sent", "rita", "reviewer")
    for _ in range(2):
        view = wf_review.next_review(lab.db, rita)
        assert view is not None and view["annotation"] is not None
        wf_review.review_annotation(lab.db, rita, view["annotation"]["id"], verdict="accept")
    label, statuses, _ = _state(lab, ctx, item_id)
    assert label == ("positive", "reviewed", "rev")
    assert statuses == {"rev": "accepted", "ana": "accepted", "ben": "accepted"}


def test_under_adjudication_a_disagreement_after_a_fix_goes_to_the_expert_tier(
    lab: Any,
) -> None:
    """With no review policy and ``resolution: adjudication``, ana's and ben's disagreement
    goes to the expert tier; rev's fix stays the label until the expert decides."""
    ctx, item_id = _fixed_label(lab, review_policy="none", resolution="adjudication")
    _join(lab, ctx, ana="neutral", ben="negative")
    label, statuses, _ = _state(lab, ctx, item_id)
    assert label == ("positive", "reviewed", "rev")
    assert statuses == {"rev": "accepted", "ana": "escalated", "ben": "escalated"}

    wf_review.adjudicate(lab.db, ctx, item_id, {"sentiment": "neutral"})
    label, statuses, _ = _state(lab, ctx, item_id)
    assert label == ("neutral", "adjudicated", "admin")
    assert statuses == {"rev": "accepted", "ana": "adjudicated", "ben": "adjudicated"}
