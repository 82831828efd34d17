"""Run an encoder over a dataset into the embedding store, resumably.

Decoding and resampling happen in background threads (soundfile and soxr release the GIL)
so the model rarely waits. Results are flushed to the store every ``flush_every`` clips or
``flush_seconds``, so a killed run loses at most one flush interval. Unreadable files are
recorded and skipped (``on_error="skip"``) or stop the run after everything already computed
has been written (``on_error="stop"``).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bench.audio import AudioDecodeError, ClipPolicy, load_audio
from bench.encoder import Encoder
from bench.progress import progress_bar
from bench.store import EmbeddingStore, EmbeddingView, StoreKey
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


def _decode(clip: Clip, rate: int, policy: ClipPolicy) -> np.ndarray:
    wave, _ = load_audio(clip.path, sample_rate=rate)
    if "segment" in clip.extra:  # a clip that is a time range of a longer file
        start, end = clip.extra["segment"]
        wave = wave[int(round(start * rate)) : int(round(end * rate))]
        if len(wave) == 0:
            raise AudioDecodeError(clip.path, f"segment {start}-{end} s lies outside the file")
    return policy.apply(wave, rate)


def _prefetch(
    clips: Sequence[Clip], fn: Callable[[Clip], np.ndarray], workers: int, depth: int
) -> Iterator[tuple[Clip, np.ndarray | None, str | None]]:
    """Decode ahead in threads, yielding in order; errors come back as strings."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        queue: deque[tuple[Clip, Future[np.ndarray]]] = deque()
        it = iter(clips)
        for clip in it:
            queue.append((clip, pool.submit(fn, clip)))
            if len(queue) >= depth:
                break
        while queue:
            clip, fut = queue.popleft()
            nxt = next(it, None)
            if nxt is not None:
                queue.append((nxt, pool.submit(fn, nxt)))
            try:
                yield clip, fut.result(), None
            except AudioDecodeError as exc:
                yield clip, None, exc.reason
            except Exception as exc:  # a decoder bug must not lose the run; it is reported per file
                yield clip, None, f"{type(exc).__name__}: {exc}"


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
    key = store_key(encoder, dataset, policy, frames_window_s)
    entry = store.entry(key, {"encoder": encoder.describe(), "dataset_root": str(dataset.root)})
    order = [c.id for c in dataset.clips]
    if entry.complete:
        stats.reused = len(order)
        return entry.view()
    done, _previous_failures = entry.done_ids()
    pending = [c for c in dataset.clips if c.id not in done]
    stats.reused = len(done)
    rank, world = shard
    mine = pending[rank::world]
    bs = batch_size or encoder.preferred_batch_size
    rate = encoder.sample_rate

    buf_ids: list[str] = []
    buf_rows: list[np.ndarray] = []
    buf_starts: list[np.ndarray] = []
    buf_failed: dict[str, str] = {}
    batch: list[tuple[Clip, np.ndarray]] = []
    last_flush = time.monotonic()

    def run_batch() -> None:
        if not batch:
            return
        waves = [w for _, w in batch]
        stats.encoder_calls += 1
        if frames_window_s is None:
            emb = np.asarray(encoder.embed(waves), dtype=np.float32)
            for (clip, _), row in zip(batch, emb, strict=True):
                buf_ids.append(clip.id)
                buf_rows.append(row[None, :])
        else:
            fe = encoder.embed_frames(waves, window_s=frames_window_s)
            for (clip, _), rows, st in zip(batch, fe.frames, fe.starts_s, strict=True):
                buf_ids.append(clip.id)
                buf_rows.append(np.asarray(rows, dtype=np.float32))
                buf_starts.append(np.asarray(st))
        stats.embedded += len(batch)
        stats.audio_seconds += sum(len(w) for w in waves) / rate
        batch.clear()

    def flush() -> None:
        nonlocal last_flush
        entry.write_part(buf_ids, buf_rows, buf_starts if frames_window_s is not None else None, dict(buf_failed), dtype)
        buf_ids.clear()
        buf_rows.clear()
        buf_starts.clear()
        buf_failed.clear()
        last_flush = time.monotonic()

    desc = f"{encoder.name} → {dataset.task}"
    try:
        with progress_bar(desc, total=len(mine), enabled=show_progress) as advance:
            for clip, wave, error in _prefetch(mine, lambda c: _decode(c, rate, policy), workers, depth=4 * bs):
                if error is not None:
                    stats.failed += 1
                    buf_failed[clip.id] = error
                    if on_error == "stop":
                        run_batch()
                        flush()
                        raise ExtractionStopped(
                            f"{clip.path}: {error}\nStopped (--on-error stop). {len(done) + stats.embedded} clips "
                            "are saved in the embedding store; fix or remove the file and run again, "
                            "or use --on-error skip to record and skip unreadable files."
                        )
                    advance(1)
                    continue
                assert wave is not None
                batch.append((clip, wave))
                if len(batch) >= bs:
                    run_batch()
                    advance(bs)
                if len(buf_ids) >= flush_every or time.monotonic() - last_flush > flush_seconds:
                    flush()
            n_last = len(batch)
            run_batch()
            advance(n_last)
    finally:
        # whatever finished is persisted even on KeyboardInterrupt or an encoder error
        flush()
        stats.seconds += time.perf_counter() - t0
    if world > 1:
        return None
    return entry.consolidate(order, dtype=dtype)
