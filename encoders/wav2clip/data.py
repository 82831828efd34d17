"""Training data for distillation: audio crops aligned with the teacher targets' video windows.

Each training clip contributes the audio of exactly the window its image target was pooled
over (:class:`~encoders.wav2clip.targets.WindowRule`), at 16 kHz mono, repeat-padded when the
file is shorter (as the VGGSound loader pads). When all crops fit the memory budget they are
decoded once, in background threads, and kept as one float32 array (the demo: ~60 MB);
otherwise each batch is decoded on demand with the next batch prefetched. Unreadable audio is
reported and the clip is dropped, never silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from bench.audio import ClipPolicy, load_audio
from bench.prefetch import decode_ahead, decode_all
from bench.progress import progress_bar
from bench.task import Clip
from encoders.wav2clip.model import SAMPLE_RATE
from encoders.wav2clip.targets import WindowRule


def crop_window(wave: np.ndarray, start_s: float, window_s: float, rate: int = SAMPLE_RATE) -> np.ndarray:
    n = int(round(window_s * rate))
    start = int(round(start_s * rate))
    piece = wave[start : start + n]
    if len(piece) == 0:
        piece = wave[-n:]  # window starts past a short file's end: its last stretch
    return ClipPolicy(duration_s=window_s, pad="repeat").apply(piece, rate)


def load_window(clip: Clip, rule: WindowRule) -> np.ndarray:
    wave, _ = load_audio(clip.path, SAMPLE_RATE)
    return crop_window(wave, rule.start(clip.id), rule.window_s)


class AudioWindows:
    """``get(indices) -> [B, N]`` float32 crops for a fixed list of clips."""

    def __init__(
        self,
        clips: Sequence[Clip],
        rule: WindowRule,
        *,
        memory_budget_gb: float = 4.0,
        workers: int = 2,
        show_progress: bool = True,
        desc: str = "audio",
    ) -> None:
        self.rule = rule
        self.workers = max(1, workers)
        self.failed: dict[str, str] = {}
        n = int(round(rule.window_s * SAMPLE_RATE))
        self.preloaded = len(clips) * n * 4 <= memory_budget_gb * 1e9
        self._pool: ThreadPoolExecutor | None = None
        self._pending: tuple[tuple[int, ...], Future[tuple[np.ndarray, list[int]]]] | None = None
        if self.preloaded:
            self.clips, self.data = self._preload(list(clips), n, show_progress, desc)
        else:
            self.clips, self.data = list(clips), np.zeros((0, n), np.float32)

    def _preload(self, clips: list[Clip], n: int, show_progress: bool, desc: str) -> tuple[list[Clip], np.ndarray]:
        rows: list[np.ndarray] = []
        kept: list[Clip] = []
        with progress_bar(f"decode {desc}", len(clips), show_progress) as advance:
            for got in decode_ahead(clips, self._window, workers=self.workers, depth=8 * self.workers):
                if got.value is not None:
                    rows.append(got.value)
                    kept.append(got.item)
                else:
                    self.failed[got.item.id] = str(got.error)
                advance(1)
        return kept, (np.stack(rows) if rows else np.zeros((0, n), np.float32))

    def __len__(self) -> int:
        return len(self.clips)

    def _window(self, clip: Clip) -> np.ndarray:
        return load_window(clip, self.rule)

    def _load(self, idx: Sequence[int]) -> tuple[np.ndarray, list[int]]:
        rows, kept = [], []
        for i, got in zip(
            idx, decode_all([self.clips[i] for i in idx], self._window, workers=self.workers), strict=True
        ):
            if got.value is not None:
                rows.append(got.value)
                kept.append(i)
            else:
                self.failed[self.clips[i].id] = str(got.error)
        n = int(round(self.rule.window_s * SAMPLE_RATE))
        return (np.stack(rows) if rows else np.zeros((0, n), np.float32)), kept

    def get(self, idx: Sequence[int], prefetch_next: Sequence[int] | None = None) -> tuple[np.ndarray, list[int]]:
        """Crops for ``idx`` and the indices actually returned (unreadable files drop out)."""
        if self.preloaded:
            return self.data[np.asarray(idx, dtype=np.int64)], list(idx)
        key = tuple(idx)
        batch = self._pending[1].result() if self._pending is not None and self._pending[0] == key else self._load(idx)
        self._pending = None
        if prefetch_next is not None:  # the next batch decodes while the model works on this one
            pool = self._pool or ThreadPoolExecutor(1)
            self._pool = pool
            nxt = list(prefetch_next)
            self._pending = (tuple(nxt), pool.submit(self._load, nxt))
        return batch

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
