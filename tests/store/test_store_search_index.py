"""The search index (migration 0017): a search answers from it, finds exactly what reading every
item finds, and stays in step with the items."""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from labelloop.errors import LabelloopError
from labelloop.store import browse as store_browse
from labelloop.store import db as store_db
from labelloop.store import wordindex
from labelloop.store.browse import Filters, holds_words
from labelloop.store.db import Database
from labelloop.store.migrate import upgrade
from labelloop.store.tables import item
from labelloop.store.words import parse_query, text_holds
from labelloop.workflow import batches, imports, seeding
from tests.conftest import Lab, PgCluster, downgrade, make_rows

TRICKY = [
    "İstanbul'da kaldım",  # lower() makes two characters of İ
    "\u212aelvin scale",  # the Kelvin sign, lower-cased to a plain k
    "ΟΔΟΣ ΟΔΟΣ. οδός",  # a final sigma
    "Straße STRASSE",
    "cafe\u0301 and café",  # an accent as a combining mark, and one letter
    "don't stop, don’t stop",
    "cat_01.png and snake_case_name",
    "C++11 and 100%_sure x#tag",
    "<p>Refund&nbsp;<b>now</b></p><script>alert(1)</script>",
    "order 12345 and 123, ½ price²",
    "refund🙂 please🙂",
    "refund\u00a0request\tand\nnew line",
    "𞤀𞤁𞤂 Adlam and ᲒᲐᲛᲐᲠᲯᲝᲑᲐ Georgian",  # scripts newer than SQLite's Unicode tables
    "退款refund and 京都に住んでいます",
    "กินข้าว and x京y kyoto京都",  # Thai, its vowel and tone marks combining
    "환불 요청합니다",
    "हिन्दी भाषा",
    "كِتَاب and كتاب",
    "ﬁne ligature, ǅungla",
    "---",
    "refunds refunded REFUNDING",
    "a\u200dzero-width joiner, not near or and",
    "word" * 60,
]
QUERIES = [
    "İSTANBUL'DA",
    "i̇stanbul'da",
    "istanbul",
    "kelvin",
    "\u212aELVIN",
    "οδος",
    "ΟΔΟΣ",
    "οδός",
    "straße",
    "strasse",
    "café",
    "cafe",
    "cafe\u0301",
    "don't",
    "don’t",
    "don",
    "t",
    '"don t stop"',
    "don'*",
    "cat",
    "cat_01",
    "01",
    "snake_case*",
    "case",
    "c++",
    "c++*",
    "100%_sure",
    "#tag",
    "x#tag",
    "nbsp",
    '"refund nbsp now"',
    "b",
    "script",
    "123",
    "1234*",
    "12345",
    "½",
    "price²",
    "refund",
    "refund🙂",
    "🙂",
    '"refund request"',
    '"request and new line"',
    "𞤀𞤁𞤂",
    "𞤢𞤣𞤤",
    "გამარჯობა",
    "ᲒᲐᲛᲐᲠᲯᲝᲑᲐ",
    "退款refund",
    "退款",
    "款refund",
    "refund退",
    "に住",
    "京都に住んでいます",
    "x京",
    "oto京",
    "京y",
    "ข้าว",
    "กิน*",
    "환불",
    "हिन्दी",
    "हिन",
    "كِتَاب",
    "كتاب",
    "ﬁne",
    "fine",
    "ǆungla",
    "---",
    "-",
    "refund*",
    "refunding",
    "REFUNDS refunded",
    "zero",
    "joiner a",
    "word*",
    "wordword",
    "zzqx",
    "AND",  # FTS5's operators, read as words
    "not",
    "NEAR and",
    "or*",
    "^scale",
]


