"""Decode ahead: run a decoding function in background threads, hand results back in order.

Decoders (soundfile, soxr, PyAV) release the GIL, so a few threads keep the model fed while it
works on the previous batch. Items are submitted at most ``depth`` ahead of the consumer, so
memory stays bounded on datasets of any size. A file that cannot be decoded comes back as an
error message beside its item, never as an exception that would lose the rest of the run; only
the exception types in ``catch`` are turned into messages (anything else is a bug and raises).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from bench.audio import AudioDecodeError

T = TypeVar("T")
R = TypeVar("R")
_END = object()


@dataclass(frozen=True)
class Decoded(Generic[T, R]):
    """One item and its decoded value, or the reason it could not be decoded."""

    item: T
    value: R | None
    error: str | None = None


def error_text(exc: BaseException) -> str:
    """The message recorded for a file that failed: the decoder's reason, or the exception itself."""
    return exc.reason if isinstance(exc, AudioDecodeError) else f"{type(exc).__name__}: {exc}"


def decode_ahead(
    items: Iterable[T],
    decode: Callable[[T], R],
    *,
    workers: int = 2,
    depth: int = 8,
    catch: tuple[type[BaseException], ...] = (AudioDecodeError,),
) -> Iterator[Decoded[T, R]]:
    """``Decoded(item, decode(item))`` for every item, in order, decoding up to ``depth`` ahead."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        queue: deque[tuple[T, Future[R]]] = deque()
        it = iter(items)
        for item in it:
            queue.append((item, pool.submit(decode, item)))
            if len(queue) >= max(1, depth):
                break
        while queue:
            item, future = queue.popleft()
            nxt = next(it, _END)
            if nxt is not _END:
                queue.append((nxt, pool.submit(decode, nxt)))  # type: ignore[arg-type]
            try:
                yield Decoded(item, future.result())
            except catch as exc:
                yield Decoded(item, None, error_text(exc))


def decode_all(
    items: Iterable[T],
    decode: Callable[[T], R],
    *,
    workers: int = 2,
    catch: tuple[type[BaseException], ...] = (AudioDecodeError,),
) -> list[Decoded[T, R]]:
    """Every item decoded in parallel (a batch the caller needs at once)."""
    return list(decode_ahead(items, decode, workers=workers, depth=4 * max(1, workers), catch=catch))
