"""No import input can crash labelloop or half-write a project (Hypothesis).

Every import format, into every data type it can fill, gets near-valid files (see
``fuzz_inputs``) and random bytes. The property: the import either succeeds, or is refused with
a LabelloopError whose message is short and names the record (``line N``), or the whole file;
never another exception. A refused import leaves every row of the project as it was; a
successful one stores nothing PostgreSQL would refuse, and every export format can write it.

Examples are derandomized, so CI sees the same ones each run. To hunt with fresh random ones:
``LABELLOOP_FUZZ_EXAMPLES=3000 pytest tests/ingest/test_ingest_fuzz.py -x``.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.ingest import EXPORTERS, make_exporter
from labelloop.store.tables import import_batch, item, item_label, metadata
from labelloop.workflow import export, imports, projects
from tests.conftest import Lab
from tests.ingest.fuzz_inputs import (
    YOLO_NAMES,
    arrow_table,
    coco_doc,
    conll_file,
    csv_file,
    doccano_line,
    dump,
    encoded,
    file_bodies,
    file_names,
    jsonl_file,
    ls_file,
    ls_task,
    make_media,
    mangled,
    near,
    prodigy_task,
    records,
    yolo_label,
    yolo_zip,
)

_EXPLORE = int(os.environ.get("LABELLOOP_FUZZ_EXAMPLES", "0"))


def fuzz(examples: int) -> settings:
    """``examples`` derandomized examples, or as many random ones as asked when exploring."""
    return settings(
        max_examples=_EXPLORE or examples,
        deadline=None,
        derandomize=not _EXPLORE,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,  # one store and media root serve every example
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# --------------------------------------------------------------------------------------------
# A fresh project of each data type, holding two items already
# --------------------------------------------------------------------------------------------

_CHOICE = {"name": "sentiment", "type": "choice", "labels": ["negative", "positive"]}
_TOPICS = {"name": "topics", "type": "multi_choice", "labels": ["travel", "home"]}
_STARS = {"name": "stars", "type": "rating", "max": 5}
_NOTE = {"name": "note", "type": "text", "max_chars": 50}
_ENTS = {"name": "ents", "type": "spans", "labels": ["PER", "ORG"], "target": True}
_OBJECTS = {"name": "objects", "type": "boxes", "labels": ["car", "person"], "target": True}
SCHEMAS: dict[str, dict[str, Any]] = {
    "text": {
        "data": {"type": "text"},
        "controls": [{**_CHOICE, "target": True}, _TOPICS, _STARS, _NOTE],
    },
    "body": {  # a content field other than "text": records without it are read from "text"
        "data": {"type": "text", "field": "body"},
        "controls": [{**_TOPICS, "target": True}, _CHOICE, _NOTE],
    },
    "ner": {"data": {"type": "text"}, "controls": [_ENTS, _CHOICE]},
    "html": {"data": {"type": "html"}, "controls": [{**_CHOICE, "target": True}, _NOTE]},
    "table": {
        "data": {"type": "table", "field": "row", "columns": ["a", "b"]},
        "controls": [{**_CHOICE, "target": True}, _STARS],
    },
    "image": {"data": {"type": "image", "field": "image"}, "controls": [_OBJECTS, _CHOICE]},
    "audio": {
        "data": {"type": "audio", "field": "audio"},
        "controls": [{**_CHOICE, "target": True}],
    },
}
_BOX = {"x": 1, "y": 1, "w": 2, "h": 2, "label": "car"}
SEEDS: dict[str, list[dict[str, Any]]] = {
    "text": [{"text": "alpha beta", "label": "negative"}, {"text": "beta", "label": "positive"}],
    "body": [{"body": "alpha beta", "label": "travel"}, {"body": "beta", "label": ["home"]}],
    "ner": [
        {"text": "alpha beta", "label": [{"start": 0, "end": 5, "label": "PER"}]},
        {"text": "beta", "label": []},
    ],
    "html": [
        {"text": "<p>alpha beta</p>", "label": "negative"},
        {"text": "beta", "label": "positive"},
    ],
    "table": [{"a": 1, "b": "alpha", "label": "negative"}, {"a": 2.5, "b": None}],
    "image": [{"image": "a.png", "label": [_BOX]}, {"image": "b.png", "label": {"objects": []}}],
    "audio": [{"audio": "a.wav", "label": "negative"}, {"audio": "b.wav", "label": "positive"}],
}
"""Two items of each data type (labeled but one), given the ids seed-0 and seed-1, whose
content or id the fuzzed files' records may repeat."""
_numbers = itertools.count()


