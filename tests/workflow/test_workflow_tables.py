"""Table projects: rows imported from CSV, learned with table features, ranked by the model."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_wine

from labelloop.errors import ImportFormatError
from labelloop.learn import TableFeaturizer, default_model
from labelloop.learn.strategies import margin_utility
from labelloop.workflow import batches, imports, learning, projects, tasks
from labelloop.workflow.features import FeatureCache
from tests.conftest import Lab

COLUMNS = ["alcohol", "flavanoids", "color_intensity", "proline"]
SCHEMA = {
    "name": "Wines",
    "data": {"type": "table", "field": "row", "columns": COLUMNS},
    "controls": [
        {"name": "cultivar", "type": "choice", "labels": ["c1", "c2", "c3"], "target": True},
        {"name": "sure", "type": "rating", "max": 3},
        {"name": "note", "type": "text"},
    ],
    "settings": {"strategy": "margin", "retrain_every": 10},
}


def _wine_csv(rows: range, *, labeled: bool) -> bytes:
    """Wine rows as CSV with every measurement (only COLUMNS are shown) and the cultivar."""
    wine = load_wine()
    names = [n.replace("/", "_") for n in wine.feature_names]
    lines = [",".join(["id", *names, "cultivar"])]
    for i in rows:
        label = f"c{int(wine.target[i]) + 1}" if labeled else ""
        lines.append(",".join([f"w{i}", *(f"{v:g}" for v in wine.data[i]), label]))
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def wines(sqlite_lab: Lab) -> tuple[Lab, Any, dict[str, str]]:
    lab = sqlite_lab
    projects.create_project(lab.db, "wines", SCHEMA, actor=lab.admin)
    ctx = lab.ctx("wines", lab.admin)
    order = np.random.default_rng(3).permutation(178)
    eval_rows, pool_rows = order[:40], order[40:]
    for split, rows, labeled in (("eval", eval_rows, True), ("pool", pool_rows, False)):
        imports.import_items(
            lab.db,
            ctx,
            io.BytesIO(_wine_csv(rows, labeled=labeled)),
            fmt="csv",
            filename=f"{split}.csv",
            id_field="id",
            label_field="cultivar",
            split=split,
        )
    target = load_wine().target
    truth = {f"w{i}": f"c{int(target[i]) + 1}" for i in range(178)}
    return lab, ctx, truth


def test_a_table_project_learns_from_its_columns_by_default(wines: Any) -> None:
    _, ctx, _ = wines
    assert ctx.settings.featurizer == "table"
    assert ctx.schema.data_columns == tuple(COLUMNS)


def test_rows_hold_the_chosen_columns_and_the_rest_is_metadata(wines: Any) -> None:
    lab, ctx, _ = wines
    learning.train(lab.db, ctx)
    ann = lab.member("wines", "ann", "annotator")
    task = tasks.next_task(lab.db, ann)
    assert task is not None
    assert list(task["item"]["data"]["row"]) == COLUMNS
    assert "magnesium" in task["item"]["metadata"]
    assert "cultivar" not in task["item"]["metadata"]


def test_the_served_order_follows_the_models_margin(wines: Any) -> None:
    lab, ctx, truth = wines
    cache = FeatureCache()
    learning.train(lab.db, ctx, cache=cache)  # cold start
    ann = lab.member("wines", "ann", "annotator")
    labeled: dict[str, str] = {}
    while len(labeled) < 12 or len(set(labeled.values())) < 3:
        task = tasks.next_task(lab.db, ann)
        assert task is not None
        name = task["item"]["external_id"]
        value = {"cultivar": truth[name], "sure": 3, "note": "clear"}
        tasks.submit(lab.db, ann, task["assignment_id"], value, active_ms=800)
        labeled[name] = truth[name]
    assert learning.train(lab.db, ctx, cache=cache) >= 2

    served = []
    for _ in range(8):
        task = tasks.next_task(lab.db, ann, held=[t["assignment_id"] for t in served])
        assert task is not None and task["selection"]["strategy"] == "margin"
        served.append(task)
    served_ids = [t["item"]["external_id"] for t in served]

    # The same ranking computed here from the rows alone: table features, the default model,
    # 1 - (p1 - p2) over the unlabeled pool, most uncertain first.
    with lab.db.read() as conn:
        from labelloop.store import learning as store_learning

        pool = store_learning.items_of(conn, ctx.id, "pool")
        evals = store_learning.items_of(conn, ctx.id, "eval")
        external = dict(
            conn.exec_driver_sql(
                "SELECT id, external_id FROM item WHERE project_id = ?", (ctx.id,)
            ).all()
        )
    X = TableFeaturizer().fit_transform([r["payload"] for r in pool + evals])[: len(pool)]
    names = [external[int(r["id"])] for r in pool]
    is_labeled = np.array([n in labeled for n in names])
    classes = ["c1", "c2", "c3"]
    y = np.array([classes.index(labeled[n]) for n in names if n in labeled])
    model = default_model().fit(X[is_labeled], y)
    proba = model.predict_proba(X[~is_labeled])
    utility = margin_utility(proba)
    rest = [n for n in names if n not in labeled]
    expected = [rest[i] for i in np.argsort(-utility, kind="stable")[:8]]
    assert served_ids == expected
    scores = [t["selection"]["score"] for t in served]
    assert scores == sorted(scores, reverse=True)
    assert abs(scores[0] - float(np.max(utility))) < 1e-6


def test_a_bad_row_aborts_the_import_naming_line_and_column(sqlite_lab: Lab) -> None:
    lab = sqlite_lab
    projects.create_project(lab.db, "w2", SCHEMA, actor=lab.admin)
    ctx = lab.ctx("w2", lab.admin)
    body = b"id,alcohol,flavanoids,proline\n1,13,2.1,1000\n"  # no color_intensity column
    with pytest.raises(ImportFormatError) as caught:
        imports.import_items(
            lab.db, ctx, io.BytesIO(body), fmt="csv", filename="x.csv", id_field="id"
        )
    assert (caught.value.line, caught.value.field) == (1, "color_intensity")


def test_parquet_rows_import_into_a_table_project(sqlite_lab: Lab, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    lab = sqlite_lab
    projects.create_project(lab.db, "w3", SCHEMA, actor=lab.admin)
    ctx = lab.ctx("w3", lab.admin)
    table = pa.table(
        {
            "alcohol": [13.1, 12.2, 13.1],
            "flavanoids": [2.9, 2.0, 2.9],
            "color_intensity": [5.5, 3.1, 5.5],
            "proline": [1100, 520, 1100],
            "cultivar": ["c1", None, "c1"],
        }
    )
    path = tmp_path / "w.parquet"
    pq.write_table(table, path)
    with path.open("rb") as source:
        report = imports.import_items(
            lab.db, ctx, source, fmt="parquet", filename=path.name, label_field="cultivar"
        )
    assert (report.n_items, report.n_labeled, report.n_duplicates) == (2, 1, 1)
    assert report.duplicate_lines == (3,)


def test_wine_demo_learns_the_cultivars_from_twenty_labels(sqlite_lab: Lab) -> None:
    from labelloop.demo import WINE_SLUG, setup_wine_demo, wine_rows
    from labelloop.store import learning as store_learning

    lab = sqlite_lab
    info = setup_wine_demo(lab.db)
    assert (info.n_pool, info.n_eval) == (128, 50)
    truth = {str(r["id"]): str(r["cultivar"]) for r in wine_rows()}
    ctx = projects.system_context(lab.db, WINE_SLUG)
    assert ctx.settings.featurizer == "table"
    cache = FeatureCache()
    learning.train(lab.db, ctx, cache=cache)
    from labelloop.govern.permissions import Permission

    projects.set_member(lab.db, ctx, lab.user("ann").username, "annotator")
    ann = projects.access(lab.db, WINE_SLUG, lab.users["ann"], Permission.ANNOTATE)
    for _ in range(20):
        task = tasks.next_task(lab.db, ann)
        assert task is not None
        assert list(task["item"]["data"]["row"])[:2] == ["alcohol", "malic_acid"]
        value = {"cultivar": truth[task["item"]["external_id"]], "confidence": 3}
        tasks.submit(lab.db, ann, task["assignment_id"], value, active_ms=700)
    learning.train(lab.db, ctx, cache=cache)
    with lab.db.read() as conn:
        latest = store_learning.history(conn, ctx.id)[-1]
    assert latest["featurizer"] == "table"
    assert latest["metrics"]["accuracy"] > 0.8  # chance is about 0.4


def test_more_like_this_finds_rows_and_shows_their_fields(wines: Any) -> None:
    from sklearn.metrics.pairwise import cosine_similarity

    from labelloop.store import learning as store_learning
    from labelloop.workflow import seeding

    lab, ctx, _ = wines
    first = min(_item_ids(lab, ctx))
    found = seeding.search(lab.db, ctx, like=first, cache=FeatureCache())
    assert found["by"] == "table"
    shown = found["items"][0]["text"]
    assert shown.startswith("alcohol: ") and " · flavanoids: " in shown
    with lab.db.read() as conn:
        rows = store_learning.items_of(conn, ctx.id, "pool")
        rows += store_learning.items_of(conn, ctx.id, "eval")
    X = TableFeaturizer().fit_transform([r["payload"] for r in rows])
    ids = [int(r["id"]) for r in rows]
    pool = set(_item_ids(lab, ctx))
    sims = cosine_similarity(X[ids.index(first)], X).ravel()
    nearest = [
        ids[i] for i in np.argsort(-sims, kind="stable") if ids[i] in pool and ids[i] != first
    ]
    assert [h["id"] for h in found["items"][:5]] == nearest[:5]


def _item_ids(lab: Lab, ctx: Any) -> list[int]:
    with lab.db.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT id FROM item WHERE project_id = ? AND split = 'pool'", (ctx.id,)
        ).all()
    return [int(r[0]) for r in rows]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_export_imports_back_with_the_same_rows_and_labels(wines: Any, fmt: str) -> None:
    from labelloop.workflow import export

    lab, ctx, truth = wines
    learning.train(lab.db, ctx)
    ann = lab.member("wines", "ann", "annotator")
    for _ in range(6):
        task = tasks.next_task(lab.db, ann)
        assert task is not None
        value = {"cultivar": truth[task["item"]["external_id"]]}
        tasks.submit(lab.db, ann, task["assignment_id"], value, active_ms=500)
    first = io.BytesIO()
    n = export.export(lab.db, ctx, first, fmt=fmt)
    assert n == 6

    projects.create_project(lab.db, "again", SCHEMA, actor=lab.admin)
    again = lab.ctx("again", lab.admin)
    report = imports.import_items(
        lab.db,
        again,
        io.BytesIO(first.getvalue()),
        fmt=fmt,
        filename=f"wines.{fmt}",
        id_field="external_id",
        label_field="label",
    )
    assert (report.n_items, report.n_labeled) == (6, 6)
    second = io.BytesIO()
    export.export(lab.db, again, second, fmt=fmt)

    def rows_and_labels(data: bytes) -> set[tuple[str, str, str]]:
        if fmt == "jsonl":
            records = [json.loads(line) for line in data.decode().splitlines()]
        else:
            records = list(csv.DictReader(io.StringIO(data.decode())))
        out = set()
        for r in records:
            row = r["text"] if fmt == "jsonl" else {c: r[c] for c in COLUMNS}
            out.add((r["external_id"], json.dumps(row, sort_keys=True), r["label"]))
        return out

    before, after = rows_and_labels(first.getvalue()), rows_and_labels(second.getvalue())
    assert after == before
    assert all(json.loads(row).keys() == set(COLUMNS) for _, row, _ in after)


def test_words_find_rows_by_their_values(sqlite_lab: Lab) -> None:
    from labelloop.workflow import seeding

    lab = sqlite_lab
    schema = {**SCHEMA, "data": {"type": "table", "field": "row"}}
    projects.create_project(lab.db, "loans", schema, actor=lab.admin)
    ctx = lab.ctx("loans", lab.admin)
    body = b"id,purpose,amount\n1,Yacht,90000\n2,car,1200\n3,yacht repair,4000\n4,phone,300\n"
    imports.import_items(lab.db, ctx, io.BytesIO(body), fmt="csv", filename="l.csv", id_field="id")
    found = seeding.search(lab.db, ctx, q="yacht")
    assert found["total"] == 2
    assert [h["external_id"] for h in found["items"]] == ["1", "3"]
    assert found["items"][0]["text"] == "purpose: Yacht · amount: 90000"
    assert seeding.search(lab.db, ctx, q="yacht 4000")["total"] == 1
    assert seeding.search(lab.db, ctx, q="yacht", offset=1)["items"][0]["external_id"] == "3"
    # The Items page matches a row's fields alike, and pages after matching.
    from labelloop.workflow import browse

    listed = browse.list_items(lab.db, ctx, q="YACHT", limit=1, offset=1)
    assert (listed["total"], [r["external_id"] for r in listed["items"]]) == (2, ["3"])
    assert browse.list_items(lab.db, ctx, q="yacht 4000")["total"] == 1
    # Whole words, as the pool search: "yach" is inside a word, "yach*" a prefix.
    for q, total in (("yach", 0), ("yach*", 2), ("400", 0), ('"yacht repair"', 1)):
        assert seeding.search(lab.db, ctx, q=q)["total"] == total, q
        assert browse.list_items(lab.db, ctx, q=q)["total"] == total, q
    lab.train(ctx)
    ann = lab.member("loans", "ann", "annotator")
    for _ in range(4):
        task = tasks.next_task(lab.db, ann)
        assert task is not None
        tasks.submit(lab.db, ann, task["assignment_id"], {"cultivar": "c1"}, active_ms=2000)
    for q, total in (("yach", 0), ("yach*", 2), ("YACHT", 2)):  # My answers alike
        assert browse.list_items(lab.db, ann, q=q)["total"] == total, q


def test_an_empty_cell_shows_as_a_dash_on_the_items_and_search_pages(sqlite_lab: Lab) -> None:
    """The labeling page shows an empty cell as '—' and true as 'true'; the Items page, the
    search and `labelloop items` showed Python's words for them: 'ash: None', 'organic: True',
    and a search for 'none' found every row with an empty cell."""
    from labelloop.workflow import browse, seeding

    lab = sqlite_lab
    schema = {**SCHEMA, "data": {"type": "table", "field": "row"}}
    projects.create_project(lab.db, "loans", schema, actor=lab.admin)
    ctx = lab.ctx("loans", lab.admin)
    body = (
        b'{"id": "1", "purpose": "car", "amount": null, "secured": true}\n'
        b'{"id": "2", "purpose": "boat", "amount": 40, "secured": false}\n'
    )
    imports.import_items(
        lab.db, ctx, io.BytesIO(body), fmt="jsonl", filename="l.jsonl", id_field="id"
    )
    listed = browse.list_items(lab.db, ctx)
    shown = {i["external_id"]: i["text"] for i in listed["items"]}
    assert shown == {
        "1": "purpose: car · amount: — · secured: true",
        "2": "purpose: boat · amount: 40 · secured: false",
    }
    assert seeding.search(lab.db, ctx, q="car")["items"][0]["text"] == shown["1"]
    assert seeding.search(lab.db, ctx, q="none")["total"] == 0


def test_a_number_column_with_a_word_in_it_is_named_in_the_import_summary(
    sqlite_lab: Lab,
) -> None:
    """One 'thirteen' among a column of numbers makes the table featurizer read the whole column
    as categories (every value its own, most of them lumped together as rare), so the model
    loses what the numbers said; the import took the file without a word. Its summary now names
    the column, how many cells and the first of them, so the user can fix the file."""
    lab = sqlite_lab
    schema = {**SCHEMA, "data": {"type": "table", "field": "row"}}
    projects.create_project(lab.db, "loans", schema, actor=lab.admin)
    ctx = lab.ctx("loans", lab.admin)
    lines = ["id,amount,rate,purpose"]
    lines += [f"{i},{1000 + i},{i % 7}.5,car" for i in range(40)]
    lines[8] = "7,thirteen,1.5,car"
    lines[20] = "19,,n/a,boat"
    lines[30] = "29,12 000,2.5,boat"
    body = "\n".join(lines).encode() + b"\n"
    report = imports.import_items(
        lab.db, ctx, io.BytesIO(body), fmt="csv", filename="l.csv", id_field="id"
    )
    assert report.n_items == 40
    assert report.notes == (
        "column 'amount' holds numbers but 2 cells that are not (line 9: 'thirteen'), so the "
        "model reads it as categories, not as numbers: correct or empty them, undo this "
        "import and import the file again",
        "column 'rate' holds numbers but 1 cell that is not (line 21: 'n/a'), so the model "
        "reads it as categories, not as numbers: correct or empty it, undo this import and "
        "import the file again",
    )
    # Imported again as it is, the corrected file is refused: its rows' ids name the rows here.
    fixed = body.replace(b"thirteen", b"13").replace(b"12 000", b"12000").replace(b"n/a", b"")
    with pytest.raises(ImportFormatError, match="already names item"):
        imports.import_items(
            lab.db, ctx, io.BytesIO(fixed), fmt="csv", filename="l.csv", id_field="id"
        )
    batches.undo(lab.db, ctx, report.batch_id)
    again = imports.import_items(
        lab.db, ctx, io.BytesIO(fixed), fmt="csv", filename="l.csv", id_field="id"
    )
    assert (again.n_items, again.notes) == (40, ())
    # A Parquet file's cells are named by their row (they were said to be on a "line")
    pa = pytest.importorskip("pyarrow")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    sink = io.BytesIO()
    pytest.importorskip("pyarrow.parquet").write_table(pa.Table.from_pylist(rows), sink)
    sink.seek(0)
    parquet = imports.import_items(
        lab.db, _table_project(lab, "loans2"), sink, fmt="parquet", filename="l.parquet"
    )
    assert [note.split(", so")[0] for note in parquet.notes] == [
        "column 'amount' holds numbers but 2 cells that are not (row 8: 'thirteen')",
        "column 'rate' holds numbers but 1 cell that is not (row 20: 'n/a')",
    ]


def _table_project(lab: Lab, slug: str, **data: Any) -> Any:
    schema = {**SCHEMA, "data": {"type": "table", "field": "row", **data}}
    projects.create_project(lab.db, slug, schema, actor=lab.admin)
    return lab.ctx(slug, lab.admin)


def _csv_export(lab: Lab, ctx: Any) -> list[list[str]]:
    from labelloop.workflow import export

    out = io.BytesIO()
    export.export(lab.db, ctx, out, fmt="csv")
    return list(csv.reader(io.StringIO(out.getvalue().decode())))


def test_a_csv_export_writes_the_rows_columns_as_columns_with_their_cells_as_they_came(
    sqlite_lab: Lab,
) -> None:
    """A table project's CSV export wrote each row as one JSON cell, {"alcohol": "13.2", ...},
    where a user who imported a CSV expects their columns back as columns, in their order, with
    labelloop's columns after them."""
    from labelloop.ingest.csv import EXPORT_COLUMNS

    lab = sqlite_lab
    ctx = _table_project(lab, "cellar")
    body = (
        b"id,alcohol,colour,pH,note,cultivar\n"
        b'w1,13.2,red,-3.1,=HYPERLINK("http://x"),c1\n'
        b"w2,,white,007,@SUM(A1),c2\n"
        b"w3,12.0,rose,+4,-the best-,c3\n"
        b"w4,11.0,rose,2,not labeled,\n"
    )
    imports.import_items(
        lab.db,
        ctx,
        io.BytesIO(body),
        fmt="csv",
        filename="w.csv",
        id_field="id",
        label_field="cultivar",
    )
    header, *rows = _csv_export(lab, ctx)
    own = [c for c in EXPORT_COLUMNS if c != "text"]
    assert header == ["alcohol", "colour", "pH", "note", *own]
    by_id = {r[header.index("external_id")]: dict(zip(header, r, strict=True)) for r in rows}
    assert set(by_id) == {"w1", "w2", "w3"}  # only labeled rows are exported
    first, second, third = by_id["w1"], by_id["w2"], by_id["w3"]
    assert (first["alcohol"], first["colour"], first["pH"]) == ("13.2", "red", "-3.1")
    # A formula stays text in a spreadsheet, as the text export guards it; a number does not.
    assert first["note"] == '\'=HYPERLINK("http://x")'
    assert (second["alcohol"], second["pH"], second["note"]) == ("", "007", "'@SUM(A1)")
    assert (third["alcohol"], third["pH"], third["note"]) == ("12.0", "+4", "'-the best-")
    assert (first["label"], second["label"]) == ("c1", "c2")


