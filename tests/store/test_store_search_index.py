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
from labelloop.store.migrate import alembic_config, upgrade
from labelloop.store.tables import item
from labelloop.workflow import batches, imports, seeding
from tests.conftest import Lab, PgCluster, make_rows

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
    monkeypatch.setattr(store_browse, "in_index", lambda conn, terms: [])


def _found(lab: Lab, ctx: Any, q: str) -> tuple[int, list[str]]:
    got = seeding.search(lab.db, ctx, q=q, limit=100)
    return got["total"], [h["external_id"] for h in got["items"]]


def _compare(lab: Lab, ctx: Any, queries: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """Every query finds the same items with the index as by reading every item; how many
    queries found something."""
    indexed = {}
    for q in queries:
        try:
            indexed[q] = _found(lab, ctx, q)
        except LabelloopError:
            continue
    with monkeypatch.context() as m:
        _scan(m)
        for q, found in indexed.items():
            assert found == _found(lab, ctx, q), q
    return sum(1 for total, _ in indexed.values() if total)


def test_the_index_finds_what_reading_every_item_finds_on_tricky_texts(
    sqlite_lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = sqlite_lab
    ctx = lab.project()
    lab.import_rows(ctx, [{"id": f"t{i}", "text": t} for i, t in enumerate(TRICKY)])
    assert _compare(lab, ctx, QUERIES, monkeypatch) >= 45


PIECES = [
    "a", "b", "ab", "é", "e\u0301", "_", "'", "’", " ", "  ", "-", "İ", "К", "ς", "Σ", "1",
    "½", "🙂", "\u00a0", "京", "#", "ß", "ﬁ", "\u212a", ".", "\u0301", "ǅ", "𞤀",
]  # fmt: skip


def test_the_index_finds_what_reading_every_item_finds_on_random_texts(
    sqlite_lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Texts and queries drawn from letters, marks, apostrophes, underscores and symbols that
    part or join words differently in Python, in SQLite and in its index's tokenizer."""
    rng = random.Random(17)
    texts = list(
        dict.fromkeys(
            "x" + "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 10))) for _ in range(90)
        )
    )
    lab = sqlite_lab
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
    assert _compare(lab, ctx, queries, monkeypatch) >= 100


@pytest.mark.parametrize("data_type", ["image", "audio"])
def test_file_names_are_found_through_the_index_as_by_reading_them(
    sqlite_lab: Lab, monkeypatch: pytest.MonkeyPatch, data_type: str
) -> None:
    lab = sqlite_lab
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
        terms = seeding.search_terms(q)
        with lab.db.read() as conn:
            rows, _ = store_browse.browse(
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
    """The items SQLite's index finds for the words ``q`` (in any project)."""
    with db.read() as conn:
        where = store_browse.in_index(conn, seeding.search_terms(q))
        assert where, "the search does not use the index"
        return set(conn.execute(select(item.c.id).where(*where)).scalars())


def test_a_search_reads_only_the_items_the_index_finds(
    sqlite_lab: Lab, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The words' pattern (a Python call on SQLite) read every item holding the query's letters
    anywhere: 300 items holding "refunds" for one holding "refund"."""
    lab = sqlite_lab
    ctx = lab.project()
    rows = [{"id": f"s{i}", "text": f"refunds number {i}"} for i in range(300)]
    lab.import_rows(ctx, [*rows, {"id": "one", "text": "a refund at last"}])
    calls = []
    holds = store_db.holds

    def counted(pattern_text: str, text: str | None) -> bool | None:
        calls.append(text)
        return holds(pattern_text, text)

    monkeypatch.setattr(store_db, "holds", counted)
    db = Database(lab.db.url)  # its connections call the counting matcher
    try:
        found = seeding.search(db, ctx, q="refund")
    finally:
        db.dispose()
    assert [h["external_id"] for h in found["items"]] == ["one"]
    assert 0 < len(calls) <= 2  # the page and its count, each reading the one item


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
        assert store_browse.in_index(conn, seeding.search_terms("zebra")) == []


def test_the_upgrade_indexes_the_items_already_there_and_the_downgrade_drops_it(
    tmp_path: Any,
) -> None:
    from alembic import command

    db = Database(f"sqlite:///{tmp_path}/old.db")
    try:
        upgrade(db, "0016")
        lab = Lab(db)
        ctx = lab.project()
        lab.import_rows(ctx, [{"id": "z1", "text": "Zebras, zebra"}, *make_rows(20)])
        upgrade(db)
        assert len(_indexed_ids(db, "zebra")) == 1
        assert seeding.search(db, ctx, q="zebra")["total"] == 1

        cfg = alembic_config(db)
        with db.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0016")
            conn.commit()
        with db.read() as conn:
            assert not wordindex.has_index(conn)
        upgrade(db)  # labelloop runs on the newest schema: upgraded again, the index is back
        assert len(_indexed_ids(db, "zebra")) == 1
        lab.import_rows(ctx, [{"id": "z2", "text": "one more zebra"}], filename="b.jsonl")
        assert seeding.search(db, ctx, q="zebra")["total"] == 2
    finally:
        db.dispose()


@pytest.fixture
def pg_lab(pg_cluster: PgCluster, pg_migrated: str) -> Iterator[Lab]:
    database = Database(pg_cluster.create_database(template=pg_migrated))
    yield Lab(database)
    database.dispose()
    pg_cluster.drop_database(database.url)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("data_type", "index"), [("text", "ix_item_words_text"), ("image", "ix_item_words_image")]
)
def test_postgresql_can_answer_a_search_from_its_trigram_index(
    pg_lab: Lab, data_type: str, index: str
) -> None:
    """The words' LIKE and ``~`` are over the very expressions the trigram indexes hold (with
    their keys bound as parameters), so the planner can answer them from the index."""
    lab = pg_lab
    ctx = lab.project()
    lab.import_rows(ctx, make_rows(50))
    with lab.db.read() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        where = holds_words(conn, data_type, seeding.search_terms('zebra* "refund request"'))
        q = select(func.count()).select_from(item).where(*where)
        compiled = q.compile(dialect=conn.dialect)
        plan = conn.exec_driver_sql("EXPLAIN " + compiled.string, compiled.params).scalars()
        assert index in "\n".join(plan)
