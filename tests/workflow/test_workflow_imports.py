"""Imports: all records or none, errors that name the line, duplicates reported, splits kept."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.store import db as db_module
from labelloop.store.db import Database
from labelloop.store.tables import audit_event, import_batch, item, item_label
from labelloop.workflow import imports, projects, status, tasks
from tests.conftest import SCHEMA, make_rows


def _written(db: Database) -> dict[str, int]:
    with db.read() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (item, import_batch, item_label, audit_event)
        }


@pytest.mark.parametrize(
    ("bad_line", "field", "reason"),
    [
        ('{"id": "x", "text": 42}', "text", "must be a string"),
        ('{"id": "x", "body": "no text here"}', "text", "missing"),
        ('{"id": "x", "text": "fine", "label": "furious"}', "label", "furious"),
        (json.dumps({"id": "x" * 201, "text": "fine"}), "id", "id is 201 characters; the limit"),
        (
            json.dumps({"id": "x", "text": "fine", "extra": "y" * 70_000}),
            "extra",
            "(metadata) are 70,012 bytes as JSON; the limit is 65,536",
        ),
        (json.dumps({"id": "x", "text": "a\u0000b"}), "text", "cannot contain the NUL"),
        (json.dumps({"id": "x", "text": "ok", "who": ["a", "b\u0000"]}), "who[1]", "NUL"),
        (json.dumps({"id": "x", "text": "a\ud800b"}), "text", "cannot contain \\ud800, half"),
        (json.dumps({"id": "x", "text": "ok", "who": ["a", "\udfff"]}), "who[1]", "\\udfff"),
        (json.dumps({"id": "x", "text": "ok", "prediction": "a\u0000"}), "prediction", "NUL"),
        ('{"id": "x", "text": "ok", "n": [1, -1e400]}', "n[1]", "a number JSON cannot hold"),
    ],
    ids=[
        "wrong-type",
        "missing-field",
        "unknown-label",
        "long-id",
        "big-metadata",
        "nul",
        "nul-meta",
        "lone-surrogate",
        "lone-surrogate-meta",
        "nul-in-metadata-named-like-a-field",
        "number-beyond-json",
    ],
)
def test_a_bad_line_57_writes_nothing_and_is_named(
    lab: Any, monkeypatch: pytest.MonkeyPatch, bad_line: str, field: str, reason: str
) -> None:
    ctx = lab.project()
    monkeypatch.setattr(imports, "CHUNK", 10)  # earlier chunks are already flushed when it fails
    rows: list[Any] = lab.rows(80, labeled=True)
    rows[56] = bad_line
    before = _written(lab.db)
    with pytest.raises(ImportFormatError) as caught:
        lab.import_rows(ctx, rows, labeled=True)
    assert caught.value.line == 57
    assert caught.value.field == field
    assert caught.value.message.startswith(f"line 57, field '{field}'")
    assert reason in caught.value.message
    assert _written(lab.db) == before


def test_malformed_json_names_the_line(lab: Any) -> None:
    ctx = lab.project()
    rows: list[Any] = lab.rows(5)
    rows[3] = '{"id": "x", "text": "unterminated'
    with pytest.raises(ImportFormatError, match=r"^line 4: not valid JSON"):
        lab.import_rows(ctx, rows)
    assert _written(lab.db)["item"] == 0


def test_a_line_over_the_length_limit_writes_nothing_and_is_named(
    lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = lab.project()
    monkeypatch.setattr(imports, "CHUNK", 10)
    rows: list[Any] = lab.rows(80)
    rows[56] = {"id": "x", "text": "fine", "extra": "y" * 20_000_000}
    before = _written(lab.db)
    with pytest.raises(ImportFormatError) as caught:
        lab.import_rows(ctx, rows)
    assert caught.value.message == (
        "line 57: the line is longer than 2,097,152 bytes, the limit for one record"
    )
    assert _written(lab.db) == before


def test_an_id_repeated_in_one_file_names_both_lines_and_writes_nothing(
    lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = lab.project()
    monkeypatch.setattr(imports, "CHUNK", 10)
    rows: list[Any] = lab.rows(80)
    rows[56] = {"id": rows[3]["id"], "text": "three four"}
    before = _written(lab.db)
    with pytest.raises(ImportFormatError) as caught:
        lab.import_rows(ctx, rows)
    assert caught.value.message == (
        "line 57, field 'id': id 'doc-3' is also the id of line 4, with other content; "
        "an id names one item"
    )
    assert _written(lab.db) == before


TABLE_SCHEMA = {
    "name": "Readings",
    "data": {"type": "table", "field": "row", "columns": ["a", "b"]},
    "controls": [
        {"name": "sentiment", "type": "choice", "labels": ["negative", "positive"], "target": True}
    ],
}


def _import_as(
    lab: Any, ctx: Any, fmt: str, rows: list[dict[str, Any]], folder: Path, **options: Any
) -> Any:
    """``rows`` imported as a file (a saved dataset: "hf") in ``fmt``, ids and labels read."""
    options = {"id_field": "id", "label_field": "label", **options}
    if fmt == "hf":
        datasets = pytest.importorskip("datasets")
        datasets.Dataset.from_list(rows).save_to_disk(str(folder / "saved"))
        return imports.import_hf_dataset(lab.db, ctx, folder / "saved", **options)
    sink = io.BytesIO()
    if fmt == "parquet":
        pa = pytest.importorskip("pyarrow")
        pytest.importorskip("pyarrow.parquet").write_table(pa.Table.from_pylist(rows), sink)
    elif fmt == "csv":
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        sink.write(text.getvalue().encode())
    else:
        sink = lab.jsonl(rows)
    sink.seek(0)
    return imports.import_items(lab.db, ctx, sink, fmt=fmt, filename=f"f.{fmt}", **options)


def _other(row: dict[str, Any], **changed: Any) -> dict[str, Any]:
    """``row``'s fields with other content (and ``changed``)."""
    content = {"text": row["text"] + " more"} if "text" in row else {"a": row["a"] + 10}
    return content | changed