def test_a_csv_export_writes_json_numbers_and_true_false_as_they_came(sqlite_lab: Lab) -> None:
    lab = sqlite_lab
    ctx = _table_project(lab, "json-rows")
    body = (
        b'{"id": "1", "n": 3, "rate": 0.25, "delta": -2, "ok": true, "gone": null, "c": "c1"}\n'
        b'{"id": "2", "n": 12, "rate": 1e-07, "delta": 5, "ok": false, "gone": "x", "c": "c2"}\n'
    )
    imports.import_items(
        lab.db,
        ctx,
        io.BytesIO(body),
        fmt="jsonl",
        filename="r.jsonl",
        id_field="id",
        label_field="c",
    )
    header, first, second = _csv_export(lab, ctx)
    assert header[:5] == ["n", "rate", "delta", "ok", "gone"]
    assert first[:5] == ["3", "0.25", "-2", "true", ""]
    assert second[:5] == ["12", "1e-07", "5", "false", "x"]


def test_rows_with_other_columns_export_under_every_column_in_the_order_first_seen(
    sqlite_lab: Lab,
) -> None:
    lab = sqlite_lab
    ctx = _table_project(lab, "mixed")
    for name, body in (
        ("a.csv", b"id,alcohol,colour,cultivar\nw1,13,red,c1\nw2,12,white,c2\n"),
        ("b.csv", b"id,colour,acidity,cultivar\nw3,rose,3.2,c3\n"),
        ("c.csv", b"id,alcohol,hue,cultivar\nw4,11,0.9,c1\n"),
    ):
        imports.import_items(
            lab.db,
            ctx,
            io.BytesIO(body),
            fmt="csv",
            filename=name,
            id_field="id",
            label_field="cultivar",
        )
    header, *rows = _csv_export(lab, ctx)
    assert header[:4] == ["alcohol", "colour", "acidity", "hue"]
    assert [r[:4] for r in rows] == [
        ["13", "red", "", ""],
        ["12", "white", "", ""],
        ["", "rose", "3.2", ""],
        ["11", "", "", "0.9"],
    ]
    assert [r[header.index("label")] for r in rows] == ["c1", "c2", "c3", "c1"]


