"""Audio decoding for every dataset: one function turns any file into float32 mono at a target rate.

Audio files go through libsndfile (wav/flac/ogg/mp3/aiff, every PCM width, float and
WAVE_FORMAT_EXTENSIBLE); video containers and anything libsndfile refuses go through PyAV.
Resampling is always soxr (one resampler, recorded in result provenance), never chained.
Every failure surfaces as :class:`AudioDecodeError` naming the file and what to do.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4a", ".aac", ".m4v"})
RESAMPLER = f"soxr-{soxr.__version__}-HQ"


class AudioDecodeError(RuntimeError):
    """A file that cannot be turned into audio. ``path`` is the offending file."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class EmptyAudioError(AudioDecodeError):
    """A file of 0 bytes, or one that decodes to no audio frames."""


class NonFiniteAudioError(AudioDecodeError):
    """A file whose decoded samples include NaN or infinity."""


@dataclass(frozen=True)
class ClipPolicy:
    """How a task fixes clip length before embedding.

    ``duration_s`` None keeps each clip's own length. ``pad`` is "zeros" (pad at the end)
    or "repeat" (tile the clip, as the VGGSound loader does). ``crop`` is "start" or
    "center". The policy is part of the embedding-store key.
    """

    duration_s: float | None = None
    pad: str = "zeros"
    crop: str = "start"
    min_duration_s: float = 0.0

    def key(self) -> str:
        return f"dur={self.duration_s},pad={self.pad},crop={self.crop},min={self.min_duration_s}"

    def apply(self, wave: np.ndarray, sample_rate: int) -> np.ndarray:
        if self.duration_s is None:
            target = max(len(wave), int(round(self.min_duration_s * sample_rate)))
            return _pad(wave, target, self.pad) if target > len(wave) else wave
        target = int(round(self.duration_s * sample_rate))
        if len(wave) > target:
            start = (len(wave) - target) // 2 if self.crop == "center" else 0
            return wave[start : start + target]
        return _pad(wave, target, self.pad) if len(wave) < target else wave


def _pad(wave: np.ndarray, target: int, mode: str) -> np.ndarray:
    if mode == "repeat" and len(wave) > 0:
        reps = int(np.ceil(target / len(wave)))
        return np.tile(wave, reps)[:target].astype(np.float32, copy=False)
    if mode not in ("zeros", "repeat"):
        raise ValueError(f"unknown pad mode {mode!r}; use 'zeros' or 'repeat'")
    out = np.zeros(target, dtype=np.float32)
    out[: len(wave)] = wave
    return out


def load_audio(path: Path | str, sample_rate: int | None = None, mono: bool = True) -> tuple[np.ndarray, int]:
    """Decode ``path`` to float32 in [-1, 1]; mono (channel mean) unless ``mono`` is False.

    Returns ``(wave, rate)``. With ``sample_rate`` set the audio is resampled with soxr to it.
    Mono output is 1-D; multichannel output is [frames, channels].
    """
    path = Path(path)
    if not path.is_file():
        raise AudioDecodeError(path, "file not found; check the dataset root or re-download the file")
    if path.stat().st_size == 0:
        raise EmptyAudioError(path, "file is empty (0 bytes); re-download or remove it")
    if path.suffix.lower() in (".wav", ".wave"):
        _check_riff_complete(path)  # before any decoder: both would return the readable part
    if path.suffix.lower() in VIDEO_SUFFIXES:
        data, rate = _decode_av(path)
    else:
        try:
            data, rate = _decode_soundfile(path)
        except AudioDecodeError as sf_error:
            try:
                data, rate = _decode_av(path)
            except AudioDecodeError:
                raise sf_error from None
    if data.shape[0] == 0:
        raise EmptyAudioError(path, "file holds no audio frames; re-download or remove it")
    if not np.all(np.isfinite(data)):
        raise NonFiniteAudioError(path, "decoded audio contains NaN or infinite samples; the file is corrupt")
    if mono:
        data = data.mean(axis=1) if data.ndim == 2 else data
    if sample_rate is not None and sample_rate != rate:
        data = soxr.resample(data, rate, sample_rate, quality="HQ").astype(np.float32, copy=False)
        rate = sample_rate
    return np.ascontiguousarray(data, dtype=np.float32), rate


def _decode_soundfile(path: Path) -> tuple[np.ndarray, int]:
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise AudioDecodeError(path, f"cannot decode audio ({exc}); the file is corrupt or not audio") from exc
    return data, int(rate)


def _check_riff_complete(path: Path) -> None:
    """libsndfile silently returns the readable part of a truncated WAV; we refuse it instead."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            return  # not RIFF/WAVE: let libsndfile judge the format
        if head[:4] == b"RF64":
            return  # sizes live in the ds64 chunk; libsndfile validates those
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk = fh.read(8)
            cid, csize = chunk[:4], struct.unpack("<I", chunk[4:8])[0]
            if cid == b"data":
                if csize in (0, 0xFFFFFFFF):
                    return  # streaming writers leave the size open
                if pos + 8 + csize > size:
                    raise AudioDecodeError(
                        path,
                        f"truncated WAV: the header declares {csize} bytes of audio but only "
                        f"{size - pos - 8} are present; re-download or remove the file",
                    )
                return
            pos += 8 + csize + (csize & 1)
        raise AudioDecodeError(path, "WAV file has no data chunk; the file is corrupt")


def _decode_av(path: Path) -> tuple[np.ndarray, int]:
    import av

    try:
        with av.open(str(path)) as container:
            streams = container.streams.audio
            if not streams:
                raise AudioDecodeError(path, "container has no audio stream")
            stream = streams[0]
            frames: list[np.ndarray] = []
            rate = stream.rate or stream.codec_context.sample_rate
            for frame in container.decode(stream):
                frames.append(
                    _av_frame_to_float(frame.to_ndarray(), len(frame.layout.channels), frame.format.is_planar)
                )
                rate = frame.sample_rate or rate
    except AudioDecodeError:
        raise
    except Exception as exc:
        raise AudioDecodeError(path, f"cannot decode with PyAV ({exc}); the file is corrupt or unsupported") from exc
    if not frames or not rate:
        raise AudioDecodeError(path, "no audio frames could be decoded")
    return np.concatenate(frames, axis=0), int(rate)


def _av_frame_to_float(arr: np.ndarray, channels: int, planar: bool) -> np.ndarray:
    """PyAV gives planar [channels, samples] or packed [1, samples*channels]; return [samples, channels]."""
    data = arr.T if planar else arr.reshape(-1, max(1, channels))
    if np.issubdtype(data.dtype, np.integer):
        info = np.iinfo(data.dtype)
        if info.min == 0:  # unsigned 8-bit
            data = (data.astype(np.float32) - 128.0) / 128.0
        else:
            data = data.astype(np.float32) / float(-info.min)
    return data.astype(np.float32, copy=False)