def new_project(lab: Lab, kind: str, media: Path) -> Any:
    """A fresh project of ``kind`` holding its two seed items; returns the admin's context."""
    slug = f"p{next(_numbers)}"
    schema = {"name": f"Fuzz {kind}", **SCHEMAS[kind], "settings": {"strategy": "margin"}}
    projects.create_project(lab.db, slug, schema, actor=lab.admin)
    ctx = lab.ctx(slug, lab.admin)
    seeds = [{"id": f"seed-{k}", **seed} for k, seed in enumerate(SEEDS[kind])]
    imports.import_items(
        lab.db,
        ctx,
        io.BytesIO("\n".join(json.dumps(r) for r in seeds).encode()),
        fmt="jsonl",
        filename="seed.jsonl",
        id_field="id",
        label_field="label",
        media_roots=(media,),
    )
    return ctx


@pytest.fixture
def media(tmp_path: Path) -> Path:
    return make_media(tmp_path)


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Write in chunks of two, so a bad record usually comes after some were flushed."""
    monkeypatch.setattr(imports, "CHUNK", 2)


options = st.fixed_dictionaries(
    {
        "id_field": st.sampled_from([None, "id", "id", "text"]),
        "label_field": st.sampled_from([None, "label", "label", "id"]),
        "prediction_field": st.sampled_from([None, "prediction", "label"]),
        "update_labels": st.booleans(),
        "split": st.sampled_from(["pool", "pool", "eval"]),
        "text_field": st.sampled_from([None, None, None, "text", "id", "label"]),
        "filename": st.sampled_from(
            ["items", "../../etc/passwd", "/abs/x.csv", "a\x00b.jsonl", "caf\udce9.csv", "x" * 600]
        ),
    }
)
"""The options of an import (CLI flags, API form fields), including ones that do not fit."""


# --------------------------------------------------------------------------------------------
# The property
# --------------------------------------------------------------------------------------------

FILE_LEVEL = re.compile(
    "|".join(
        [
            r"^'.*' is empty: it holds no records$",
            r"^unknown import format",
            r"^table rows cannot be read from",
            r"^a (COCO|YOLO) file can only be imported into an image project",
            r"^a Label Studio file holds its own ids",
            r"^a (doccano|Prodigy) file holds text and HTML items",
            r"^a (doccano|Prodigy) file holds no pre-annotations",
            r"^a Prodigy file holds its labels in each task's",
            r"^a CoNLL file holds one tag per token",
            r"^CSV cannot hold the (spans|boxes) of control '[^']+'; import .+ instead$",
            r"^'.*' is not under a media root",
            r" is not a dataset saved with save_to_disk",
            r"^cannot read the dataset at ",
            r" holds several splits \(.*\); pick one",
            r" has no split 'nope'",
            r" holds one dataset, not a DatasetDict of splits",
        ]
    ),
    re.S,
)
"""What a refusal of the whole file (or of the options) says; any other plain LabelloopError
would be a record's problem that fails to name the record."""


def state(lab: Lab, ctx: Any) -> dict[str, list[str]]:
    """Every row of the project in every table, and every row of the tables of no project."""
    with lab.db.read() as conn:
        found = {}
        for table in metadata.sorted_tables:
            query = select(table)
            if "project_id" in table.c:
                query = query.where(table.c.project_id == ctx.id)
            elif table.name == "project":
                query = query.where(table.c.id == ctx.id)
            found[table.name] = sorted(repr(tuple(row)) for row in conn.execute(query))
        return found


