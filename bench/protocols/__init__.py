"""Evaluation protocols: what is done with the embeddings of one task.

A protocol reads only the embedding store (plus an encoder's text/image side where it needs
one) and returns fold results, predictions and scores; the runner wraps them in a
:class:`~bench.results.ResultRecord`. Protocols declare which task kinds they serve, which
embedding level they need, and which encoder sides; a cell whose encoder lacks a needed side
is recorded as "n/a" instead of crashing.

Encoders that train on the audio themselves (the supervised baseline) have no frozen
embeddings: they implement :class:`EndToEndEncoder`, whose protocol takes the place of the
protocol with the same ``short`` name (the probe, so its results fill the same table cells);
every other protocol is "n/a" for them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, runtime_checkable
from typing import Protocol as TypingProtocol

import numpy as np

from bench.encoder import Encoder
from bench.registry import Registry
from bench.results import FoldResult
from bench.store import EmbeddingStore, EmbeddingView
from bench.task import Dataset, TaskKind, TaskSpec


@dataclass
class ProtocolContext:
    task: TaskSpec
    dataset: Dataset
    view: EmbeddingView | None
    encoder: Encoder
    seed: int = 0
    device: str = "cpu"
    options: dict[str, Any] = field(default_factory=dict)
    show_progress: bool = True
    store: EmbeddingStore | None = None  # for protocols that embed another side (images)


@dataclass
class ProtocolOutput:
    folds: list[FoldResult]
    predictions: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


class Protocol(ABC):
    """``id`` changes whenever the numbers a protocol produces would change."""

    id: str = "protocol-v1"
    short: str = "protocol"
    kinds: tuple[TaskKind, ...] = ()
    needs: frozenset[str] = frozenset()
    frames_window_s: float | None = None  # None: clip-level embeddings
    uses_store: bool = True  # False: trains on audio itself (end-to-end baselines); no extraction
    trains: bool = True  # learns from the training side, so the dataset audit's flags apply to its numbers

    def applies_to(self, task: TaskSpec) -> bool:
        return task.kind in self.kinds

    def params(self, ctx: ProtocolContext) -> dict[str, Any]:
        return {}

    @abstractmethod
    def run(self, ctx: ProtocolContext) -> ProtocolOutput: ...


@runtime_checkable
class EndToEndEncoder(TypingProtocol):
    """An encoder that trains on each task's audio instead of producing frozen embeddings."""

    def end_to_end_protocol(self) -> Protocol:
        """The protocol run in place of the registered one with the same ``short`` name."""
        ...


def cell_protocol(encoder: Encoder, protocol: Protocol) -> Protocol | None:
    """The protocol ``encoder`` runs in ``protocol``'s cell; None marks the cell "n/a"."""
    if not isinstance(encoder, EndToEndEncoder):
        return protocol
    own = encoder.end_to_end_protocol()
    return own if own.short == protocol.short else None


PROTOCOLS: Registry[Protocol] = Registry(
    "protocol",
    entry_point_group="bench.protocols",
    builtins={
        "probe": "bench.protocols.classification:MLPProbeProtocol",
        "zeroshot": "bench.protocols.zeroshot:ZeroShotProtocol",
        "audio-retrieval": "bench.protocols.audio_retrieval:AudioRetrievalProtocol",
        "cmr": "bench.protocols.cross_modal:CrossModalRetrievalProtocol",
        "captioning": "bench.protocols.captioning:CaptioningProtocol",
    },
)


def get_protocol(name: str) -> Protocol:
    target: Any = PROTOCOLS.get(name)
    return target() if isinstance(target, type) else target


def protocols_for(task: TaskSpec, only: list[str] | None = None) -> list[Protocol]:
    names = only if only else PROTOCOLS.names()
    return [p for p in (get_protocol(n) for n in names) if p.applies_to(task)]