CITING = [  # (data type, format, how an error names the third record and the first)
    ("text", "jsonl", "line 3", "line 1"),
    ("text", "csv", "line 4", "line 2"),  # the header is line 1
    ("text", "parquet", "row 3", "row 1"),
    ("text", "hf", "row 3", "row 1"),
    ("table", "csv", "line 4", "line 2"),
    ("table", "parquet", "row 3", "row 1"),
]


def test_an_error_citing_another_record_names_it_as_it_names_its_own(
    lab: Any, tmp_path: Path, subtests: pytest.Subtests
) -> None:
    """A record whose id an earlier record has, or which labels the same content otherwise,
    names that record as the error names its own: a Parquet file's and a saved dataset's rows
    were said to clash with "line 1" where the error itself said "row 3"."""
    text = lab.project()
    projects.create_project(lab.db, "readings", TABLE_SCHEMA, actor=lab.admin)
    table = lab.ctx("readings", lab.admin)
    for n, (data, fmt, own, cited) in enumerate(CITING):
        ctx = text if data == "text" else table
        # (id, content, label) of three records: each case's contents are new to the project
        rows = [
            {"id": id, "label": label}
            | ({"text": f"words {n} {content}"} if data == "text" else {"a": content, "b": n})
            for id, content, label in (("a", 1, "negative"), ("b", 2, "positive"))
        ]
        again = [*rows, rows[0] | _other(rows[0], label="positive")]
        relabeled = [*rows, rows[0] | {"id": "c", "label": "positive"}]
        with subtests.test(data=data, fmt=fmt, error="id"):
            with pytest.raises(ImportFormatError) as caught:
                _import_as(lab, ctx, fmt, again, tmp_path / f"id{n}")
            assert caught.value.message == (
                f"{own}, field 'id': id 'a' is also the id of {cited}, with other content; "
                "an id names one item"
            )
        with subtests.test(data=data, fmt=fmt, error="label"):
            with pytest.raises(ImportFormatError) as caught:
                _import_as(lab, ctx, fmt, relabeled, tmp_path / f"label{n}", update_labels=True)
            assert caught.value.message == (
                f"{own}, field 'label': labels the same content as {cited} differently "
                "('positive', not 'negative'); a file gives each item one label"
            )
    assert _written(lab.db)["item"] == 0


