"""Linear-evaluation style classification: the paper's 2-layer MLP on frozen clip embeddings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import numpy as np

from bench.metrics import get_metric, score
from bench.options import Option
from bench.probe import ProbeConfig, ProbeData, fit_probes
from bench.progress import progress_bar
from bench.protocols import CellError, Protocol, ProtocolContext, ProtocolOutput
from bench.results import FoldResult
from bench.splits import Split, make_splits
from bench.store import EmbeddingView
from bench.task import Clip, TaskSpec

VAL_FRACTION = Option(
    "val_fraction", float, 0.1, "share of the training clips carved out for early stopping", 0, 1, True, True
)
PROBE_OPTIONS = (
    Option("hidden", int, ProbeConfig.hidden, "hidden units of the MLP", low=1),
    Option("dropout", float, ProbeConfig.dropout, "dropout after the hidden layer", 0, 1, high_open=True),
    Option("lr", float, ProbeConfig.lr, "Adam learning rate", low=0, low_open=True),
    Option("weight_decay", float, ProbeConfig.weight_decay, "Adam weight decay", low=0),
    Option("batch_size", int, ProbeConfig.batch_size, "training batch size", low=1),
    Option("max_epochs", int, ProbeConfig.max_epochs, "most training epochs", low=1),
    Option("patience", int, ProbeConfig.patience, "epochs without a better validation score before stopping", low=0),
    VAL_FRACTION,
)


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` intra-op threads, then restore the previous count.

    The probe's matrices are tiny (batch 64 × 512): extra threads only add synchronisation,
    and on a busy machine their spin-waits cost 2–40× the work (measured on the demo suite).
    """
    import torch

    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def label_matrix(clips: list[Clip], n_classes: int, multilabel: bool) -> np.ndarray:
    if not multilabel:
        return np.array([c.target for c in clips], dtype=np.int64)
    y = np.zeros((len(clips), n_classes), dtype=np.int8)
    for i, c in enumerate(clips):
        y[i, list(c.targets)] = 1
    return y


def usable(clips: list[Clip], view: EmbeddingView) -> list[Clip]:
    """Clips whose embeddings exist (unreadable files were skipped at extraction)."""
    return [c for c in clips if c.id in view]


def check_usable(task: TaskSpec, split: Split, train: list[Clip], test: list[Clip]) -> None:
    """A :class:`CellError` when every listed training or test clip of ``split`` was skipped."""
    for part, listed, kept in (("test", split.test, test), ("training", split.train, train)):
        if listed and not kept:
            raise CellError(
                f"{task.title}, {split_label(split.name)}: no usable clip to "
                f"{'test' if part == 'test' else 'train'} on (all {len(listed)} {part} clips were skipped as "
                "unreadable; see skipped_files in the record)"
            )


def cell_splits(ctx: ProtocolContext) -> list[Split]:
    """The task's probe splits; too few folds or clips fail this cell only (the data's fault, not the run's)."""
    try:
        return make_splits(
            ctx.task, ctx.dataset, seed=ctx.seed, val_fraction=float(ctx.options.get("val_fraction", 0.1))
        )
    except ValueError as exc:
        raise CellError(str(exc)) from exc


