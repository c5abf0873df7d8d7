"""Near-valid import files of every format, for the fuzz tests (Hypothesis strategies).

A file starts as valid records of a project's data type, gets up to a few mistakes per record
(:func:`near`: a field dropped, junk in its place, a key given twice, a list or text where a
value was, a number made huge or negative), is written in its format, and is then sometimes
broken as bytes (:func:`mangled`: a BOM, cut short, bad UTF-8, a NUL, CR line ends). The junk
holds what users' files hold and Python's json never writes: numbers longer than Python reads,
1e400, NaN, nesting deeper than the recursion limit, lone surrogates, huge texts.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import struct
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

# --------------------------------------------------------------------------------------------
# Media files, good and bad, under one media root
# --------------------------------------------------------------------------------------------


def png(width: int, height: int, *, shade: int = 0) -> bytes:
    """A grey PNG of any claimed size; beyond 64 pixels wide only its header is valid."""

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    rows = b"".join(b"\x00" + bytes([shade]) * width for _ in range(height)) if width <= 64 else b""
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def wav(tone: int) -> bytes:
    """A WAV file of 64 samples of one value."""
    frames = bytes([tone]) * 64
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 64)
    return b"RIFF" + struct.pack("<I", len(body) + 64) + body + frames


def make_media(tmp_path: Path) -> Path:
    """A media root with real images and sounds, fakes, a truncated file, a decompression
    bomb's header, a folder named like an image, and symlinks out of the root and in a loop."""
    root = tmp_path / "media"
    (root / "sub").mkdir(parents=True)
    (root / "dir.png").mkdir()
    for name, shade in (("a.png", 10), ("b.png", 200), ("sub/d.png", 90)):
        (root / name).write_bytes(png(8, 6, shade=shade))
    (root / "c.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 40)  # a JPEG's start only
    (root / "fake.png").write_text("not an image")
    (root / "trunc.png").write_bytes(png(8, 6)[:20])
    (root / "bomb.png").write_bytes(png(100_000, 100_000))
    (root / "a.wav").write_bytes(wav(3))
    (root / "b.wav").write_bytes(wav(9))
    (root / "fake.wav").write_text("RIFF")
    (tmp_path / "outside.png").write_bytes(png(4, 4))
    (root / "out.png").symlink_to(tmp_path / "outside.png")
    (root / "loop.png").symlink_to(root / "loop.png")
    return root


MEDIA_PATHS = (
    *("a.png", "b.png", "sub/d.png", "./sub/d.png", "sub/../a.png", "c.jpg", "A.PNG"),
    *("fake.png", "trunc.png", "bomb.png", "dir.png", "out.png", "loop.png", "missing.png"),
    *("a.wav", "b.wav", "fake.wav", "a.txt", "a.png\x00", "", " "),
    *("../outside.png", "/etc/passwd", "/tmp/a.png", "C:\\a.png", "sub\\d.png"),
    *("http://example.com/a.png", "/data/upload/1/a.png"),
    *("/data/local-files/?d=a.png", "/data/local-files/?d=../x.png"),
    *("x" * 300 + ".png", "a/" * 3000 + "b.png"),  # a name, a path too long to open
)
"""Paths a record may name under :func:`make_media`'s root: good, refused and unreadable."""

file_names = (
    st.tuples(
        st.binary(min_size=1, max_size=12).filter(lambda b: b"/" not in b and b"\x00" not in b),
        st.sampled_from([b".png", b".PNG", b".jpg", b".wav", b".txt", b""]),
    )
    .map(b"".join)
    .filter(lambda name: name not in (b".", b".."))
)
"""File names as Linux holds them: any bytes, UTF-8 or not."""
file_bodies = st.sampled_from(
    [png(8, 6, shade=5), png(8, 6, shade=250), png(100_000, 100_000), b"", b"not an image", wav(1)]
)


# --------------------------------------------------------------------------------------------
# Junk, and JSON text Python's json would never write
# --------------------------------------------------------------------------------------------


class Raw(str):
    """JSON text written as it is: numbers too long for Python's int(), NaN, deep nesting."""


class Twice:
    """A field written twice in its object, ``first`` then ``last`` (JSON keeps the last)."""

    def __init__(self, first: Any, last: Any) -> None:
        self.first, self.last = first, last


BIG_INTS = (2**63, -(2**63) - 1, 2**64, 10**30, 10**400, -(10**400))
ODD_TEXTS = (
    *("", " ", "\t\r\n", "\x00", "a\x00b", "\ud800", "x\udfff", "\u202e\u200b", "\ufeff"),
    *("NaN", "{", '{"a":', '{"sentiment": "positive"}', '{"ents": [[0, 1, "PER"]]}'),
    *("[1]", "null", "=1+1", "'=1", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>"),
    *("<p></p>", "B-PER"),
)


def _deep(depth: int, opener: str) -> Raw:
    closer = {"[": "]", "{": "}"}[opener]
    inner = '"a":' if opener == "{" else ""
    return Raw((opener + inner) * (depth - 1) + opener + closer * depth)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(BIG_INTS),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(ODD_TEXTS),
    st.text(st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=4),
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=2),
    st.builds(
        lambda char, n: char * n,
        st.sampled_from(["x", "é", " ", "\x00"]),
        st.sampled_from([201, 2_001, 65_537, 100_001]),
    ),
    st.sampled_from(
        [Raw("1" * 5_000), Raw("-" + "9" * 4_301), Raw("1e400"), Raw("-1e400"), Raw("1.5e-400")]
        + [Raw("NaN"), Raw("Infinity"), Raw("-Infinity")]
    ),
    st.builds(
        _deep,
        st.sampled_from([100, 101, 240, 500, 900, 990, 3_000, 100_000]),
        st.sampled_from("[{"),
    ),
)
junk = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=5,
)


