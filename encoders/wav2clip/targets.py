"""Distillation targets: the teacher's mean-pooled image embedding of each clip's video window.

The paper samples a random 5-s segment of each 10-s VGGSound clip, embeds its frames at
30 fps with CLIP and mean-pools them. Our window is drawn per clip from a hash of (seed, clip
id), so it is the same on every machine, every rank and every resume, and the audio crop used
in training is cut from exactly the same window (:func:`WindowRule.start`). Starts fall on
the video frame grid. Clips no longer than the window use the whole clip (the demo's 5-s clips).
Targets go into the embedding store keyed by the teacher's fingerprint and the window rule,
resumably; unreadable videos are reported and skipped.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from bench.extract import OnError
from bench.extract_images import extract_image_embeddings
from bench.store import EmbeddingStore, EmbeddingView
from bench.task import Clip, Dataset
from encoders.wav2clip.teacher import CLIPTeacher


@dataclass(frozen=True)
class WindowRule:
    window_s: float = 5.0
    clip_s: float = 10.0  # nominal clip length the window is drawn from
    fps: float = 30.0
    seed: int = 0

    def name(self) -> str:
        return f"random{self.window_s:g}s-of{self.clip_s:g}s-seed{self.seed}"

    def start(self, clip_id: str) -> float:
        span = self.clip_s - self.window_s
        if span <= 0:
            return 0.0
        digest = hashlib.sha256(f"{self.seed}:{clip_id}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2.0**64
        return math.floor(u * span * self.fps) / self.fps

    def window(self, clip: Clip) -> tuple[float, float | None]:
        return self.start(clip.id), self.window_s


def teacher_targets(
    teacher: CLIPTeacher,
    dataset: Dataset,
    store: EmbeddingStore,
    rule: WindowRule,
    *,
    frame_size: int | None = None,
    on_error: OnError = "skip",
    shard: tuple[int, int] = (0, 1),
    show_progress: bool = True,
) -> EmbeddingView | None:
    """One mean-pooled teacher image embedding per clip of ``dataset`` (every clip, so the
    entry is the same whoever asks); None on ranks > 0 of a sharded run."""
    return extract_image_embeddings(
        teacher.embed_images,
        teacher.name,
        teacher.fingerprint(),
        dataset,
        store,
        fps=rule.fps,
        size=frame_size,
        window=rule.window,
        window_rule=rule.name(),
        on_error=on_error,
        shard=shard,
        show_progress=show_progress,
    )
