"""From an encoder's own frames (YAMNet: 0.96 s every 0.48 s; OpenL3: 1 s every 0.1 s) to
bench's frame level: non-overlapping ``window_s`` windows starting at 0.

Rule: window j = [j·w, (j+1)·w) gets the mean of the native frames whose *centre* lies in
it; a window with no centre in it (possible only when the native hop exceeds ``window_s``)
takes the frame whose centre is nearest to the window's middle. The number of windows is
``max(1, ceil(duration / w))`` — the same count as the default ``Encoder.embed_frames`` —
and timestamps are window starts, so frame-level stores of all encoders line up.
"""

from __future__ import annotations

import math

import numpy as np


def pool_to_windows(
    frames: np.ndarray, centres_s: np.ndarray, duration_s: float, window_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """``frames`` [N, D] with centre times [N] → ([W, D] window embeddings, [W] window starts)."""
    if len(frames) == 0:
        raise ValueError("no native frames to pool")
    n = max(1, math.ceil(round(duration_s / window_s, 9)))
    starts = np.arange(n, dtype=np.float64) * window_s
    out = np.empty((n, frames.shape[1]), dtype=np.float32)
    for j, start in enumerate(starts):
        inside = (centres_s >= start) & (centres_s < start + window_s)
        if inside.any():
            out[j] = frames[inside].mean(axis=0)
        else:
            out[j] = frames[int(np.argmin(np.abs(centres_s - (start + window_s / 2))))]
    return out, starts