def _paths(value: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key) of a JSON-like tree, parents before children."""
    stack = [value]
    while stack:
        node = stack.pop()
        keys: Any = list(node) if isinstance(node, dict) else []
        if isinstance(node, list):
            keys = range(len(node))
        for key in keys:
            yield node, key
            stack.append(node[key])


@st.composite
def near(draw: st.DrawFn, valid: Any, most: int = 3) -> Any:
    """``valid`` with up to ``most`` mistakes: a field dropped, given junk, given twice, wrapped
    in a list, written as text, or a number made negative or huge."""
    holder = [copy.deepcopy(valid)]
    for _ in range(draw(st.integers(0, most))):
        container, key = draw(st.sampled_from([(holder, 0), *_paths(holder[0])]))
        old = container[key]
        op = draw(st.sampled_from(["junk", "junk", "drop", "twice", "wrap", "text", "nudge"]))
        if op == "drop" and container is not holder:
            del container[key]
        elif op == "twice" and isinstance(container, dict):
            container[key] = Twice(draw(junk), old)
        elif op == "wrap":
            container[key] = [old]
        elif op == "text":
            container[key] = old if isinstance(old, str) else dump(old)
        elif op == "nudge" and isinstance(old, int | float) and not isinstance(old, bool):
            small = [old + 0.5, old / 3] if abs(old) < 1e300 else []
            big = old * 10**300 if isinstance(old, int) else old * 1e300
            container[key] = draw(st.sampled_from([-old - 1, big, *small]))
        else:
            container[key] = draw(junk)
    return holder[0]


def dump(value: Any) -> str:
    """JSON text of ``value``, with Raw text, fields given Twice, NaN and infinities as Python
    writes them, and lone surrogates escaped."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, Twice):
        return dump(value.last)
    if isinstance(value, dict):
        parts = []
        for key, inner in value.items():
            if isinstance(inner, Twice):
                parts.append(f"{dump(str(key))}:{dump(inner.first)}")
            parts.append(f"{dump(str(key))}:{dump(inner)}")
        return "{" + ",".join(parts) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dump(v) for v in value) + "]"
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(value)  # \ud800 as an escape: the only way JSON can hold it
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value)


def plain(value: Any) -> Any:
    """``value`` without the markers, as a Python object (for CSV cells, Parquet and Arrow)."""
    if isinstance(value, Twice):
        return plain(value.last)
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def encoded(text: str) -> bytes:
    """``text`` as UTF-8, a lone surrogate as the bytes a careless writer gives it."""
    return text.encode("utf-8", "surrogatepass")


