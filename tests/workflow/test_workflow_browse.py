"""The Items page's list: every filter finds what it says on a small hand-checked project, gold
checks stay with the expert tier, and an annotator browses their own answers only."""

from __future__ import annotations

from typing import Any

import pytest

from labelloop.errors import LabelloopError, NotFound, PermissionDenied
from labelloop.workflow import browse, quality, review, tasks
from tests.workflow.test_workflow_seeding import WORDY

CLASSES = ("negative", "neutral", "positive")


def _answer(lab: Any, who: Any, label: str | None = None) -> dict[str, Any]:
    task = tasks.next_task(lab.db, who)
    assert task is not None
    answer = label or lab.truth(task["item"]["data"]["text"])
    done = tasks.submit(lab.db, who, task["assignment_id"], {"sentiment": answer}, active_ms=4000)
    return {**done, "answer": answer, "task": task}


def _ids(page: dict[str, Any]) -> set[int]:
    return {row["id"] for row in page["items"]}


@pytest.fixture
def browsed(lab: Any) -> dict[str, Any]:
    """12 pool items and 3 labeled eval items; bob answers 3 (all in review), cy answers 2 of
    which rev accepts one as is and rejects none; one pool item is a gold check."""
    ctx = lab.project(review_policy="all")
    lab.import_rows(ctx, lab.rows(12))
    eval_rows = lab.rows(3, start=100, prefix="ev", labeled=True)
    lab.import_rows(ctx, eval_rows, labeled=True, split="eval")
    lab.train(ctx)
    bob = lab.member("sent", "bob", "annotator")
    cy = lab.member("sent", "cy", "annotator")
    rev = lab.member("sent", "rev", "reviewer")
    man = lab.member("sent", "man", "manager")
    by_bob = [_answer(lab, bob) for _ in range(3)]
    by_cy = [_answer(lab, cy, "negative"), _answer(lab, cy, "positive")]
    review.review_annotation(lab.db, rev, by_cy[0]["annotation_id"], verdict="accept")
    review.review_annotation(lab.db, rev, by_cy[1]["annotation_id"], verdict="escalate")
    answered = {d["item_id"] for d in by_bob + by_cy}
    all_ids = _ids(browse.list_items(lab.db, man, limit=200))
    gold_id = min(all_ids - answered)
    with lab.db.read() as conn:
        from labelloop.store.tables import item

        split = dict(conn.execute(item.select().where(item.c.id == gold_id)).mappings().one())
    assert split["split"] == "pool"
    quality.set_gold(lab.db, man, {"sentiment": "neutral"}, item_id=gold_id)
    return {
        "ctx": ctx,
        "rev": rev,
        "man": man,
        "bob": bob,
        "by_bob": by_bob,
        "by_cy": by_cy,
        "gold": gold_id,
        "all": all_ids,
    }


def test_every_filter_finds_what_it_says(lab: Any, browsed: dict[str, Any]) -> None:
    rev, by_bob, by_cy = browsed["rev"], browsed["by_bob"], browsed["by_cy"]

    def ids(**filters: Any) -> set[int]:
        page = browse.list_items(lab.db, rev, limit=200, **filters)
        assert page["total"] == len(page["items"])
        return _ids(page)

    everything = ids()
    assert everything == browsed["all"] - {browsed["gold"]}  # 12 pool + 3 eval, gold hidden
    assert len(everything) == 14
    eval_ids = ids(split="eval")
    assert len(eval_ids) == 3 and ids(status="labeled") == eval_ids | {by_cy[0]["item_id"]}
    assert ids(resolution="imported") == eval_ids
    assert ids(resolution="reviewed") == {by_cy[0]["item_id"]}
    assert ids(label="negative") == {by_cy[0]["item_id"]} | {
        i for i in eval_ids if _row(lab, rev, i)["label"] == "negative"
    }
    assert ids(status="in_review") == {d["item_id"] for d in by_bob}
    assert ids(status="escalated") == {by_cy[1]["item_id"]}
    assert ids(annotator="bob") == {d["item_id"] for d in by_bob}
    assert ids(annotator="bob", status="escalated") == set()
    assert ids(annotator="nobody-here") == set()  # no error: it tells nothing of who exists
    unlabeled = ids(status="unlabeled")
    assert unlabeled == everything - ids(status="labeled")
    text = by_bob[0]["task"]["item"]["data"]["text"]
    assert ids(q=text.upper()) == {by_bob[0]["item_id"]}
    assert ids(q="number nothing-matches") == set()


def _row(lab: Any, who: Any, item_id: int) -> dict[str, Any]:
    page = browse.list_items(lab.db, who, limit=200)
    return next(r for r in page["items"] if r["id"] == item_id)


