"""The MLP probe trained on a fraction of the training data (one point of a Fig. 2 curve).

Not registered for ``bench run``: ``bench sweep fractions`` builds one instance per fraction,
and each writes an ordinary result record (protocol id ``probe-mlp-v1-frac{p}``). Repetition
``r`` (``seeds`` of them) uses the probe protocol's own splits for seed ``seed + 1000·r``:
validation is carved from the *full* training split once, so every fraction early-stops on
the same clips and only the amount of training data changes; the training part is then cut
to a nested stratified subset (:mod:`bench.protocols.data_fraction.subsets`). With folds (ESC-50, UrbanSound8K)
every fold of every repetition is run. At 100 % repetition ``r`` is exactly the probe
protocol's trial ``r`` (or, for fold tasks, repetition 0 is exactly its folds).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from bench.progress import progress_bar
from bench.protocols import CellError, ProtocolContext, ProtocolOutput
from bench.protocols.classification import MLPProbeProtocol, prediction_table, probe_splits
from bench.protocols.data_fraction.subsets import SCHEME, fraction_subset
from bench.results import FoldResult
from bench.splits import Split, make_splits


class FractionProbeProtocol(MLPProbeProtocol):
    def __init__(self, fraction_pct: float, seeds: int = 3) -> None:
        if seeds < 1:
            raise ValueError(f"--seeds must be at least 1, got {seeds}")
        self.fraction = float(fraction_pct)
        self.seeds = int(seeds)
        self.id = f"{MLPProbeProtocol.id}-frac{self.fraction:g}"
        self.short = f"probe-frac{self.fraction:g}"

    def params(self, ctx: ProtocolContext) -> dict[str, Any]:
        return {**super().params(ctx), "fraction_pct": self.fraction, "seeds": self.seeds, "subsets": SCHEME}

    def splits(self, ctx: ProtocolContext) -> list[tuple[int, Split, int]]:
        """(repetition, split, training pool size) for all folds, or one trial, per repetition."""
        task = ctx.task if ctx.task.folds else replace(ctx.task, trials=1)
        val_fraction = float(ctx.options.get("val_fraction", 0.1))
        out = []
        for rep in range(self.seeds):
            try:
                splits = make_splits(task, ctx.dataset, seed=ctx.seed + 1000 * rep, val_fraction=val_fraction)
            except ValueError as exc:  # too few folds or clips: this cell fails, the sweep goes on
                raise CellError(str(exc)) from exc
            for split in splits:
                name = f"seed{rep}" if not ctx.task.folds else f"seed{rep}/{split.name}"
                subset = fraction_subset(split.train, self.fraction, seed=split.seed)
                pool = sum(c.id in ctx.view for c in split.train) if ctx.view is not None else len(split.train)
                out.append((rep, Split(name, subset, split.val, split.test, split.seed), pool))
        return out

    def run(self, ctx: ProtocolContext) -> ProtocolOutput:
        assert ctx.view is not None
        cfg = self.config(ctx)
        n_classes = len(ctx.dataset.classes)
        folds: list[FoldResult] = []
        ids: list[str] = []
        names: list[str] = []
        scores_all: list[np.ndarray] = []
        splits = self.splits(ctx)
        with progress_bar(
            f"probe {ctx.task.name} @ {self.fraction:g}%", total=len(splits), enabled=ctx.show_progress
        ) as advance:
            results = probe_splits(ctx.task, [split for _, split, _ in splits], ctx.view, n_classes, cfg, ctx.device)
            for (rep, split, pool), (fold, test, scores) in zip(splits, results, strict=True):
                info = {"seed_index": rep, "n_pool": pool, "fraction_actual": fold.n_train / max(1, pool)}
                fold = replace(fold, info={**fold.info, **info})
                folds.append(fold)
                ids += [c.id for c in test]
                names += [split.name] * len(test)
                scores_all.append(scores)
            advance(len(splits))
        scores = np.concatenate(scores_all) if scores_all else np.zeros((0, n_classes), np.float32)
        return ProtocolOutput(
            folds=folds,
            predictions=prediction_table(ctx, ids, names, scores),
            scores={"scores": scores.astype(np.float32)},
            params=self.params(ctx),
            extra={"sweep": "fractions", "fraction_pct": self.fraction},
        )
