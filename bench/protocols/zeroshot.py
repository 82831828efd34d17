"""Zero-shot classification: cosine between audio embeddings and text embeddings of label prompts.

No training. Each class's text embedding is the mean of its L2-normalised prompt
embeddings (one per template), re-normalised, as in CLIP's prompt ensembling. Scores are
cosine similarities; for multi-class tasks the softmax over classes is stored so that
log loss is defined, and the arg-max is the prediction. Every clip of the evaluation
folds/split is scored; results are reported per fold (or once for a test split).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.metrics import score
from bench.prompts import label_text, parse_templates
from bench.protocols import Protocol, ProtocolContext, ProtocolOutput
from bench.protocols.classification import label_matrix, prediction_table, usable
from bench.results import FoldResult
from bench.task import Clip, ZeroShotSpec


def l2n(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def class_text_embeddings(embed_text: Any, classes: list[str], spec: ZeroShotSpec) -> np.ndarray:
    out = []
    for label in classes:
        prompts = spec.prompts(label)
        out.append(l2n(l2n(np.asarray(embed_text(prompts), dtype=np.float32)).mean(axis=0)))
    return np.stack(out)


def task_option(ctx: ProtocolContext, key: str) -> Any:
    """``TASK.key`` if given, else ``key``, from the protocol options."""
    scoped = ctx.options.get(f"{ctx.task.name}.{key}")
    return scoped if scoped not in (None, "") else ctx.options.get(key)


def softmax(x: np.ndarray, temperature: float = 100.0) -> np.ndarray:
    z = x * temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


class ZeroShotProtocol(Protocol):
    id = "zeroshot-v1"
    short = "zeroshot"
    trains = False  # no training: class-disjoint folds and leakage do not touch its numbers
    kinds = ("multiclass", "multilabel")
    needs = frozenset({"text"})

    def spec(self, ctx: ProtocolContext) -> ZeroShotSpec:
        """The task's prompts, overridden by ``zs_templates`` / ``zs_label_rule`` options.

        ``TASK.zs_templates`` (e.g. ``fsd50k.zs_label_rule=audioset``) applies to one task
        and wins over the plain key, so one ``bench run --task all`` can tune each task.
        """
        base = ctx.task.zero_shot or ZeroShotSpec()
        templates = task_option(ctx, "zs_templates")
        rule = task_option(ctx, "zs_label_rule")
        spec = ZeroShotSpec(
            templates=parse_templates(templates) if templates else base.templates,
            label_rule=str(rule) if rule else base.label_rule,
        )
        label_text(spec.label_rule, "x")  # an unknown rule fails before anything is embedded
        return spec

    def params(self, ctx: ProtocolContext) -> dict[str, Any]:
        spec = self.spec(ctx)
        return {
            "templates": list(spec.templates),
            "label_rule": spec.label_rule,
            "prompts": {c: spec.prompts(c) for c in ctx.dataset.classes},
            "score": "cosine; multi-class softmax at temperature 100 for log loss",
        }

    def groups(self, ctx: ProtocolContext) -> list[tuple[str, list[Clip]]]:
        task = ctx.task
        if task.folds:
            return [(f"fold{f}", [c for c in ctx.dataset.clips if c.fold == f]) for f in task.folds]
        return [("test", [c for c in ctx.dataset.clips if c.split in task.test_splits])]

    def run(self, ctx: ProtocolContext) -> ProtocolOutput:
        assert ctx.view is not None
        text = class_text_embeddings(ctx.encoder.embed_text, ctx.dataset.classes, self.spec(ctx))
        multilabel = ctx.task.kind == "multilabel"
        folds, ids, names, all_scores = [], [], [], []
        for name, clips in self.groups(ctx):
            clips = usable(clips, ctx.view)
            if not clips:
                continue
            audio = l2n(ctx.view.matrix([c.id for c in clips]))
            cos = audio @ text.T
            scores = cos if multilabel else softmax(cos)
            y = label_matrix(clips, len(ctx.dataset.classes), multilabel)
            metrics = {m: score(m, y, scores) for m in ctx.task.metrics}
            folds.append(FoldResult(fold=name, metrics=metrics, n_test=len(clips)))
            ids += [c.id for c in clips]
            names += [name] * len(clips)
            all_scores.append(scores.astype(np.float32))
        scores_all = np.concatenate(all_scores) if all_scores else np.zeros((0, len(ctx.dataset.classes)), np.float32)
        return ProtocolOutput(
            folds=folds,
            predictions=prediction_table(ctx, ids, names, scores_all),
            scores={"scores": scores_all},
            params=self.params(ctx),
        )
