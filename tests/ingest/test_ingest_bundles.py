"""Names of items' images in an export with its images: safe, and unique in their folder."""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from labelloop.ingest.bundles import ImageNames, bundled
from labelloop.ingest.conformance import sample_record


def test_images_sharing_a_base_name_get_unique_names_in_their_split_folder() -> None:
    names = ImageNames()
    assert names.name("uploads/a/1/images/train/a.png", item_id=3, split="pool") == (
        "images/train/a.png"
    )
    # another folder's a.png, and A.jpg (one YOLO label file, one file on macOS or Windows)
    assert names.name("cars/north/a.png", item_id=7, split="pool") == "images/train/a_7.png"
    assert names.name("cars/A.jpg", item_id=8, split="pool") == "images/train/A_8.jpg"
    assert names.name("cars/a_9.png", item_id=2, split="pool") == "images/train/a_9.png"
    assert names.name("cars/south/a.png", item_id=9, split="pool") == "images/train/a_9_2.png"
    assert names.name("other/a.png", item_id=4, split="eval") == "images/val/a.png"


def test_image_names_hold_no_folder_hidden_name_or_character_a_system_refuses() -> None:
    names = ImageNames()
    assert names.name("x/.hidden.png", item_id=1, split="pool") == "images/train/hidden.png"
    assert names.name('x/we:ird?<"|>.png', item_id=2, split="pool") == (
        "images/train/we_ird_____.png"
    )
    assert names.name("x/tab\there.png", item_id=3, split="pool") == "images/train/tab_here.png"
    assert names.name("x\\..\\..\\evil.png", item_id=4, split="pool") == "images/train/evil.png"
    assert names.name("/etc/..png", item_id=5, split="pool") == "images/train/item_5.png"


def test_bundled_copies_each_image_and_leaves_out_the_ones_without_a_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.png").write_bytes(b"first")
    (tmp_path / "b.png").write_bytes(b"second")
    os.utime(tmp_path / "b.png", (0, 0))  # 1970, before any zip date: kept as 1980
    files = {"x/a.png": tmp_path / "a.png", "y/a.png": tmp_path / "b.png"}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        given = [
            sample_record(n, text) for n, text in ((1, "x/a.png"), (2, "gone.png"), (3, "y/a.png"))
        ]
        opened: list[Any] = []

        def opening(record: Any) -> Any:
            found = files.get(str(record.text))
            opened.extend([] if found is None else [found.open("rb")])
            return opened[-1] if found is not None else None

        passed = list(bundled(given, archive, files=opening))
    assert len(opened) == 2 and all(file.closed for file in opened)
    assert [(r.item_id, r.text) for r in passed] == [
        (1, "images/train/a.png"),
        (3, "images/train/a_3.png"),
    ]
    with zipfile.ZipFile(out) as archive:
        assert archive.read("images/train/a_3.png") == b"second"
        assert archive.getinfo("images/train/a.png").compress_type == zipfile.ZIP_STORED


def test_an_image_opened_for_a_record_it_cannot_name_is_closed(tmp_path: Path) -> None:
    """A record refused before its image was copied (no folder of the zip holds its split)
    left the image opened for it to the garbage collector: it is closed as the export stops."""
    (tmp_path / "a.png").write_bytes(b"first")
    opened: list[Any] = []

    def opening(record: Any) -> Any:
        opened.append((tmp_path / "a.png").open("rb"))
        return opened[-1]

    gold = replace(sample_record(1, "x/a.png"), split="gold")
    with zipfile.ZipFile(io.BytesIO(), "w") as archive, pytest.raises(KeyError):
        list(bundled([gold], archive, files=opening))
    assert len(opened) == 1 and opened[0].closed
