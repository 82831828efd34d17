"""Image-side embeddings of videos into the embedding store, resumably.

For each clip with a video, frames in a window are decoded at ``fps`` (the paper: 30 fps),
embedded by an image model (an encoder's ``embed_images``: the CLIP teacher for Wav2CLIP,
OpenL3's image network) and mean-pooled into one row per clip. Used for the distillation
targets and for cross-modal retrieval. Keys hold the image model's fingerprint, the dataset
checksum, the frame rate, the frame size and the window rule, so targets from two teachers
never mix. Unreadable videos are recorded and skipped (or stop the run), like audio.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from bench.extract import ExtractionStopped, OnError
from bench.prefetch import decode_ahead
from bench.progress import progress_bar
from bench.store import EmbeddingStore, EmbeddingView, StoreKey
from bench.task import Clip, Dataset
from bench.video import read_frames

Window = Callable[[Clip], tuple[float, float | None]]


def whole_clip(_clip: Clip) -> tuple[float, float | None]:
    return (0.0, None)


def extract_image_embeddings(
    embed_images: Callable[[np.ndarray], np.ndarray],
    model_name: str,
    model_fingerprint: str,
    dataset: Dataset,
    store: EmbeddingStore,
    *,
    fps: float = 30.0,
    size: int | None = None,
    window: Window = whole_clip,
    window_rule: str = "whole",
    frame_batch: int = 64,
    on_error: OnError = "skip",
    clips: Sequence[Clip] | None = None,
    flush_every: int = 64,
    shard: tuple[int, int] = (0, 1),
    show_progress: bool = True,
) -> EmbeddingView | None:
    """Mean-pooled image embeddings, one row per clip; ``window(clip) -> (start_s, duration_s)``.

    ``window_rule`` names the window policy in the store key (e.g. ``"whole"`` or
    ``"random5s-seed0"``); two different rules must have two names. With ``shard=(rank,
    world)`` and world > 1, only this rank's share is embedded and None is returned.
    """
    todo_clips = list(clips if clips is not None else dataset.clips)
    key = StoreKey(
        encoder_name=model_name,
        encoder_fingerprint=model_fingerprint,
        task=dataset.task,
        dataset_checksum=dataset.checksum(),
        policy=f"fps={fps:g},size={size},window={window_rule}",
        level="image-mean",
    )
    entry = store.entry(key, {"image_model": model_name, "dataset_root": str(dataset.root)})
    order = [c.id for c in todo_clips]
    if entry.complete:
        return entry.view()
    done, _ = entry.done_ids()
    rank, world = shard
    mine = [c for c in todo_clips if c.id not in done][rank::world]
    ids: list[str] = []
    rows: list[np.ndarray] = []
    failed: dict[str, str] = {}

    def decode(clip: Clip) -> np.ndarray:
        start, dur = window(clip)
        return read_frames(clip.path, fps=fps, start_s=start, duration_s=dur, size=size)

    last = time.monotonic()
    try:
        with progress_bar(f"{model_name} images → {dataset.task}", len(mine), show_progress) as advance:
            for got in decode_ahead(mine, decode, workers=2, depth=5):
                clip = got.item
                if got.error is not None:
                    failed[clip.id] = got.error
                    if on_error == "stop":
                        raise ExtractionStopped(
                            f"{clip.path}: {got.error}\nStopped (--on-error stop); finished clips are saved."
                        )
                    advance(1)
                    continue
                frames = got.value
                assert frames is not None
                embs = [
                    np.asarray(embed_images(frames[j : j + frame_batch]), dtype=np.float32)
                    for j in range(0, len(frames), frame_batch)
                ]
                ids.append(clip.id)
                rows.append(np.concatenate(embs).mean(axis=0, keepdims=True))
                advance(1)
                if len(ids) >= flush_every or time.monotonic() - last > 30:
                    entry.write_part(ids, rows, None, failed)
                    ids, rows, failed = [], [], {}
                    last = time.monotonic()
    finally:
        entry.write_part(ids, rows, None, failed)
    if world > 1:
        return None
    return entry.consolidate(order)
