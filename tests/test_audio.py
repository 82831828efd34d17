"""Audio I/O: every container/format the datasets use, errors that name the file."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from bench.audio import AudioDecodeError, ClipPolicy, load_audio


def sine(freq: float, sr: int, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize(
    ("fmt", "subtype", "tol"),
    [
        ("WAV", "PCM_U8", 1 / 64),
        ("WAV", "PCM_16", 1e-4),
        ("WAV", "PCM_24", 1e-6),
        ("WAV", "PCM_32", 1e-8),
        ("WAV", "FLOAT", 0.0),
        ("WAV", "DOUBLE", 1e-7),
        ("WAVEX", "PCM_24", 1e-6),
        ("FLAC", "PCM_16", 1e-4),
    ],
)
def test_pcm_and_float_formats_round_trip(tmp_path: Path, fmt: str, subtype: str, tol: float) -> None:
    x = sine(440, 16000)
    path = tmp_path / f"x.{'flac' if fmt == 'FLAC' else 'wav'}"
    sf.write(path, x, 16000, format=fmt, subtype=subtype)
    if fmt == "WAVEX":
        assert struct.unpack("<H", path.read_bytes()[20:22])[0] == 0xFFFE  # WAVE_FORMAT_EXTENSIBLE tag
    y, sr = load_audio(path)
    assert sr == 16000 and y.dtype == np.float32 and y.shape == x.shape
    assert np.max(np.abs(y - x)) <= tol + 1e-9


def test_ogg_and_mp3_decode(tmp_path: Path) -> None:
    x = sine(440, 44100, 1.0)
    for ext, fmt in (("ogg", "OGG"), ("mp3", "MP3")):
        path = tmp_path / f"x.{ext}"
        sf.write(path, x, 44100, format=fmt)
        y, sr = load_audio(path, sample_rate=16000)
        assert sr == 16000
        assert abs(len(y) - 16000) < 1600  # mp3 adds encoder delay/padding
        spec = np.abs(np.fft.rfft(y[:8000]))
        assert abs(np.argmax(spec) * 16000 / 8000 - 440) <= 4


def test_stereo_is_downmixed_to_channel_mean(tmp_path: Path) -> None:
    left, right = sine(440, 8000), sine(1000, 8000) * 0.5
    sf.write(tmp_path / "s.wav", np.stack([left, right], 1), 8000, subtype="FLOAT")
    y, _ = load_audio(tmp_path / "s.wav")
    np.testing.assert_allclose(y, (left + right) / 2, atol=1e-7)
    both, _ = load_audio(tmp_path / "s.wav", mono=False)
    assert both.shape == (len(left), 2)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000])
def test_resampling_keeps_duration_and_pitch(tmp_path: Path, rate: int) -> None:
    sf.write(tmp_path / "r.wav", sine(1000, rate, 1.0), rate, subtype="PCM_24")
    y, sr = load_audio(tmp_path / "r.wav", sample_rate=16000)
    assert sr == 16000 and len(y) == 16000
    spec = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spec) - 1000) <= 1  # 1 Hz bins over one second


def test_video_audio_track_via_pyav(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    with av.open(str(path), "w") as c:
        v = c.add_stream("mpeg4", rate=10)
        v.width, v.height, v.pix_fmt = 32, 32, "yuv420p"
        a = c.add_stream("aac", rate=16000)
        a.layout = "stereo"
        for i in range(10):
            for p in v.encode(av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 20, np.uint8), format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        x = np.stack([sine(440, 16000, 1.0), sine(440, 16000, 1.0)])
        frame = av.AudioFrame.from_ndarray(x, format="fltp", layout="stereo")
        frame.sample_rate = 16000
        for p in a.encode(frame):
            c.mux(p)
        for p in a.encode(None):
            c.mux(p)
    y, sr = load_audio(path)
    assert sr == 16000 and abs(len(y) - 16000) < 2048
    spec = np.abs(np.fft.rfft(y[2048:10240]))
    assert abs(np.argmax(spec) * 16000 / 8192 - 440) < 4


def test_errors_name_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.wav"
    sf.write(good, sine(440, 8000), 8000, subtype="PCM_16")
    data = good.read_bytes()
    cases = {
        "missing.wav": None,
        "empty.wav": b"",
        "junk.wav": bytes(range(256)) * 20,
        "truncated.wav": data[: len(data) // 2],
        "header_only.wav": data[:44],
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(AudioDecodeError) as err:
            load_audio(path)
        assert err.value.path == path
        assert str(path) in str(err.value)


def test_clip_policy_pads_and_crops() -> None:
    x = np.arange(10, dtype=np.float32) + 1
    assert list(ClipPolicy(duration_s=1.5).apply(x, 10)) == list(x) + [0.0] * 5
    assert list(ClipPolicy(duration_s=1.5, pad="repeat").apply(x, 10)) == list(x) + list(x[:5])
    assert list(ClipPolicy(duration_s=0.4).apply(x, 10)) == [1, 2, 3, 4]
    assert list(ClipPolicy(duration_s=0.4, crop="center").apply(x, 10)) == [4, 5, 6, 7]
    assert len(ClipPolicy(duration_s=None, min_duration_s=2.0).apply(x, 10)) == 20
    assert ClipPolicy(duration_s=1.0).apply(x, 10) is x