def _scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Searches from here on read every item, as before the index."""
    monkeypatch.setattr(store_browse, "in_index", lambda conn, terms, **where: [])


def _found(lab: Lab, ctx: Any, q: str) -> tuple[int, list[str]]:
    got = seeding.search(lab.db, ctx, q=q, limit=100)
    return got["total"], [h["external_id"] for h in got["items"]]


def _compare(
    lab: Lab, ctx: Any, queries: list[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, int]:
    """Every query finds the same items with the index as by reading every item; how many
    queries found something, and how many the index narrowed."""
    indexed, narrowed = {}, set()
    in_index = store_browse.in_index

    def counted(conn: Any, terms: Any, **of: Any) -> Any:
        where = in_index(conn, terms, **of)
        if where:
            narrowed.add(terms)
        return where

    with monkeypatch.context() as m:
        m.setattr(store_browse, "in_index", counted)
        for q in queries:
            try:
                indexed[q] = _found(lab, ctx, q)
            except LabelloopError:
                continue
    with monkeypatch.context() as m:
        _scan(m)
        for q, found in indexed.items():
            assert found == _found(lab, ctx, q), q
    terms = {seeding.search_terms(q, "text") for q in indexed}
    return sum(1 for total, _ in indexed.values() if total), len(narrowed & terms)


def test_the_index_finds_what_reading_every_item_finds_on_tricky_texts(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, [{"id": f"t{i}", "text": t} for i, t in enumerate(TRICKY)])
    found, narrowed = _compare(lab, ctx, QUERIES, monkeypatch)
    assert found >= 60
    assert narrowed >= 60


PIECES = [
    "a", "b", "ab", "é", "e\u0301", "_", "'", "’", " ", "  ", "-", "İ", "К", "ς", "Σ", "1",
    "½", "🙂", "\u00a0", "京", "款", "ข", "\u0e49", "#", "ß", "ﬁ", "\u212a", ".", "\u0301",
    "ǅ", "𞤀",
]  # fmt: skip


def test_the_index_finds_what_reading_every_item_finds_on_random_texts(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Texts and queries drawn from letters, marks, apostrophes, underscores and symbols that
    part or join words differently in Python, in SQLite and in its index's tokenizer."""
    rng = random.Random(17)
    texts = list(
        dict.fromkeys(
            "x" + "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 10))) for _ in range(90)
        )
    )
    ctx = lab.project()
    lab.import_rows(ctx, [{"id": f"r{i}", "text": t} for i, t in enumerate(texts)])
    queries = []
    for _ in range(250):
        text = rng.choice(texts)
        start = rng.randrange(len(text))
        q = text[start : start + rng.randint(1, 6)].strip()
        if q:
            queries.append(q + ("*" if rng.random() < 0.2 else ""))
        if rng.random() < 0.2 and " " in text.strip():
            queries.append('"' + text.strip() + '"')
    found, narrowed = _compare(lab, ctx, queries, monkeypatch)
    assert found >= 100  # PostgreSQL's lower() is not Python's: it folds İ to a plain i
    assert narrowed >= 120