def test_a_row_says_who_answered_how_it_was_resolved_and_by_whom(
    lab: Any, browsed: dict[str, Any]
) -> None:
    accepted = browsed["by_cy"][0]
    row = _row(lab, browsed["rev"], accepted["item_id"])
    assert row["label"] == "negative"
    assert (row["resolution"], row["decided_by"]) == ("reviewed", "rev")
    assert row["answers"] == [{"user": "cy", "status": "accepted"}]
    assert row["decided_at"] is not None and row["split"] == "pool"
    assert "gold" not in row  # a reviewer is not told which items are checks
    assert "value" not in row  # a text's row has its label; only an image's draws every control
    waiting = _row(lab, browsed["rev"], browsed["by_bob"][0]["item_id"])
    assert (waiting["label"], waiting["answers"]) == (
        None,
        [{"user": "bob", "status": "in_review"}],
    )


def test_gold_checks_are_listed_to_the_expert_tier_only(lab: Any, browsed: dict[str, Any]) -> None:
    man, rev = browsed["man"], browsed["rev"]
    gold = browse.list_items(lab.db, man, status="gold")
    assert _ids(gold) == {browsed["gold"]} and gold["items"][0]["gold"] is True
    assert browsed["gold"] in _ids(browse.list_items(lab.db, man, limit=200))
    with pytest.raises(LabelloopError, match="status must be one of"):
        browse.list_items(lab.db, rev, status="gold")
    assert browsed["gold"] not in _ids(
        browse.list_items(lab.db, rev, status="unlabeled", limit=200)
    )


def test_pages_are_stable_and_newest_first_puts_the_latest_decision_on_top(
    lab: Any, browsed: dict[str, Any]
) -> None:
    rev = browsed["rev"]
    first = browse.list_items(lab.db, rev, limit=5)
    second = browse.list_items(lab.db, rev, limit=5, offset=5)
    assert first["total"] == second["total"] == 14
    assert not _ids(first) & _ids(second)
    newest = browse.list_items(lab.db, rev, limit=1, newest_first=True)["items"][0]
    assert newest["id"] == browsed["by_cy"][0]["item_id"]  # decided after the imported labels


WRONG_FILTERS = [
    ({"status": "done"}, "status must be one of all, unlabeled, labeled"),
    ({"split": "train"}, "split must be one of pool, eval"),
    ({"resolution": "vote"}, "resolution must be one of imported"),
    ({"limit": 0}, "limit must be between 1 and 200"),
    ({"offset": -1}, "offset must be between 0 and 1,000,000,000"),
    ({"q": "bad\x00word"}, ""),
]


def test_wrong_filters_are_refused_naming_what_may_be_asked(
    lab: Any, browsed: dict[str, Any], subtests: pytest.Subtests
) -> None:
    for filters, message in WRONG_FILTERS:  # each checked and, if it fails, named
        with subtests.test(filters=filters), pytest.raises(LabelloopError) as caught:
            browse.list_items(lab.db, browsed["rev"], **filters)
        with subtests.test(filters=filters):
            assert caught.value.message.startswith(message), caught.value.message


def test_an_annotator_browses_their_own_answers_only(lab: Any, browsed: dict[str, Any]) -> None:
    bob = browsed["bob"]
    page = browse.list_items(lab.db, bob, limit=200)
    assert page["mine"] is True
    assert _ids(page) == {d["item_id"] for d in browsed["by_bob"]}
    theirs = browsed["by_cy"][0]["item_id"]
    with pytest.raises(NotFound):
        browse.item_trace(lab.db, bob, item_id=theirs)
    with pytest.raises(PermissionDenied):
        browse.list_items(lab.db, bob, annotator="cy")


def test_the_item_trace_says_why_the_item_was_served(lab: Any, browsed: dict[str, Any]) -> None:
    done = browsed["by_bob"][0]
    detail = review.item_detail(lab.db, browsed["rev"], done["item_id"])
    (answer,) = detail["annotations"]
    served = done["task"]["selection"]  # the trace says which model picked it as the page did
    assert answer["selection"] == {
        k: served[k] for k in ("strategy", "reason", "cold_start", "picked_by")
    }
    assert answer["selection"]["reason"]


def test_a_gold_checks_trace_is_not_there_for_a_reviewer(lab: Any, browsed: dict[str, Any]) -> None:
    with pytest.raises(NotFound) as caught:
        review.item_detail(lab.db, browsed["rev"], browsed["gold"])
    assert caught.value.message == f"no item {browsed['gold']} in project 'sent'"
    assert review.item_detail(lab.db, browsed["man"], browsed["gold"])["gold"] is not None


