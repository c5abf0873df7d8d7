"""Audio clips: loudness, noisiness and a coarse spectrum of WAV files, plus the clip's name.

A clip's row joins two parts. The sound part reads PCM WAV files with the standard library's
``wave`` module: duration, RMS loudness, zero-crossing rate (Kedem, "Spectral analysis and
discrimination by zero-crossings", Proc. IEEE 1986), spectral centroid and the log energy in
``n_bands`` equal-width frequency bands of the whole clip, averaged over frames. The name part
hashes character n-grams of the file's path (folder and file names often say what a clip is).
Files that cannot be read (MP3, Ogg, FLAC, missing files, relative paths outside a media root)
get zeros for the sound part, so a project never fails a round because of one clip.
"""

from __future__ import annotations

import wave
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Self

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import StandardScaler

from labelloop.errors import LabelloopError
from labelloop.learn.featurize import register_featurizer
from labelloop.pictures import MEDIA_ROOT

MAX_SECONDS = 120.0
"""Only the first two minutes of a clip are analysed, bounding the work per item."""
FRAME = 2048


def read_wav(
    path: str | Path | BinaryIO, *, max_seconds: float = MAX_SECONDS
) -> tuple[NDArray[Any], int]:
    """A WAV file's samples (of the file at ``path``, or the file opened) as mono floats in
    [-1, 1] and its sample rate.

    Returns
    -------
    samples : ndarray of shape (n_samples,)
    rate : int
    """
    if isinstance(path, str | Path):  # opened as serving opens a clip: see _opened
        with _opened(str(path), None) as opened:
            return read_wav(opened, max_seconds=max_seconds)
    with wave.open(path, "rb") as clip:
        rate = clip.getframerate()
        width = clip.getsampwidth()
        channels = clip.getnchannels()
        frames = clip.readframes(min(clip.getnframes(), int(rate * max_seconds)))
    if width == 1:
        data = (np.frombuffer(frames, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0
    elif width == 4:
        data = np.frombuffer(frames, dtype="<i4").astype(np.float64) / 2147483648.0
    else:
        raise ValueError(f"unsupported WAV sample width {width}")
    if channels > 1:
        data = data[: len(data) // channels * channels].reshape(-1, channels).mean(axis=1)
    return data, rate


def sound_features(samples: NDArray[Any], rate: int, *, n_bands: int) -> NDArray[np.float64]:
    """Duration, RMS, zero-crossing rate, spectral centroid and band log energies of a clip.

    Returns
    -------
    ndarray of shape (4 + n_bands,)
    """
    out = np.zeros(4 + n_bands)
    if samples.size == 0 or rate <= 0:
        return out
    out[0] = np.log1p(samples.size / rate)
    out[1] = np.sqrt(np.mean(samples**2))
    out[2] = (
        np.mean(np.abs(np.diff(np.signbit(samples).astype(np.int8)))) if samples.size > 1 else 0
    )
    n_frames = max(1, samples.size // FRAME)
    frames = np.resize(samples, (n_frames, FRAME)) if samples.size >= FRAME else samples[None, :]
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(frames.shape[1]), axis=1)).mean(axis=0)
    freqs = np.fft.rfftfreq(frames.shape[1], d=1.0 / rate)
    total = spectrum.sum()
    out[3] = float((freqs * spectrum).sum() / total / (rate / 2)) if total > 0 else 0.0
    bands = np.array_split(spectrum**2, n_bands)
    out[4:] = np.log1p([band.sum() for band in bands])
    return out


def _opened(path: str, root: str | None) -> BinaryIO:
    """The clip at ``path``, opened as serving opens it (no link followed, no named pipe waited
    on: :func:`~labelloop.ingest.media.open_under`): under the learner's media ``root``, so
    what was checked there is what is heard, or without one where its own path leads."""
    from labelloop.ingest.media import open_under

    return open_under(path, root, kind="audio")


@register_featurizer("audio")
class AudioFeaturizer(BaseEstimator):
    """Standardised sound features of WAV clips and hashed n-grams of the clip's path.

    Parameters
    ----------
    field : str
        Payload key holding the clip's path (absolute when the learner resolved it).
    n_bands : int
        Frequency bands of the coarse spectrum.
    n_name_features : int
        Hashed columns for the path's character n-grams.

    Attributes
    ----------
    scaler_ : StandardScaler
    n_features_out_ : int
    """

    version: ClassVar[str] = "audio-1"
    reads: ClassVar[tuple[str, ...]] = ("audio",)

    def __init__(
        self, *, field: str = "audio", n_bands: int = 16, n_name_features: int = 256
    ) -> None:
        self.field = field
        self.n_bands = n_bands
        self.n_name_features = n_name_features

    def _sound(self, payloads: Sequence[Mapping[str, Any]]) -> NDArray[np.float64]:
        rows = np.zeros((len(payloads), 4 + self.n_bands))
        for i, payload in enumerate(payloads):
            path = payload.get(self.field)
            if not isinstance(path, str) or not path.lower().endswith(".wav"):
                continue
            root = payload.get(MEDIA_ROOT)
            if root is None and not Path(path).is_absolute():
                continue  # never a clip read from the working directory
            try:
                with _opened(path, root) as opened:
                    samples, rate = read_wav(opened)
            except (LabelloopError, OSError, EOFError, ValueError, RuntimeError, wave.Error):
                continue  # refused or broken files
            rows[i] = sound_features(samples, rate, n_bands=self.n_bands)
        return rows

    def _names(self, payloads: Sequence[Mapping[str, Any]]) -> NDArray[np.float64]:
        names = []
        for payload in payloads:
            path = payload.get(self.field)
            names.append(" ".join(Path(path).parts[-2:]) if isinstance(path, str) else "")
        hasher = HashingVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 4),
            n_features=self.n_name_features,
            alternate_sign=False,
            norm="l2",
        )
        return hasher.transform(names).toarray()

    def fit(self, payloads: Sequence[Mapping[str, Any]]) -> Self:
        """Learn the mean and scale of each sound feature.

        Parameters
        ----------
        payloads : sequence of mapping, length n_clips

        Returns
        -------
        self
        """
        self.fit_transform(payloads)
        return self

    def transform(self, payloads: Sequence[Mapping[str, Any]]) -> NDArray[np.float64]:
        """Rows for clips.

        Returns
        -------
        ndarray of shape (n_clips, 4 + n_bands + n_name_features)
        """
        if not payloads:
            return np.zeros((0, self.n_features_out_))
        sound = self.scaler_.transform(self._sound(payloads))
        return np.hstack([sound, self._names(payloads)])

    def fit_transform(
        self, payloads: Sequence[Mapping[str, Any]], y: object = None
    ) -> NDArray[np.float64]:
        """Fit and transform in one pass over the files.

        Returns
        -------
        ndarray of shape (n_clips, 4 + n_bands + n_name_features)
        """
        sound = self._sound(payloads)
        self.scaler_ = StandardScaler().fit(
            sound if len(payloads) else np.zeros((1, sound.shape[1]))
        )
        X = np.hstack([self.scaler_.transform(sound), self._names(payloads)])
        self.n_features_out_ = X.shape[1]
        return X
