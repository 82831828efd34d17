"""Run an encoder over a dataset into the embedding store, resumably.

Decoding and resampling happen in background threads (soundfile and soxr release the GIL)
so the model rarely waits. Results are flushed to the store every ``flush_every`` clips or
``flush_seconds``, so a killed run loses at most one flush interval. Unreadable files are
recorded and skipped (``on_error="skip"``) or stop the run after everything already computed
has been written (``on_error="stop"``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from bench.audio import AudioDecodeError, ClipPolicy, load_audio
from bench.encoder import Encoder
from bench.prefetch import decode_ahead
from bench.progress import progress_bar
from bench.store import EmbeddingStore, EmbeddingView, StoreEntry, StoreKey
from bench.task import Clip, Dataset

OnError = Literal["skip", "stop"]


class ExtractionStopped(RuntimeError):
    """Raised with ``on_error='stop'``; the partial results are already in the store."""


@dataclass
class ExtractionStats:
    embedded: int = 0
    reused: int = 0
    failed: int = 0
    encoder_calls: int = 0
    seconds: float = 0.0
    audio_seconds: float = 0.0


def level_key(frames_window_s: float | None) -> str:
    return "clip" if frames_window_s is None else f"frames:{frames_window_s:g}"


def store_key(encoder: Encoder, dataset: Dataset, policy: ClipPolicy, frames_window_s: float | None) -> StoreKey:
    return StoreKey(
        encoder_name=encoder.name,
        encoder_fingerprint=encoder.fingerprint(),
        task=dataset.task,
        dataset_checksum=dataset.checksum(),
        policy=policy.key(),
        level=level_key(frames_window_s),
    )


def decode_clip(clip: Clip, rate: int, policy: ClipPolicy) -> np.ndarray:
    """A clip's audio at ``rate``, cut to its segment of a longer file if it has one, under ``policy``."""
    wave, _ = load_audio(clip.path, sample_rate=rate)
    if "segment" in clip.extra:  # a clip that is a time range of a longer file
        start, end = clip.extra["segment"]
        wave = wave[int(round(start * rate)) : int(round(end * rate))]
        if len(wave) == 0:
            raise AudioDecodeError(clip.path, f"segment {start}-{end} s lies outside the file")
    return policy.apply(wave, rate)


@dataclass
class PartWriter:
    """Embedded rows waiting to be written as one store part; flushed by count or by age."""

    entry: StoreEntry
    frames: bool
    dtype: str = "float32"
    flush_every: int = 256
    flush_seconds: float = 30.0
    ids: list[str] = field(default_factory=list)
    rows: list[np.ndarray] = field(default_factory=list)
    starts: list[np.ndarray] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    last_flush: float = field(default_factory=time.monotonic)

    def add(self, clip_id: str, rows: np.ndarray, starts: np.ndarray | None) -> None:
        self.ids.append(clip_id)
        self.rows.append(rows)
        if starts is not None:
            self.starts.append(starts)

    def due(self) -> bool:
        return len(self.ids) >= self.flush_every or time.monotonic() - self.last_flush > self.flush_seconds

    def flush(self) -> None:
        self.entry.write_part(self.ids, self.rows, self.starts if self.frames else None, dict(self.failed), self.dtype)
        self.ids, self.rows, self.starts, self.failed = [], [], [], {}
        self.last_flush = time.monotonic()