def test_long_texts_are_found_through_the_index_as_by_reading_them(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's index cuts a long text's words to 200 characters (a tsvector's word holds
    at most 2,047 bytes) and holds one over 600,000 bytes (longer than an import takes, but
    written by other means) as a word every search asks for."""
    texts = {
        "short": "a" * 1000 + " needle",  # 1,007 bytes: indexed whole
        "cut": "b" * 1500 + " needle",
        "grows": "Ⱥ" * 700 + " needle",  # 1,400 bytes, 2,100 once lower-cased
    }
    ctx = lab.project()
    lab.import_rows(ctx, [{"id": k, "text": t} for k, t in texts.items()])
    long = "zebra " + "filler words here " * 34_000 + "okapi"  # 612,011 bytes
    with lab.db.write() as conn:
        conn.execute(
            item.insert().values(
                project_id=ctx.id,
                external_id="long",
                payload={"text": long},
                meta={},
                split="pool",
                content_hash=hashlib.sha256(long.encode()).hexdigest(),
            )
        )
    queries = ["needle", "zebra", "okapi", "filler*", '"here filler"', "a" * 100, "a" * 99 + "*"]
    queries += ["b" * 100, "b" * 99 + "*", "ⱥ" * 99 + "*", "Ⱥ" * 100, "absent"]
    found, _ = _compare(lab, ctx, queries, monkeypatch)
    assert found == 8
    assert _found(lab, ctx, "okapi") == (1, ["long"])
    assert _found(lab, ctx, "ⱥ" * 99 + "*") == (1, ["grows"])


@pytest.mark.parametrize("data_type", ["image", "audio"])
def test_file_names_are_found_through_the_index_as_by_reading_them(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, data_type: str
) -> None:
    ctx = lab.project()
    names = ["pets/Cat_01.png", "pets/cat_02 Ünï🙂.PNG", "dogs/dog_01.png", "a/__b__.wav"]
    with lab.db.write() as conn:
        rows = [{data_type: n} for n in names]
        for name, payload in zip(names, rows, strict=True):
            conn.execute(
                item.insert().values(
                    project_id=ctx.id,
                    external_id=name,
                    payload=payload,
                    meta={},
                    split="pool",
                    content_hash=hashlib.sha256(name.encode()).hexdigest(),
                )
            )
    queries = ["cat", "CAT_01", "cat_0*", '"pets cat"', "ünï", "png", "01", "b", "__b", "dogs/"]

    def found(q: str) -> list[str]:
        terms = seeding.search_terms(q, "text")
        with lab.db.read() as conn:
            rows, _, _ = store_browse.browse(
                conn,
                project_id=ctx.id,
                data_type=data_type,
                filters=Filters(terms=terms),
                limit=50,
                offset=0,
            )
        return [r["external_id"] for r in rows]

    indexed = {q: found(q) for q in queries}
    assert indexed["cat"] == ["pets/Cat_01.png", "pets/cat_02 Ünï🙂.PNG"]
    with monkeypatch.context() as m:
        _scan(m)
        assert {q: found(q) for q in queries} == indexed


def _indexed_ids(db: Database, q: str) -> set[int]:
    """The items the index of texts finds for the words ``q`` (in any project)."""
    with db.read() as conn:
        terms = seeding.search_terms(q, "text")
        where = store_browse.in_index(
            conn, terms, key="text", content=store_browse.content_of("text")
        )
        assert where, "the search does not use the index"
        return set(conn.execute(select(item.c.id).where(*where)).scalars())


def _counting(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> tuple[Database, list[str | None]]:
    """A store whose connections call a matcher that notes each text it reads (dispose it)."""
    calls: list[str | None] = []
    holds = store_db.holds

    def counted(key: str, text: str | None) -> bool | None:
        calls.append(text)
        return holds(key, text)

    monkeypatch.setattr(store_db, "holds", counted)
    return Database(lab.db.url), calls


def test_a_search_reads_only_the_items_the_index_finds(
    sqlite_lab: Lab, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The words' pattern (a Python call on SQLite) read every item holding the query's letters
    anywhere: 300 items holding "refunds" for one holding "refund"."""
    lab = sqlite_lab
    ctx = lab.project()
    rows = [{"id": f"s{i}", "text": f"refunds number {i}"} for i in range(300)]
    lab.import_rows(ctx, [*rows, {"id": "one", "text": "a refund at last"}])
    db, calls = _counting(lab, monkeypatch)
    try:
        found = seeding.search(db, ctx, q="refund")
    finally:
        db.dispose()
    assert [h["external_id"] for h in found["items"]] == ["one"]
    assert 0 < len(calls) <= 2  # the page and its count, each reading the one item


def test_an_emoji_search_reads_only_the_items_holding_it(
    sqlite_lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A term with no letter (an emoji, a number sign, a symbol) gives the index no word to
    look up, and SQLite's LIKE was asked only a term's ASCII words, so every item of the pool
    went through the Python call: 0.3 s for "😂" on 36,000 tweets. A character without case
    that no lower-casing makes is the same in any text that holds it, so LIKE narrows by it
    (not by "ⓐ", the lower case of "Ⓐ", nor by a mark, as lower-casing "İ" makes one)."""
    lab = sqlite_lab
    ctx = lab.project()
    texts = [f"flight {i} on time" for i in range(300)]
    texts += ["so late 😂😂", "late again 😂", "İ😂 dotted", "a ❤️ heart"]
    texts += ["½ price², 100%", "C++11 #tag", "ǅ²", "--- and —", "Ⅻ alone", "Ⓐ alone"]
    lab.import_rows(ctx, [{"id": f"t{i}", "text": t} for i, t in enumerate(texts)])
    db, calls = _counting(lab, monkeypatch)
    try:
        found = seeding.search(db, ctx, q="😂")
        assert sorted(h["text"] for h in found["items"]) == sorted(
            ["so late 😂😂", "late again 😂", "İ😂 dotted"]
        )
        assert 0 < len(calls) <= 2 * 3  # the count and the page, each reading the three
        hearts = seeding.search(db, ctx, q="❤️")  # a variation selector is a mark: read all
        assert [h["text"] for h in hearts["items"]] == ["a ❤️ heart"]
        assert seeding.search(db, ctx, q='"i̇😂"')["total"] == 1  # İ lower-cased, then 😂
        for q in ["½", "²", "%", "#tag", "++", "---", "—", "ǆ²", "ⅻ", "Ⅻ", "ⓐ", "😂 😂"]:
            expected = sum(text_holds(t, parse_query(q)) for t in texts)
            assert seeding.search(db, ctx, q=q)["total"] == expected, q
    finally:
        db.dispose()


def test_the_index_follows_imports_and_their_undo_and_never_crosses_projects(
    sqlite_lab: Lab,
) -> None:
    lab = sqlite_lab
    ctx = lab.project()
    other = lab.project("other")
    lab.import_rows(other, [{"id": "o1", "text": "zebra elsewhere"}])
    done = lab.import_rows(ctx, [{"id": "z1", "text": "a Zebra here"}, *make_rows(5)])
    assert seeding.search(lab.db, ctx, q="zebra")["total"] == 1
    assert len(_indexed_ids(lab.db, "zebra")) == 2  # the index holds both projects' items

    batches.undo(lab.db, ctx, done.batch_id)
    assert seeding.search(lab.db, ctx, q="zebra")["total"] == 0
    assert len(_indexed_ids(lab.db, "zebra")) == 1
    lab.import_rows(ctx, [{"id": "z2", "text": "zebra again"}], filename="again.jsonl")
    csv = io.BytesIO(b'id,text\nz3,"Zebra, in a CSV"\n')
    imports.import_items(lab.db, ctx, csv, fmt="csv", filename="z.csv", id_field="id")
    found = seeding.search(lab.db, ctx, q="zebra")
    assert [h["external_id"] for h in found["items"]] == ["z2", "z3"]

    with lab.db.write() as conn:  # an item's text changed, and a project removed with its items
        changed = item.update().where(item.c.external_id == "z2")
        conn.execute(changed.values(payload={"text": "okapi"}))
        conn.exec_driver_sql(f"DELETE FROM project WHERE id = {other.id}")
    assert seeding.search(lab.db, ctx, q="okapi")["total"] == 1
    assert len(_indexed_ids(lab.db, "zebra")) == seeding.search(lab.db, ctx, q="zebra")["total"]
    with lab.db.read() as conn:
        n_items = conn.execute(select(func.count()).select_from(item)).scalar_one()
        n_words = conn.exec_driver_sql("SELECT count(*) FROM item_words").scalar_one()
    assert n_words == n_items


@pytest.fixture
def without_index(sqlite_lab: Lab) -> Iterator[Lab]:
    """A store whose SQLite had no FTS5 when it was migrated: no index, no triggers."""
    with sqlite_lab.db.write() as conn:
        for trigger in ("insert", "delete", "update"):
            conn.exec_driver_sql(f"DROP TRIGGER item_words_{trigger}")
        conn.exec_driver_sql("DROP TABLE item_words")
    yield sqlite_lab


def test_without_the_index_the_search_reads_every_item(without_index: Lab) -> None:
    lab = without_index
    ctx = lab.project()
    lab.import_rows(ctx, [{"id": "z1", "text": "a Zebra here"}, *make_rows(5)])
    assert seeding.search(lab.db, ctx, q="zebra*")["total"] == 1
    with lab.db.read() as conn:
        terms = seeding.search_terms("zebra", "text")
        assert (
            store_browse.in_index(conn, terms, key="text", content=store_browse.content_of("text"))
            == []
        )


def test_the_upgrade_indexes_the_items_already_there_and_the_downgrade_drops_it(
    tmp_path: Any,
) -> None:
    db = Database(f"sqlite:///{tmp_path}/old.db")
    try:
        upgrade(db, "0016")
        lab = Lab(db)
        ctx = lab.project()
        lab.import_rows(ctx, [{"id": "z1", "text": "Zebras, zebra"}, *make_rows(20)])
        upgrade(db)
        assert len(_indexed_ids(db, "zebra")) == 1
        assert seeding.search(db, ctx, q="zebra")["total"] == 1

        downgrade(db, "0016")
        with db.read() as conn:
            assert not wordindex.has_index(conn)
        upgrade(db)  # labelloop runs on the newest schema: upgraded again, the index is back
        assert len(_indexed_ids(db, "zebra")) == 1
        lab.import_rows(ctx, [{"id": "z2", "text": "one more zebra"}], filename="b.jsonl")
        assert seeding.search(db, ctx, q="zebra")["total"] == 2
    finally:
        db.dispose()


def _pg_index_kind(db: Database) -> str:
    """How PostgreSQL's index of item texts is made: ``words``, ``trigrams`` or ``none``."""
    with db.read() as conn:
        found = conn.exec_driver_sql(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_item_words_text'"
        ).scalar()
    if found is None:
        return "none"
    return "words" if "labelloop_words" in found else "trigrams"


@pytest.mark.postgres
def test_postgresql_without_the_word_index_reads_every_item(pg_lab: Lab) -> None:
    """A store migrated on PostgreSQL 13 (no SQL-standard function bodies) has no word index."""
    lab = pg_lab
    with lab.db.write() as conn:
        for key in ("text", "image", "audio"):
            conn.exec_driver_sql(f"DROP INDEX ix_item_words_{key}")
        conn.exec_driver_sql("DROP FUNCTION labelloop_words(text)")
    wordindex.forget_index()  # as a migration does
    ctx = lab.project()
    lab.import_rows(ctx, [{"id": "z1", "text": "a Zebra here"}, *make_rows(5)])
    assert seeding.search(lab.db, ctx, q="zebra*")["total"] == 1
    with lab.db.read() as conn:
        terms = seeding.search_terms("zebra", "text")
        content = store_browse.content_of("text")
        assert store_browse.in_index(conn, terms, key="text", content=content) == []


@pytest.mark.postgres
def test_postgresql_upgrades_its_trigram_index_to_words_and_downgrades_back(
    pg_cluster: PgCluster,
) -> None:
    db = Database(pg_cluster.create_database())
    try:
        upgrade(db, "0021")
        assert _pg_index_kind(db) == "trigrams"
        lab = Lab(db)
        ctx = lab.project()
        lab.import_rows(ctx, [{"id": "z1", "text": "Zebras, zebra"}, *make_rows(20)])
        upgrade(db)
        assert _pg_index_kind(db) == "words"
        assert len(_indexed_ids(db, "zebra")) == 1  # the items already there are indexed
        assert seeding.search(db, ctx, q="zebra")["total"] == 1

        downgrade(db, "0021")
        assert _pg_index_kind(db) == "trigrams"
        with db.read() as conn:
            assert not wordindex.has_index(conn)
        assert seeding.search(db, ctx, q="zebra")["total"] == 1
        upgrade(db)
        lab.import_rows(ctx, [{"id": "z2", "text": "one more zebra"}], filename="b.jsonl")
        assert len(_indexed_ids(db, "zebra")) == 2
    finally:
        db.dispose()
        pg_cluster.drop_database(db.url)


@pytest.fixture
def pg_lab(pg_cluster: PgCluster, pg_migrated: str) -> Iterator[Lab]:
    database = Database(pg_cluster.create_database(template=pg_migrated))
    yield Lab(database)
    database.dispose()
    pg_cluster.drop_database(database.url)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("data_type", "q", "index"),
    [
        ("text", 'zebra* "refund request"', "ix_item_words_text"),
        ("text", "退款", "ix_item_words_text"),
        ("image", "cat_01", "ix_item_words_image"),
    ],
)
def test_postgresql_can_answer_a_search_from_its_word_index(
    pg_lab: Lab, data_type: str, q: str, index: str
) -> None:
    """The index's tsquery is over the very expressions the word indexes hold (with their keys
    bound as parameters), so the planner can answer them from the index."""
    lab = pg_lab
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(50))
    with lab.db.read() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        where = holds_words(conn, data_type, seeding.search_terms(q, data_type))
        count = select(func.count()).select_from(item).where(*where)
        compiled = count.compile(dialect=conn.dialect)
        plan = conn.exec_driver_sql("EXPLAIN " + compiled.string, compiled.params).scalars()
        assert index in "\n".join(plan)


