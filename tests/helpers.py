"""Test-only encoders built through the same registry path users use."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from bench.encoder import ENCODERS, Encoder

# two torchrun processes on this machine; --standalone picks a free rendezvous port
TORCHRUN_2 = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]


@dataclass
class EmbedCounter:
    """Encoder calls and clips seen; ``kill_after_clips`` SIGKILLs the process past that many."""

    calls: int = 0
    clips: int = 0
    kill_after_clips: int | None = None


class CountingEncoder(Encoder):
    """Deterministic spectral features; counts every embed call and clip in ``counter``.

    The ``counter`` fixture (conftest) gives every test a fresh counter and restores the
    class afterwards, so no test sees another's counts.
    """

    name = "counting"
    sample_rate = 8000
    embedding_dim = 16
    preferred_batch_size = 4
    counter: ClassVar[EmbedCounter] = EmbedCounter()

    def __init__(self, device: str = "cpu", scale: float = 1.0) -> None:
        self.scale = scale

    def options(self) -> dict[str, float]:
        return {"scale": self.scale}

    def embed(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        counter = self.counter
        counter.calls += 1
        counter.clips += len(waves)
        if counter.kill_after_clips is not None and counter.clips > counter.kill_after_clips:
            os.kill(os.getpid(), signal.SIGKILL)  # a real kill: no cleanup, no finally blocks
        out = []
        for w in waves:
            spec = np.abs(np.fft.rfft(w, n=2048))[:1024]
            bands = spec.reshape(16, -1).mean(axis=1)
            out.append(np.log(bands + 1e-6) * self.scale)
        return np.asarray(out, dtype=np.float32)


class TextEncoder(CountingEncoder):
    """Has a text side: a prompt embeds to the features of a tone at the frequency it names."""

    name = "texty"

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        from fixtures import tone

        freqs = [float(t.split()[-1].rstrip(".")) for t in texts]
        return self.embed([tone(f, 1.0, self.sample_rate, seed=0) for f in freqs])


@contextmanager
def registered_test_encoders(*classes: type[Encoder]) -> Iterator[None]:
    """The test encoders (default: ``counting`` and ``texty``) in the registry for one block."""
    with ExitStack() as stack:
        for cls in classes or (CountingEncoder, TextEncoder):
            stack.enter_context(ENCODERS.registered(cls.name, cls, origin="tests"))
        yield
