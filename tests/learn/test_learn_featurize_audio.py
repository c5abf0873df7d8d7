"""Audio clips: WAV sound features that tell loud from quiet and low from high, and safe misses."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from labelloop.errors import LabelloopError
from labelloop.learn import AudioFeaturizer
from labelloop.learn.audio import read_wav, sound_features


def write_tone(path: Path, *, hz: float, seconds: float, volume: float, rate: int = 8000) -> Path:
    """A mono 16-bit sine tone written with the standard library."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(rate * seconds)
    frames = b"".join(
        struct.pack("<h", int(volume * 32767 * math.sin(2 * math.pi * hz * i / rate)))
        for i in range(n)
    )
    with wave.open(str(path), "wb") as clip:
        clip.setnchannels(1)
        clip.setsampwidth(2)
        clip.setframerate(rate)
        clip.writeframes(frames)
    return path


def test_wav_samples_are_read_as_unit_floats(tmp_path: Path) -> None:
    samples, rate = read_wav(write_tone(tmp_path / "a.wav", hz=440, seconds=0.5, volume=0.5))
    assert rate == 8000 and samples.shape == (4000,)
    assert 0.45 < np.abs(samples).max() <= 0.5


def test_sound_features_separate_pitch_and_loudness(tmp_path: Path) -> None:
    low, rate = read_wav(write_tone(tmp_path / "low.wav", hz=200, seconds=1, volume=0.8))
    high, _ = read_wav(write_tone(tmp_path / "high.wav", hz=2500, seconds=1, volume=0.1))
    f_low = sound_features(low, rate, n_bands=8)
    f_high = sound_features(high, rate, n_bands=8)
    assert f_low[1] > f_high[1]  # RMS: the loud tone is louder
    assert f_high[2] > f_low[2]  # zero crossings: the high tone crosses more often
    assert f_high[3] > f_low[3]  # spectral centroid
    assert np.argmax(f_low[4:]) < np.argmax(f_high[4:])  # energy sits in a higher band


def test_unreadable_or_relative_clips_get_zero_sound_rows(tmp_path: Path) -> None:
    wav = write_tone(tmp_path / "dogs" / "bark.wav", hz=600, seconds=0.3, volume=0.6)
    (tmp_path / "broken.wav").write_bytes(b"RIFF....WAVEnot really")
    payloads = [
        {"audio": str(wav)},
        {"audio": str(tmp_path / "broken.wav")},
        {"audio": "dogs/bark.wav"},  # relative: never read from the working directory
        {"audio": None},
    ]
    f = AudioFeaturizer(n_bands=4, n_name_features=16)
    X = f.fit_transform(payloads)
    assert X.shape == (4, 4 + 4 + 16) and np.isfinite(X).all()
    sound = X[:, :8]
    assert not np.allclose(sound[0], sound[1])
    assert np.allclose(sound[1], sound[2]) and np.allclose(sound[2], sound[3])
    assert np.allclose(f.transform(payloads), X)


@pytest.mark.parametrize("swapped", ["pipe", "link"])
@pytest.mark.parametrize("reader", ["featurizer", "read_wav"])
def test_a_clip_named_by_its_own_path_is_not_heard_once_swapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swapped: str, reader: str
) -> None:
    """A clip named by its absolute path (no media root: a library user's own files) was
    checked to be a file and then opened by its path: a named pipe put in its place meanwhile
    hung the featurizer for good, and a link put there was followed. It is opened as serving
    opens a clip now: the featurizer hears it as a clip it cannot read, read_wav refuses it."""
    from tests.media_swaps import outcome_of, pipe_seen_as_file, swap_once_seen

    quiet = write_tone(tmp_path / "clips" / "a.wav", hz=300, seconds=0.2, volume=0.1)
    target = write_tone(tmp_path / "clips" / "b.wav", hz=300, seconds=0.2, volume=0.1)
    loud = write_tone(tmp_path / "loud.wav", hz=2000, seconds=0.5, volume=0.9)
    if swapped == "link":
        swap_once_seen(monkeypatch, target, to=loud)
    else:
        target.unlink()
        pipe_seen_as_file(monkeypatch, target)
    f = AudioFeaturizer(n_bands=4, n_name_features=16)
    payloads = [{"audio": str(quiet)}, {"audio": str(target)}]
    if reader == "read_wav":
        outcome = outcome_of(lambda: read_wav(target), pipe=target)
        assert isinstance(outcome, LabelloopError), outcome
        assert "changed while it was read" in outcome.message
        return
    X = outcome_of(lambda: f.fit_transform(payloads), pipe=target)
    unread = f.fit_transform([payloads[0], {"audio": None}])
    assert isinstance(X, np.ndarray) and np.allclose(X[:, :8], unread[:, :8])
