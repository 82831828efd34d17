"""The encoder contract every adapter satisfies, and the registry that finds adapters.

An encoder takes mono float32 waveforms at its own ``sample_rate`` and returns clip
embeddings ``[B, D]`` or frame embeddings with timestamps. Encoders with a shared
audio-text or audio-image space also implement ``embed_text`` / ``embed_images``; tasks
that need those sides mark other encoders' cells "n/a" (see :func:`capabilities`).

Everything optional in the contract is declared here with its default, so the core never has
to probe an adapter with ``getattr``: ``availability()`` (can it run on this machine, and the
command that fixes it if not), ``refusal()`` (data it must not score) and ``demo_only``
(weights trained on the demo suite: asking them to score real data stops the run).
Encoders that train end to end instead of embedding (the supervised baseline) implement
:class:`bench.protocols.EndToEndEncoder` on top of this.

The ``fingerprint`` is the identity used by the embedding store and result records: adapter
version + weights hash + every option that changes the numbers. Two checkpoints of one model
never share a fingerprint.

Adapters are found through the ``bench.encoders`` entry-point group (this project declares
its own in ``pyproject.toml``), so the core never imports ``encoders/``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from bench.frameworks import guard_import_order
from bench.hashing import sha256_json
from bench.options import Schema, check_options, coerce, keyword_parameters, signature_schema
from bench.registry import Registry, RegistryError


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
    preferred_batch_size: int = 8
    # What the weights were trained on, in a few words ("none" for weight-free encoders), recorded
    # with every result; and the same as dataset ids (``TaskSpec.dataset_id``; "demo:<id>" for a
    # demo-suite dataset), so a cell that evaluates on data the encoder saw is flagged where its
    # number is shown (train/test overlap, as MTEB marks models that are not zero-shot on a task).
    training_data: str = "not declared"
    trained_on: tuple[str, ...] = ()
    # A promise checked by `bench check-encoder`: a clip's embedding does not depend on the
    # other clips passed in the same call (DESIGN: batching must not change an embedding).
    batch_independent: bool = True
    # Option sets that change the numbers; `bench check-encoder` builds each one and checks
    # that the fingerprint changes with the embedding (a stale cache otherwise reuses old numbers).
    check_variants: ClassVar[tuple[dict[str, Any], ...]] = ()
    demo_only: bool = False  # weights trained on the demo suite: real data stops the run (see refusal)

    @classmethod
    def option_schema(cls) -> Schema | None:
        """The ``--opt`` keys this adapter takes, checked before any work (None: anything goes).

        By default its constructor's keyword parameters, typed by their annotations
        (``device`` is set by ``--device``); adapters override this to add ranges and help.
        """
        return signature_schema(cls, f"encoder {cls.name!r}", skip=("device",))

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        """Whether this adapter can run on this machine, and why not (naming the fixing command).

        Adapters with optional backends or weights override this; it must be cheap (no model
        load) and must not raise.
        """
        return True, "no optional backend or weights needed"

    def options(self) -> dict[str, Any]:
        """Options that change the numbers (recorded and fingerprinted)."""
        return {}

    def weights_id(self) -> str:
        """A hash or tag of the weights; "none" for weight-free encoders."""
        return "none"

    def label(self) -> str:
        """Row label in tables; subclasses add a weights tag when not the default weights."""
        return self.name

    def refusal(self, data_kind: str) -> str | None:
        """Why this encoder must not run on ``data_kind`` ("real" or "demo") data; None if it may.

        Adapters that stand in random weights for missing real ones refuse real data unless
        the user asked for random weights explicitly (that task is skipped); ``demo_only``
        adapters refuse it too, and then the whole run stops.
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
        return sha256_json(payload, 20)

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
            "trained_on": list(self.trained_on),
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


EncoderFactory = Callable[..., Encoder]

ENCODERS: Registry[EncoderFactory] = Registry("encoder", entry_point_group="bench.encoders")


def get_encoder(spec: str, **options: Any) -> Encoder:
    """Build an encoder from a CLI spec: ``NAME`` or ``hear:MODULE[:WEIGHTS]``.

    Options are checked against the adapter's schema (:func:`check_encoder_options`): an
    unknown key, a wrong type or a value out of range is an error naming the choices.
    ``device`` is passed only to a factory that takes it. None values mean "not given".
    """
    guard_import_order()
    name, given = _hear_spec(spec, {k: v for k, v in options.items() if v is not None})
    factory = ENCODERS.get(name)
    device = given.pop("device", None)
    checked = check_encoder_options(spec, given)
    accepted = keyword_parameters(factory)
    if device is not None and (accepted is None or "device" in accepted):
        checked["device"] = device
    return factory(**checked)


def check_encoder_options(spec: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` for encoder ``spec`` converted and checked; raises :class:`OptionError` (or RegistryError)."""
    name, given = _hear_spec(spec, {k: v for k, v in options.items() if v is not None})
    factory = ENCODERS.get(name)
    if isinstance(factory, type) and issubclass(factory, Encoder):
        schema = factory.option_schema()
    else:
        schema = signature_schema(factory, f"encoder {name!r}", skip=("device",))
    if schema is None:  # the factory takes **kwargs: nothing to check against
        return {k: coerce(v) if isinstance(v, str) else v for k, v in given.items()}
    return check_options(given, [schema], "--opt", reserved={"device": "--device"})


def _hear_spec(spec: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``hear:MODULE[:WEIGHTS]`` → ("hear", options with module and weights); other specs unchanged."""
    if not spec.startswith("hear:"):
        return spec, options
    parts = spec.split(":", 2)
    options = {**options, "module": parts[1]}
    if len(parts) == 3 and parts[2]:
        options["weights"] = parts[2]
    return "hear", options


def availability(name: str) -> tuple[bool, str]:
    """Whether encoder ``name`` can run here (:meth:`Encoder.availability`), or why it cannot be imported.

    A factory that is not an :class:`Encoder` subclass (a plain function) declares nothing and
    counts as available.
    """
    try:
        factory = ENCODERS.get(name)
    except RegistryError as exc:
        return False, str(exc)
    if not (isinstance(factory, type) and issubclass(factory, Encoder)):
        return True, "no optional backend or weights needed"
    try:
        ok, why = factory.availability()
    except Exception as exc:  # an availability probe must never crash the listing
        return False, f"availability check failed: {type(exc).__name__}: {exc}"
    return bool(ok), str(why)
