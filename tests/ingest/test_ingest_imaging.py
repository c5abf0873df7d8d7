"""Image sizes as a browser shows them, stored at import so boxes are checked against them."""

from __future__ import annotations

import io
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.ingest import imaging
from labelloop.store.tables import item
from labelloop.workflow import imports, projects
from labelloop.workflow.projects import ProjectContext
from tests.conftest import Lab


def image_size(path: Path) -> dict[str, int]:
    """The size of the image at ``path``, read from the file opened (as every reader does)."""
    with path.open("rb") as opened:
        return imaging.image_size(path, opened=opened)


def thumbnail(path: Path, size: int) -> tuple[bytes, str]:
    with path.open("rb") as opened:
        return imaging.thumbnail(opened, size)


def test_sizes_of_png_jpeg_and_webp(tmp_path: Path) -> None:
    for fmt, suffix in (("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp")):
        path = tmp_path / f"x.{suffix}"
        Image.new("RGB", (30, 20), "red").save(path, format=fmt)
        assert image_size(path) == {"width": 30, "height": 20}


def test_a_jpeg_turned_by_exif_reports_its_upright_size(tmp_path: Path) -> None:
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view": browsers show it 20 wide, 30 high
    Image.new("RGB", (30, 20), "blue").save(path, format="JPEG", exif=exif)
    assert image_size(path) == {"width": 20, "height": 30}
    data, content_type = thumbnail(path, 15)
    assert content_type == "image/jpeg"
    shown = Image.open(io.BytesIO(data))
    assert shown.size == (10, 15)


def test_a_sixteen_bit_grey_png_has_a_thumbnail_as_dark_as_the_image(tmp_path: Path) -> None:
    """Pillow's convert() clips 16-bit grey at 255: every such thumbnail was white."""
    path = tmp_path / "scan.png"
    Image.fromarray(np.full((20, 40), 10_000, dtype=np.uint16)).save(path)
    data, _ = thumbnail(path, 16)
    shown = np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.float64)
    assert shown.shape == (8, 16)
    assert abs(shown.mean() - 255 * 10_000 / 65_535) < 3


def test_an_unreadable_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "cut.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8)
    with pytest.raises(LabelloopError, match="cannot be read as an image"):
        image_size(path)


def test_an_unreadable_file_is_named_without_the_servers_folders(tmp_path: Path) -> None:
    """Pillow names a file it cannot identify by its full path; the message reaches the user who
    imported it (or asked for its thumbnail), and where the media root lies on the server's disk
    is not theirs to read."""
    path = tmp_path / "media" / "b cut.png"
    path.parent.mkdir()
    path.write_bytes(b"plain text, not a picture")
    with pytest.raises(LabelloopError) as refused:
        image_size(path)
    assert "b cut.png" in refused.value.message
    assert str(tmp_path) not in refused.value.message


