"""Linear and k-nearest-neighbour probes: the two tracks X-ARES scores, beside the paper's MLP.

Both read the same clip embeddings and splits as the MLP probe (:func:`bench.splits.make_splits`:
official folds or seeded trials, validation carved from the training clips). Each has one
hyper-parameter, chosen per fold on the validation clips only: every grid value is fitted on
the training clips and scored on the validation clips with the task's primary metric; the best
(the first in grid order on ties) is kept, and only then are the test clips scored, once.
The test clips never reach the selection.

* ``probe-linear-v1``: scikit-learn ``LogisticRegression`` (lbfgs, L2) on embeddings
  standardised with training statistics; multinomial for multi-class tasks, one binary model
  per class for multi-label tasks (a class without both positives and negatives in training
  scores its training prior). Grid: the inverse regularisation strength ``C``.
* ``probe-knn-v1``: cosine similarity between L2-normalised embeddings; the ``k`` most similar
  training clips vote with weights softmax(similarity / 0.07) (X-ARES's DINO-style vote); a
  class's score is its share of the vote (multi-label: the weighted mean of the neighbours'
  label vectors). No training. Grid: ``k``.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from bench.metrics import get_metric, score
from bench.options import Option
from bench.progress import progress_bar
from bench.protocols import CellError, Protocol, ProtocolContext, ProtocolOutput
from bench.protocols.classification import (
    VAL_FRACTION,
    cell_splits,
    check_usable,
    label_matrix,
    prediction_table,
    split_label,
    usable,
)
from bench.results import FoldResult
from bench.splits import Split

Scorer = Callable[[np.ndarray], np.ndarray]  # embeddings [N, D] -> class scores [N, C]


def _grid(value: Any, name: str, cast: type) -> tuple[Any, ...]:
    """A grid option: a sequence, one number, or ``"a|b|c"`` text (``--popt knn_k=1|5|10``)."""
    items = value.split("|") if isinstance(value, str) else value if isinstance(value, list | tuple) else [value]
    try:
        out = tuple(cast(v) for v in items if str(v).strip())
    except ValueError:
        raise ValueError(f"--popt {name}={value!r}: expected numbers separated by '|', e.g. 1|5|10") from None
    if not out or any(v <= 0 for v in out):
        raise ValueError(f"--popt {name}={value!r}: give one or more positive values separated by '|'")
    return out


@dataclass(frozen=True)
class LinearProbeOptions:
    """``--popt`` options of ``probe-linear-v1`` (names as typed, values their defaults)."""

    linear_c: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
    linear_max_iter: int = 1000

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> LinearProbeOptions:
        d = cls()
        return cls(
            linear_c=_grid(options.get("linear_c", d.linear_c), "linear_c", float),
            linear_max_iter=int(options.get("linear_max_iter", d.linear_max_iter)),
        )


@dataclass(frozen=True)
class KNNProbeOptions:
    """``--popt`` options of ``probe-knn-v1``."""

    knn_k: tuple[int, ...] = (1, 3, 5, 10, 20, 50)
    knn_temperature: float = 0.07

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> KNNProbeOptions:
        d = cls()
        temperature = float(options.get("knn_temperature", d.knn_temperature))
        if temperature <= 0:
            raise ValueError(f"--popt knn_temperature={temperature}: must be positive")
        return cls(knn_k=_grid(options.get("knn_k", d.knn_k), "knn_k", int), knn_temperature=temperature)


@dataclass(frozen=True)
class Selection:
    """The grid value validation chose, and every value's validation score."""

    value: Any
    val_score: float
    val_scores: dict[str, float]


def select_on_validation(
    grid: tuple[Any, ...],
    fit: Callable[[Any], Scorer],
    x_val: np.ndarray,
    y_val: np.ndarray,
    val_metric: Callable[[np.ndarray, np.ndarray], float],
) -> tuple[Selection, Scorer]:
    """Fit each grid value (``fit`` sees only training data), score it on validation, keep the best.

    ``val_metric`` is higher-is-better; NaN scores lose; ties keep the first value in grid order.
    """
    best: tuple[float, Any, Scorer] | None = None
    scores: dict[str, float] = {}
    for value in grid:
        model = fit(value)
        s = float(val_metric(y_val, model(x_val))) if len(x_val) else 0.0
        scores[str(value)] = s
        if best is None or (s == s and (best[0] != best[0] or s > best[0])):
            best = (s, value, model)
    assert best is not None
    return Selection(best[1], best[0], scores), best[2]