@st.composite
def mangled(draw: st.DrawFn, data: bytes) -> bytes:
    """A file's bytes, sometimes broken: a BOM, cut short, a bad UTF-8 or NUL byte, CR line
    ends, random bytes inserted or appended, or nothing at all."""
    op = draw(
        st.sampled_from(
            ["as is"] * 6
            + ["bom", "cut", "bad byte", "nul", "crlf", "cr", "insert", "append", "empty", "blank"]
        )
    )
    at = draw(st.integers(0, len(data)))
    bad = draw(st.sampled_from([b"\xff", b"\x80", b"\xc3", b"\xed\xa0\x80", b"\x00"]))
    changed = {
        "bom": b"\xef\xbb\xbf" + data,
        "cut": data[:at],
        "bad byte": data[:at] + bad + data[at:],
        "nul": data[:at] + b"\x00" + data[at:],
        "crlf": data.replace(b"\n", b"\r\n"),
        "cr": data.replace(b"\n", b"\r"),
        "empty": b"",
        "blank": b"\n \n\t\n",
    }
    if op in ("insert", "append"):
        noise = draw(st.binary(max_size=8))
        return data[:at] + noise + data[at:] if op == "insert" else data + noise
    return changed.get(op, data)


# --------------------------------------------------------------------------------------------
# Valid-looking records of each data type (text, body, ner, html, table, image, audio)
# --------------------------------------------------------------------------------------------

WORDS = ("alpha", "beta", "Gamma", "delta")
ids = st.sampled_from(["r1", "r2", "r3", "seed-0", "seed-1", 7, "7", " 7", "é"])
texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)
labels = st.sampled_from(["negative", "positive", "Positive", " negative ", "neutral", "", 1])
numbers = st.one_of(st.integers(-2, 10), st.floats(-1, 10), st.floats(), st.sampled_from(BIG_INTS))
boxes = st.lists(
    st.fixed_dictionaries(
        {"x": numbers, "y": numbers, "w": numbers, "h": numbers},
        optional={"label": st.sampled_from(["car", "person", "bus"]), "score": numbers},
    ),
    max_size=3,
)


@st.composite
def spans(draw: st.DrawFn, text: str) -> list[Any]:
    """Spans over ``text``: mostly in range, some past its end, overlapping, or as triples."""
    out: list[Any] = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.integers(-1, len(text) + 1))
        end = draw(st.integers(start, len(text) + 2))
        label = draw(st.sampled_from(["PER", "ORG", "LOC"]))
        triple = draw(st.booleans())
        out.append([start, end, label] if triple else {"start": start, "end": end, "label": label})
    return out


@st.composite
def _label(draw: st.DrawFn, kind: str, text: str) -> Any:
    if kind == "ner":
        return draw(spans(text))
    if kind == "image":
        return draw(st.one_of(boxes, boxes.map(lambda b: {"objects": b, "sentiment": "negative"})))
    if kind == "body":
        return draw(st.one_of(st.just("travel|home"), st.lists(st.sampled_from(["travel", "x"]))))
    optional = {"topics": st.just(["home"]), "stars": st.integers(0, 6), "note": texts}
    return draw(st.one_of(labels, st.fixed_dictionaries({"sentiment": labels}, optional=optional)))