def test_a_column_named_like_one_of_labelloops_is_exported_with_row_in_front_and_reads_back(
    sqlite_lab: Lab,
) -> None:
    """A row's own "label", "score" or "text" column would have shared a name with the label
    and provenance columns labelloop adds: they are written as "row.label", "row.score", and
    a column already starting with "row." gets one more, so every name reads back as it was."""
    lab = sqlite_lab
    ctx = _table_project(lab, "clash")
    body = b"id,label,score,row.x,amount,cultivar\n1,spam,0.9,a,10,c1\n2,ham,0.1,b,20,c2\n"
    imports.import_items(
        lab.db,
        ctx,
        io.BytesIO(body),
        fmt="csv",
        filename="c.csv",
        id_field="id",
        label_field="cultivar",
    )
    from labelloop.workflow import export

    out = io.BytesIO()
    export.export(lab.db, ctx, out, fmt="csv")
    header, first, _ = list(csv.reader(io.StringIO(out.getvalue().decode())))
    assert header[:4] == ["row.label", "row.score", "row.row.x", "amount"]
    cells = dict(zip(header, first, strict=True))
    assert (cells["row.label"], cells["label"], cells["row.score"]) == ("spam", "c1", "0.9")

    again = _table_project(lab, "clash-again")
    report = imports.import_items(
        lab.db,
        again,
        io.BytesIO(out.getvalue()),
        fmt="csv",
        filename="e.csv",
        id_field="external_id",
        label_field="label",
    )
    assert (report.n_items, report.n_labeled) == (2, 2)
    with lab.db.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT external_id, payload, meta FROM item WHERE project_id = ? ORDER BY id",
            (again.id,),
        ).all()
    payloads = {r[0]: json.loads(r[1]) for r in rows}
    assert payloads["1"] == {"row": {"label": "spam", "score": "0.9", "row.x": "a", "amount": "10"}}
    assert "resolution" in json.loads(rows[0][2])  # labelloop's own columns are metadata


