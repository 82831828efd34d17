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
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


@contextmanager
def progress_bar(
    description: str, total: int | None, enabled: bool = True, log_every_s: float = 15.0
) -> Iterator[Callable[[int], None]]:
    """Yield an ``advance(n)`` callable."""
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
                of = f"/{total}" if total else ""
                print(
                    f"{description}: {int(state['done'])}{of} ({now - state['start']:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )

        yield log
        if time.monotonic() - state["start"] >= log_every_s:
            print(
                f"{description}: done, {int(state['done'])} in {time.monotonic() - state['start']:.0f} s",
                file=sys.stderr,
                flush=True,
            )
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as prog:
        task_id = prog.add_task(description, total=total)
        yield lambda n: prog.advance(task_id, n)
