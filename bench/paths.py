"""Where bench keeps its working files. Everything is overridable by environment variables.

BENCH_HOME     working folder (default ./.bench): embedding cache, demo suite, trained demo models
BENCH_CACHE    embedding store (default $BENCH_HOME/cache)
BENCH_DEMO     demo suite (default $BENCH_HOME/demo)
BENCH_RESULTS  result records (default ./results)
BENCH_DATA_ROOT  where real datasets live (no default: without it, bench uses the demo suite)
"""

from __future__ import annotations

import os
from pathlib import Path


def bench_home() -> Path:
    return Path(os.environ.get("BENCH_HOME", ".bench")).expanduser()


def cache_dir() -> Path:
    return Path(os.environ.get("BENCH_CACHE", str(bench_home() / "cache"))).expanduser()


def demo_dir() -> Path:
    return Path(os.environ.get("BENCH_DEMO", str(bench_home() / "demo"))).expanduser()


def results_dir() -> Path:
    return Path(os.environ.get("BENCH_RESULTS", "results")).expanduser()


def data_root() -> Path | None:
    value = os.environ.get("BENCH_DATA_ROOT")
    return Path(value).expanduser() if value else None


def models_dir() -> Path:
    return bench_home() / "models"