def test_a_csv_answers_export_writes_the_rows_columns_then_each_answer(wines: Any) -> None:
    from labelloop.domain import ANSWER_COLUMNS
    from labelloop.workflow import export

    lab, ctx, truth = wines
    learning.train(lab.db, ctx, cache=FeatureCache())  # cold start
    ann = lab.member("wines", "ann", "annotator")
    task = tasks.next_task(lab.db, ann)
    name = task["item"]["external_id"]
    value = {"cultivar": truth[name], "sure": 2, "note": "=looks c1"}
    tasks.submit(lab.db, ann, task["assignment_id"], value, active_ms=800)
    out = io.BytesIO()
    assert export.export(lab.db, ctx, out, fmt="csv", annotations=True) == 1
    header, row = list(csv.reader(io.StringIO(out.getvalue().decode())))
    assert header == [*COLUMNS, *(c for c in ANSWER_COLUMNS if c != "text")]
    cells = dict(zip(header, row, strict=True))
    assert {c: cells[c] for c in COLUMNS} == {
        c: str(v) for c, v in task["item"]["data"]["row"].items()
    }
    assert (cells["external_id"], cells["annotator"], cells["answer"]) == (name, "ann", truth[name])
    assert json.loads(cells["value"]) == value  # a JSON cell starts with "{": no guard needed
    assert (cells["label"], cells["agrees"]) == (truth[name], "true")


