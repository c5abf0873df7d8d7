"""The images an uploaded YOLO zip stores: kept while items name them, gone with their import's
undo, a duplicate's file never kept, crashed uploads' leftovers cleared, disk room checked
first, and one project's upload folders out of every other project's reach."""

from __future__ import annotations

import io
import json
import os
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from labelloop.errors import ImportFormatError, InsufficientStorage, LabelloopError
from labelloop.store import items as store_items
from labelloop.store.tables import import_batch
from labelloop.workflow import batches, imports, projects, uploads
from tests.conftest import Lab

BOXES = {
    "name": "Street",
    "data": {"type": "image", "field": "image"},
    "controls": [{"name": "objects", "type": "boxes", "labels": ["car", "person"]}],
}
YAML = "path: .\ntrain: images/train\nval: images/val\nnames: {0: car, 1: person}\n"
DAY = 24 * 3600


def png(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (40, 20), shade).save(out, format="PNG")
    return out.getvalue()


def yolo_zip(images: dict[str, int]) -> io.BytesIO:
    """A dataset zip with its images (path under images/ -> shade), each labeled one car."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("data.yaml", YAML)
        for name, shade in images.items():
            archive.writestr(f"images/{name}.png", png(shade))
            archive.writestr(f"labels/{name}.txt", "0 0.5 0.5 0.5 0.5\n")
    out.seek(0)
    return out


def stored(media: Path, slug: str = "street") -> list[str]:
    """The files under the project's uploads folder, as items name them."""
    top = media / "uploads" / slug
    return sorted(p.relative_to(media).as_posix() for p in top.rglob("*") if p.is_file())


@pytest.fixture
def street(lab: Lab, tmp_path: Path) -> tuple[Lab, Any, Path]:
    media = tmp_path / "media"
    media.mkdir()
    (media / "mine.png").write_bytes(png(250))  # a user's own image beside the uploads
    projects.create_project(lab.db, "street", BOXES, actor=lab.admin)
    return lab, lab.ctx("street", lab.admin), media


def upload(lab: Lab, ctx: Any, media: Path, images: dict[str, int], name: str = "cars.zip") -> Any:
    return imports.import_items(
        lab.db, ctx, yolo_zip(images), fmt="yolo", filename=name, media_roots=(media,)
    )


def jsonl_paths(lab: Lab, ctx: Any, media: Path, paths: list[str]) -> Any:
    rows = "".join(json.dumps({"image": p}) + "\n" for p in paths).encode()
    return imports.import_items(
        lab.db, ctx, io.BytesIO(rows), fmt="jsonl", filename="paths.jsonl", media_roots=(media,)
    )


def test_undo_deletes_the_files_its_upload_stored_and_the_emptied_folders(street: Any) -> None:
    lab, ctx, media = street
    first = upload(lab, ctx, media, {"train/a": 10, "train/b": 20, "val/c": 30})
    (folder,) = (media / "uploads" / "street").iterdir()
    with lab.db.read() as conn:
        recorded = conn.execute(
            select(import_batch.c.upload_folder).where(import_batch.c.id == first.batch_id)
        ).scalar_one()
    assert recorded == f"uploads/street/{folder.name}"
    listed = {b["id"]: b for b in batches.imports(lab.db, ctx)}
    assert listed[first.batch_id]["upload_folder"] == recorded
    second = upload(lab, ctx, media, {"train/d": 40}, name="more.zip")
    assert len(stored(media)) == 4

    done = batches.undo(lab.db, ctx, first.batch_id, media_roots=(media,))
    assert (done["items"], done["files"]) == (3, 3)
    assert not folder.exists()  # its emptied folders went with the files
    assert [p.split("/", 3)[3] for p in stored(media)] == ["images/train/d.png"]
    assert (media / "mine.png").read_bytes() == png(250)  # a user's own media is never touched

    assert batches.undo(lab.db, ctx, second.batch_id, media_roots=(media,))["files"] == 1
    assert not (media / "uploads" / "street").exists()
    assert (media / "uploads").is_dir() and (media / "mine.png").is_file()