def embed_batch(
    encoder: Encoder, waves: Sequence[np.ndarray], frames_window_s: float | None
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """(rows ``[T, D]``, window starts or None) per wave: one clip row, or the clip's frames."""
    if frames_window_s is None:
        for row in np.asarray(encoder.embed(waves), dtype=np.float32):
            yield row[None, :], None
    else:
        fe = encoder.embed_frames(waves, window_s=frames_window_s)
        for rows, starts in zip(fe.frames, fe.starts_s, strict=True):
            yield np.asarray(rows, dtype=np.float32), np.asarray(starts)


def _embed_clips(
    encoder: Encoder,
    clips: Sequence[Clip],
    decode: Callable[[Clip], np.ndarray],
    writer: PartWriter,
    stats: ExtractionStats,
    *,
    frames_window_s: float | None,
    batch_size: int,
    workers: int,
    on_error: OnError,
    stop_note: Callable[[], str],
    advance: Callable[[int], None],
) -> None:
    """Decode ahead, embed ``batch_size`` readable clips per encoder call, hand the rows to ``writer``."""
    batch: list[tuple[Clip, np.ndarray]] = []

    def run_batch() -> None:
        if not batch:
            return
        waves = [w for _, w in batch]
        stats.encoder_calls += 1
        for (clip, _), (rows, starts) in zip(batch, embed_batch(encoder, waves, frames_window_s), strict=True):
            writer.add(clip.id, rows, starts)
        stats.embedded += len(batch)
        stats.audio_seconds += sum(len(w) for w in waves) / encoder.sample_rate
        advance(len(batch))
        batch.clear()

    for got in decode_ahead(clips, decode, workers=workers, depth=4 * batch_size, catch=(Exception,)):
        if got.error is not None:
            stats.failed += 1
            writer.failed[got.item.id] = got.error
            if on_error == "stop":
                run_batch()
                writer.flush()
                raise ExtractionStopped(f"{got.item.path}: {got.error}\n{stop_note()}")
            advance(1)
            continue
        assert got.value is not None
        batch.append((got.item, got.value))
        if len(batch) >= batch_size:
            run_batch()
        if writer.due():
            writer.flush()
    run_batch()


def extract(
    encoder: Encoder,
    dataset: Dataset,
    store: EmbeddingStore,
    policy: ClipPolicy,
    *,
    frames_window_s: float | None = None,
    on_error: OnError = "skip",
    batch_size: int | None = None,
    workers: int = 2,
    flush_every: int = 256,
    flush_seconds: float = 30.0,
    dtype: str = "float32",
    shard: tuple[int, int] = (0, 1),
    show_progress: bool = True,
    stats: ExtractionStats | None = None,
) -> EmbeddingView | None:
    """Embed every clip of ``dataset`` not yet in the store; return the finished view.

    With ``shard=(rank, world)`` only every world-th pending clip is embedded by this
    process and ``None`` is returned: the caller consolidates once all ranks are done.
    """
    stats = stats if stats is not None else ExtractionStats()
    t0 = time.perf_counter()
    entry = store.entry(
        store_key(encoder, dataset, policy, frames_window_s),
        {"encoder": encoder.describe(), "dataset_root": str(dataset.root)},
    )
    order = [c.id for c in dataset.clips]
    if entry.complete:
        stats.reused = len(order)
        return entry.view()
    done, _previous_failures = entry.done_ids()
    stats.reused = len(done)
    rank, world = shard
    mine = [c for c in dataset.clips if c.id not in done][rank::world]
    writer = PartWriter(entry, frames_window_s is not None, dtype, flush_every, flush_seconds)

    def stop_note() -> str:
        return (
            f"Stopped (--on-error stop). {len(done) + stats.embedded} clips are saved in the embedding store; "
            "fix or remove the file and run again, or use --on-error skip to record and skip unreadable files."
        )

    rate = encoder.sample_rate
    try:
        with progress_bar(f"{encoder.name} → {dataset.task}", total=len(mine), enabled=show_progress) as advance:
            _embed_clips(
                encoder,
                mine,
                lambda c: decode_clip(c, rate, policy),
                writer,
                stats,
                frames_window_s=frames_window_s,
                batch_size=batch_size or encoder.preferred_batch_size,
                workers=workers,
                on_error=on_error,
                stop_note=stop_note,
                advance=advance,
            )
    finally:
        writer.flush()  # whatever finished is persisted even on KeyboardInterrupt or an encoder error
        stats.seconds += time.perf_counter() - t0
    if world > 1:
        return None
    return entry.consolidate(order, dtype=dtype)