def _storable(value: Any, where: str) -> None:
    """What SQLite took PostgreSQL must take too: no NUL, no lone surrogate, in any text, and
    no infinity or NaN, which its json refuses."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            assert "\x00" not in node, f"{where} holds a NUL: {node[:80]!r}"
            node.encode("utf-8")  # a lone surrogate raises
        elif isinstance(node, float):
            assert math.isfinite(node), f"{where} holds {node}"
        elif isinstance(node, dict):
            stack.extend([*node.keys(), *node.values()])
        elif isinstance(node, list):
            stack.extend(node)


def check(
    lab: Lab, ctx: Any, run: Callable[[], imports.ImportReport], *, records: int
) -> LabelloopError | None:
    """Run an import of at most ``records`` records and assert the property; returns the
    refusal, if any."""
    before = state(lab, ctx)
    try:
        report = run()
    except LabelloopError as exc:
        assert exc.message.strip()
        assert len(exc.message) <= 1_300, f"a message of {len(exc.message):,} characters"
        if isinstance(exc, ImportFormatError):
            assert 1 <= exc.line <= records
            assert exc.reason.strip() and exc.message.endswith(exc.reason)
            where = exc.message.removesuffix(exc.reason)
            assert exc.unit in ("line", "row", "image", "file", None)
            assert exc.unit is None or f"{exc.unit} {exc.line}" in where, exc.message[:300]
            assert exc.file is None or where.startswith(
                (exc.file, f"zip member '{exc.file}'", f"{exc.unit} {exc.line} ('{exc.file}')")
            )  # a folder's file is the record: "file 3 ('f/a.png')"
            assert where or not exc.file, exc.message[:300]
        else:
            assert FILE_LEVEL.search(exc.message), f"names no record: {exc.message[:300]}"
        assert state(lab, ctx) == before, "a refused import changed the store"
        return exc
    after = state(lab, ctx)
    assert len(after["item"]) - len(before["item"]) == report.n_items
    listed = report.batch_id is not None  # an import of nothing new is not listed
    assert (report.nothing_new is None) == listed == bool(report.n_items or report.n_updated)
    assert len(after["import_batch"]) == len(before["import_batch"]) + listed
    with lab.db.read() as conn:
        for table in (item, item_label, import_batch):
            for row in conn.execute(select(table).where(table.c.project_id == ctx.id)):
                _storable(dict(row._mapping), table.name)
    exported = list(export.records(lab.db, ctx))
    for name in EXPORTERS:
        with contextlib.suppress(LabelloopError):  # a format that cannot hold the labels says so
            make_exporter(name, schema=ctx.schema).write(iter(exported), io.BytesIO())
    return None


LINE_FORMATS = ("jsonl", "csv", "conll", "doccano", "prodigy")
"""Formats whose errors count lines of the file."""


def check_import(
    lab: Lab, kind: str, data: bytes, *, fmt: str, media: Path, **options: Any
) -> LabelloopError | None:
    """Import the file ``data`` into a fresh ``kind`` project and assert the property."""
    ctx = new_project(lab, kind, media)
    lines = max(data.count(b"\n"), data.count(b"\r")) + 1
    return check(
        lab,
        ctx,
        lambda: imports.import_items(
            lab.db, ctx, io.BytesIO(data), fmt=fmt, media_roots=(media,), **options
        ),
        records=lines if fmt in LINE_FORMATS else 10_000,  # binary: a bound
    )


# --------------------------------------------------------------------------------------------
# The formats
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["text", "body", "ner", "html", "table", "image", "audio"])
@fuzz(15)
@given(data=st.data())
def test_jsonl(sqlite_lab: Lab, media: Path, kind: str, data: st.DataObject) -> None:
    raw = data.draw(records(kind).map(jsonl_file).flatmap(mangled))
    check_import(sqlite_lab, kind, raw, fmt="jsonl", media=media, **data.draw(options))


@pytest.mark.parametrize("kind", ["text", "body", "html", "table", "image"])
@fuzz(15)
@given(data=st.data())
def test_csv(sqlite_lab: Lab, media: Path, kind: str, data: st.DataObject) -> None:
    raw = csv_file(data.draw(records(kind)), ragged=data.draw(st.booleans()))
    raw = data.draw(mangled(raw))
    check_import(sqlite_lab, kind, raw, fmt="csv", media=media, **data.draw(options))


@pytest.mark.parametrize("kind", ["ner", "text"])
@fuzz(15)
@given(data=st.data())
def test_conll(sqlite_lab: Lab, media: Path, kind: str, data: st.DataObject) -> None:
    raw = data.draw(conll_file().flatmap(mangled))
    given = data.draw(options) | {"prediction_field": None}  # CoNLL holds none: refused apart
    check_import(sqlite_lab, kind, raw, fmt="conll", media=media, **given)


@pytest.mark.parametrize("kind", ["image", "text"])
@fuzz(15)
@given(data=st.data())
def test_coco(sqlite_lab: Lab, media: Path, kind: str, data: st.DataObject) -> None:
    doc = data.draw(coco_doc().flatmap(lambda d: near(d, 4)))
    raw = data.draw(mangled(encoded(dump(doc))))
    drawn = data.draw(options)
    given = {key: drawn[key] for key in ("split", "filename")}  # a COCO file names no fields
    check_import(sqlite_lab, kind, raw, fmt="coco", media=media, **given)


@pytest.mark.parametrize("kind", ["image", "text"])
@fuzz(15)
@given(data=st.data())
def test_yolo(sqlite_lab: Lab, media: Path, kind: str, data: st.DataObject) -> None:
    raw = data.draw(yolo_zip())
    drawn = data.draw(options)
    given = {key: drawn[key] for key in ("split", "filename")}  # a YOLO file names no fields
    check_import(sqlite_lab, kind, raw, fmt="yolo", media=media, **given)


@pytest.mark.parametrize("kind", ["text", "ner", "html", "image", "audio"])
@fuzz(15)
@given(data=st.data())
def test_label_studio(sqlite_lab: Lab, media: Path, kind: str, data: st.DataObject) -> None:
    tasks = data.draw(st.lists(ls_task(kind).flatmap(near), max_size=4))
    raw = data.draw(mangled(ls_file(tasks)))
    given = data.draw(options)
    if data.draw(st.integers(0, 9)):  # the file names its own ids, labels and predictions
        given |= {"id_field": None, "label_field": None, "prediction_field": None}
    check_import(sqlite_lab, kind, raw, fmt="label_studio", media=media, **given)


@pytest.mark.parametrize("kind", ["text", "body", "ner", "html"])
@fuzz(15)
@given(data=st.data())
def test_doccano(sqlite_lab: Lab, media: Path, kind: str, data: st.DataObject) -> None:
    rows = data.draw(st.lists(doccano_line(kind).flatmap(near), min_size=1, max_size=6))
    raw = data.draw(mangled(jsonl_file(rows)))
    given = data.draw(options)
    if data.draw(st.integers(0, 9)):  # the file names its own labels; none holds predictions
        given |= {"label_field": None, "prediction_field": None}
    check_import(sqlite_lab, kind, raw, fmt="doccano", media=media, **given)


@pytest.mark.parametrize("kind", ["text", "body", "ner", "html"])
@fuzz(15)
@given(data=st.data())
def test_prodigy(sqlite_lab: Lab, media: Path, kind: str, data: st.DataObject) -> None:
    tasks = data.draw(st.lists(prodigy_task(kind).flatmap(near), min_size=1, max_size=6))
    raw = data.draw(mangled(jsonl_file(tasks)))
    given = data.draw(options)
    if data.draw(st.integers(0, 9)):  # the tasks hold their own labels and no predictions
        given |= {"label_field": None, "prediction_field": None}
    if data.draw(st.booleans()):
        given["id_field"] = data.draw(st.sampled_from(["doc_id", "id"]))
    check_import(sqlite_lab, kind, raw, fmt="prodigy", media=media, **given)


@fuzz(15)
@given(data=st.data())
def test_parquet(sqlite_lab: Lab, media: Path, data: st.DataObject) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = arrow_table(data.draw(records("table")))
    sink = io.BytesIO()
    if table is not None:
        try:
            pq.write_table(table, sink)
        except pa.ArrowException:  # a column Parquet has no type for: an empty file, then
            sink = io.BytesIO()
    raw = data.draw(st.one_of(st.just(sink.getvalue()), mangled(sink.getvalue())))
    given = data.draw(options) | {"text_field": None}
    check_import(sqlite_lab, "table", raw, fmt="parquet", media=media, **given)


@fuzz(15)
@given(data=st.data())
def test_hf_datasets_arrow(sqlite_lab: Lab, media: Path, data: st.DataObject) -> None:
    """One Arrow file of a dataset saved with save_to_disk, its label a ClassLabel column."""
    import pyarrow as pa
    from datasets import ClassLabel, Features, Value

    table = arrow_table(data.draw(records("text")))
    sink = io.BytesIO()
    if table is not None:
        if "label" in table.column_names and data.draw(st.booleans()):
            class_ids = st.sampled_from([-1, 0, 1, 2, 7])
            column = pa.array([data.draw(class_ids) for _ in range(table.num_rows)], pa.int64())
            table = table.drop_columns("label").append_column("label", column)
            features = {name: Value("string") for name in table.column_names}
            features["label"] = ClassLabel(names=["negative", "positive", "x"])
            with contextlib.suppress(pa.ArrowException, ValueError):
                table = table.cast(Features(features).arrow_schema)
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    raw = data.draw(st.one_of(st.just(sink.getvalue()), mangled(sink.getvalue())))
    check_import(sqlite_lab, "text", raw, fmt="hf_datasets", media=media, **data.draw(options))


FORMATS = (
    *("jsonl", "csv", "conll", "coco", "label_studio", "parquet", "hf_datasets", "tsv"),
    *("doccano", "prodigy", "yolo"),
)


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
@fuzz(10)
@given(data=st.data())
def test_random_bytes(sqlite_lab: Lab, media: Path, kind: str, data: st.DataObject) -> None:
    """Any bytes, in any format, into any project."""
    raw = data.draw(st.binary(max_size=200))
    fmt = data.draw(st.sampled_from(FORMATS))
    check_import(sqlite_lab, kind, raw, fmt=fmt, media=media, **data.draw(options))


def random_folder(media: Path, data: st.DataObject) -> Path:
    """A folder under the media root of files of any name (UTF-8 or not) and content, some in
    subfolders, some links in a loop or out of the root."""
    folder = media / f"folder{next(_numbers)}"
    folder.mkdir()
    for _ in range(data.draw(st.integers(0, 5))):
        where = os.fsencode(folder)
        if data.draw(st.booleans()):
            where = os.path.join(where, data.draw(file_names))
            if os.path.lexists(where) and not os.path.isdir(where):
                continue
            os.makedirs(where, exist_ok=True)
        path = os.path.join(where, data.draw(file_names))
        if os.path.lexists(path):
            continue
        if data.draw(st.integers(0, 5)) == 0:  # a symlink in a loop, or out of the root
            outside = os.fsencode(media.parent / "outside.png")
            os.symlink(data.draw(st.sampled_from([path, outside])), path)
        else:
            with open(path, "wb") as out:
                out.write(data.draw(file_bodies))
    return folder


@pytest.mark.parametrize("kind", ["image", "audio"])
@fuzz(12)
@given(data=st.data())
def test_folder(sqlite_lab: Lab, media: Path, kind: str, data: st.DataObject) -> None:
    """A folder of files of any name (UTF-8 or not) and content, labeled by subfolder."""
    folder = random_folder(media, data)
    labels, split = data.draw(st.booleans()), data.draw(options)["split"]
    ctx = new_project(sqlite_lab, kind, media)
    check(
        sqlite_lab,
        ctx,
        lambda: imports.import_folder(
            sqlite_lab.db,
            ctx,
            folder,
            media_roots=(media,),
            labels_from_folders=labels,
            split=split,
        ),
        records=max(1, sum(1 for _ in folder.rglob("*"))),
    )


@fuzz(12)
@given(data=st.data())
def test_yolo_folder(sqlite_lab: Lab, media: Path, data: st.DataObject) -> None:
    """A YOLO folder: class names, images of any name and content, and label files (good,
    broken, for no image, or linked out of the folder)."""
    folder = random_folder(media, data)
    pair = data.draw(st.integers(0, len(YOLO_NAMES) // 2 - 1))
    (folder / YOLO_NAMES[2 * pair]).write_text(YOLO_NAMES[2 * pair + 1])
    (folder / "images").mkdir()
    (folder / "labels").mkdir()
    for k in range(data.draw(st.integers(0, 3))):
        (folder / "images" / f"{k}.png").write_bytes(data.draw(file_bodies))
        label = folder / "labels" / f"{k + data.draw(st.integers(0, 1))}.txt"  # or no image's
        if label.exists():
            continue
        if data.draw(st.integers(0, 5)) == 0:
            label.symlink_to(media.parent / "outside.png")
        elif data.draw(st.booleans()):
            label.write_bytes(data.draw(yolo_label()))
    ctx = new_project(sqlite_lab, "image", media)
    split = data.draw(options)["split"]
    check(
        sqlite_lab,
        ctx,
        lambda: imports.import_folder(
            sqlite_lab.db, ctx, folder, media_roots=(media,), split=split, fmt="yolo"
        ),
        records=10_000,  # a bound: a label file's lines, a names file's, or the images
    )


@fuzz(10)
@given(data=st.data())
def test_hf_datasets_folder(sqlite_lab: Lab, media: Path, data: st.DataObject) -> None:
    """A folder save_to_disk wrote (one dataset, or splits), then one of its files broken."""
    import datasets

    datasets.disable_progress_bars()
    table = arrow_table(data.draw(records("text")))
    folder = media.parent / f"dataset{next(_numbers)}"
    if table is not None:
        dataset = datasets.Dataset(table)
        if data.draw(st.booleans()):
            dataset = datasets.DatasetDict({"train": dataset, "test": dataset})
        dataset.save_to_disk(str(folder))
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        broken = data.draw(st.sampled_from([None, *files]))
        if broken is not None:
            broken.write_bytes(data.draw(mangled(broken.read_bytes())))
    else:
        folder.mkdir()
    drawn = data.draw(options)
    given = {k: drawn[k] for k in ("id_field", "label_field", "prediction_field", "split")}
    hf_split = data.draw(st.sampled_from([None, "train", "nope"]))
    ctx = new_project(sqlite_lab, "text", media)
    check(
        sqlite_lab,
        ctx,
        lambda: imports.import_hf_dataset(
            sqlite_lab.db, ctx, folder, hf_split=hf_split, text_field=drawn["text_field"], **given
        ),
        records=10_000,
    )