def test_a_partly_duplicate_upload_keeps_only_the_new_items_files(street: Any) -> None:
    lab, ctx, media = street
    upload(lab, ctx, media, {"train/a": 10, "train/b": 20})
    first = stored(media)
    # b again (a duplicate), c new, and d twice in the zip under two names.
    again = upload(lab, ctx, media, {"train/b": 20, "train/c": 30, "val/d": 40, "val/e": 40})
    assert (again.n_items, again.n_duplicates) == (2, 2)
    assert "the files of the 2 duplicate images were not kept: the project has them" in (
        again.notes
    )
    new = [p for p in stored(media) if p not in first]
    assert [p.split("/", 3)[3] for p in new] == ["images/train/c.png", "images/val/d.png"]
    assert len({p.split("/")[2] for p in new}) == 1

    nothing = upload(lab, ctx, media, {"train/a": 10})
    assert (nothing.n_items, nothing.n_duplicates) == (0, 1)
    assert len({p.split("/")[2] for p in stored(media)}) == 2  # its folder is gone whole
    assert nothing.batch_id is None  # nothing new: no import is listed to undo
    with lab.db.read() as conn:
        q = select(import_batch.c.upload_folder).where(import_batch.c.upload_folder.is_not(None))
        assert len(conn.execute(q).all()) == 2


def _age(path: Path, seconds: float) -> None:
    """Make a folder and all under it look ``seconds`` old."""
    then = time.time() - seconds
    for where, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            os.utime(os.path.join(where, name), (then, then))
    os.utime(path, (then, then))


def test_a_later_upload_clears_what_crashed_uploads_left_once_old_enough(street: Any) -> None:
    lab, ctx, media = street
    upload(lab, ctx, media, {"train/a": 10})
    (recorded,) = (media / "uploads" / "street").iterdir()
    parent = media / "uploads" / "street"
    crashed = parent / ".20260101-000000-abcdef.partial"  # extraction died midway
    (crashed / "images").mkdir(parents=True)
    (crashed / "images" / "x.png").write_bytes(png(1))
    unused = parent / "20260101-000001-abcdef"  # renamed in, the import never committed
    (unused / "images").mkdir(parents=True)
    (unused / "images" / "y.png").write_bytes(png(2))
    running = parent / ".20260102-000000-123456.partial"  # another server writing it now
    (running / "images").mkdir(parents=True)
    (running / "images" / "z.png").write_bytes(png(3))
    for folder in (crashed, unused, recorded):
        _age(folder, 2 * DAY)
    _age(running, 2 * DAY)
    (running / "images" / "new.png").write_bytes(png(4))  # its newest file is fresh
    theirs = parent / "notes.txt"  # not an upload folder's name: left alone
    theirs.write_text("kept")

    upload(lab, ctx, media, {"train/b": 20}, name="later.zip")
    left = {p.name for p in parent.iterdir()}
    assert crashed.name not in left and unused.name not in left
    assert {recorded.name, running.name, "notes.txt"} <= left
    assert (recorded / "images" / "train" / "a.png").is_file()  # an import records it
    assert len(left) == 4  # and the later upload's own folder


def test_a_leftover_younger_than_the_safe_age_or_named_by_an_item_stays(street: Any) -> None:
    lab, ctx, media = street
    parent = media / "uploads" / "street"
    young = parent / "20260101-000001-abcdef"
    (young / "images").mkdir(parents=True)
    (young / "images" / "y.png").write_bytes(png(2))
    _age(young, DAY - 600)
    named = parent / "20260101-000002-abcdef"
    (named / "images").mkdir(parents=True)
    (named / "images" / "n.png").write_bytes(png(3))
    (named / "images" / "gone.png").write_bytes(png(5))
    # An item names a file there by a path of its own making: it is kept in its plain form.
    (media / "shortcut").symlink_to(named)
    jsonl_paths(lab, ctx, media, ["shortcut/./images/n.png"])
    with lab.db.read() as conn:
        found = store_items.images_under(conn, ctx.id, "uploads/street/20260101-000002-abcdef")
    assert found == {"uploads/street/20260101-000002-abcdef/images/n.png"}
    _age(named, 2 * DAY)
    upload(lab, ctx, media, {"train/b": 20})
    assert (young / "images" / "y.png").is_file()
    assert (named / "images" / "n.png").is_file() and not (named / "images" / "gone.png").exists()


