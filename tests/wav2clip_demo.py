"""One small demo suite per test session, shared by the Wav2CLIP test modules (built on first use)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.demo import ensure_demo

SCALE = 0.04  # VGGSound: 2 training and 2 test clips per class (the smallest demo)
# a tiny but complete distillation: random tiny teacher, 1-s windows of the 5-s demo clips, batches of 4
TINY_TRAIN = ["train", "wav2clip", "--teacher", "bench-tiny-clip", "--window-s", "1", "--fps", "2", "--batch-size", "4"]


def small_demo(tmp_path_factory: pytest.TempPathFactory, *names: str) -> Path:
    base = tmp_path_factory.getbasetemp() / "wav2clip-demo"
    for name in names:
        ensure_demo(name, base, scale=SCALE)  # a no-op when already built with these settings
    return base
