"""Pixels and HOG: any image size and type in, fixed-width rows in [0, 1] out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from labelloop.errors import LabelloopError
from labelloop.learn import HogFeaturizer, PixelFeaturizer, check_featurizer
from labelloop.learn.images import load_image, numpy_hog, to_grey


def test_pixels_are_resized_greyed_and_scaled() -> None:
    rgb = np.zeros((4, 6, 3), dtype=np.uint8)
    rgb[:, :3] = 255  # left half white
    f = PixelFeaturizer(size=(2, 2)).fit([])
    X = f.transform([{"image": rgb}, {"image": [[0, 10], [20, 40]]}, {}])
    assert X.shape == (3, 4) and X.dtype == np.float32
    assert np.allclose(X[0], [1, 0, 1, 0], atol=0.01)  # white left, black right, each row
    assert np.allclose(X[1], np.array([0, 10, 20, 40]) / 255)  # 0..255 integers
    assert np.all(X[2] == 0)  # no image: a blank row
    assert f.n_features_out_ == 4


def test_float_pixels_outside_unit_range_are_min_max_scaled() -> None:
    digit = load_digits().images[0]  # floats 0..15 here
    row = PixelFeaturizer(size=(8, 8)).fit([]).transform([{"image": digit}])[0]
    assert row.min() == 0.0 and row.max() == 1.0
    assert np.allclose(row, digit.ravel() / digit.max())


def test_paths_are_read_under_the_media_root_only(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.eye(4, dtype=np.uint8) * 255)
    f = PixelFeaturizer(size=(4, 4), root=str(tmp_path)).fit([])
    assert np.allclose(f.transform([{"image": "a.npy"}])[0], np.eye(4).ravel())
    with pytest.raises(LabelloopError, match="'..' is refused") as refused:
        f.transform([{"image": "../elsewhere.npy"}])
    assert str(tmp_path) not in refused.value.message  # the root's place on disk is not shown
    with pytest.raises(LabelloopError, match="no image file 'missing.npy'"):
        f.transform([{"image": "missing.npy"}])
    (tmp_path / "cut.npy").write_bytes(b"\x93NUMPY")
    with pytest.raises(LabelloopError) as refused:
        f.transform([{"image": "cut.npy", "named": "item 7 ('cut.npy')"}])
    assert refused.value.message.startswith("image file of item 7 ('cut.npy') cannot be read: ")
    assert str(tmp_path) not in refused.value.message


def test_image_files_are_read_with_pillow(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    pixels = np.zeros((10, 10), dtype=np.uint8)
    pixels[:5] = 200
    image.fromarray(pixels).save(tmp_path / "top.png")
    grey = load_image(str(tmp_path / "top.png"))
    assert grey is not None and grey.shape == (10, 10)
    assert np.isclose(grey[0, 0], 200 / 255) and grey[9, 9] == 0


def test_an_image_over_a_hundred_megapixels_fails_the_round_naming_it(tmp_path: Path) -> None:
    """A file that grew past the limit after its import is not decoded (over half a gigabyte
    for a few KiB): the round fails naming the item and its file."""
    from tests.ingest.test_ingest_imaging import declared_png

    declared_png(tmp_path / "huge.png", 12_000, 10_000)
    f = PixelFeaturizer(size=(4, 4), root=str(tmp_path)).fit([])
    with pytest.raises(LabelloopError) as refused:
        f.transform([{"image": "huge.png", "named": "item 7 ('huge.png')"}])
    assert refused.value.message == (
        "image file of item 7 ('huge.png') cannot be read: it is 12,000×10,000 pixels "
        "(120 megapixels); labelloop reads images of at most 100 megapixels"
    )


def test_a_sixteen_bit_grey_png_is_read_as_dark_as_it_shows(tmp_path: Path) -> None:
    """A 16-bit grey PNG (a scanner's, a microscope's) is 15% grey where the browser shows it
    dark: the learner read it through Pillow's convert("L"), which clips 16-bit values at 255,
    and saw every such image as white, whatever it showed."""
    image = pytest.importorskip("PIL.Image")
    pixels = np.full((6, 8), 10_000, dtype=np.uint16)
    pixels[:3] = 60_000
    image.fromarray(pixels).save(tmp_path / "scan.png")
    assert image.open(tmp_path / "scan.png").mode.startswith("I")
    grey = load_image(str(tmp_path / "scan.png"))
    assert grey is not None and grey.shape == (6, 8)
    assert np.allclose(grey[5, 0], 10_000 / 65_535, atol=0.01)
    assert np.allclose(grey[0, 0], 60_000 / 65_535, atol=0.01)


def test_a_photo_turned_by_exif_is_learned_upright_as_it_shows(tmp_path: Path) -> None:
    """A phone stores a portrait photo as a landscape one with an EXIF orientation; the labeling
    page shows it upright, the learner read it on its side: the same picture stored two ways
    gave two different rows, and what was learned was not what the annotator saw."""
    image = pytest.importorskip("PIL.Image")
    upright = np.zeros((40, 20), dtype=np.uint8)
    upright[:10] = 255  # a white band at the top of a portrait picture
    image.fromarray(upright).save(tmp_path / "upright.jpg", quality=95)
    exif = image.Exif()
    exif[0x0112] = 6  # "turn 90 degrees clockwise to view": stored turned the other way
    stored = np.rot90(upright, k=1)  # what the camera wrote, 20 high and 40 wide
    image.fromarray(np.ascontiguousarray(stored)).save(
        tmp_path / "phone.jpg", quality=95, exif=exif
    )
    f = PixelFeaturizer(size=(8, 4), root=str(tmp_path)).fit([])
    rows = f.transform([{"image": "upright.jpg"}, {"image": "phone.jpg"}])
    assert np.allclose(rows[0], rows[1], atol=0.05)
    assert rows[1].reshape(8, 4)[0].mean() > 0.9 and rows[1].reshape(8, 4)[-1].mean() < 0.1


def _transparent(mode: str) -> Any:
    """An 8x8 picture in ``mode``, see-through (black under the transparency) but for a dark
    opaque 4x4 square in its middle."""
    from PIL import Image

    rgba = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    rgba.paste((40, 40, 40, 255), (2, 2, 6, 6))
    if mode == "RGBA":
        return rgba
    if mode == "LA":
        return rgba.convert("LA")
    if mode == "P":  # a palette with one see-through entry (PNG's tRNS chunk)
        palette = Image.new("P", (8, 8), 0)
        palette.putpalette([0, 0, 0, 40, 40, 40] + [0] * 762)
        palette.paste(1, (2, 2, 6, 6))
        palette.info["transparency"] = 0
        return palette
    grey = Image.new("L", (8, 8), 0)  # one grey value marked see-through (tRNS)
    grey.paste(40, (2, 2, 6, 6))
    grey.info["transparency"] = 0
    return grey


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L"])
def test_a_transparent_png_is_learned_over_white_as_the_page_shows_it(
    tmp_path: Path, mode: str
) -> None:
    """The labeling page shows a see-through PNG (a logo, a cut-out) over white; the learner
    read its see-through pixels as the black stored under them, so it learned a dark picture
    the annotator never saw."""
    picture = _transparent(mode)
    picture.save(tmp_path / "logo.png", **({"transparency": 0} if mode in ("P", "L") else {}))
    grey = load_image("logo.png", root=str(tmp_path))
    assert grey is not None and grey.shape == (8, 8)
    assert np.allclose(grey[0], 1.0) and np.allclose(grey[:, 0], 1.0)  # white around it
    assert np.allclose(grey[2:6, 2:6], 40 / 255, atol=0.01)  # the dark square as it is
    row = (
        PixelFeaturizer(size=(8, 8), root=str(tmp_path)).fit([]).transform([{"image": "logo.png"}])
    )
    assert np.allclose(row[0].reshape(8, 8)[7], 1.0)


def test_bad_shapes_are_clear_errors() -> None:
    with pytest.raises(LabelloopError, match="2-D or 3-D"):
        to_grey(np.zeros(5), (2, 2))


def test_hog_sees_edge_orientation() -> None:
    vertical = np.zeros((8, 8))
    vertical[:, 4:] = 1.0  # a vertical edge: horizontal gradient, orientation bin 0
    horizontal = vertical.T
    a = numpy_hog(vertical, orientations=4, cell=4).reshape(2, 2, 4)
    b = numpy_hog(horizontal, orientations=4, cell=4).reshape(2, 2, 4)
    assert a[..., 0].sum() > 0 and a[..., 2].sum() == 0
    assert b[..., 2].sum() > 0 and b[..., 0].sum() == 0  # 90 degrees: bin 2 of 4
    assert np.isclose(np.linalg.norm(numpy_hog(vertical)), 1.0)
    assert not numpy_hog(np.ones((8, 8))).any()  # flat image, no gradient


def test_hog_featurizer_width_and_version() -> None:
    f = HogFeaturizer(size=(16, 16), cell=4, orientations=9).fit([])
    X = f.transform([{"image": np.random.default_rng(0).random((20, 20))}])
    assert X.shape == (1, f.n_features_out_)
    assert f.version in ("hog-1-numpy", "hog-1-skimage")


@pytest.mark.parametrize("cls", [PixelFeaturizer, HogFeaturizer])
def test_conformance(cls: type) -> None:
    check_featurizer(cls)


@pytest.mark.parametrize(
    "featurizer", [PixelFeaturizer(size=(8, 8)), HogFeaturizer(size=(16, 16), cell=4)]
)
def test_digits_are_learnable_from_either_representation(featurizer: Any) -> None:
    digits = load_digits()
    payloads = [{"image": image} for image in digits.images]
    X = featurizer.fit_transform(payloads)
    model = LogisticRegression(max_iter=2000).fit(X[:1000], digits.target[:1000])
    assert model.score(X[1000:], digits.target[1000:]) > 0.85


def _write_image(path: Path, shade: int) -> None:
    """A 4x4 grey image at ``path``: an array for ``.npy``, a PNG otherwise."""
    pixels = np.full((4, 4), shade, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        np.save(path, pixels)
    else:
        from PIL import Image

        Image.fromarray(pixels).save(path)


@pytest.mark.parametrize("swapped", ["pipe", "link"])
@pytest.mark.parametrize(("name", "rooted"), [("a.npy", True), ("a.npy", False), ("a.png", False)])
def test_an_image_file_swapped_just_after_its_check_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swapped: str, name: str, rooted: bool
) -> None:
    """An array under a media root, and any image file named by its own path, was checked
    and then read by its path: a named pipe put in its place meanwhile hung the featurizer for
    good, and a link put there was followed (out of the media root, for an array under one).
    Each is opened as serving opens an image now, and refused naming the file."""
    from tests.media_swaps import outcome_of, pipe_seen_as_file, swap_once_seen

    media = tmp_path / "media"
    target = media / name
    _write_image(target, 10)
    secret = tmp_path / f"secret{target.suffix}"
    _write_image(secret, 250)
    if swapped == "link":
        swap_once_seen(monkeypatch, target, to=secret)
    else:
        target.unlink()
        pipe_seen_as_file(monkeypatch, target)
    value, root = (name, str(media)) if rooted else (str(target), None)
    outcome = outcome_of(lambda: load_image(value, root=root), pipe=target)
    assert isinstance(outcome, LabelloopError), outcome  # not the secret's pixels
    said = f"image file '{value}' is refused: media path '{value}': changed while it was read"
    assert outcome.message.startswith(said), outcome.message
