"""Metrics, each computed by scikit-learn (or sed_eval / pycocoevalcap in their protocols).

Every metric a task or protocol reports is registered here with its direction, so early
stopping and anything that ranks results know whether higher is better; metrics computed
inside a protocol (segment F1, MRR, the COCO caption metrics) are registered without a
function. Packages add their own through the ``bench.metrics`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    log_loss,
)

from bench.registry import Registry

MetricFn = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    description: str
    fn: MetricFn | None = None  # (labels, class scores) -> value; None: computed by a protocol


def _labels_1d(y_true: np.ndarray) -> np.ndarray:
    return y_true if y_true.ndim == 1 else y_true.argmax(axis=1)


def accuracy(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Top-1 accuracy; ``y_true`` int labels, ``scores`` [N, C]."""
    return float(accuracy_score(_labels_1d(y_true), scores.argmax(axis=1)))


def balanced_accuracy(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Class-wise average accuracy (DCASE's 'accuracy' for TAU)."""
    return float(balanced_accuracy_score(_labels_1d(y_true), scores.argmax(axis=1)))


def one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.zeros((len(y), n_classes), dtype=np.int8)
    out[np.arange(len(y)), y] = 1
    return out


def mean_average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Macro AP over classes that have at least one positive in ``y_true``.

    ``y_true`` is a {0,1} matrix [N, C], or int labels (one-hot encoded here, as the
    VGGSound authors' ``eval.py`` does). Classes without positives have undefined AP and
    are left out of the mean, as in the VGGSound and AudioSet evaluation code.
    """
    y = one_hot(y_true, scores.shape[1]) if y_true.ndim == 1 else y_true
    present = y.sum(axis=0) > 0
    if not present.any():
        return float("nan")
    return float(average_precision_score(y[:, present], scores[:, present], average="macro"))


def multiclass_log_loss(y_true: np.ndarray, scores: np.ndarray) -> float:
    return float(log_loss(_labels_1d(y_true), np.clip(scores, 1e-15, 1.0), labels=np.arange(scores.shape[1])))


def _builtin(name: str, higher_is_better: bool, description: str, fn: MetricFn | None = None) -> Metric:
    return Metric(name, higher_is_better, description, fn)


# fn None: the protocol computes the value itself (sed_eval, pycocoevalcap, retrieval ranks);
# the entry still says what it is and which way is better.
METRICS: Registry[Metric] = Registry(
    "metric",
    entry_point_group="bench.metrics",
    builtins={
        m.name: m
        for m in [
            _builtin("accuracy", True, "top-1 accuracy (scikit-learn accuracy_score)", accuracy),
            _builtin("balanced_accuracy", True, "class-wise average accuracy", balanced_accuracy),
            _builtin("mAP", True, "macro average precision (scikit-learn)", mean_average_precision),
            _builtin("log_loss", False, "multi-class cross-entropy (scikit-learn log_loss)", multiclass_log_loss),
            _builtin("f1", True, "segment-based F1, overall (micro), sed_eval"),
            _builtin("precision", True, "segment-based precision, overall (micro), sed_eval"),
            _builtin("recall", True, "segment-based recall, overall (micro), sed_eval"),
            _builtin(
                "error_rate", False, "segment-based error rate (substitutions + deletions + insertions), sed_eval"
            ),
            _builtin("f1_macro", True, "segment-based F1, class-wise average, sed_eval"),
            _builtin("mrr_a2i", True, "mean reciprocal rank of the first relevant image for each audio query"),
            _builtin("mrr_i2a", True, "mean reciprocal rank of the first relevant audio for each image query"),
            *(_builtin(f"bleu_{n}", True, f"BLEU-{n} (pycocoevalcap, corpus level)") for n in (1, 2, 3, 4)),
            _builtin("meteor", True, "METEOR 1.5 (pycocoevalcap, Java)"),
            _builtin("rouge_l", True, "ROUGE-L (pycocoevalcap)"),
            _builtin("cider", True, "CIDEr-D (pycocoevalcap; IDF from the evaluated references)"),
            _builtin("spice", True, "SPICE (pycocoevalcap; needs the Stanford CoreNLP jars)"),
            _builtin("spider", True, "SPIDEr = (CIDEr + SPICE) / 2"),
        ]
    },
)


def get_metric(name: str) -> Metric:
    return METRICS.get(name)


def score(name: str, y_true: np.ndarray, scores: np.ndarray) -> float:
    """``name`` computed from labels and class scores; an error for metrics only a protocol can compute."""
    metric = get_metric(name)
    if metric.fn is None:
        raise ValueError(f"metric {name!r} is computed by its protocol, not from labels and class scores")
    return metric.fn(y_true, scores)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and population std (ddof=0) over folds or trials; NaNs are ignored."""
    arr = np.asarray([v for v in values if v == v], dtype=np.float64)
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=0))