@st.composite
def record(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """One valid-looking record of a ``kind`` project, as JSON Lines and CSV carry them."""
    rec: dict[str, Any] = {}
    if draw(st.booleans()):
        rec["id"] = draw(ids)
    text = draw(texts)
    if kind == "table":
        rec["a"] = draw(st.one_of(st.integers(-3, 3), st.floats(-1, 1), st.none(), st.just("")))
        rec["b"] = draw(st.one_of(st.sampled_from(WORDS), st.none(), st.booleans()))
        if draw(st.booleans()):  # the row nested, as an export writes it
            rec = {"id": rec.get("id", "r9"), "text": {"a": rec["a"], "b": rec["b"]}}
    elif kind in ("image", "audio"):
        rec[kind] = draw(st.sampled_from(MEDIA_PATHS))
    elif kind == "html":
        rec["text"] = draw(st.sampled_from([text, f"<b>{text}</b>", f"<script>{text}</script>"]))
    else:
        rec[draw(st.sampled_from(["text", "body"])) if kind == "body" else "text"] = text
    label = draw(_label(kind, text))
    if draw(st.booleans()):
        rec["label"] = label
    if draw(st.integers(0, 3)) == 0:
        target = {"ner": "ents", "image": "objects", "body": "topics"}.get(kind, "sentiment")
        predicted = label if kind in ("ner", "image") else {"label": "positive", "score": 0.5}
        rec["prediction"] = {target: predicted}
    if draw(st.booleans()):
        rec["source"] = draw(st.sampled_from(["web", "mail"]))
    return rec


def records(kind: str) -> st.SearchStrategy[list[Any]]:
    """A file's worth of records of a ``kind`` project, each with up to three mistakes."""
    return st.lists(record(kind).flatmap(near), min_size=1, max_size=6)


# --------------------------------------------------------------------------------------------
# Files of each format
# --------------------------------------------------------------------------------------------


def jsonl_file(rows: list[Any]) -> bytes:
    return encoded("\n".join(dump(r) for r in rows))


def csv_file(rows: list[Any], *, ragged: bool) -> bytes:
    """Records as CSV under the first one's fields (ragged: each row only its own values)."""
    header = list(rows[0]) if isinstance(rows[0], dict) and rows[0] else ["text"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        row = plain(row) if isinstance(row, dict) else {"text": plain(row)}
        cells = list(row.values()) if ragged else [row.get(name) for name in header]
        writer.writerow([c if isinstance(c, str) else "" if c is None else dump(c) for c in cells])
    return encoded(out.getvalue())


TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "S-PER", "E-ORG", "B-LOC", "B-", "X-PER", "b-per")


@st.composite
def conll_file(draw: st.DrawFn) -> bytes:
    """CoNLL blocks: token and tag columns (tab or spaces), ids, comments, untagged items,
    tags of other schemes or labels, empty tokens and columns."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            lines.append("# id = " + draw(st.one_of(ids.map(str), st.sampled_from(ODD_TEXTS))))
        extra = st.sampled_from(["-DOCSTART-\tO", "# text = x", "\t"])
        lines.extend(draw(st.lists(extra, max_size=1)))
        tagged = draw(st.booleans())
        for _ in range(draw(st.integers(1, 5))):
            token = draw(st.one_of(st.sampled_from(WORDS + ODD_TEXTS), st.text(max_size=3)))
            tag = draw(st.sampled_from(TAGS))
            sep = draw(st.sampled_from(["\t", "\t", " ", "\t\t", "\tx\t"]))
            lines.append(token + sep + tag if tagged or draw(st.integers(0, 9)) == 0 else token)
        lines.append("")
    return encoded("\n".join(lines))


@st.composite
def coco_doc(draw: st.DrawFn) -> dict[str, Any]:
    """A COCO document: images under (and outside) the media root, categories of the schema's
    labels and others, annotations with boxes of every kind of number and scores."""
    optional = {"width": numbers, "height": numbers, "labeled": st.booleans(), "external_id": ids}
    image = st.fixed_dictionaries(
        {"id": st.sampled_from([1, 2, 3, "1"]), "file_name": st.sampled_from(MEDIA_PATHS)},
        optional=optional,
    )
    category = st.fixed_dictionaries(
        {"id": st.sampled_from([1, 2, 3]), "name": st.sampled_from(["car", "person", "bus"])}
    )
    annotation = st.fixed_dictionaries(
        {
            "image_id": st.sampled_from([1, 2, 3, 4, "1"]),
            "category_id": st.sampled_from([1, 2, 3, 9]),
            "bbox": st.lists(numbers, min_size=3, max_size=5),
        },
        optional={"score": numbers},
    )
    return {
        "images": draw(st.lists(image, max_size=4)),
        "annotations": draw(st.lists(annotation, max_size=5)),
        "categories": draw(st.lists(category, max_size=3)),
    }


YOLO_NAMES = (
    *("data.yaml", "names: [car, person]\n"),
    *("data.yaml", "names: {0: car, 1: person, 2: bus}\n"),
    *("data.yaml", "names: [no, 'yes', ~, 3]\n"),
    *("data.yaml", "names:\n  - car\n  - [x]\n"),
    *("data.yaml", "names: car\nnc: 1\n"),
    *("data.yaml", "names: [car\n"),
    *("data.yml", "- car\n"),
    *("data.yaml", "[" * 3000),
    *("classes.txt", "car\nperson\n"),
    *("classes.txt", "car\n\nperson\n"),
    *("obj.names", "person\r\ncar\r\n"),
)
"""(file name, text) pairs of class names at a YOLO dataset's top, good and bad."""
YOLO_TOKENS = ("0", "1", "2", "7", "-1", "x", "0.5", ".25", "1", "0", "1.5", "-0.1", "1e-9", "nan")
YOLO_LISTS = ("images.txt", "train.txt", "sub/list.txt")


@st.composite
def yolo_label(draw: st.DrawFn) -> bytes:
    """A YOLO label file: lines of a class and four numbers (a confidence sometimes), or not."""
    token = st.sampled_from(YOLO_TOKENS)
    line = st.lists(token, min_size=4, max_size=7).map(" ".join)
    return draw(mangled("\n".join(draw(st.lists(line, max_size=4))).encode()))


@st.composite
def yolo_zip(draw: st.DrawFn) -> bytes:
    """A YOLO zip: class names, image lists naming media paths (good and bad), label files
    where YOLO looks for them and where it does not, links, and a member out of the zip."""
    from labelloop.ingest.yolo_files import label_path

    files: dict[str, bytes] = {}
    if draw(st.integers(0, 5)):
        pair = draw(st.integers(0, len(YOLO_NAMES) // 2 - 1))
        name, text = YOLO_NAMES[2 * pair], YOLO_NAMES[2 * pair + 1]
        listed = draw(st.sampled_from(YOLO_LISTS))
        extra = f"train: {listed}\nval: [{listed}, images/val]\n" if name != "classes.txt" else ""
        files[name] = (text + extra if text.startswith("names") else text).encode()
        images = draw(st.lists(st.sampled_from(MEDIA_PATHS), max_size=4))
        lines = [draw(st.sampled_from(["", "./"])) + image for image in images]
        files[listed] = draw(mangled("\n".join(lines).encode()))
        for image in images:
            if draw(st.booleans()) and image.strip() and "\x00" not in image:
                files[label_path(image.removeprefix("./"))] = draw(yolo_label())
    for stray in draw(st.lists(st.sampled_from(["labels/z.txt", "../x.txt", "a.txt"]), max_size=2)):
        files[stray] = draw(yolo_label())
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        if draw(st.integers(0, 5)) == 0:
            link = zipfile.ZipInfo("sub/d.txt")
            link.external_attr = 0o120777 << 16
            archive.writestr(link, "/etc/passwd")
    return draw(st.one_of(st.just(out.getvalue()), mangled(out.getvalue())))


RESULT_TYPES = ("choices", "labels", "rectanglelabels", "rating", "textarea", "rectangle", "x")
CONTROL_NAMES = ("sentiment", "ents", "objects", "topics", "stars", "note", "other")


@st.composite
def ls_result(draw: st.DrawFn, kind: str, text: str) -> dict[str, Any]:
    """One Label Studio result of a type a ``kind`` project holds (or another)."""
    rtype = draw(st.sampled_from(RESULT_TYPES))
    result: dict[str, Any] = {
        "id": draw(st.sampled_from(["r1", "r2", 3])),
        "from_name": draw(st.sampled_from(CONTROL_NAMES)),
        "to_name": "text",
        "type": rtype,
    }
    value: dict[str, Any]
    if rtype == "choices":
        names = st.sampled_from(["negative", "positive", "travel", "home", "x"])
        value = {"choices": draw(st.lists(names, max_size=2))}
    elif rtype == "rating":
        value = {"rating": draw(st.integers(0, 6))}
    elif rtype == "textarea":
        value = {"text": draw(st.one_of(texts, st.lists(texts, max_size=2)))}
    elif kind == "image" or rtype in ("rectanglelabels", "rectangle"):
        value = {key: draw(numbers) for key in ("x", "y", "width", "height")}
        names_key = "rectanglelabels" if rtype == "rectanglelabels" else "labels"
        value[names_key] = [draw(st.sampled_from(["car", "person", "bus"]))]
        size = {"original_width": numbers, "original_height": numbers, "image_rotation": numbers}
        result |= draw(st.fixed_dictionaries({}, optional=size))
        value |= draw(st.fixed_dictionaries({}, optional={"rotation": numbers}))
    else:
        start = draw(st.integers(-1, len(text) + 1))
        end = draw(st.integers(-1, len(text) + 2))
        value = {"start": start, "end": end, "labels": [draw(st.sampled_from(["PER", "LOC"]))]}
        if draw(st.booleans()):
            value["text"] = draw(st.one_of(st.just(text[max(start, 0) : end]), texts))
    result |= draw(st.fixed_dictionaries({}, optional={"score": numbers}))
    return result | {"value": value}


@st.composite
def ls_task(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A Label Studio task of a ``kind`` project: data, annotations (some cancelled, one the
    ground truth) and predictions."""
    text = draw(texts)
    key = draw(st.sampled_from([kind if kind in ("image", "audio") else "text", "text", "other"]))
    content = draw(st.sampled_from(MEDIA_PATHS)) if kind in ("image", "audio") else text
    task: dict[str, Any] = {"data": {key: content}}
    if draw(st.booleans()):
        task["id"] = draw(ids)
    marks = {
        "was_cancelled": st.booleans(),
        "ground_truth": st.booleans(),
        "created_at": st.sampled_from(["2024-01-01", "2023-01-01", 5]),
        "score": numbers,
    }
    entry = st.fixed_dictionaries(
        {"result": st.lists(ls_result(kind, text), max_size=3)}, optional=marks
    )
    task |= draw(
        st.fixed_dictionaries(
            {},
            optional={
                "annotations": st.lists(entry, min_size=1, max_size=2),
                "predictions": st.lists(entry, min_size=1, max_size=2),
                "meta": st.one_of(st.just({"source": "web"}), junk),
            },
        )
    )
    return task


def ls_file(tasks: list[Any]) -> bytes:
    return encoded("[" + ",\n".join(dump(t) for t in tasks) + "]")


def arrow_table(rows: list[Any]) -> Any:
    """Records as an Arrow table, or None when Arrow cannot give each column one type."""
    import pyarrow as pa

    rows = [plain(r) if isinstance(r, dict) else {"text": plain(r)} for r in rows]
    try:
        return pa.Table.from_pylist(rows)
    except (pa.ArrowException, OverflowError, TypeError, ValueError):
        return None


CLASS_NAMES = st.sampled_from(["negative", "positive", "Positive", "travel", "home", "x", "", 1])


@st.composite
def doccano_line(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A doccano example of a ``kind`` project: a classification or sequence labeling
    ``label`` (or an older export's ``labels``), or a relation-mode export's ``entities``."""
    text = draw(texts)
    rec: dict[str, Any] = {"text": f"<i>{text}</i>" if kind == "html" else text}
    if draw(st.booleans()):
        rec["id"] = draw(ids)
    shape = draw(st.sampled_from(["label", "label", "labels", "entities", "none"]))
    regions = [
        s if isinstance(s, list) else [s["start"], s["end"], s["label"]] for s in draw(spans(text))
    ]
    if shape == "entities":
        rec["entities"] = [
            {"id": k, "label": r[2], "start_offset": r[0], "end_offset": r[1]}
            for k, r in enumerate(regions)
        ]
        rec["relations"] = [{"id": 1, "from_id": 0, "to_id": 1, "type": "of"}]
    elif shape != "none":
        if kind == "ner" or draw(st.integers(0, 4)) == 0:
            rec[shape] = regions
        else:
            rec[shape] = draw(st.lists(CLASS_NAMES, max_size=3))
    if draw(st.booleans()):
        rec["Comments"] = draw(st.lists(texts, max_size=2))
    return rec


@st.composite
def prodigy_task(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A Prodigy task of a ``kind`` project as db-out writes it: a choice, binary or
    ner_manual task with its answer, or a task of an input stream (no answer)."""
    text = draw(texts)
    rec: dict[str, Any] = {"text": text, "_input_hash": draw(st.integers()), "_task_hash": 3}
    if kind == "html" and draw(st.booleans()):
        rec["html"] = f"<b>{text}</b>"
    view = draw(st.sampled_from(["choice", "binary", "ner_manual", "stream"]))
    if view == "choice":
        names = ["negative", "positive", "travel", "home"]
        rec["options"] = [{"id": name.upper(), "text": name} for name in names]
        rec["accept"] = draw(
            st.lists(st.sampled_from(["NEGATIVE", "TRAVEL", "HOME", "x", 0]), max_size=2)
        )
    elif view == "binary":
        rec["label"] = draw(CLASS_NAMES)
    elif view == "ner_manual" or kind == "ner":
        regions = [
            s if isinstance(s, dict) else dict(zip(("start", "end", "label"), s, strict=True))
            for s in draw(spans(text))
        ]
        rec["spans"] = [r | {"token_start": 0, "token_end": 0} for r in regions]
        rec["tokens"] = [{"text": text, "start": 0, "end": len(text), "id": 0, "ws": False}]
    if view != "stream":
        rec["_view_id"] = view
        rec["answer"] = draw(st.sampled_from(["accept", "accept", "reject", "ignore", "maybe"]))
        rec["_annotator_id"] = rec["_session_id"] = "ds-ann"
    optional = {"meta": st.one_of(st.just({"source": "web"}), junk), "doc_id": ids, "id": ids}
    return rec | draw(st.fixed_dictionaries({}, optional=optional))
