"""Run demo-clip jobs on every core. Each job carries its own seed, so the files do not
depend on the number of workers or the order jobs finish in."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

J = TypeVar("J")
R = TypeVar("R")


def workers() -> int:
    return max(1, int(os.environ.get("BENCH_DEMO_WORKERS", str(os.cpu_count() or 1))))


def map_jobs(fn: Callable[[J], R], jobs: Sequence[J]) -> list[R]:
    """``[fn(j) for j in jobs]`` in worker processes (spawned: no fork of a torch-loaded parent)."""
    n = min(workers(), len(jobs))
    if n <= 1:
        return [fn(j) for j in jobs]
    with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(fn, jobs, chunksize=max(1, len(jobs) // (4 * n))))