def test_words_match_any_case_of_any_letter(lab: Any) -> None:
    """Not only ASCII: SQLite's own lower() leaves É and Д as they are."""
    from labelloop.workflow import seeding

    ctx = lab.project()
    lab.import_rows(
        ctx, [{"id": "u1", "text": "Émile flew to Москва"}, {"id": "u2", "text": "plain"}]
    )
    for words in ("émile", "ÉMILE", "москва", "МОСКВА flew"):
        page = browse.list_items(lab.db, ctx, q=words)
        assert [r["external_id"] for r in page["items"]] == ["u1"], words
        found = seeding.search(lab.db, ctx, q=words)  # the pool search matches alike
        assert [r["external_id"] for r in found["items"]] == ["u1"], words


def _made(lab: Any, slug: str, schema: dict[str, Any], rows: list[dict[str, Any]]) -> Any:
    from labelloop.workflow import projects

    projects.create_project(lab.db, slug, schema, actor=lab.admin)
    ctx = lab.ctx(slug, lab.admin)
    lab.import_rows(ctx, rows, labeled=True)
    return ctx


def test_a_label_filter_finds_one_of_several_labels_and_a_region_label(lab: Any) -> None:
    from tests.conftest import TAGS_SCHEMA

    tags = _made(
        lab,
        "tags",
        TAGS_SCHEMA,
        [
            {"id": "both", "text": "a trip home", "label": ["travel", "home"]},
            {"id": "trip", "text": "a trip", "label": ["travel"]},
            {"id": "none", "text": "nothing", "label": []},
        ],
    )

    def ids(ctx: Any, **filters: Any) -> list[str]:
        return [r["external_id"] for r in browse.list_items(lab.db, ctx, **filters)["items"]]

    assert ids(tags, label="home") == ["both"]
    assert ids(tags, label="travel") == ["both", "trip"]
    rows = browse.list_items(lab.db, tags)["items"]
    assert [r["label"] for r in rows] == [["travel", "home"], ["travel"], []]

    spans_schema = {
        "name": "Entities",
        "data": {"type": "text", "field": "text"},
        "controls": [{"name": "ents", "type": "spans", "labels": ["PER", "LOC"], "target": True}],
    }
    ents = _made(
        lab,
        "ents",
        spans_schema,
        [
            {
                "id": "ada",
                "text": "Ada in Rome",
                "label": [
                    {"start": 0, "end": 3, "label": "PER"},
                    {"start": 7, "end": 11, "label": "LOC"},
                ],
            },
            {"id": "rome", "text": "Rome", "label": [{"start": 0, "end": 4, "label": "LOC"}]},
        ],
    )
    assert ids(ents, label="PER") == ["ada"]
    assert ids(ents, label="LOC") == ["ada", "rome"]
    page = browse.list_items(lab.db, ents, label="LOC", limit=1)
    assert (page["total"], [r["external_id"] for r in page["items"]]) == (2, ["ada"])
    assert browse.list_items(lab.db, ents, label="PER")["items"][0]["label"][0]["label"] == "PER"


def test_empty_filters_are_no_filters(lab: Any, browsed: dict[str, Any]) -> None:
    everything = browse.list_items(lab.db, browsed["rev"], limit=200)
    empty = browse.list_items(
        lab.db,
        browsed["rev"],
        status="",
        split="",
        label="",
        resolution="",
        annotator=" ",
        limit=200,
    )
    assert empty == everything


WORD_QUERIES = [
    ("cat", ["w-cat"]),  # not "category"
    ("CAT mat", ["w-cat"]),
    ("refund", ["w-phrase", "w-reversed"]),  # not "Refunds" nor "REFUNDED"
    ("refund*", ["w-refunds", "w-phrase", "w-reversed"]),
    ('"refund request"', ["w-phrase"]),  # in that order, punctuation between
    ("москв*", ["w-cafe", "w-moscow"]),
    ("москва", ["w-cafe"]),  # not "Москве"
    ("京都", ["w-tokyo"]),  # no spaces between words: matched anywhere
    ("100%_sure", ["w-code"]),  # LIKE's wildcards are literal
    ("00%", []),  # inside "100%"
]


def test_items_and_my_answers_match_words_as_the_pool_search_does(lab: Any) -> None:
    """The Items page and My answers found "cat" in "category", where the pool search finds
    whole words only: one query now finds the same items on every page (each query in turn
    on one project: they only read)."""
    from labelloop.workflow import seeding

    ctx = lab.project()
    lab.import_rows(ctx, WORDY)
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    for _ in WORDY:
        _answer(lab, ann, "neutral")
    rev = lab.member("sent", "rev", "reviewer")

    def names(page: dict[str, Any]) -> list[str]:
        return [r["external_id"] for r in page["items"]]

    for q, found in WORD_QUERIES:
        assert names(seeding.search(lab.db, ann, q=q)) == found, q
        assert names(browse.list_items(lab.db, rev, q=q)) == found, q
        assert names(browse.list_items(lab.db, ann, q=q)) == found, q  # My answers
        newest = browse.list_items(lab.db, ann, q=q, newest_first=True)
        assert sorted(names(newest)) == sorted(found) and newest["total"] == len(found), q