def test_the_same_rows_in_another_format_are_duplicates(sqlite_lab: Lab, tmp_path: Path) -> None:
    """Rows imported from JSON Lines or Parquet (numbers) and the same rows from a CSV file or
    the project's own CSV export (text such as "127.0") were other content: the CSV doubled
    every row, or with an id field was refused ("id 'w1' already names item #1 ..., with other
    content")."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    lab = sqlite_lab
    ctx = _table_project(lab, "formats")
    jsonl = (
        b'{"id": "w1", "alcohol": 14.23, "magnesium": 127.0, "ok": true, "colour": "red"}\n'
        b'{"id": "w2", "alcohol": null, "magnesium": 100, "ok": false, "colour": "ros\xc3\xa9"}\n'
    )
    as_csv = b"id,alcohol,magnesium,ok,colour\nw1,14.23,127,True,red\nw2,,100.0,False,ros\xc3\xa9\n"
    sink = io.BytesIO()
    pq.write_table(
        pa.table(
            {
                "id": ["w1", "w2"],
                "alcohol": [14.23, float("nan")],
                "magnesium": [127.0, 100.0],
                "ok": [True, False],
                "colour": ["red", "rosé"],
            }
        ),
        sink,
    )

    def imported(body: bytes, fmt: str, **options: Any) -> Any:
        return imports.import_items(
            lab.db, ctx, io.BytesIO(body), fmt=fmt, filename=f"f.{fmt}", **options
        )

    assert imported(jsonl, "jsonl", id_field="id").n_items == 2
    for body, fmt in ((as_csv, "csv"), (sink.getvalue(), "parquet")):
        report = imported(body, fmt, id_field="id")
        assert (report.n_items, report.n_duplicates) == (0, 2), fmt
    learning.train(lab.db, ctx)
    ann = lab.member("formats", "ann", "annotator")
    for _ in range(2):
        task = tasks.next_task(lab.db, ann)
        assert task is not None
        tasks.submit(lab.db, ann, task["assignment_id"], {"cultivar": "c1"}, active_ms=500)
    header, *rows = _csv_export(lab, ctx)
    assert [r[header.index("magnesium")] for r in rows] == ["127.0", "100"]  # as they came
    exported = io.StringIO()
    csv.writer(exported).writerows([header, *rows])
    report = imported(
        exported.getvalue().encode(), "csv", id_field="external_id", label_field="label"
    )
    assert (report.n_items, report.n_duplicates) == (0, 2)
