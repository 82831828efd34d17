from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# No network in tests: any accidental hub call fails fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

sys.path.insert(0, str(Path(__file__).parent))

from helpers import CountingEncoder, EmbedCounter, registered_test_encoders


@pytest.fixture(autouse=True)
def _isolated_bench_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own BENCH_HOME / results so nothing leaks into the repo."""
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BENCH_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("BENCH_CACHE", raising=False)
    monkeypatch.delenv("BENCH_DEMO", raising=False)
    monkeypatch.delenv("BENCH_DATA_ROOT", raising=False)


@pytest.fixture(autouse=True)
def counter(monkeypatch: pytest.MonkeyPatch) -> EmbedCounter:
    """A fresh call counter for the test encoders; the class gets its own back afterwards."""
    fresh = EmbedCounter()
    monkeypatch.setattr(CountingEncoder, "counter", fresh)
    return fresh


@pytest.fixture()
def with_test_encoders() -> Iterator[None]:
    """``counting`` and ``texty`` registered for this test only."""
    with registered_test_encoders():
        yield


@pytest.fixture(scope="session")
def yamnet_savedmodel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """YAMNet's architecture with random weights, saved once per session as a TF-Hub SavedModel.

    TensorFlow is imported through bench.frameworks (torch and triton first), so later tests
    in this process can still import torchvision / open_clip.
    """
    from encoders.yamnet.savedmodel import save_random_yamnet

    return save_random_yamnet(tmp_path_factory.mktemp("yamnet") / "yamnet-random-seed0-v1", seed=0)