def test_an_empty_uploads_folder_of_the_project_is_removed(street: Any) -> None:
    lab, ctx, media = street
    parent = media / "uploads" / "street"
    crashed = parent / ".20260101-000000-abcdef.partial"
    crashed.mkdir(parents=True)
    _age(crashed, 2 * DAY)
    with pytest.raises(ImportFormatError):  # an upload that stores nothing still clears
        upload(lab, ctx, media, {"../x": 1})
    assert not parent.exists()
    assert uploads.clear_leftovers(lab.db, ctx.id, roots=(media,), slug="street") == 0


def test_an_upload_the_disk_cannot_hold_is_refused_before_anything_is_written(
    street: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab, ctx, media = street
    images = {"train/a": 10, "train/b": 20}
    needed = sum(len(png(shade)) for shade in images.values())
    real = shutil.disk_usage
    free = uploads.DISK_RESERVE + needed - 1  # one byte short
    monkeypatch.setattr(uploads.shutil, "disk_usage", lambda path: real(path)._replace(free=free))
    with pytest.raises(InsufficientStorage) as refused:
        upload(lab, ctx, media, images)
    assert refused.value.status == 507
    assert refused.value.message == (
        f"the zip's images need {needed:,} bytes and the media root's disk has 100.0 MiB "
        "free (100.0 MiB of it is kept free); nothing was stored: free some space or split "
        "the zip"
    )
    assert not (media / "uploads").exists()
    assert batches.imports(lab.db, ctx) == []
    free += 1
    assert upload(lab, ctx, media, images).n_items == 2


def test_no_project_names_another_project_s_uploaded_images(street: Any) -> None:
    lab, ctx, media = street
    upload(lab, ctx, media, {"train/a": 10, "val/c": 30})
    a, c = stored(media)
    projects.create_project(lab.db, "other", BOXES, actor=lab.admin)
    other = lab.ctx("other", lab.admin)
    with pytest.raises(ImportFormatError) as refused:
        jsonl_paths(lab, other, media, ["mine.png", c])
    assert refused.value.message == (
        f"line 2, field 'image': media path '{c}': lies in another project's uploaded images "
        "(uploads/ under the media root), which only that project's items may name"
    )
    link = media / "sneaky"
    link.symlink_to(media / "uploads")  # a way round by a link is the same file
    with pytest.raises(ImportFormatError, match="lies in another project's uploaded images"):
        jsonl_paths(lab, other, media, ["sneaky/" + a.split("/", 1)[1]])
    link.unlink()
    assert batches.imports(lab.db, other) == []

    # A folder holding the uploads folder brings the project its own images only.
    report = imports.import_folder(lab.db, other, media, media_roots=(media,))
    assert report.n_items == 1  # mine.png
    assert "2 images in other projects' uploads (uploads/) were left out" in report.notes
    own = imports.import_folder(lab.db, ctx, media, media_roots=(media,))
    assert (own.n_items, own.n_duplicates) == (1, 2)  # its own uploads are duplicates


def test_an_upload_stores_under_the_first_media_root_only(street: Any, tmp_path: Path) -> None:
    lab, ctx, media = street
    second = tmp_path / "second"
    (second / "uploads" / "other").mkdir(parents=True)
    (second / "uploads" / "other" / "b.png").write_bytes(png(99))  # a user's own, in a 2nd root
    report = imports.import_items(
        lab.db,
        ctx,
        io.BytesIO(b'{"image": "uploads/other/b.png"}\n'),
        fmt="jsonl",
        filename="b.jsonl",
        media_roots=(media, second),
    )
    assert report.n_items == 1  # only the first root's uploads folder is labelloop's


def test_an_item_naming_another_project_s_upload_is_not_served(street: Any) -> None:
    """An item imported before imports refused such paths: its image is refused (400), not
    shown to the other project's members."""
    from labelloop.errors import LabelloopError
    from labelloop.workflow import media as wf_media

    lab, ctx, media = street
    upload(lab, ctx, media, {"train/a": 10})
    (a,) = stored(media)
    projects.create_project(lab.db, "other", BOXES, actor=lab.admin)
    other = lab.ctx("other", lab.admin)
    with lab.db.write() as conn:
        batch = store_items.insert_batch(
            conn,
            project_id=other.id,
            user_id=None,
            filename="old.jsonl",
            format="jsonl",
            split="pool",
            n_items=1,
            n_labeled=0,
            n_duplicates=0,
        )
        row = {"project_id": other.id, "external_id": None, "payload": {"image": a}, "meta": {}}
        row |= {"split": "pool", "content_hash": "x", "import_batch_id": batch}
        (item_id,) = store_items.insert_items(conn, [row])
    with pytest.raises(LabelloopError) as refused:
        wf_media.item_media(lab.db, other, item_id, roots=(media,))
    assert refused.value.status == 400
    assert "lies in another project's uploaded images" in refused.value.message
    (own,) = item_ids(lab, ctx)
    file, found, content_type = wf_media.item_media(lab.db, ctx, own, roots=(media,))
    with file:
        assert (found, content_type) == ((media / a).resolve(), "image/png")
        assert file.read() == (media / a).read_bytes()


def item_ids(lab: Lab, ctx: Any) -> list[int]:
    """The ids of the project's items."""
    from labelloop.store.tables import item

    with lab.db.read() as conn:
        return list(conn.execute(select(item.c.id).where(item.c.project_id == ctx.id)).scalars())


def test_a_zips_import_says_it_stores_its_images_before_checking_records(street: Any) -> None:
    lab, ctx, media = street
    said: list[Any] = []
    imports.import_items(
        lab.db,
        ctx,
        yolo_zip({"train/a": 10, "train/b": 20}),
        fmt="yolo",
        filename="cars.zip",
        media_roots=(media,),
        progress=said.append,
        stage=said.append,
    )
    assert said == ["storing images", "checking records", 2, "saving"]


@pytest.mark.parametrize("linked", ["uploads", "uploads/street"])
def test_an_upload_is_never_stored_through_a_linked_uploads_folder(
    street: Any, tmp_path: Path, linked: str
) -> None:
    """``uploads/`` or ``uploads/SLUG`` made a symbolic link (by an admin, or by someone who
    could write in the media root) sent an upload's images wherever it led, outside the media
    root too: refused, naming the link, and nothing is written there."""
    lab, ctx, media = street
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (media / linked).parent.mkdir(parents=True, exist_ok=True)
    (media / linked).symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(LabelloopError) as refused:
        upload(lab, ctx, media, {"train/a": 10})
    assert refused.value.status == 400
    assert refused.value.message == (
        f"'{linked}' under the media root is a symbolic link: uploaded images are stored and "
        "removed only in real folders under the media root, so nothing was stored; replace "
        "the link with a folder"
    )
    assert list(elsewhere.rglob("*")) == []
    assert batches.imports(lab.db, ctx) == []


def test_a_link_swapped_in_while_images_are_written_gets_none_of_them(
    street: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``uploads/SLUG`` checked, then moved away and replaced by a link (with the upload's
    staging folder copied where it leads) while the images were written: they were written
    through the link, outside the media root. The folder checked is the one written in, and
    the upload is refused once the link is seen, with nothing stored where it leads."""
    from labelloop.ingest.yolo_files import ZipFiles

    lab, ctx, media = street
    (media / "uploads" / "street").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    extract = ZipFiles.extract
    swapped: list[Path] = []
    landed: list[Path] = []  # files found where the link leads, as each image is written

    def racing(self: Any, *args: Any, **kwargs: Any) -> int:
        if not swapped:  # the first image: another writer swaps the folder for a link
            folder = media / "uploads" / "street"
            (staging,) = folder.iterdir()
            shutil.copytree(folder, elsewhere)  # the staging folder, as the link will show it
            folder.rename(tmp_path / "moved")
            folder.symlink_to(elsewhere, target_is_directory=True)
            swapped.append(staging)
        written = extract(self, *args, **kwargs)
        landed.extend(p for p in elsewhere.rglob("*") if not p.is_dir())
        return written

    monkeypatch.setattr(ZipFiles, "extract", racing)
    with pytest.raises(LabelloopError) as refused:
        upload(lab, ctx, media, {"train/a": 10, "train/b": 20})
    assert swapped
    assert landed == []
    assert [p for p in elsewhere.rglob("*") if not p.is_dir()] == []
    assert refused.value.message.startswith(
        "'uploads/street' under the media root is a symbolic link"
    )
    assert batches.imports(lab.db, ctx) == []


@pytest.mark.parametrize("linked", ["uploads", "uploads/street", "stamp"])
def test_an_undo_never_deletes_through_a_linked_uploads_folder(
    street: Any, tmp_path: Path, linked: str
) -> None:
    """An upload's folder moved away and linked back in its place: an undo deleted the files
    where the link led, outside the media root. It is refused, naming the link, with nothing
    removed, until the link is a folder again."""
    lab, ctx, media = street
    done = upload(lab, ctx, media, {"train/a": 10, "train/b": 20})
    (stamp,) = (media / "uploads" / "street").iterdir()
    where = stamp if linked == "stamp" else media / linked
    shown = f"uploads/street/{stamp.name}" if linked == "stamp" else linked
    moved = tmp_path / "moved"
    where.rename(moved)
    where.symlink_to(moved, target_is_directory=True)
    before = sorted(p.relative_to(moved) for p in moved.rglob("*"))
    with pytest.raises(LabelloopError) as refused:
        batches.undo(lab.db, ctx, done.batch_id, media_roots=(media,))
    assert refused.value.message == (
        f"'{shown}' under the media root is a symbolic link: uploaded images are stored and "
        "removed only in real folders under the media root, so nothing was removed; replace "
        "the link with a folder"
    )
    assert sorted(p.relative_to(moved) for p in moved.rglob("*")) == before
    assert len(item_ids(lab, ctx)) == 2  # the import is still there

    where.unlink()
    moved.rename(where)
    assert batches.undo(lab.db, ctx, done.batch_id, media_roots=(media,))["files"] == 2


def _swap_for_a_link(media: Path, tmp_path: Path) -> Path:
    """Move ``uploads/street`` away and link a copy of it in its place (another writer in the
    media root); returns where the link leads."""
    folder = media / "uploads" / "street"
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(folder, elsewhere)  # what the link shows: the same upload folders
    shutil.copytree(folder, tmp_path / "copied")  # what the test expects to find there
    folder.rename(tmp_path / "moved")
    folder.symlink_to(elsewhere, target_is_directory=True)
    return elsewhere


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("removal", ["failed import", "leftovers"])
def test_a_link_swapped_in_before_a_clean_up_gets_nothing_deleted(
    street: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, removal: str
) -> None:
    """``uploads/street`` swapped for a link after an upload was stored (its import then
    failed) or after a clean-up of crashed uploads looked at it: the folder was removed, or
    emptied, by its path, through the link, outside the media root. Nothing where the link
    leads is deleted now."""
    lab, ctx, media = street
    swapped: list[Path] = []
    if removal == "failed import":
        store = uploads.store_zip_images

        def storing(*args: Any, **kwargs: Any) -> Any:
            stored = store(*args, **kwargs)
            swapped.append(_swap_for_a_link(media, tmp_path))
            return stored

        monkeypatch.setattr(uploads, "store_zip_images", storing)
        bad = io.BytesIO()
        with zipfile.ZipFile(bad, "w") as archive:
            archive.writestr("data.yaml", YAML)
            archive.writestr("images/train/a.png", png(10))
            archive.writestr("labels/train/a.txt", "7 0.5 0.5 0.5 0.5\n")  # no class 7
        bad.seek(0)
        with pytest.raises(ImportFormatError):
            imports.import_items(
                lab.db, ctx, bad, fmt="yolo", filename="bad.zip", media_roots=(media,)
            )
    else:
        crashed = media / "uploads" / "street" / ".20260101-000000-abcdef.partial"
        (crashed / "images").mkdir(parents=True)
        (crashed / "images" / "x.png").write_bytes(png(1))
        _age(crashed, 2 * DAY)
        images_under = store_items.images_under

        def reading(*args: Any, **kwargs: Any) -> Any:
            if not swapped:  # the clean-up looked at the folder: now it is a link
                swapped.append(_swap_for_a_link(media, tmp_path))
            return images_under(*args, **kwargs)

        monkeypatch.setattr(store_items, "images_under", reading)
        uploads.clear_leftovers(lab.db, ctx.id, roots=(media,), slug="street")
    (elsewhere,) = swapped
    assert _files(elsewhere) and _files(elsewhere) == _files(tmp_path / "copied")
    assert (media / "mine.png").is_file()


class _Paused:
    """An import's ``stage``: holds it inside its transaction, its files read and its rows
    written but not committed ("saving"), until ``go`` is set (or a few seconds passed, so a
    test that fails never hangs)."""

    def __init__(self) -> None:
        import threading

        self.inside = threading.Event()
        self.go = threading.Event()

    def __call__(self, stage: str) -> None:
        if stage == "saving":
            self.inside.set()
            self.go.wait(3)


def _in_thread(work: Any) -> tuple[Any, dict[str, Any]]:
    """``work()`` run in a thread; the dict gets its ``result`` or ``error``."""
    import threading

    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = work()
        except Exception as exc:  # the test looks at it
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_an_undo_is_refused_while_an_import_of_the_project_is_still_writing(
    street: Any,
) -> None:
    """An undo asked while an import of the project was still writing (its own, whose number
    it cannot know yet, or another) waited behind it, silently, for as long as it took, and
    then went on: refused at once, saying why, with nothing removed."""
    from labelloop.errors import Conflict

    lab, ctx, media = street
    done = upload(lab, ctx, media, {"train/a": 10})
    paused = _Paused()
    thread, out = _in_thread(
        lambda: imports.import_items(
            lab.db,
            ctx,
            yolo_zip({"train/b": 20}),
            fmt="yolo",
            filename="more.zip",
            media_roots=(media,),
            stage=paused,
        )
    )
    assert paused.inside.wait(10)
    for batch_id in (done.batch_id, done.batch_id + 1):
        with pytest.raises(Conflict) as refused:
            batches.undo(lab.db, ctx, batch_id, media_roots=(media,))
        assert refused.value.message == (
            f"import {batch_id} cannot be undone while an import into project 'street' is "
            "still running: nothing was removed; undo it once that import has finished"
        )
    paused.go.set()
    thread.join(10)
    assert out["result"].n_items == 1
    assert len(item_ids(lab, ctx)) == 2 and len(stored(media)) == 2
    assert batches.undo(lab.db, ctx, out["result"].batch_id, media_roots=(media,))["files"] == 1


def test_an_undo_never_deletes_a_file_an_import_still_writing_names(street: Any) -> None:
    """An import naming a stored image (a JSONL of paths under uploads/) that began while an
    undo of that image's upload was between its commit and its deletions: the undo deleted
    the file, the import committed an item naming it, and the item had no image. The import
    now waits for the undo to end and finds the file gone, naming the line."""
    import threading

    lab, ctx, media = street
    done = upload(lab, ctx, media, {"train/a": 10})
    (a,) = stored(media)
    paused, past_commit = _Paused(), threading.Event()

    class Forgetting:  # the undo, past its commit, waits for the import to reach the file
        def forget(self, project_id: int, ids: Any) -> None:
            past_commit.set()
            paused.inside.wait(3)

    undoing, undone = _in_thread(
        lambda: batches.undo(lab.db, ctx, done.batch_id, cache=Forgetting(), media_roots=(media,))
    )
    assert past_commit.wait(30)  # the undo holds the project's imports off
    importing, imported = _in_thread(
        lambda: imports.import_items(
            lab.db,
            ctx,
            io.BytesIO(json.dumps({"image": a}).encode() + b"\n"),
            fmt="jsonl",
            filename="paths.jsonl",
            media_roots=(media,),
            stage=paused,
        )
    )
    undoing.join(10)
    paused.go.set()
    importing.join(10)
    assert undone["result"]["files"] == 1
    assert isinstance(imported.get("error"), ImportFormatError), imported
    assert imported["error"].message == (
        f"line 1, field 'image': media path '{a}': no such file under the media roots"
    )
    for item_id in item_ids(lab, ctx):  # every item's image is there
        from labelloop.workflow import media as wf_media

        file, found, _ = wf_media.item_media(lab.db, ctx, item_id, roots=(media,))
        with file:
            assert found.is_file()


def _noise() -> bytes:
    out = io.BytesIO()
    Image.effect_noise((90, 60), 60).save(out, format="PNG")
    return out.getvalue()


NOISE = _noise()  # a PNG whose pixels do not compress away: cut short, it is cut in its data


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (NOISE[: len(NOISE) // 3], "cannot be read as an image (image file is truncated)"),
        (b"notes, not a picture", "not a JPEG, PNG or WebP file"),
    ],
)
def test_a_bad_image_in_an_uploaded_zip_is_named_as_the_zip_names_it(
    street: Any, data: bytes, why: str
) -> None:
    """The error named the image by the folder its upload was stored in for the check
    ('uploads/street/20261206-211746-5e6f85/images/broken.png', gone with the failed import),
    and a file that is not an image by that path twice; the user knows it as a zip member."""
    lab, ctx, media = street
    zipped = yolo_zip({"ok": 120})
    with zipfile.ZipFile(zipped, "a") as archive:
        archive.writestr("images/my scan.png", data)
    zipped.seek(0)
    with pytest.raises(ImportFormatError) as refused:
        imports.import_items(
            lab.db, ctx, zipped, fmt="yolo", filename="cars.zip", media_roots=(media,)
        )
    assert refused.value.message == f"zip member 'images/my scan.png', image 2: {why}"
    assert (refused.value.file, refused.value.line) == ("images/my scan.png", 2)
    assert stored(media) == []


def test_a_record_of_a_zip_the_import_refuses_is_named_as_its_member(street: Any) -> None:
    """The import's own checks of a record (here: its id, the image's path in the zip, names
    another item) said "line 3", the image's order in the zip."""
    lab, ctx, media = street
    upload(lab, ctx, media, {"train/a": 10, "train/b": 20})
    before = stored(media)
    with pytest.raises(ImportFormatError) as refused:
        upload(lab, ctx, media, {"train/c": 30, "train/d": 40, "train/b": 50}, name="more.zip")
    assert refused.value.message.startswith(
        "zip member 'images/train/b.png', image 3: id 'images/train/b.png' already names item #"
    )
    assert (refused.value.file, refused.value.line, refused.value.unit) == (
        "images/train/b.png",
        3,
        "image",
    )
    assert stored(media) == before  # the refused zip's images went with it