def test_an_id_already_in_the_project_is_refused_unless_the_content_is_too(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, [{"id": "a", "text": "one two"}])
    with pytest.raises(ImportFormatError) as caught:
        lab.import_rows(ctx, [{"id": "b", "text": "five six"}, {"id": "a", "text": "three four"}])
    assert caught.value.message == (
        "line 2, field 'id': id 'a' already names item #1 of this project, with other "
        "content; an id names one item"
    )
    assert _written(lab.db)["item"] == 1
    # The same record again is a duplicate, as re-importing a file is: skipped and reported.
    again = lab.import_rows(ctx, [{"id": "a", "text": "one two"}, {"id": "a", "text": "one two"}])
    assert (again.n_items, again.n_duplicates) == (0, 2)


def test_a_record_with_a_taken_id_and_a_bad_label_is_refused_for_its_label(lab: Any) -> None:
    """Uploaded again with a record changed and malformed, a file is refused for what is wrong
    in the record, which a new id would not mend; with its label right, for its id."""
    ctx = lab.project()
    lab.import_rows(ctx, [{"id": "a", "text": "one two", "label": "positive"}], labeled=True)
    changed = [{"id": "a", "text": "one two", "label": "positive"}, {"id": "a", "text": "three"}]
    with pytest.raises(ImportFormatError) as caught:
        lab.import_rows(ctx, [changed[0], {**changed[1], "label": "great"}], labeled=True)
    assert caught.value.message.startswith("line 2, field 'label': ")
    assert "'great'" in caught.value.message and "already names" not in caught.value.message
    with pytest.raises(ImportFormatError) as caught:
        lab.import_rows(ctx, [changed[0], {**changed[1], "label": "negative"}], labeled=True)
    assert caught.value.message.startswith("line 2, field 'id': id 'a' already names item #1")
    assert _written(lab.db)["item"] == 1


def test_duplicates_in_one_file_are_reported_not_doubled(lab: Any) -> None:
    ctx = lab.project()
    rows = lab.rows(10)
    rows.insert(6, {"id": "again", "text": "  " + rows[2]["text"].upper() + " "})
    rows.append(dict(rows[0], id="again-2"))
    report = lab.import_rows(ctx, rows)
    assert (report.n_items, report.n_duplicates) == (10, 2)
    assert report.duplicate_lines == (7, 12)
    assert _written(lab.db)["item"] == 10


def test_reimporting_a_file_adds_only_the_new_records(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, lab.rows(10))
    report = lab.import_rows(ctx, lab.rows(12))  # the first 10 again, and 2 new
    assert (report.n_items, report.n_duplicates) == (2, 10)
    assert report.duplicate_lines == tuple(range(1, 11))
    assert _written(lab.db)["item"] == 12


def test_a_csv_with_a_text_over_several_lines_numbers_its_duplicates_by_line(
    sqlite_lab: Any,
) -> None:
    """A CSV's duplicates are numbered by the line their record starts on, as its errors are;
    they were called rows, which they are only while every row is one line: after a text of
    three lines, 'row 6' was the spreadsheet's row 4."""
    ctx = sqlite_lab.project()
    raw = b'text\n"one\ntwo\nthree"\nsecond\nsecond\n'
    report = imports.import_items(
        sqlite_lab.db, ctx, io.BytesIO(raw), fmt="csv", filename="sheet.csv"
    )
    assert (report.n_items, report.duplicate_lines, report.unit) == (2, (6,), "line")
    flat = imports.import_items(
        sqlite_lab.db, ctx, io.BytesIO(b"text\nthird\nthird\n"), fmt="csv", filename="b.csv"
    )
    assert (flat.n_items, flat.duplicate_lines, flat.unit) == (1, (3,), "row")