def declared_png(path: Path, width: int, height: int) -> Path:
    """A PNG of a few bytes whose header declares ``width`` x ``height`` RGB pixels."""

    def chunk(tag: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(tag + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + tag + body + crc

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_is_refused(tmp_path: Path) -> None:
    """A PNG whose header claims 100,000 x 100,000 pixels: Pillow refuses to open it."""
    path = declared_png(tmp_path / "bomb.png", 100_000, 100_000)
    with pytest.raises(LabelloopError, match="cannot be read as an image"):
        image_size(path)


def _digits(lab: Lab, tmp_path: Path) -> tuple[Path, ProjectContext]:
    """A media root with one good image, ``set/a.png``, and an image project to import into."""
    media = tmp_path / "media"
    (media / "set").mkdir(parents=True)
    Image.new("L", (40, 30), 10).save(media / "set" / "a.png")
    schema = {
        "name": "Digits",
        "data": {"type": "image", "field": "image"},
        "controls": [{"name": "digit", "type": "choice", "labels": ["0", "1"], "target": True}],
    }
    projects.create_project(lab.db, "digits", schema, actor=lab.admin)
    return media, lab.ctx("digits", lab.admin)


def test_an_image_over_a_hundred_megapixels_is_refused_naming_its_size(
    sqlite_lab: Lab, tmp_path: Path
) -> None:
    """An image of 12,000 x 10,000 pixels is under Pillow's own refusal (about 179 million), so a
    few KiB declaring it took over half a gigabyte to decode, once per thumbnail or round; the
    import refuses it naming the file and its size, and stores nothing."""
    media, ctx = _digits(sqlite_lab, tmp_path)
    declared_png(media / "set" / "huge.png", 12_000, 10_000)
    with pytest.raises(ImportFormatError) as refused:
        imports.import_folder(sqlite_lab.db, ctx, media / "set", media_roots=(media,))
    assert refused.value.message == (
        "file 2 ('set/huge.png'): cannot be read as an image (it is 12,000×10,000 pixels "
        "(120 megapixels); labelloop reads images of at most 100 megapixels)"
    )
    with sqlite_lab.db.read() as conn:
        assert conn.execute(select(item.c.id)).first() is None
    with pytest.raises(ValueError, match="120 megapixels"):
        thumbnail(media / "set" / "huge.png", 128)


def test_large_images_are_decoded_a_few_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page of thumbnails of large images asks for them all at once, each in a thread of its
    own: decoded together, six of 48 megapixels held over a gigabyte. Two at a time are let
    decode (2 x 192 MB of pixels); the third waits for one of them to end."""
    from PIL import ImageFile

    paths = [declared_png(tmp_path / f"{n}.png", 8_000, 6_000) for n in range(6)]
    inside, most, lock = 0, 0, threading.Lock()
    three = threading.Barrier(3, timeout=1)  # three decodes at once: passed at once

    def load(self: ImageFile.ImageFile) -> None:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        try:
            three.wait()
        except threading.BrokenBarrierError:
            pass
        finally:
            with lock:
                inside -= 1
        raise OSError("not decoded in this test")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    with ThreadPoolExecutor(max_workers=6) as pool:
        asked = [pool.submit(thumbnail, path, 128) for path in paths]
    assert [str(one.exception()) for one in asked] == ["not decoded in this test"] * 6
    assert most == 2


def test_a_folder_import_stores_each_images_size(sqlite_lab: Lab, tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "set" / "car").mkdir(parents=True)
    Image.new("L", (40, 30), 10).save(media / "set" / "car" / "a.png")
    Image.new("L", (8, 64), 90).save(media / "set" / "b.png")
    schema = {
        "name": "Cars",
        "data": {"type": "image", "field": "image"},
        "controls": [{"name": "objects", "type": "boxes", "labels": ["car"]}],
    }
    projects.create_project(sqlite_lab.db, "cars", schema, actor=sqlite_lab.admin)
    ctx = sqlite_lab.ctx("cars", sqlite_lab.admin)
    imports.import_folder(sqlite_lab.db, ctx, media / "set", media_roots=(media,))
    with sqlite_lab.db.read() as conn:
        payloads = list(conn.execute(select(item.c.payload).order_by(item.c.id)).scalars())
    assert payloads == [
        {"image": "set/b.png", "width": 8, "height": 64},
        {"image": "set/car/a.png", "width": 40, "height": 30},
    ]


def test_an_image_pillow_cannot_read_aborts_the_import_naming_it(
    sqlite_lab: Lab, tmp_path: Path
) -> None:
    """A PNG cut short after its signature passes the first-bytes check, but the learner, the
    thumbnails and the box checks cannot read it: stored, it failed every training round of the
    project and let boxes past the image's edge through. The import refuses it, naming the file,
    and stores nothing, from a folder as from JSONL."""
    media, ctx = _digits(sqlite_lab, tmp_path)
    (media / "set" / "b cut.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(ImportFormatError) as refused:
        imports.import_folder(sqlite_lab.db, ctx, media / "set", media_roots=(media,))
    assert refused.value.line == 2
    assert "'set/b cut.png'" in refused.value.message
    assert "cannot be read as an image" in refused.value.message
    records = io.BytesIO(b'{"path": "set/a.png"}\n{"path": "set/b cut.png"}\n')
    with pytest.raises(ImportFormatError, match="line 2, field 'path': media path 'set/b cut.png'"):
        imports.import_items(
            sqlite_lab.db,
            ctx,
            records,
            fmt="jsonl",
            filename="x.jsonl",
            text_field="path",
            media_roots=(media,),
        )
    with sqlite_lab.db.read() as conn:
        assert conn.execute(select(item.c.id)).first() is None


@pytest.mark.parametrize("suffix", ["jpg", "png"])
def test_an_image_cut_short_after_its_header_aborts_the_import_naming_it(
    sqlite_lab: Lab, tmp_path: Path, suffix: str
) -> None:
    """A photo whose copy stopped a third of the way has a whole header: the import read only
    that, took it, and every training round of the project then failed on 'image file is
    truncated' until someone found and removed it. Its pixels are read at import now."""
    media = tmp_path / "media"
    (media / "set").mkdir(parents=True)
    noise = Image.effect_noise((300, 200), 60).convert("RGB")
    noise.save(media / "set" / f"a.{suffix}")
    whole = io.BytesIO()
    noise.save(whole, format="JPEG" if suffix == "jpg" else "PNG")
    (media / "set" / f"b.{suffix}").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 3])
    with pytest.raises(LabelloopError, match="cannot be read as an image"):
        image_size(media / "set" / f"b.{suffix}")
    schema = {
        "name": "Photos",
        "data": {"type": "image", "field": "image"},
        "controls": [{"name": "shade", "type": "choice", "labels": ["0", "1"], "target": True}],
    }
    projects.create_project(sqlite_lab.db, "photos", schema, actor=sqlite_lab.admin)
    ctx = sqlite_lab.ctx("photos", sqlite_lab.admin)
    with pytest.raises(ImportFormatError) as refused:
        imports.import_folder(sqlite_lab.db, ctx, media / "set", media_roots=(media,))
    assert refused.value.line == 2
    assert f"'set/b.{suffix}'" in refused.value.message
    assert "truncated" in refused.value.message
    with sqlite_lab.db.read() as conn:
        assert conn.execute(select(item.c.id)).first() is None


@pytest.mark.parametrize("size", [0, 513])
def test_thumbnail_sizes_are_bounded(tmp_path: Path, size: int) -> None:
    path = tmp_path / "x.png"
    Image.new("RGB", (4, 4)).save(path)
    with pytest.raises(ValueError, match="from 1 to 512"):
        thumbnail(path, size)


def test_a_grey_png_with_a_see_through_value_keeps_it_in_its_thumbnail(tmp_path: Path) -> None:
    """A grey or RGB PNG may mark one value see-through (its tRNS chunk), which the page
    shows the white background through; its thumbnail was a JPEG, black where the page is
    white."""
    grey = Image.new("L", (8, 8), 0)
    grey.paste(40, (2, 2, 6, 6))
    grey.save(tmp_path / "logo.png", transparency=0)
    data, content_type = thumbnail(tmp_path / "logo.png", 8)
    assert content_type == "image/png"
    shown = Image.open(io.BytesIO(data)).convert("RGBA")
    assert shown.getpixel((0, 0))[3] == 0 and shown.getpixel((4, 4)) == (40, 40, 40, 255)
