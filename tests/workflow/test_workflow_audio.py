"""Audio projects: JSONL paths checked under the media roots, and a first model on the clips."""

from __future__ import annotations

import errno
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.workflow import imports, learning, projects, seeding
from labelloop.workflow.features import FeatureCache
from tests.conftest import Lab
from tests.learn.test_learn_featurize_audio import write_tone

SCHEMA = {
    "name": "Tones",
    "data": {"type": "audio", "field": "path"},
    "controls": [{"name": "pitch", "type": "choice", "labels": ["low", "high"], "target": True}],
}


def _jsonl(rows: list[dict[str, str]]) -> io.BytesIO:
    return io.BytesIO("".join(json.dumps(r) + "\n" for r in rows).encode())


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../secret.wav", "'..'"),
        ("/etc/passwd", "absolute"),
        ("t/missing.wav", "no such file"),
        ("t/picture.png", "not an audio file"),
        ("t/fake.wav", "not a WAV, MP3, Ogg or FLAC file"),
    ],
)
def test_jsonl_audio_paths_are_checked_per_line(
    sqlite_lab: Lab, tmp_path: Path, path: str, why: str
) -> None:
    lab = sqlite_lab
    media = tmp_path / "media"
    write_tone(media / "t" / "ok.wav", hz=300, seconds=0.2, volume=0.5)
    (media / "t" / "fake.wav").write_text("hello")
    projects.create_project(lab.db, "tones", SCHEMA, actor=lab.admin)
    ctx = lab.ctx("tones", lab.admin)
    with pytest.raises(ImportFormatError, match=why) as caught:
        imports.import_items(
            lab.db,
            ctx,
            _jsonl([{"path": "t/ok.wav"}, {"path": path}]),
            fmt="jsonl",
            filename="t.jsonl",
            text_field="path",
            media_roots=(media,),
        )
    assert (caught.value.line, caught.value.field) == (2, "path")


def test_a_folder_goes_only_into_an_image_or_audio_project(sqlite_lab: Lab, tmp_path: Path) -> None:
    lab = sqlite_lab
    projects.create_project(lab.db, "texts", {**SCHEMA, "data": {"type": "text"}}, actor=lab.admin)
    with pytest.raises(LabelloopError, match="image or audio project"):
        imports.import_folder(
            lab.db, lab.ctx("texts", lab.admin), tmp_path, media_roots=(tmp_path,)
        )


def test_the_first_model_tells_low_tones_from_high_ones(sqlite_lab: Lab, tmp_path: Path) -> None:
    from labelloop.store import learning as store_learning

    lab = sqlite_lab
    media = tmp_path / "media"
    for i in range(8):
        write_tone(media / "pool" / "a" / f"x{i:02d}.wav", hz=150 + 10 * i, seconds=0.3, volume=0.5)
        write_tone(
            media / "pool" / "b" / f"y{i:02d}.wav", hz=2500 + 50 * i, seconds=0.3, volume=0.5
        )
    for i in range(4):
        write_tone(media / "eval" / "low" / f"l{i}.wav", hz=170 + 5 * i, seconds=0.3, volume=0.5)
        write_tone(media / "eval" / "high" / f"h{i}.wav", hz=2600 + 40 * i, seconds=0.3, volume=0.5)
    projects.create_project(lab.db, "tones", SCHEMA, actor=lab.admin)
    ctx = lab.ctx("tones", lab.admin)
    imports.import_folder(
        lab.db, ctx, media / "eval", media_roots=(media,), labels_from_folders=True, split="eval"
    )
    rows = [{"path": f"pool/a/x{i:02d}.wav", "pitch": "low"} for i in range(8)]
    rows += [{"path": f"pool/b/y{i:02d}.wav", "pitch": "high"} for i in range(8)]
    imports.import_items(
        lab.db,
        ctx,
        _jsonl(rows),
        fmt="jsonl",
        filename="pool.jsonl",
        text_field="path",
        label_field="pitch",
        media_roots=(media,),
    )
    assert ctx.settings.featurizer == "audio"
    cache = FeatureCache(media_roots=(media,))
    with lab.db.read() as conn:
        low = int(store_learning.items_of(conn, ctx.id, "pool")[0]["id"])
    # A "more like this" search first: it reads the clips through the media roots too, and the
    # round after it uses the rows it built.
    found = seeding.search(lab.db, ctx, like=low, limit=3, cache=cache)
    assert all(hit["text"].startswith("pool/a/") for hit in found["items"])  # the other low tones
    assert min(hit["score"] for hit in found["items"]) > 0.2  # by their sound, not by ties at 0
    learning.train(lab.db, ctx, cache=cache)
    with lab.db.read() as conn:
        latest = store_learning.history(conn, ctx.id)[-1]
    assert latest["featurizer"] == "audio"
    assert latest["metrics"]["accuracy"] == 1.0


class _FailingPartway:
    """An opened file whose reads fail with an I/O error once ``after`` bytes were read, as a
    disk or a network share failing in the middle of a file does."""

    def __init__(self, file: Any, *, after: int) -> None:
        self.file, self.after, self.read_so_far = file, after, 0

    def read(self, size: int = -1) -> bytes:
        if self.read_so_far >= self.after:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        data = self.file.read(size if size >= 0 else self.after)
        self.read_so_far += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)

    def __enter__(self) -> _FailingPartway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()


def test_a_file_that_fails_to_read_partway_aborts_the_import_naming_it(
    sqlite_lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clip whose disk failed halfway through the import's read of it (its hash, which
    finds a clip imported twice) ended the import in a traceback; the import is refused naming
    the file and the reason, and nothing is written."""
    from labelloop.store import items as store_items

    lab = sqlite_lab
    media = tmp_path / "media"
    write_tone(media / "s" / "a.wav", hz=300, seconds=0.2, volume=0.5)
    write_tone(media / "s" / "b.wav", hz=900, seconds=0.2, volume=0.5)
    projects.create_project(lab.db, "tones", SCHEMA, actor=lab.admin)
    ctx = lab.ctx("tones", lab.admin)
    opened = imports.open_media

    def failing(path: str, roots: Any, *, kind: str | None = "image") -> Any:
        file, found, content_type = opened(path, roots, kind=kind)
        if found.name == "b.wav":
            file = _FailingPartway(file, after=found.stat().st_size // 2)
        return file, found, content_type

    monkeypatch.setattr(imports, "open_media", failing)
    with pytest.raises(ImportFormatError) as caught:
        imports.import_folder(lab.db, ctx, media / "s", media_roots=(media,))
    assert caught.value.message == "file 2 ('s/b.wav'): cannot be read (Input/output error)"
    with lab.db.read() as conn:
        assert store_items.counts(conn, ctx.id).get("pool", 0) == 0  # nothing half-written
