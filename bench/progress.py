"""Progress for loops a person waits on (extraction, probe training, sweeps).

On a terminal: a rich progress bar. Elsewhere (batch jobs, CI logs): a plain line on stderr
at most every ``log_every_s`` seconds and one at the end, so long jobs still show progress.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)


@contextmanager
def progress_bar(
    description: str, total: int | None, enabled: bool = True, log_every_s: float = 15.0, unit: str = "items"
) -> Iterator[Callable[[int], None]]:
    """Yield an ``advance(n)`` callable. ``unit="bytes"`` shows sizes and speed (downloads)."""
    if not enabled:
        yield lambda n: None
        return
    if not sys.stderr.isatty():
        state = {"done": 0, "last": time.monotonic(), "start": time.monotonic()}

        def log(n: int) -> None:
            state["done"] += n
            now = time.monotonic()
            if now - state["last"] >= log_every_s:
                state["last"] = now
                print(
                    f"{description}: {_amount(state['done'], total, unit)} ({now - state['start']:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )

        yield log
        if time.monotonic() - state["start"] >= log_every_s:
            elapsed = time.monotonic() - state["start"]
            print(
                f"{description}: done, {_amount(state['done'], None, unit)} in {elapsed:.0f} s",
                file=sys.stderr,
                flush=True,
            )
        return
    counter: tuple[ProgressColumn, ...] = (
        (DownloadColumn(), TransferSpeedColumn()) if unit == "bytes" else (MofNCompleteColumn(),)
    )
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        *counter,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as prog:
        task_id = prog.add_task(description, total=total)
        yield lambda n: prog.advance(task_id, n)


def _amount(done: float, total: int | None, unit: str) -> str:
    if unit == "bytes":
        of = f" of {total / 1e6:.1f}" if total else ""
        return f"{done / 1e6:.1f}{of} MB"
    return f"{int(done)}/{total}" if total else f"{int(done)}"