@pytest.mark.parametrize("raw", [b"", b"\xef\xbb\xbf", b"\xef\xbb\xbf \r\n\n\t\n"])
def test_an_empty_csv_is_said_to_be_empty_naming_it(lab: Any, raw: bytes) -> None:
    """A CSV holding only a byte order mark (or blank lines) was refused for its missing
    header row."""
    ctx = lab.project()
    with pytest.raises(LabelloopError) as caught:
        imports.import_items(lab.db, ctx, io.BytesIO(raw), fmt="csv", filename="sheet.csv")
    assert caught.value.message == "'sheet.csv' is empty: it holds no records"
    assert _written(lab.db)["import_batch"] == 0


def test_imported_labels_are_normalized_and_become_resolved_labels(lab: Any) -> None:
    ctx = lab.project()
    rows = [
        {"id": "a", "text": "one", "label": "Positive"},
        {"id": "b", "text": "two", "label": ""},
        {"id": "c", "text": "three", "label": "negative"},
    ]
    report = lab.import_rows(ctx, rows, labeled=True)
    assert (report.n_items, report.n_labeled) == (3, 2)
    with lab.db.read() as conn:
        labels = dict(conn.execute(select(item_label.c.item_id, item_label.c.label)).all())
    assert sorted(labels.values()) == ["negative", "positive"]


