"""Featurizers for small images: raw pixels, and histograms of oriented gradients (HOG).

An image payload field holds an array (nested lists or an ndarray, height x width or height x
width x channels) or a path to a ``.npy`` file or an image file (read with Pillow). Every image
is laid on white where it is see-through (as the labeling page shows it), turned grey, resampled
to a fixed size and scaled to [0, 1], so images of any size and type
give rows of one width. HOG is the descriptor of Dalal & Triggs, "Histograms of Oriented
Gradients for Human Detection" (CVPR 2005): scikit-image's implementation when it is installed,
else a small NumPy one with per-cell histograms and L2-Hys normalisation over the whole vector.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Self

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from sklearn.base import BaseEstimator

from labelloop.errors import LabelloopError
from labelloop.learn.featurize import register_featurizer
from labelloop.pictures import MEDIA_ROOT, NAMED


def load_image(
    value: Any, *, root: str | None = None, named: str | None = None
) -> NDArray[np.float64] | None:
    """An image payload value as a float array, or ``None`` when the value is missing.

    Parameters
    ----------
    value : array-like, str or None
        Pixels, or a path (relative paths are taken under ``root``).
    root : str, optional
        The media root; a path that resolves outside it is refused.
    named : str, optional
        How an error names the file (the learner's payloads: its item and its path under the
        media root, :data:`labelloop.pictures.NAMED`); by default the path as given. The path
        it resolves to is never shown: a media root's place on disk is the server's business.

    Returns
    -------
    ndarray of shape (height, width) or (height, width, channels), or None
    """
    if value is None:
        return None
    if isinstance(value, str | Path):
        what = f"image file of {named}" if named else f"image file '{value}'"
        return np.asarray(_read_file(Path(value), root, what=what), dtype=np.float64)
    return _unit_scale(np.asarray(value))


def _read_file(path: Path, root: str | None, *, what: str) -> NDArray[np.float64]:
    """The pixels of the file at ``path``; errors name it as ``what``, never by ``path``."""
    from labelloop.pictures import as_shown, decoding, on_white, unreadable

    array = path.suffix.lower() == ".npy"
    if not array and importlib.util.find_spec("PIL") is None:
        raise LabelloopError("reading image files needs Pillow: pip install pillow")
    opened = _opened(path, root, what=what, kind=None if array or root is None else "image")
    with opened:
        if array:
            try:
                return _unit_scale(np.load(opened, allow_pickle=False))
            except (OSError, ValueError, EOFError) as exc:  # cut short, not an array, pickled
                reason = unreadable(exc, path, opened=opened)
                raise LabelloopError(f"{what} cannot be read: {reason}") from None
        from PIL import Image

        try:
            with Image.open(opened) as image, decoding(image):
                return _unit_scale(np.asarray(on_white(as_shown(image)).convert("L")))
        except (OSError, ValueError, Image.DecompressionBombError) as exc:  # cut short
            reason = unreadable(exc, path, opened=opened)
            raise LabelloopError(f"{what} cannot be read: {reason}") from None


def _opened(path: Path, root: str | None, *, what: str, kind: str | None) -> BinaryIO:
    """The file at ``path``, under a media ``root`` or (none) where its own path leads, opened
    as serving opens an image (no link followed, no named pipe waited on:
    :func:`~labelloop.ingest.media.open_under`), so what was checked is what is read; ``kind``
    None: a file of any kind (an array, a picture Pillow reads that serving does not)."""
    from labelloop.errors import NotFound
    from labelloop.ingest.media import open_under

    try:
        return open_under(path, root, kind=kind)
    except NotFound:
        raise LabelloopError(f"no {what}") from None
    except LabelloopError as exc:
        raise LabelloopError(f"{what} is refused: {exc.message}") from None


def _unit_scale(pixels: NDArray[Any]) -> NDArray[np.float64]:
    """Pixels in [0, 1]: integers by their type's range, other values by their own min and max."""
    if pixels.dtype == np.bool_:
        return pixels.astype(np.float64)
    if np.issubdtype(pixels.dtype, np.unsignedinteger):
        return pixels.astype(np.float64) / float(np.iinfo(pixels.dtype).max)
    values = pixels.astype(np.float64)
    if values.size == 0:
        return values
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    if low >= 0.0 and high <= 1.0:
        return np.nan_to_num(values)
    if low >= 0.0 and high <= 255.0 and np.issubdtype(pixels.dtype, np.integer):
        return values / 255.0
    span = high - low
    return np.nan_to_num((values - low) / span) if span > 0 else np.zeros_like(values)


def to_grey(image: NDArray[np.float64], size: tuple[int, int]) -> NDArray[np.float64]:
    """One image as a grey ``size`` array in [0, 1] (ITU-R BT.601 luma for colour images)."""
    if image.ndim == 3:
        luma = np.array([0.299, 0.587, 0.114])
        image = image[..., :3] @ luma if image.shape[2] >= 3 else image[..., 0]
    if image.ndim != 2 or min(image.shape) == 0:
        raise LabelloopError(f"an image must be 2-D or 3-D pixels, got shape {image.shape}")
    height, width = size
    if image.shape != (height, width):
        factors = (height / image.shape[0], width / image.shape[1])
        image = ndimage.zoom(image, factors, order=1, mode="nearest", grid_mode=True)
        image = image[:height, :width]
        if image.shape != (height, width):  # rounding left a row or column short
            image = np.pad(
                image, ((0, height - image.shape[0]), (0, width - image.shape[1])), mode="edge"
            )
    return np.clip(image, 0.0, 1.0)


