"""Audio captioning on Clotho (the paper's Table 3), protocol ``captioning-tfdec-v1``.

Frozen 1-s frame embeddings feed a 1-layer transformer decoder (bench.protocols.captioning.model) trained
with teacher forcing on every (clip, caption) pair of the training split, the epoch chosen
by validation loss; the evaluation clips are decoded greedily and with beam search, and each
decoding is scored over the whole evaluation set with the COCO metrics (bench.protocols.captioning.metrics)
against the 5 reference captions. One record holds both decodings: its summary is the beam
search; ``protocol.decodings`` holds both, and Table 3 shows one row per decoding. SPICE and
SPIDEr are listed under ``protocol.unavailable`` (with the reason) when they cannot run.
Options (``--popt``): ``cap_<field>`` for any field of :class:`~bench.protocols.captioning.model.CaptionConfig`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.progress import progress_bar
from bench.protocols import Protocol, ProtocolContext, ProtocolOutput
from bench.protocols.captioning.metrics import METRICS, CocoScorer, require_java, spice_status
from bench.protocols.captioning.model import CaptionConfig, fit_captioner
from bench.results import FoldResult
from bench.task import Clip, annotations_digest


class CaptioningProtocol(Protocol):
    id = "captioning-tfdec-v1"
    short = "captioning"
    kinds = ("captioning",)
    frames_window_s = 1.0

    def config(self, ctx: ProtocolContext) -> CaptionConfig:
        fields = CaptionConfig.__dataclass_fields__
        overrides: dict[str, Any] = {}
        for key, value in ctx.options.items():
            if key.startswith("cap_"):
                name = key[4:]
                if name not in fields:
                    raise ValueError(
                        f"unknown captioning option {key!r}; known: {', '.join('cap_' + f for f in fields)}"
                    )
                overrides[name] = type(getattr(CaptionConfig(), name))(value)
        return CaptionConfig(**{**CaptionConfig().as_dict(), **overrides, "seed": ctx.seed})

    def params(self, ctx: ProtocolContext) -> dict[str, Any]:
        cfg = self.config(ctx)
        return {
            "model": {
                **cfg.as_dict(),
                "layers": 1,
                "memory": "1-s frame embeddings, standardised, linear to d_model, sinusoidal positions",
            },
            "splits": {
                "train": list(ctx.task.train_splits),
                "val": list(ctx.task.val_splits),
                "test": list(ctx.task.test_splits),
            },
            "selection": "lowest validation token cross-entropy",
            "decodings": ["greedy", f"beam-{cfg.beam_size}"],
            "scorer": "pycocoevalcap, PTB tokenizer, corpus-level over the evaluation split",
            "spice_available": spice_status()[0],
            "captions": annotations_digest(ctx.dataset.clips, {"captions": ()}),
        }

    def run(self, ctx: ProtocolContext) -> ProtocolOutput:
        assert ctx.view is not None
        require_java()  # fail before training, not after
        view = ctx.view
        cfg = self.config(ctx)
        task = ctx.task

        def part(splits: tuple[str, ...]) -> list[Clip]:
            return [c for c in ctx.dataset.clips if c.split in splits and c.id in view]

        train, val, test = part(task.train_splits), part(task.val_splits), part(task.test_splits)
        if not train or not test:
            raise ValueError(
                f"{task.title}: captioning needs training and evaluation "
                f"clips with embeddings; found {len(train)} and {len(test)}"
            )
        frames = {c.id: np.asarray(view.rows(c.id), dtype=np.float32) for c in train + val + test}
        with progress_bar(f"captioner {task.name}", total=cfg.max_epochs, enabled=ctx.show_progress) as advance:
            model = fit_captioner(
                [frames[c.id] for c in train],
                [list(c.extra["captions"]) for c in train],
                [frames[c.id] for c in val],
                [list(c.extra["captions"]) for c in val],
                cfg,
                device=ctx.device,
                progress=advance,
            )
        test_frames = [frames[c.id] for c in test]
        beam_name = f"beam-{cfg.beam_size}"
        outputs = {"greedy": model.greedy(test_frames), beam_name: model.beam(test_frames)}
        refs = {c.id: list(c.extra["captions"]) for c in test}
        decodings: dict[str, dict[str, float]] = {}
        per_item: dict[str, Any] = {}
        unavailable: dict[str, str] = {}
        with CocoScorer() as scorer:
            for name, caps in outputs.items():
                scores = scorer.score(refs, dict(zip([c.id for c in test], caps, strict=True)))
                decodings[name] = scores.metrics
                per_item[name] = [scores.per_item[c.id].get("cider", float("nan")) for c in test]
                unavailable = scores.unavailable
        info = {
            "best_epoch": model.best_epoch,
            "epochs_run": model.epochs_run,
            "val_loss": model.best_val_loss,
            "vocabulary": len(model.vocab),
        }
        fold = FoldResult(
            fold=test[0].split or "evaluation",
            metrics=decodings[beam_name],
            n_train=len(train),
            n_val=len(val),
            n_test=len(test),
            info=info,
        )
        available = tuple(m for m in METRICS if m in decodings[beam_name])
        ordered = tuple(m for m in task.metrics if m in available) + tuple(
            m for m in available if m not in task.metrics
        )
        return ProtocolOutput(
            folds=[fold],
            predictions={
                "ids": [c.id for c in test],
                **{name: caps for name, caps in outputs.items()},
                **{f"cider_{name}": vals for name, vals in per_item.items()},
            },
            params=self.params(ctx),
            metrics=ordered,
            extra={"decoding": beam_name, "decodings": decodings, "unavailable": unavailable},
        )