def test_a_star_alone_is_the_pool_searchs_clear_error_on_items_and_my_answers(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, WORDY)
    lab.train(ctx)
    ann = lab.member("sent", "ann", "annotator")
    _answer(lab, ann, "neutral")
    for who in (ctx, ann):
        with pytest.raises(LabelloopError, match=r"a \* ends a word: refund\* finds refund"):
            browse.list_items(lab.db, who, q="*")
        with pytest.raises(LabelloopError, match="control characters"):
            browse.list_items(lab.db, who, q="cat\x00")
        assert browse.list_items(lab.db, who, q="   ")["total"] >= 1  # blank: no filter


def test_picked_by_finds_the_items_each_way_of_picking_first_served(lab: Any) -> None:
    """A manager's search seeds, another member's "more like this" seeds, random controls and
    the model's own ranking: each item is listed under the way its first answer was served, as
    its trace says, with what it was labeled."""
    from labelloop.workflow import seeding

    ctx = lab.project("pick", random_share=0.4)
    lab.import_rows(ctx, lab.rows(40))
    lab.train(ctx)
    ana = lab.member("pick", "ana", "manager")
    cy = lab.member("pick", "cy", "reviewer")
    bob = lab.member("pick", "bob", "annotator")
    hits = [h["id"] for h in seeding.search(lab.db, ana, q="number")["items"]]
    seeding.send_to_queue(lab.db, ana, hits[:2], query="number")
    seeding.send_to_queue(lab.db, cy, hits[2:3], like=hits[0])
    seeding._coin.seed(5)
    served = lab.label_next(bob, n=14)
    first_by: dict[str, set[int]] = {}
    for t in served:
        s = t["selection"]
        way = "control" if s["reason"] == seeding.CONTROL_REASON else s["strategy"]
        first_by.setdefault(way, set()).add(t["item"]["id"])
    assert first_by["search"] == set(hits[:3])
    assert first_by["control"] and first_by["diversity"]  # the seed gives both some items

    def ids(picked_by: str, who: Any = ana) -> set[int]:
        page = browse.list_items(lab.db, who, picked_by=picked_by, limit=200)
        assert page["total"] == len(page["items"])
        return _ids(page)

    assert ids("search") == set(hits[:3])
    assert ids("search:ana") == ids("search:ANA ") == set(hits[:2])
    assert ids("search:cy", cy) == set(hits[2:3])
    assert ids("search:bob") == ids("search:nobody") == set()  # no error, as annotator=nobody
    assert ids("control") == first_by["control"]
    assert ids("diversity") == first_by["diversity"]
    assert ids("spot_check") == ids("import") == set()
    page = browse.list_items(lab.db, ana, picked_by="search:ana", status="labeled")
    assert {r["label"] for r in page["items"]} <= set(CLASSES) and page["total"] == 2
    choices = {c["value"] for c in browse.picked_by_choices(lab.db, ana)}
    assert {"diversity", "control", "search", "search:ana", "search:cy", "import"} <= choices
    for bad in ("rework", "margn", "control:ana", "diversity:ana"):
        with pytest.raises(LabelloopError) as caught:
            browse.list_items(lab.db, ana, picked_by=bad)
        assert caught.value.message.startswith("picked_by must be one of ")
        assert "search:USER" in caught.value.message
    with pytest.raises(LabelloopError, match="picked by are for reviewers"):
        browse.list_items(lab.db, bob, picked_by="search")


def test_the_labeled_filter_says_how_many_are_eval_items(lab: Any, ready: Any) -> None:
    """Listing every labeled item lists the labeled eval items too: 18 against the project
    page's 3 labeled read as a mistake, so the answer counts each split, and its pool count is
    the project page's."""
    from labelloop.workflow import status

    lab.label_next(ready, n=3)
    found = browse.list_items(lab.db, ready, status="labeled")
    assert found["total"] == 18
    assert found["by_split"] == {"pool": 3, "eval": 15}
    assert found["by_split"]["pool"] == status.status(lab.db, ready)["counts"]["labeled"]
    pool_only = browse.list_items(lab.db, ready, status="labeled", split="pool")
    assert (pool_only["total"], pool_only["by_split"]) == (3, {"pool": 3})