def test_searches_ask_the_catalog_for_the_index_once_until_a_migration(lab: Lab) -> None:
    """Every word search asked the catalog whether the index exists (one more query each);
    it is looked up once per database, and again after a migration."""
    from sqlalchemy import event

    asked: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "to_regprocedure" in statement or "sqlite_master" in statement:
            asked.append(statement)

    ctx = lab.project()
    lab.import_rows(ctx, [{"id": "z1", "text": "a Zebra here"}, *make_rows(5)])
    event.listen(lab.db.engine, "before_cursor_execute", count)
    try:
        for q in ("zebra", "zebra*", '"a zebra"'):
            assert seeding.search(lab.db, ctx, q=q)["total"] == 1
        assert len(asked) <= 1, asked
        before = len(asked)
        wordindex.forget_index()  # as a migration that builds or drops the index does
        for _ in range(2):
            assert seeding.search(lab.db, ctx, q="zebra")["total"] == 1
        assert len(asked) == before + 1
    finally:
        event.remove(lab.db.engine, "before_cursor_execute", count)


def test_the_marked_words_are_where_the_search_finds_them_on_tricky_texts() -> None:
    """What the page and the CLI mark of a hit comes from the search's own matching: a text
    the search finds has a mark for each term, around text that holds the term; others none."""
    from labelloop.store.words import match_spans

    for text in TRICKY:
        for q in QUERIES:
            terms = parse_query(q)
            spans = match_spans(text, terms)
            assert bool(spans) >= text_holds(text, terms), (text, q)
            for term in terms:
                if text_holds(text, (term,)):
                    marked = [text[a:b] for a, b in match_spans(text, (term,))]
                    assert any(text_holds(m, (term,)) for m in marked), (text, q, marked)