def test_every_line_keeps_its_own_text_fields_in_order_label_and_place(
    lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Items and labels go many rows per statement (on PostgreSQL, arrays a column each that
    # the server unnests): no value may slip to a neighbour's row, turn NULL or lose its order.
    monkeypatch.setattr(imports, "CHUNK", 3)  # three chunks, the last one partial
    monkeypatch.setattr(db_module, "MANY_ROWS", 2)  # and a chunk in two statements
    texts = ['say "hi", {x}', "NULL", "{NULL,}", "back\\slash", "tab\tnew\nline", "é 中文 🙂", "{}"]
    labels = ("negative", "neutral", "positive")
    rows = [
        {"id": f"r{i}", "text": t, "zeta": i, "alpha": None if i % 2 else "NULL"}
        | {"label": labels[i * 2 % 3]}
        for i, t in enumerate(texts)
    ]
    ctx = lab.project()
    report = lab.import_rows(ctx, rows, labeled=True)
    assert (report.n_items, report.n_labeled) == (7, 7)
    q = (
        select(item.c.external_id, item.c.payload, item.c.meta, item_label.c.label)
        .join(item_label, item_label.c.item_id == item.c.id)
        .order_by(item.c.id)
    )
    with lab.db.read() as conn:
        stored = [tuple(r) for r in conn.execute(q)]
    assert [(e, p["text"], list(m.items()), lb) for e, p, m, lb in stored] == [
        (r["id"], r["text"], [("zeta", r["zeta"]), ("alpha", r["alpha"])], r["label"]) for r in rows
    ]


def test_the_import_is_audited_with_its_counts(lab: Any) -> None:
    ctx = lab.project()
    lab.import_rows(ctx, [*lab.rows(4), lab.rows(1)[0]], filename="batch.jsonl")
    with lab.db.read() as conn:
        event = conn.execute(
            select(audit_event.c.payload).where(audit_event.c.action == "import")
        ).scalar_one()
    assert (event["filename"], event["items"], event["duplicates"]) == ("batch.jsonl", 4, 1)


def test_an_unknown_split_is_refused(lab: Any) -> None:
    ctx = lab.project()
    with pytest.raises(Exception, match="split 'test'"):
        lab.import_rows(ctx, lab.rows(3), split="test")
    assert _written(lab.db)["item"] == 0


def test_eval_items_are_never_served(lab: Any) -> None:
    ctx = lab.project()
    pool = lab.import_rows(ctx, lab.rows(6))
    lab.import_rows(
        ctx, lab.rows(20, start=100, prefix="ev", labeled=True), labeled=True, split="eval"
    )
    lab.import_rows(ctx, lab.rows(10, start=200, prefix="ev2"), split="eval")  # unlabeled
    lab.train(ctx)
    served = []
    for name in ("a", "b"):
        who = lab.member("sent", name, "annotator")
        while (task := tasks.next_task(lab.db, who)) is not None:
            served.append(task["item"]["external_id"])
            tasks.submit(lab.db, who, task["assignment_id"], {"sentiment": "neutral"}, active_ms=10)
        lab.train(ctx)
    assert sorted(served) == sorted(r["id"] for r in lab.rows(6))
    assert pool.n_items == 6


@pytest.mark.postgres
def test_a_large_import_refreshes_the_planners_statistics_on_postgres(
    pg_cluster: Any, pg_migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import Lab

    db = Database(pg_cluster.create_database(template=pg_migrated))
    try:
        _analyzed_on_big_imports(Lab(db), monkeypatch)
    finally:
        db.dispose()
        pg_cluster.drop_database(db.url)


def _analyzed_on_big_imports(lab: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports, "ANALYZE_AFTER", 50)

    def analyzed() -> dict[str, int]:
        with lab.db.read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT relname, analyze_count FROM pg_stat_user_tables"
                " WHERE relname IN ('item', 'item_label')"
            )
            return {name: count for name, count in rows}

    ctx = lab.project()
    lab.import_rows(ctx, make_rows(49, labeled=True), labeled=True, filename="small.jsonl")
    assert analyzed() == {"item": 0, "item_label": 0}  # a small import leaves it to autovacuum
    lab.import_rows(ctx, make_rows(60, start=49, labeled=True), labeled=True, filename="big.jsonl")
    # 60 new items: the planner learns how big the tables are before anyone reads them.
    assert analyzed() == {"item": 1, "item_label": 1}
    with lab.db.read() as conn:
        reltuples = conn.exec_driver_sql(
            "SELECT reltuples FROM pg_class WHERE relname = 'item'"
        ).scalar_one()
    assert reltuples == 109


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_the_content_is_read_from_the_schemas_field_and_an_export_imports_back(
    lab: Any, fmt: str
) -> None:
    import io

    from labelloop.workflow import export, projects
    from tests.conftest import schema_with

    schema = {**schema_with(), "data": {"type": "text", "field": "body"}}
    for slug in ("mails", "again"):
        projects.create_project(lab.db, slug, schema, actor=lab.admin)
    mails, again = lab.ctx("mails", lab.admin), lab.ctx("again", lab.admin)
    if fmt == "jsonl":
        source = (
            b'{"id": "m1", "body": "refund please", "text": "a subject line", "k": "negative"}\n'
        )
    else:
        source = b"id,body,text,k\nm1,refund please,a subject line,negative\n"
    report = imports.import_items(
        lab.db,
        mails,
        io.BytesIO(source),
        fmt=fmt,
        filename=f"m.{fmt}",
        id_field="id",
        label_field="k",
    )
    assert (report.n_items, report.n_labeled) == (1, 1)
    with lab.db.read() as conn:
        (row,) = conn.execute(select(item.c.payload, item.c.meta)).all()
    assert row.payload["text"] == "refund please"  # the schema's field, not "text"
    assert row.meta == {"text": "a subject line"}
    out = io.BytesIO()
    export.export(lab.db, mails, out, fmt=fmt)
    back = imports.import_items(
        lab.db,
        again,
        io.BytesIO(out.getvalue()),
        fmt=fmt,
        filename=f"export.{fmt}",
        text_field="body",  # as the project page's form sends it: the schema's field
        id_field="external_id",
        label_field="label",
    )
    assert (back.n_items, back.n_labeled) == (1, 1)  # the export's "text" column is read


@pytest.mark.parametrize(
    ("fmt", "source", "reason"),
    [
        (
            "jsonl",
            b'{"id": "m1", "subject": "hi"}\n',
            "line 1, field 'body': missing (nor is 'text'",
        ),
        ("csv", b"id,subject\nm1,hi\n", "line 1, field 'body': no such column (nor 'text'"),
    ],
)
def test_a_record_with_neither_field_names_both(
    lab: Any, fmt: str, source: bytes, reason: str
) -> None:
    import io

    from labelloop.workflow import projects
    from tests.conftest import schema_with

    schema = {**schema_with(), "data": {"type": "text", "field": "body"}}
    projects.create_project(lab.db, "mails", schema, actor=lab.admin)
    with pytest.raises(ImportFormatError) as caught:
        imports.import_items(
            lab.db, lab.ctx("mails", lab.admin), io.BytesIO(source), fmt=fmt, filename=f"m.{fmt}"
        )
    assert str(caught.value).startswith(reason)


NOTED = {
    **SCHEMA,
    "controls": [*SCHEMA["controls"], {"name": "note", "type": "text"}],
}
"""The test schema with a second control, so a label cell may hold every control's value."""


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("7" * 4_301, "not valid JSON: a number is longer than 4,300 digits (column 15)"),
        ("[" * 5_000 + "]" * 5_000, "not valid JSON: nested too deeply (column 1)"),
        ('"positive", "note": "a\\u0000"', "note: text cannot contain the NUL character"),
        ('"positive", "note": "\\ud800"', "note: text cannot contain \\ud800, half of a"),
    ],
    ids=["long-number", "deep", "nul", "lone-surrogate"],
)
def test_a_label_cell_of_json_no_store_holds_names_the_line(
    lab: Any, value: str, reason: str
) -> None:
    projects.create_project(lab.db, "noted", NOTED, actor=lab.admin)
    ctx = lab.ctx("noted", lab.admin)
    cell = '{"sentiment": ' + value + "}"
    source = f'text,label\nfine,positive\nodd,"{cell.replace(chr(34), chr(34) * 2)}"\n'
    before = _written(lab.db)
    with pytest.raises(ImportFormatError) as caught:
        imports.import_items(
            lab.db,
            ctx,
            io.BytesIO(source.encode()),
            fmt="csv",
            filename="l.csv",
            label_field="label",
        )
    assert (caught.value.line, caught.value.field) == (3, "label")
    assert caught.value.reason.startswith(reason)
    assert _written(lab.db) == before


