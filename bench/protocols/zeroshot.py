"""Zero-shot classification: cosine between audio embeddings and text embeddings of label prompts.

No training. Each class's text embedding is the mean of its L2-normalised prompt
embeddings (one per template), re-normalised, as in CLIP's prompt ensembling. Scores are
cosine similarities; for multi-class tasks the softmax over classes is stored so that
log loss is defined, and the arg-max is the prediction. Every clip of the evaluation
folds/split is scored; results are reported per fold (or once for a test split).

Prompt sensitivity: zero-shot numbers move with the wording of the prompt. Beside the
reported result (the task's templates), the protocol scores every template of a wider set
(``zs_sensitivity_templates``; default the task's own plus :data:`SENSITIVITY_TEMPLATES`)
alone and their ensemble, and records each one's metrics and the spread over templates
(``protocol.prompt_sensitivity`` in the record, a table in the leaderboard).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.metrics import mean_std, score
from bench.options import Option
from bench.prompts import LABEL_RULES, label_text, parse_templates
from bench.protocols import CellError, Protocol, ProtocolContext, ProtocolOutput
from bench.protocols.classification import label_matrix, prediction_table, split_label, usable
from bench.results import FoldResult
from bench.task import Clip, ZeroShotSpec

SENSITIVITY_TEMPLATES = (
    "this is a sound of {label}.",
    "a recording of {label}.",
    "the sound of {label}.",
    "an audio clip of {label}.",
    "{label}",
    "a sound that is {label}.",
)
"""Templates scored one at a time for the prompt-sensitivity report (with the task's own)."""


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
    order = 20
    trains = False  # no training: class-disjoint folds and leakage do not touch its numbers
    kinds = ("multiclass", "multilabel")
    needs = frozenset({"text"})
    option_schema = (
        Option(
            "zs_templates",
            str,
            None,
            "prompt templates: 't1|t2' or @FILE (one per line); each holds {label}",
            nullable=True,
            per_task=True,
        ),
        Option(
            "zs_label_rule",
            str,
            None,
            "how a label becomes words",
            choices=tuple(sorted(LABEL_RULES)),
            nullable=True,
            per_task=True,
        ),
        Option(
            "zs_sensitivity_templates",
            str,
            None,
            "extra templates scored one by one for prompt sensitivity: 't1|t2' or @FILE",
            nullable=True,
            per_task=True,
        ),
    )

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

    def sensitivity_templates(self, ctx: ProtocolContext) -> tuple[str, ...]:
        """The task's templates first, then the wider set (``zs_sensitivity_templates`` overrides it)."""
        given = task_option(ctx, "zs_sensitivity_templates")
        extra = parse_templates(given) if given else SENSITIVITY_TEMPLATES
        return tuple(dict.fromkeys((*self.spec(ctx).templates, *extra)))

    def params(self, ctx: ProtocolContext) -> dict[str, Any]:
        spec = self.spec(ctx)
        return {
            "templates": list(spec.templates),
            "label_rule": spec.label_rule,
            "prompts": {c: spec.prompts(c) for c in ctx.dataset.classes},
            "score": "cosine; multi-class softmax at temperature 100 for log loss",
            "sensitivity_templates": list(self.sensitivity_templates(ctx)),
        }

    def groups(self, ctx: ProtocolContext) -> list[tuple[str, list[Clip]]]:
        task = ctx.task
        if task.folds:
            return [(f"fold{f}", [c for c in ctx.dataset.clips if c.fold == f]) for f in task.folds]
        return [("test", [c for c in ctx.dataset.clips if c.split in task.test_splits])]

    def score_groups(
        self, ctx: ProtocolContext, text: np.ndarray
    ) -> tuple[list[FoldResult], list[str], list[str], np.ndarray]:
        """Folds, ids, fold names and class scores of every evaluated clip against class embeddings ``text``."""
        assert ctx.view is not None
        multilabel = ctx.task.kind == "multilabel"
        folds, ids, names, all_scores = [], [], [], []
        for name, listed in self.groups(ctx):
            clips = usable(listed, ctx.view)
            if listed and not clips:
                raise CellError(
                    f"{ctx.task.title}, {split_label(name)}: no usable clip to score (all {len(listed)} were "
                    "skipped as unreadable; see skipped_files in the record)"
                )
            if not clips:
                continue  # a fold this copy of the dataset does not list at all
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
        return folds, ids, names, scores_all

    def prompt_sensitivity(self, ctx: ProtocolContext) -> dict[str, Any]:
        """Each sensitivity template alone and their ensemble: metrics (mean over folds) and the spread."""
        spec = self.spec(ctx)
        templates = self.sensitivity_templates(ctx)
        classes = ctx.dataset.classes
        prompts = [t.format(label=spec.label_text(c)) for c in classes for t in templates]
        emb = l2n(np.asarray(ctx.encoder.embed_text(prompts), dtype=np.float32))
        emb = emb.reshape(len(classes), len(templates), -1)

        def metrics_of(text: np.ndarray) -> dict[str, float]:
            folds = self.score_groups(ctx, text)[0]
            return {m: mean_std([f.metrics[m] for f in folds])[0] for m in ctx.task.metrics}

        per_template = {t: metrics_of(emb[:, k]) for k, t in enumerate(templates)}
        spread = {}
        for m in ctx.task.metrics:
            values = np.array([v[m] for v in per_template.values()])
            spread[m] = {"min": float(values.min()), "max": float(values.max()), "std": float(values.std())}
        return {
            "templates": list(templates),
            "per_template": per_template,
            "ensemble": metrics_of(l2n(emb.mean(axis=1))),
            "spread": spread,
        }

    def run(self, ctx: ProtocolContext) -> ProtocolOutput:
        assert ctx.view is not None
        text = class_text_embeddings(ctx.encoder.embed_text, ctx.dataset.classes, self.spec(ctx))
        folds, ids, names, scores_all = self.score_groups(ctx, text)
        return ProtocolOutput(
            folds=folds,
            predictions=prediction_table(ctx, ids, names, scores_all),
            scores={"scores": scores_all},
            params=self.params(ctx),
            extra={"prompt_sensitivity": self.prompt_sensitivity(ctx)},
        )
