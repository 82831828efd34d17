"""The encoder contract every adapter satisfies, and the registry that finds adapters.

An encoder takes mono float32 waveforms at its own ``sample_rate`` and returns clip
embeddings ``[B, D]`` or frame embeddings with timestamps. Encoders with a shared
audio-text or audio-image space also implement ``embed_text`` / ``embed_images``; tasks
that need those sides mark other encoders' cells "n/a" (see :func:`capabilities`).

The ``fingerprint`` is the identity used by the embedding store and result records: adapter
version + weights hash + every option that changes the numbers. Two checkpoints of one model
never share a fingerprint.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from bench.frameworks import guard_import_order
from bench.registry import Registry, RegistryError

if TYPE_CHECKING:
    from bench.protocols import Protocol


class NotSupportedError(NotImplementedError):
    """The encoder has no such side (text, image, frames)."""


@dataclass
class FrameEmbeddings:
    """Per-clip frame embeddings: ``frames[i]`` is ``[T_i, D]``, ``starts_s[i]`` the window starts."""

    frames: list[np.ndarray]
    starts_s: list[np.ndarray]
    window_s: float


class Encoder(ABC):
    """Base class for adapters. Subclasses set the class attributes and implement ``embed``."""

    name: str = "encoder"
    version: str = "1"
    sample_rate: int = 16000
    embedding_dim: int = 0
    frame_hop_s: float = 1.0
    preferred_batch_size: int = 8
    # What the weights were trained on, in a few words ("none" for weight-free encoders).
    # Recorded in every result so a train/test overlap (e.g. AudioSet weights scored on an
    # AudioSet-derived task) can be flagged where the number is shown.
    training_data: str = "not declared"
    # A promise checked by `bench check-encoder`: a clip's embedding does not depend on the
    # other clips passed in the same call (DESIGN: batching must not change an embedding).
    batch_independent: bool = True
    # Option sets that change the numbers; `bench check-encoder` builds each one and checks
    # that the fingerprint changes with the embedding (a stale cache otherwise reuses old numbers).
    check_variants: ClassVar[tuple[dict[str, Any], ...]] = ()

    def options(self) -> dict[str, Any]:
        """Options that change the numbers (recorded and fingerprinted)."""
        return {}

    def weights_id(self) -> str:
        """A hash or tag of the weights; "none" for weight-free encoders."""
        return "none"

    def label(self) -> str:
        """Row label in tables; subclasses add a weights tag when not the default weights."""
        return self.name

    def protocol_for(self, protocol: Protocol) -> Protocol | None:
        """The protocol to run in ``protocol``'s place; None marks the cell "n/a".

        Frozen encoders run every protocol as is. Encoders that train end to end (the
        supervised baseline) substitute their own for the probe and opt out of the rest.
        """
        return protocol

    def refusal(self, data_kind: str) -> str | None:
        """Why this encoder must not run on ``data_kind`` ("real" or "demo") data; None if it may.

        Adapters that stand in random weights for missing real ones refuse real data unless
        the user asked for random weights explicitly.
        """
        return None

    def fingerprint(self) -> str:
        payload = {
            "adapter": self.name,
            "version": self.version,
            "sample_rate": self.sample_rate,
            "weights": self.weights_id(),
            "options": self.options(),
        }
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:20]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label(),
            "version": self.version,
            "fingerprint": self.fingerprint(),
            "sample_rate": self.sample_rate,
            "embedding_dim": self.embedding_dim,
            "weights": self.weights_id(),
            "options": self.options(),
            "capabilities": sorted(capabilities(self)),
            "training_data": self.training_data,
        }

    @abstractmethod
    def embed(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        """Clip embeddings ``[B, D]`` (float32) for mono waveforms at ``self.sample_rate``."""

    def embed_frames(self, waves: Sequence[np.ndarray], window_s: float = 1.0) -> FrameEmbeddings:
        """Frame embeddings from non-overlapping ``window_s`` windows (the paper's rule).

        A partial last window is zero-padded so every second of audio is covered; a clip
        shorter than one window yields one (padded) window. Timestamps are window starts.
        """
        win = int(round(window_s * self.sample_rate))
        frames: list[np.ndarray] = []
        starts: list[np.ndarray] = []
        for wave in waves:
            n = max(1, int(np.ceil(len(wave) / win)))
            padded = np.zeros(n * win, dtype=np.float32)
            padded[: len(wave)] = wave
            windows = [padded[i * win : (i + 1) * win] for i in range(n)]
            frames.append(np.asarray(self.embed(windows), dtype=np.float32))
            starts.append(np.arange(n, dtype=np.float64) * window_s)
        return FrameEmbeddings(frames=frames, starts_s=starts, window_s=window_s)

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        raise NotSupportedError(f"encoder {self.name!r} has no text side")

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        """Image embeddings ``[N, D]`` for uint8 RGB images ``[N, H, W, 3]``."""
        raise NotSupportedError(f"encoder {self.name!r} has no image side")

    def close(self) -> None:
        """Release resources (worker processes, GPU memory)."""


def capabilities(encoder: Encoder) -> set[str]:
    """Which sides an encoder really implements: 'audio', 'frames', 'text', 'image'."""
    caps = {"audio", "frames"}
    cls = type(encoder)
    if cls.embed_text is not Encoder.embed_text:
        caps.add("text")
    if cls.embed_images is not Encoder.embed_images:
        caps.add("image")
    return caps


def sha256_file(path: Path | str, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


EncoderFactory = Callable[..., Encoder]

ENCODERS: Registry[EncoderFactory] = Registry("encoder", entry_point_group="bench.encoders")
ENCODERS.register("logmel", "encoders.logmel:LogMelEncoder", origin="bench built-in")
ENCODERS.register("wav2clip", "encoders.wav2clip.encoder:Wav2CLIPEncoder", origin="bench built-in")
ENCODERS.register("yamnet", "encoders.yamnet:YAMNetEncoder", origin="bench built-in")
ENCODERS.register("openl3", "encoders.openl3:OpenL3Encoder", origin="bench built-in")
ENCODERS.register("supervised", "encoders.supervised:SupervisedEncoder", origin="bench built-in")
ENCODERS.register("hear", "encoders.hear:HearEncoder", origin="bench built-in")
ENCODERS.register("crepe", "encoders.crepe:CrepeEncoder", origin="bench built-in")
ENCODERS.register("birdnet", "encoders.birdnet:BirdNETEncoder", origin="bench built-in")


def get_encoder(spec: str, **options: Any) -> Encoder:
    """Build an encoder from a CLI spec: ``NAME`` or ``hear:MODULE[:WEIGHTS]``.

    Only options the factory accepts are passed, except that an option the user set
    explicitly (not None) and the factory does not accept is an error naming the choices.
    """
    guard_import_order()
    if spec.startswith("hear:"):
        parts = spec.split(":", 2)
        options = {**options, "module": parts[1]}
        if len(parts) == 3 and parts[2]:
            options["weights"] = parts[2]
        spec = "hear"
    factory = ENCODERS.get(spec)
    accepted = _accepted_kwargs(factory)
    given = {k: v for k, v in options.items() if v is not None}
    if accepted is not None:
        unknown = sorted(set(given) - accepted)
        if unknown:
            raise RegistryError(
                f"encoder {spec!r} does not take option(s) {', '.join(unknown)}; "
                f"it accepts: {', '.join(sorted(accepted)) or 'none'}"
            )
    return factory(**given)


def _accepted_kwargs(factory: EncoderFactory) -> set[str] | None:
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return {n for n, p in sig.parameters.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def availability(name: str) -> tuple[bool, str]:
    """Whether encoder ``name`` can run here: its factory's ``availability()`` or an import check.

    Adapters with optional backends or weights implement ``availability() -> (ok, reason)``
    as a static or class method, naming the command that fixes what is missing.
    """
    try:
        factory = ENCODERS.get(name)
    except RegistryError as exc:
        return False, str(exc)
    check = getattr(factory, "availability", None)
    if check is None:
        return True, "no optional backend or weights needed"
    try:
        ok, why = check()
    except Exception as exc:  # an availability probe must never crash the listing
        return False, f"availability check failed: {type(exc).__name__}: {exc}"
    return bool(ok), str(why)
