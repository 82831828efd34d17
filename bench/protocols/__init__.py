"""Evaluation protocols: what is done with the embeddings of one task.

A protocol reads only the embedding store (plus an encoder's text/image side where it needs
one) and returns fold results, predictions and scores; the runner wraps them in a
:class:`~bench.results.ResultRecord`. Protocols declare which task kinds they serve, which
embedding level they need, and which encoder sides; a cell whose encoder lacks a needed side
is recorded as "n/a" instead of crashing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

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

    def applies_to(self, task: TaskSpec) -> bool:
        return task.kind in self.kinds

    def params(self, ctx: ProtocolContext) -> dict[str, Any]:
        return {}

    @abstractmethod
    def run(self, ctx: ProtocolContext) -> ProtocolOutput: ...


PROTOCOLS: Registry[Protocol] = Registry("protocol", entry_point_group="bench.protocols")
PROTOCOLS.register("probe", "bench.protocols.classification:MLPProbeProtocol", origin="bench built-in")
PROTOCOLS.register("zeroshot", "bench.protocols.zeroshot:ZeroShotProtocol", origin="bench built-in")
PROTOCOLS.register("audio-retrieval", "bench.protocols.audio_retrieval:AudioRetrievalProtocol", origin="bench built-in")
PROTOCOLS.register("cmr", "bench.protocols.cross_modal:CrossModalRetrievalProtocol", origin="bench built-in")
PROTOCOLS.register("captioning", "bench.protocols.captioning:CaptioningProtocol", origin="bench built-in")


def get_protocol(name: str) -> Protocol:
    target: Any = PROTOCOLS.get(name)
    return target() if isinstance(target, type) else target


def protocols_for(task: TaskSpec, only: list[str] | None = None) -> list[Protocol]:
    names = only if only else PROTOCOLS.names()
    return [p for p in (get_protocol(n) for n in names) if p.applies_to(task)]
