"""Boxes between frames: a declared size or fractions of the image, scaled to the file's pixels."""

from __future__ import annotations

import pytest

from labelloop.domain import BoxFrame, ItemIn
from labelloop.errors import ImportFormatError, LabelloopError
from labelloop.ingest.boxes import placed, recorded_size
from labelloop.ingest.conformance import sample_record

BOX = {"x": 10, "y": 5, "w": 20, "h": 10, "label": "car"}


def _record(frame: BoxFrame | None, **boxes: object) -> ItemIn:
    return ItemIn(line=1, payload={"image": "a.png"}, frame=frame, **boxes)


def test_a_declared_size_other_than_the_files_scales_the_boxes_and_is_told() -> None:
    record = _record(
        BoxFrame(200, 100),
        label={"objects": [BOX]},
        prediction={"objects": [{**BOX, "score": 0.5}]},
    )
    moved, note = placed(record, {"width": 100, "height": 50})
    assert moved.label == {"objects": [{"x": 5.0, "y": 2.5, "w": 10.0, "h": 5.0, "label": "car"}]}
    assert moved.prediction["objects"][0] == {**moved.label["objects"][0], "score": 0.5}
    assert note == (
        "'a.png': the file gives its size as 200×100 but the image is 100×50 pixels; "
        "its boxes were scaled to the image"
    )


@pytest.mark.parametrize(
    ("declared", "real"),
    [((4000, 3000), (1333, 1000)), ((4000, 3000), (15, 11)), ((1000, 10), (501, 5))],
)
def test_a_resized_copy_keeps_its_shape_within_a_pixel_and_its_boxes_are_scaled(
    declared: tuple[int, int], real: tuple[int, int]
) -> None:
    record = _record(BoxFrame(*declared), label={"objects": [BOX]})
    moved, note = placed(record, {"width": real[0], "height": real[1]})
    assert moved.label["objects"][0]["w"] == pytest.approx(20 * real[0] / declared[0])
    assert note is not None and note.endswith("its boxes were scaled to the image")


def test_a_photo_that_shows_turned_is_refused_not_stretched() -> None:
    # a phone's photo declared as its sensor wrote it; its EXIF rotation shows it 3000×4000
    record = _record(BoxFrame(4000, 3000), label={"objects": [BOX]})
    for size in ((3000, 4000), (750, 1000)):  # the image turned, or a turned smaller copy
        with pytest.raises(ImportFormatError) as caught:
            placed(record, {"width": size[0], "height": size[1]})
        assert caught.value.message == (
            f"line 1: 'a.png': the file gives its size as 4000×3000 but the image is "
            f"{size[0]}×{size[1]} pixels: it appears turned (an EXIF rotation, or a turned "
            "copy), and its boxes, measured on the image unturned, would land elsewhere; give "
            "the boxes and size of the image as it shows"
        )


def test_an_image_of_another_shape_than_declared_is_refused() -> None:
    record = _record(BoxFrame(200, 100), prediction={"objects": [{**BOX, "score": 0.5}]})
    with pytest.raises(ImportFormatError) as caught:
        placed(record, {"width": 100, "height": 100})
    assert caught.value.message == (
        "line 1: 'a.png': the file gives its size as 200×100 but the image is 100×100 pixels, "
        "of another shape: its boxes, scaled to it, would be stretched; give the image's own size"
    )
    empty = _record(BoxFrame(200, 100), label={"objects": []})  # no box to stretch: it comes in
    assert placed(empty, {"width": 100, "height": 200})[0].label == {"objects": []}


def test_an_image_with_no_boxes_has_nothing_scaled_and_is_not_told() -> None:
    for label in (None, {"objects": []}):
        record = _record(BoxFrame(200, 100), label=label)
        assert placed(record, {"width": 100, "height": 50}) == (record, None)


def test_the_files_own_size_changes_nothing() -> None:
    record = _record(BoxFrame(100, 50), label={"objects": [BOX]})
    assert placed(record, {"width": 100, "height": 50}) == (record, None)


def test_fractions_of_the_image_become_pixels_without_a_note() -> None:
    record = _record(
        BoxFrame(1, 1, declared=False),
        label={"objects": [{"x": 0.25, "y": 0.5, "w": 0.5, "h": 0.25, "label": "car"}]},
    )
    moved, note = placed(record, {"width": 40, "height": 30})
    assert note is None
    assert moved.label == {"objects": [{"x": 10.0, "y": 15.0, "w": 20.0, "h": 7.5, "label": "car"}]}


def test_what_is_no_box_is_left_for_the_schema_to_name() -> None:
    odd = {"objects": [{"x": "ten", "y": 5, "w": 20, "h": 10}, "box"], "scene": "day"}
    moved, _ = placed(_record(BoxFrame(2, 2), label=odd), {"width": 1, "height": 1})
    assert moved.label == {
        "objects": [{"x": "ten", "y": 2.5, "w": 10.0, "h": 5.0}, "box"],
        "scene": "day",
    }


def test_an_export_of_an_image_with_no_recorded_size_names_the_item() -> None:
    with pytest.raises(LabelloopError) as caught:
        recorded_size(sample_record(1), "YOLO", unit="fractions")
    assert caught.value.message == (
        "item 1 has no image size, which YOLO's boxes (in fractions of it) need; import the "
        "image again to read it"
    )