def test_a_file_name_no_store_holds_is_kept_with_replacement_characters(lab: Any) -> None:
    """An upload's name can hold a NUL; a file system's name, bytes that are not UTF-8."""
    ctx = lab.project()
    report = imports.import_items(
        lab.db, ctx, lab.jsonl(lab.rows(2)), fmt="jsonl", filename="up\x00load\udce9.jsonl"
    )
    with lab.db.read() as conn:
        stored = conn.execute(
            select(import_batch.c.filename).where(import_batch.c.id == report.batch_id)
        ).scalar_one()
    assert stored == "up\ufffdload\ufffd.jsonl"


def test_an_error_quoting_a_huge_value_stays_one_readable_line(lab: Any) -> None:
    ctx = lab.project()
    rows: list[Any] = lab.rows(3, labeled=True)
    rows[1] = {**rows[1], "label": "furious " * 50_000}
    with pytest.raises(ImportFormatError) as caught:
        lab.import_rows(ctx, rows, labeled=True)
    message = caught.value.message
    assert len(message) <= 1_100
    assert message.startswith("line 2, field 'label': sentiment: 'furious furious")
    assert message.endswith("furious' is not one of negative, neutral, positive")


def test_eval_fraction_holds_out_a_share_of_the_labeled_items_by_their_content(lab: Any) -> None:
    ctx = lab.project(eval_fraction=0.3)
    labeled = make_rows(90, labeled=True)
    report = lab.import_rows(ctx, labeled, labeled=True)
    lab.import_rows(ctx, make_rows(30, start=500, prefix="new"))  # unlabeled: all to label
    with lab.db.read() as conn:
        rows = conn.execute(
            select(item.c.external_id, item.c.split).where(item.c.project_id == ctx.id)
        ).all()
    held = {external_id for external_id, split in rows if split == "eval"}
    assert held <= {r["id"] for r in labeled}  # only labeled items measure the model
    assert 0.15 * 90 <= len(held) <= 0.45 * 90
    assert report.n_eval == len(held) and report.n_items == 90
    assert report.notes == (
        f"{len(held)} of the 90 labeled items were held out as eval items (eval_fraction 0.3): "
        "they measure the model and are not served to label",
    )
    # Held out by content: the same file in another project holds out the same items, and an
    # import into the eval split, or a project without the setting, holds out nothing more.
    other = lab.project("again", eval_fraction=0.3)
    lab.import_rows(other, labeled, labeled=True)
    with lab.db.read() as conn:
        again = conn.execute(
            select(item.c.external_id).where(item.c.project_id == other.id, item.c.split == "eval")
        ).scalars()
        assert set(again) == held
    plain = lab.project("plain")
    assert lab.import_rows(plain, labeled, labeled=True).n_eval == 0
    # The model measures itself on them.
    lab.train(ctx)
    assert status.status(lab.db, ctx)["counts"]["eval"] == len(held)