class ShallowProbeProtocol(Protocol):
    """A probe with one hyper-parameter chosen on validation; subclasses fit and score."""

    kinds = ("multiclass", "multilabel")
    grid_name = "value"

    @abstractmethod
    def options(self, ctx: ProtocolContext) -> Any: ...

    @abstractmethod
    def grid(self, ctx: ProtocolContext) -> tuple[Any, ...]: ...

    @abstractmethod
    def fitter(
        self, ctx: ProtocolContext, x: np.ndarray, y: np.ndarray, n_classes: int, seed: int
    ) -> Callable[[Any], Scorer]: ...

    def params(self, ctx: ProtocolContext) -> dict[str, Any]:
        return {
            **asdict(self.options(ctx)),
            "val_fraction": ctx.options.get("val_fraction", 0.1),
            "selection": f"{self.grid_name} maximising the primary metric on the validation clips (first on ties)",
        }

    def run_split(self, ctx: ProtocolContext, split: Split) -> tuple[FoldResult, list[str], np.ndarray]:
        assert ctx.view is not None
        multilabel = ctx.task.kind == "multilabel"
        n_classes = len(ctx.dataset.classes)
        train, val, test = (usable(part, ctx.view) for part in (split.train, split.val, split.test))
        check_usable(ctx.task, split, train, test)
        if not train:
            raise CellError(f"{ctx.task.title}, {split_label(split.name)}: no training clip")
        x_tr, x_va = ctx.view.matrix([c.id for c in train]), ctx.view.matrix([c.id for c in val])
        y_tr, y_va = label_matrix(train, n_classes, multilabel), label_matrix(val, n_classes, multilabel)
        primary = get_metric(ctx.task.primary_metric)
        sign = 1.0 if primary.higher_is_better else -1.0
        chosen, model = select_on_validation(
            self.grid(ctx),
            self.fitter(ctx, x_tr, y_tr, n_classes, split.seed),
            x_va,
            y_va,
            lambda y, s: sign * score(primary.name, y, s),
        )
        # selection is over: only now are the test clips read and scored
        y_te = label_matrix(test, n_classes, multilabel)
        scores = model(ctx.view.matrix([c.id for c in test])) if test else np.zeros((0, n_classes))
        fold = FoldResult(
            fold=split.name,
            metrics={m: score(m, y_te, scores) for m in ctx.task.metrics},
            n_train=len(train),
            n_val=len(val),
            n_test=len(test),
            info={
                "selected": {self.grid_name: chosen.value},
                "val_score": sign * chosen.val_score,
                "val_scores": {k: sign * v for k, v in chosen.val_scores.items()},
            },
        )
        return fold, [c.id for c in test], scores

    def run(self, ctx: ProtocolContext) -> ProtocolOutput:
        assert ctx.view is not None
        splits = cell_splits(ctx)
        n_classes = len(ctx.dataset.classes)
        folds, ids, names, all_scores = [], [], [], []
        # one BLAS thread, as the MLP probe uses one torch thread: the matrices are small, and on a
        # busy machine idle BLAS threads spin-wait (measured: ~60x the CPU time of one thread)
        with (
            threadpool_limits(limits=1),
            progress_bar(f"{self.short} {ctx.task.name}", total=len(splits), enabled=ctx.show_progress) as advance,
        ):
            for split in splits:
                fold, test_ids, scores = self.run_split(ctx, split)
                folds.append(fold)
                ids += test_ids
                names += [split.name] * len(test_ids)
                all_scores.append(scores)
                advance(1)
        scores = np.concatenate(all_scores) if all_scores else np.zeros((0, n_classes))
        return ProtocolOutput(
            folds=folds,
            predictions=prediction_table(ctx, ids, names, scores),
            scores={"scores": scores.astype(np.float32)},
            params=self.params(ctx),
        )