def probe_splits(
    task: TaskSpec,
    splits: list[Split],
    view: EmbeddingView,
    n_classes: int,
    cfg: ProbeConfig,
    device: str = "cpu",
) -> list[tuple[FoldResult, list[Clip], np.ndarray]]:
    """Per split: train on ``split.train``, early-stop on ``split.val``, score ``split.test``.

    The splits' probes train together (:func:`bench.probe.fit_probes`); each gets the numbers
    it would get alone.
    """
    multilabel = task.kind == "multilabel"
    parts = [(usable(s.train, view), usable(s.val, view), usable(s.test, view)) for s in splits]
    for split, (train, _val, test) in zip(splits, parts, strict=True):
        check_usable(task, split, train, test)
    data = [
        ProbeData(
            view.matrix([c.id for c in train]),
            label_matrix(train, n_classes, multilabel),
            view.matrix([c.id for c in val]),
            label_matrix(val, n_classes, multilabel),
        )
        for train, val, _test in parts
    ]
    primary = get_metric(task.primary_metric)
    primary_fn = partial(score, primary.name)
    with torch_threads(1 if device == "cpu" else None):
        probes = fit_probes(
            data,
            n_classes,
            "multilabel" if multilabel else "multiclass",
            [ProbeConfig(**{**cfg.as_dict(), "seed": s.seed}) for s in splits],
            val_score=primary_fn if primary.higher_is_better else (lambda y, s: -primary_fn(y, s)),
            device=device,
        )
        out = []
        for split, (train, val, test), probe in zip(splits, parts, probes, strict=True):
            scores = probe.scores(view.matrix([c.id for c in test]))
            y_te = label_matrix(test, n_classes, multilabel)
            fold = FoldResult(
                fold=split.name,
                metrics={name: score(name, y_te, scores) for name in task.metrics},
                n_train=len(train),
                n_val=len(val),
                n_test=len(test),
                info={"best_epoch": probe.best_epoch, "epochs_run": probe.epochs_run, "val_score": probe.best_val},
            )
            out.append((fold, test, scores))
    return out


def split_label(name: str) -> str:
    """``fold2`` → ``fold 2``, ``seed0/fold2`` → ``seed 0/fold 2``: how messages name a split."""
    return re.sub(r"([a-z])(\d)", r"\1 \2", name)


class MLPProbeProtocol(Protocol):
    id = "probe-mlp-v1"
    short = "probe"
    order = 10
    kinds = ("multiclass", "multilabel")
    option_schema = PROBE_OPTIONS

    def config(self, ctx: ProtocolContext) -> ProbeConfig:
        overrides = {k: v for k, v in ctx.options.items() if k in ProbeConfig.__dataclass_fields__}
        return ProbeConfig(**{**ProbeConfig().as_dict(), **overrides, "seed": ctx.seed})

    def params(self, ctx: ProtocolContext) -> dict[str, Any]:
        return {"probe": self.config(ctx).as_dict(), "val_fraction": ctx.options.get("val_fraction", 0.1)}

    def run(self, ctx: ProtocolContext) -> ProtocolOutput:
        assert ctx.view is not None
        cfg = self.config(ctx)
        splits = cell_splits(ctx)
        n_classes = len(ctx.dataset.classes)
        folds: list[FoldResult] = []
        ids: list[str] = []
        fold_names: list[str] = []
        all_scores: list[np.ndarray] = []
        with progress_bar(f"probe {ctx.task.name}", total=len(splits), enabled=ctx.show_progress) as advance:
            for split, (fold, test, scores) in zip(
                splits, probe_splits(ctx.task, splits, ctx.view, n_classes, cfg, ctx.device), strict=True
            ):
                folds.append(fold)
                ids += [c.id for c in test]
                fold_names += [split.name] * len(test)
                all_scores.append(scores)
            advance(len(splits))
        scores = np.concatenate(all_scores, axis=0) if all_scores else np.zeros((0, n_classes), np.float32)
        return ProtocolOutput(
            folds=folds,
            predictions=prediction_table(ctx, ids, fold_names, scores),
            scores={"scores": scores.astype(np.float32)},
            params=self.params(ctx),
        )


def prediction_table(ctx: ProtocolContext, ids: list[str], folds: list[str], scores: np.ndarray) -> dict[str, Any]:
    """Per-sample rows aligned with the ``scores`` sidecar: id, fold, target(s), prediction."""
    by_id = {c.id: c for c in ctx.dataset.clips}
    if ctx.task.kind == "multilabel":
        return {"ids": ids, "fold": folds, "targets": [list(by_id[i].targets) for i in ids]}
    return {
        "ids": ids,
        "fold": folds,
        "target": [int(by_id[i].target) for i in ids],  # type: ignore[arg-type]
        "pred": [int(p) for p in scores.argmax(axis=1)] if len(scores) else [],
    }