def test_progress_counts_records_checked_new_or_here_already_and_stages_follow(
    lab: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = lab.project()
    monkeypatch.setattr(imports, "CHUNK", 10)
    said: list[Any] = []

    def run(rows: list[dict[str, Any]]) -> None:
        said.clear()
        lines = "".join(json.dumps(r) + "\n" for r in rows).encode()
        imports.import_items(
            lab.db,
            ctx,
            io.BytesIO(lines),
            fmt="jsonl",
            filename="items.jsonl",
            progress=said.append,
            stage=said.append,
        )

    run(make_rows(25))
    assert said == ["checking records", 10, 20, 25, "saving"]
    run(make_rows(25))  # the same file again: nothing new, the count moves all the same
    assert said == ["checking records", 10, 20, 25, "saving"]


_BOUNDED_IMPORT = """
import json, resource, sys
from labelloop.errors import LabelloopError
from labelloop.store.db import Database
from labelloop.workflow import imports, projects
db = Database(sys.argv[1])
ctx = projects.system_context(db, "sent")
size = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
limit = size + int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    with open(sys.argv[2], "rb") as raw:
        imports.import_items(db, ctx, raw, fmt="parquet", filename="small.parquet")
except LabelloopError as exc:
    print(json.dumps(exc.message))
"""


@pytest.mark.parametrize("dictionary", [True, False], ids=["one-text-repeated", "plain-pages"])
def test_a_small_parquet_file_of_huge_cells_is_refused_in_bounded_memory(
    sqlite_lab: Any, tmp_path: Path, dictionary: bool
) -> None:
    """A few KiB of Parquet can declare gigabytes of text: one long text its dictionary holds
    once and every row repeats, or pages of one letter each that compress a thousandfold. The
    import names the first row whose text is too long, in the memory of a few rows, and
    writes nothing."""
    import os
    import subprocess
    import sys

    import labelloop

    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    ctx = sqlite_lab.project("sent")
    sqlite_lab.import_rows(ctx, make_rows(5))
    before = _written(sqlite_lab.db)
    rows, text = 2000, pa.array(["a" * (1 << 20)])  # 2 GiB of text once read
    path = tmp_path / "small.parquet"
    if dictionary:
        column = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), text)
        table = pa.table({"id": [f"r{i}" for i in range(rows)], "text": column})
        pq.write_table(table, path, compression="zstd")
    else:  # a row group of one row each: the writer holds one text at a time
        one = pa.schema([("id", pa.string()), ("text", pa.string())])
        with pq.ParquetWriter(path, one, compression="zstd", use_dictionary=False) as out:
            for i in range(rows):
                out.write_table(pa.table({"id": [f"r{i}"], "text": text}, schema=one))
    assert path.stat().st_size < 4 << 20
    here = str(Path(labelloop.__file__).parents[1])  # the labelloop this test runs
    done = subprocess.run(
        [sys.executable, "-c", _BOUNDED_IMPORT, sqlite_lab.db.url, str(path), str(768 << 20)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": here},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    refused = json.loads(done.stdout)
    assert refused.startswith("row 1, field 'text':") and "1,048,576 characters" in refused
    assert _written(sqlite_lab.db) == before