class LinearProbeProtocol(ShallowProbeProtocol):
    id = "probe-linear-v1"
    short = "linear"
    order = 11
    option_schema = (
        Option(
            "linear_c",
            str,
            "|".join(f"{c:g}" for c in LinearProbeOptions.linear_c),
            "inverse regularisation strengths searched on validation, e.g. 0.01|0.1|1",
            parse=lambda v: _grid(v, "linear_c", float),
        ),
        Option("linear_max_iter", int, LinearProbeOptions.linear_max_iter, "most solver iterations", low=1),
        VAL_FRACTION,
    )
    grid_name = "C"

    def options(self, ctx: ProtocolContext) -> LinearProbeOptions:
        return LinearProbeOptions.from_options(ctx.options)

    def grid(self, ctx: ProtocolContext) -> tuple[Any, ...]:
        return self.options(ctx).linear_c

    def params(self, ctx: ProtocolContext) -> dict[str, Any]:
        return {**super().params(ctx), "model": "standardise (training statistics) + LogisticRegression(lbfgs, L2)"}

    def fitter(
        self, ctx: ProtocolContext, x: np.ndarray, y: np.ndarray, n_classes: int, seed: int
    ) -> Callable[[Any], Scorer]:
        # float64 throughout: scikit-learn fits float32 input in float32, whose probabilities miss
        # summing to one by ~1e-7 (log loss then warns and renormalises)
        x = x.astype(np.float64)
        mean, std = x.mean(axis=0), x.std(axis=0) + 1e-8
        z = (x - mean) / std
        max_iter = self.options(ctx).linear_max_iter

        def fit(c: float) -> Scorer:
            from sklearn.exceptions import ConvergenceWarning
            from sklearn.linear_model import LogisticRegression

            def model(y_fit: np.ndarray) -> LogisticRegression:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is recorded in the params
                    return LogisticRegression(C=c, max_iter=max_iter, random_state=seed).fit(z, y_fit)

            if y.ndim == 1:  # multi-class: columns of classes seen in training; unseen classes score 0
                lr = model(y)
                cols = lr.classes_.astype(np.int64)

                def scores(q: np.ndarray) -> np.ndarray:
                    out = np.zeros((len(q), n_classes))
                    out[:, cols] = lr.predict_proba((q.astype(np.float64) - mean) / std)
                    return out

                return scores
            per_class: list[Any] = []
            for k in range(n_classes):
                column = y[:, k]
                per_class.append(float(column.mean()) if column.min() == column.max() else model(column))

            def scores_ml(q: np.ndarray) -> np.ndarray:
                zq = (q.astype(np.float64) - mean) / std
                cols = [np.full(len(q), m) if isinstance(m, float) else m.predict_proba(zq)[:, 1] for m in per_class]
                return np.stack(cols, axis=1) if cols else np.zeros((len(q), 0))

            return scores_ml

        return fit


def l2_normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class KNNProbeProtocol(ShallowProbeProtocol):
    id = "probe-knn-v1"
    short = "knn"
    order = 12
    option_schema = (
        Option(
            "knn_k",
            str,
            "|".join(str(k) for k in KNNProbeOptions.knn_k),
            "neighbour counts searched on validation, e.g. 1|5|10",
            parse=lambda v: _grid(v, "knn_k", int),
        ),
        Option(
            "knn_temperature",
            float,
            KNNProbeOptions.knn_temperature,
            "softmax temperature of the votes",
            low=0,
            low_open=True,
        ),
        VAL_FRACTION,
    )
    grid_name = "k"

    def options(self, ctx: ProtocolContext) -> KNNProbeOptions:
        return KNNProbeOptions.from_options(ctx.options)

    def grid(self, ctx: ProtocolContext) -> tuple[Any, ...]:
        return self.options(ctx).knn_k

    def params(self, ctx: ProtocolContext) -> dict[str, Any]:
        return {**super().params(ctx), "model": "cosine kNN, softmax(similarity / temperature)-weighted vote"}

    def fitter(
        self, ctx: ProtocolContext, x: np.ndarray, y: np.ndarray, n_classes: int, seed: int
    ) -> Callable[[Any], Scorer]:
        bank = l2_normalise(x.astype(np.float64))
        labels = y.astype(np.float64) if y.ndim == 2 else np.eye(n_classes)[y]
        temperature = self.options(ctx).knn_temperature

        def fit(k: int) -> Scorer:
            k = min(int(k), len(bank))

            def scores(q: np.ndarray) -> np.ndarray:
                sim = l2_normalise(q.astype(np.float64)) @ bank.T
                top = np.argsort(-sim, axis=1, kind="stable")[:, :k]
                near = np.take_along_axis(sim, top, axis=1) / temperature
                weight = np.exp(near - near.max(axis=1, keepdims=True))
                weight /= weight.sum(axis=1, keepdims=True)
                return np.einsum("nk,nkc->nc", weight, labels[top])

            return scores

        return fit
