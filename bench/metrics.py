"""Metrics, each computed by scikit-learn (or sed_eval / pycocoevalcap in their protocols).

Every metric is registered with its direction so tables and early stopping know whether
higher is better.
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


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    fn: Callable[[np.ndarray, np.ndarray], float]
    description: str


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


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("accuracy", True, accuracy, "top-1 accuracy (scikit-learn accuracy_score)"),
        Metric("balanced_accuracy", True, balanced_accuracy, "class-wise average accuracy"),
        Metric("mAP", True, mean_average_precision, "macro average precision (scikit-learn)"),
        Metric("log_loss", False, multiclass_log_loss, "multi-class cross-entropy (scikit-learn log_loss)"),
    ]
}


def get_metric(name: str) -> Metric:
    if name not in METRICS:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}")
    return METRICS[name]


def register_metric(metric: Metric) -> None:
    if metric.name in METRICS and METRICS[metric.name] is not metric:
        raise KeyError(f"metric {metric.name!r} is already registered")
    METRICS[metric.name] = metric


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and population std (ddof=0) over folds or trials; NaNs are ignored."""
    arr = np.asarray([v for v in values if v == v], dtype=np.float64)
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=0))