class _ImageFeaturizer(BaseEstimator):
    """Shared payload handling: read, grey, resize; subclasses turn one image into one row."""

    cache_per_item: ClassVar[bool] = False  # cheap to recompute
    reads: ClassVar[tuple[str, ...]] = ("image",)

    def __init__(
        self, *, field: str = "image", size: tuple[int, int] = (16, 16), root: str | None = None
    ) -> None:
        self.field = field
        self.size = size
        self.root = root

    def _images(self, payloads: Sequence[Mapping[str, Any]]) -> list[NDArray[np.float64]]:
        size = (int(self.size[0]), int(self.size[1]))
        blank = np.zeros(size)
        out = []
        for payload in payloads:
            root = payload.get(MEDIA_ROOT) or self.root  # the learner's: where it was checked
            image = load_image(payload.get(self.field), root=root, named=payload.get(NAMED))
            out.append(blank if image is None or image.size == 0 else to_grey(image, size))
        return out

    def _row(self, image: NDArray[np.float64]) -> NDArray[np.float64]:
        raise NotImplementedError

    def fit(self, payloads: Sequence[Mapping[str, Any]]) -> Self:
        """Nothing to learn; records the output width.

        Returns
        -------
        self
        """
        self.n_features_out_ = int(self._row(np.zeros(tuple(self.size))).shape[0])
        return self

    def transform(self, payloads: Sequence[Mapping[str, Any]]) -> NDArray[np.float32]:
        """Map payloads to rows; a missing image gives the row of a blank one.

        Parameters
        ----------
        payloads : sequence of mapping, length n_images

        Returns
        -------
        ndarray of shape (n_images, n_features_out_), float32
        """
        rows = [self._row(image) for image in self._images(payloads)]
        if not rows:
            width = self._row(np.zeros(tuple(self.size))).shape[0]
            return np.empty((0, width), dtype=np.float32)
        return np.vstack(rows).astype(np.float32)

    def fit_transform(
        self, payloads: Sequence[Mapping[str, Any]], y: object = None
    ) -> NDArray[np.float32]:
        """``fit`` then ``transform``."""
        return self.fit(payloads).transform(payloads)


@register_featurizer("pixels")
class PixelFeaturizer(_ImageFeaturizer):
    """Raw grey pixels at a fixed size, scaled to [0, 1], row-major.

    Parameters
    ----------
    field : str
        Payload key holding the pixels or the path.
    size : tuple of int
        (height, width) every image is resampled to (bilinear).
    root : str, optional
        Media root that relative paths are read under.

    Attributes
    ----------
    n_features_out_ : int
        ``height * width``.
    """

    version: ClassVar[str] = "pixels-1"

    def _row(self, image: NDArray[np.float64]) -> NDArray[np.float64]:
        return image.ravel()


@register_featurizer("hog")
class HogFeaturizer(_ImageFeaturizer):
    """Histograms of oriented gradients of the grey image at a fixed size.

    Parameters
    ----------
    field, size, root
        As in :class:`PixelFeaturizer`.
    orientations : int
        Unsigned orientation bins over [0, 180) degrees.
    cell : int
        Cell side in pixels.

    Attributes
    ----------
    n_features_out_ : int
        Histogram length (it depends on the implementation in use, see ``version``).
    """

    def __init__(
        self,
        *,
        field: str = "image",
        size: tuple[int, int] = (16, 16),
        root: str | None = None,
        orientations: int = 9,
        cell: int = 4,
    ) -> None:
        super().__init__(field=field, size=size, root=root)
        self.orientations = orientations
        self.cell = cell

    @property
    def version(self) -> str:
        """Names the implementation: the two give different (each deterministic) rows."""
        return "hog-1-skimage" if _has_skimage() else "hog-1-numpy"

    def _row(self, image: NDArray[np.float64]) -> NDArray[np.float64]:
        if _has_skimage():
            from skimage.feature import hog

            return np.asarray(
                hog(
                    image,
                    orientations=self.orientations,
                    pixels_per_cell=(self.cell, self.cell),
                    cells_per_block=(1, 1),
                    block_norm="L2-Hys",
                    feature_vector=True,
                ),
                dtype=np.float64,
            )
        return numpy_hog(image, orientations=self.orientations, cell=self.cell)


def _has_skimage() -> bool:
    return importlib.util.find_spec("skimage") is not None


def numpy_hog(
    image: NDArray[np.float64], *, orientations: int = 9, cell: int = 4
) -> NDArray[np.float64]:
    """Per-cell histograms of unsigned gradient orientation, weighted by gradient magnitude.

    Parameters
    ----------
    image : ndarray of shape (height, width)
    orientations : int
    cell : int

    Returns
    -------
    ndarray of shape ((height // cell) * (width // cell) * orientations,)
        L2-Hys normalised (L2, clip at 0.2, L2 again); all zeros for a flat image.
    """
    gy, gx = np.gradient(image)
    magnitude = np.hypot(gx, gy)
    angle = np.rad2deg(np.arctan2(gy, gx)) % 180.0
    bins = np.minimum((angle / (180.0 / orientations)).astype(np.intp), orientations - 1)
    rows, cols = image.shape[0] // cell, image.shape[1] // cell
    hist = np.zeros((rows, cols, orientations))
    for r in range(rows):
        for c in range(cols):
            window = (slice(r * cell, (r + 1) * cell), slice(c * cell, (c + 1) * cell))
            hist[r, c] = np.bincount(
                bins[window].ravel(), weights=magnitude[window].ravel(), minlength=orientations
            )
    vector = hist.ravel()
    norm = np.linalg.norm(vector)
    if norm == 0:
        return vector
    vector = np.minimum(vector / norm, 0.2)
    return vector / np.linalg.norm(vector)
