"""``supervised``: the paper's "Supervise" row — Wav2CLIP's ResNet-18, trained from scratch per task.

Not a frozen encoder: it implements :class:`bench.protocols.EndToEndEncoder`, so its own
protocol (:mod:`encoders.supervised.protocol`) runs in place of the MLP probe: for every
classification task the same ``ResNet18Audio`` as Wav2CLIP's audio encoder (random init)
plus a linear head is trained end to end on each fold's training clips with the task's loss
(cross-entropy or BCE), early-stopped on the same validation clips the probe uses
(:func:`bench.splits.make_splits`) and scored on the test fold. Results carry the protocol
short name ``probe`` so they fill the Table 2 row; the zero-shot and every other embedding
protocol are ``n/a``.

Presets (``--opt preset=...``; individual fields override, e.g. ``--opt max_epochs=30``):

* ``full`` (real data): at most 100 epochs, patience 10, batch 32, Adam 1e-3, full clips;
* ``demo`` (demo suite, the default there): at most 8 epochs, patience 3, batch 8, full
  clips, ``precision=auto`` (bf16 autocast where the CPU has AVX512-BF16/AMX, else fp32).

``auto`` (default) picks ``demo`` on demo data and ``full`` on real data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.encoder import Encoder, NotSupportedError
from bench.options import Option, Schema
from encoders.supervised.protocol import PRESETS, SupervisedProtocol, TrainConfig, resolve_config


class SupervisedEncoder(Encoder):
    name = "supervised"
    version = "1"
    sample_rate = 16000
    embedding_dim = 512
    # by design, not an overlap: it is trained on each task's training folds and scored on the test fold
    training_data = "the task's own training folds (trained from scratch per task and fold)"

    def __init__(
        self,
        device: str = "cpu",
        preset: str = "auto",
        max_epochs: int | None = None,
        patience: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        weight_decay: float | None = None,
        crop_s: float | None = None,
        precision: str | None = None,
    ) -> None:
        if preset not in ("auto", *PRESETS):
            raise ValueError(f"supervised: preset must be 'auto' or one of {sorted(PRESETS)}, got {preset!r}")
        self.device = device
        self.preset = preset
        overrides = {
            "max_epochs": max_epochs,
            "patience": patience,
            "batch_size": batch_size,
            "lr": lr,
            "weight_decay": weight_decay,
            "crop_s": crop_s,
            "precision": precision,
        }
        self.overrides = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(self.overrides) - set(TrainConfig.__dataclass_fields__)
        assert not unknown, unknown

    @classmethod
    def option_schema(cls) -> Schema:
        return Schema(
            "encoder 'supervised'",
            (
                Option("preset", str, "auto", "auto, full or demo (see above)", choices=("auto", *sorted(PRESETS))),
                Option("max_epochs", int, None, "most training epochs per fold", low=1, nullable=True),
                Option("patience", int, None, "epochs without a better validation score", low=1, nullable=True),
                Option("batch_size", int, None, "training batch size", low=1, nullable=True),
                Option("lr", float, None, "Adam learning rate", low=0, low_open=True, nullable=True),
                Option("weight_decay", float, None, "Adam weight decay", low=0, nullable=True),
                Option(
                    "crop_s", float, None, "random training crops of this length (<= 0: whole clips)", nullable=True
                ),
            ),
        )

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        return True, "trains Wav2CLIP's ResNet-18 from scratch per task and fold (no weights needed)"

    def options(self) -> dict[str, Any]:
        return {"preset": self.preset, **self.overrides, "architecture": "wav2clip-resnet18-audio+linear"}

    def config(self, data_kind: str) -> TrainConfig:
        return resolve_config(self.preset, self.overrides, data_kind)

    def end_to_end_protocol(self) -> SupervisedProtocol:
        """End-to-end training in the probe's place (``short`` "probe"); nothing else applies."""
        return SupervisedProtocol(self.preset, self.overrides)

    def embed(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        raise NotSupportedError(
            "supervised trains a ResNet-18 end to end per task and fold; it has no frozen clip embedding"
        )
