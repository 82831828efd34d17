"""bench.video.read_frames picks, by presentation time, the latest frame at or before each target
instant, and converts only those frames to RGB (issue 16): checked on a small video whose frames
carry their own index as a grey level."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.audio import AudioDecodeError
from bench.video import read_frames

FPS = 25
N = 50  # 2 s
STEP = 5  # grey level of frame i: STEP * i (a lossless RGB codec keeps it exactly)


def _video(path: Path) -> Path:
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as out:
        stream = out.add_stream("png", rate=FPS)
        stream.width = stream.height = 32
        stream.pix_fmt = "rgb24"
        for i in range(N):
            img = np.full((32, 32, 3), STEP * i, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _indices(frames: np.ndarray) -> list[int]:
    assert all((f == f.flat[0]).all() and f.flat[0] % STEP == 0 for f in frames)
    return [int(f.flat[0]) // STEP for f in frames]


def test_frames_at_target_times_are_the_latest_shown(tmp_path: Path) -> None:
    video = _video(tmp_path / "v.mov")
    # 10 fps from 0.5 s for 1 s: instants 0.5, 0.6, ... 1.4 s show frames floor(t * 25)
    got = read_frames(video, fps=10, start_s=0.5, duration_s=1.0)
    assert got.shape == (10, 32, 32, 3) and got.dtype == np.uint8
    assert _indices(got) == [int(np.floor(round((0.5 + k / 10) * FPS, 6))) for k in range(10)]
    # a target rate above the file's repeats the frame on screen and invents none
    fast = _indices(read_frames(video, fps=50, start_s=0.0, duration_s=0.2))
    assert fast == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_native_frames_and_resize(tmp_path: Path) -> None:
    video = _video(tmp_path / "v.mov")
    native = read_frames(video, fps=None, start_s=1.0)
    assert _indices(native) == list(range(25, N))
    assert read_frames(video, fps=2, size=16).shape == (4, 16, 16, 3)


def test_window_past_the_end_names_the_file(tmp_path: Path) -> None:
    video = _video(tmp_path / "v.mov")
    with pytest.raises(AudioDecodeError, match=r"v\.mov"):
        read_frames(video, fps=10, start_s=5.0, duration_s=1.0)
