"""Every reported metric, recomputed under per-item weights: the bootstrap's resampled test sets.

A bootstrap resample of a fold's ``n`` test items draws item ``i`` ``c_i`` times
(multinomial counts). Computing a metric on the resampled set is the same as computing it on
the original items with weights ``c_i``, so each function here takes one fold's items and a
weight matrix ``W [B, n]`` and returns the metric of all ``B`` resampled sets at once, without
copying rows. With all weights 1 each returns the metric the protocol reported (tests check
them against scikit-learn, sed_eval and pycocoevalcap, and against duplicated rows).

What is resampled is always a test item: a clip (classification, zero-shot, DESED, a CMR
query) or an evaluation clip with its whole set of reference captions (Clotho). Statistics a
protocol derives from the full test set stay fixed: CIDEr's document frequencies, DESED's
thresholds (chosen on other folds) and CMR's gallery.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench.stats.items import FoldItems

Resampler = Callable[[FoldItems, np.ndarray], np.ndarray]
"""(one fold's items, weights ``[B, n]``) → the metric of each weighted set, ``[B]``."""


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den``, NaN where ``den`` is 0 (an undefined metric, as the libraries return it)."""
    safe = np.where(den > 0, den, 1.0)
    return np.where(den > 0, num / safe, np.nan)


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean ignoring NaN; NaN (without a warning) where every value is NaN."""
    finite = ~np.isnan(values)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    return _ratio(total, finite.sum(axis=axis).astype(np.float64))


def class_labels(items: FoldItems) -> np.ndarray:
    """Integer targets (multi-class records store ``target``; one-hot ``targets`` fall back to arg-max)."""
    if "target" in items:
        return items["target"].astype(np.int64)
    return np.asarray(items["targets"]).argmax(axis=1)


def target_matrix(items: FoldItems, n_classes: int) -> np.ndarray:
    """{0,1} targets ``[n, C]``: multi-label as stored, multi-class one-hot (as the mAP metric encodes them)."""
    if "targets" in items:
        return np.asarray(items["targets"], dtype=bool)
    y = class_labels(items)
    out = np.zeros((len(y), n_classes), dtype=bool)
    out[np.arange(len(y)), y] = True
    return out


def accuracy(items: FoldItems, w: np.ndarray) -> np.ndarray:
    correct = (items["scores"].argmax(axis=1) == class_labels(items)).astype(np.float64)
    return _ratio(w @ correct, w.sum(axis=1))


def balanced_accuracy(items: FoldItems, w: np.ndarray) -> np.ndarray:
    """Mean recall over the classes present in the (weighted) set, as scikit-learn drops absent ones."""
    y = class_labels(items)
    correct = items["scores"].argmax(axis=1) == y
    classes = np.unique(y)
    member = (y[:, None] == classes[None, :]).astype(np.float64)
    recall = _ratio(w @ (member * correct[:, None]), w @ member)
    return _nanmean(recall, axis=1)


def _average_precision(score: np.ndarray, positive: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted AP of one class: Σ (R_k − R_{k−1}) P_k over distinct thresholds, as scikit-learn.

    NaN for weighted sets without a positive.
    """
    order = np.argsort(score, kind="mergesort")[::-1]
    s, pos, wo = score[order], positive[order].astype(np.float64), w[:, order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last item of each group of tied scores
    tp = np.cumsum(wo * pos, axis=1)[:, last]
    seen = np.cumsum(wo, axis=1)[:, last]
    n_pos = tp[:, -1:]
    precision = np.where(seen > 0, tp / np.where(seen > 0, seen, 1.0), 0.0)
    recall = tp / np.where(n_pos > 0, n_pos, 1.0)
    step = np.diff(recall, axis=1, prepend=0.0)
    return np.where(n_pos[:, 0] > 0, (step * precision).sum(axis=1), np.nan)


def mean_average_precision(items: FoldItems, w: np.ndarray) -> np.ndarray:
    """Macro AP over the classes with a (weighted) positive, as :func:`bench.metrics.mean_average_precision`."""
    scores = items["scores"]
    y = target_matrix(items, scores.shape[1])
    per_class = np.full((len(w), scores.shape[1]), np.nan)
    for c in np.flatnonzero(y.any(axis=0)):
        per_class[:, c] = _average_precision(scores[:, c], y[:, c], w)
    return _nanmean(per_class, axis=1)


def log_loss(items: FoldItems, w: np.ndarray) -> np.ndarray:
    """Weighted mean cross-entropy, each row treated as :func:`bench.metrics.multiclass_log_loss` does.

    That function clips to [1e-15, 1] and scikit-learn then clips to its dtype's eps and
    renormalises each row; both are per-row, so the per-item losses are computed once.
    """
    p = np.clip(items["scores"], 1e-15, 1.0)
    eps = np.finfo(p.dtype).eps
    p = np.clip(p, eps, 1 - eps)
    p = p / p.sum(axis=1, keepdims=True)
    per_item = -np.log(p[np.arange(len(p)), class_labels(items)]).astype(np.float64)
    return _ratio(w @ per_item, w.sum(axis=1))


def mean_of(key: str) -> Resampler:
    """The weighted mean of a stored per-item value (CIDEr-D, ROUGE-L, SPICE per caption set)."""

    def resample(items: FoldItems, w: np.ndarray) -> np.ndarray:
        return _ratio(w @ items[key].astype(np.float64), w.sum(axis=1))

    resample.__name__ = f"mean_of_{key}"
    return resample


def reciprocal_rank(key: str) -> Resampler:
    """Mean reciprocal rank over the (weighted) queries; ``key`` holds each query's rank."""

    def resample(items: FoldItems, w: np.ndarray) -> np.ndarray:
        ranks = items[key].astype(np.float64)
        return _ratio(w @ (1.0 / ranks), w.sum(axis=1))

    resample.__name__ = f"reciprocal_rank_{key}"
    return resample


# --- segment-based metrics (DESED): per-clip counts summed, then sed_eval's formulas ---------


def _segment_totals(items: FoldItems, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted (true positives, reference, system) segment counts per class, each ``[B, C]``."""
    counts = items["segment_counts"].astype(np.float64)  # [n, C, 3]
    return w @ counts[:, :, 0], w @ counts[:, :, 1], w @ counts[:, :, 2]


def _f_measure(tp: np.ndarray, ref: np.ndarray, sys: np.ndarray) -> np.ndarray:
    """sed_eval: precision NaN without system output, recall NaN without reference, F 0 when both are 0."""
    precision, recall = _ratio(tp, sys), _ratio(tp, ref)
    with np.errstate(invalid="ignore"):
        f = 2 * precision * recall / (precision + recall)
    return np.where((precision == 0) & (recall == 0), 0.0, f)


def segment_f1(items: FoldItems, w: np.ndarray) -> np.ndarray:
    tp, ref, sys = (x.sum(axis=1) for x in _segment_totals(items, w))
    return _f_measure(tp, ref, sys)


def segment_precision(items: FoldItems, w: np.ndarray) -> np.ndarray:
    tp, _ref, sys = (x.sum(axis=1) for x in _segment_totals(items, w))
    return _ratio(tp, sys)


def segment_recall(items: FoldItems, w: np.ndarray) -> np.ndarray:
    tp, ref, _sys = (x.sum(axis=1) for x in _segment_totals(items, w))
    return _ratio(tp, ref)


def segment_error_rate(items: FoldItems, w: np.ndarray) -> np.ndarray:
    """(S + D + I) / (N_ref + eps), the per-segment substitutions, deletions, insertions summed."""
    s_d_i = w @ items["segment_sdi"].astype(np.float64)  # [B, 3]
    _tp, ref, _sys = (x.sum(axis=1) for x in _segment_totals(items, w))
    return np.asarray(s_d_i.sum(axis=1) / (ref + np.spacing(1)))


def segment_f1_macro(items: FoldItems, w: np.ndarray) -> np.ndarray:
    """Class-wise F averaged over classes, NaN classes left out (sed_eval's ``nanmean``)."""
    return _nanmean(_f_measure(*_segment_totals(items, w)), axis=1)


# --- BLEU from per-caption statistics, exactly as pycocoevalcap's corpus-level score -----------

BLEU_STATS = ("testlen", "reflen", "guess_1", "guess_2", "guess_3", "guess_4")
"""Columns of ``bleu_stats`` [n, 10]: these, then ``correct_1..4`` (``reflen`` = the closest reference length)."""


def bleu(n: int) -> Resampler:
    """Corpus BLEU-n: clipped n-gram matches and lengths summed over captions, then the geometric mean × BP."""

    def resample(items: FoldItems, w: np.ndarray) -> np.ndarray:
        stats = w @ items["bleu_stats"].astype(np.float64)  # [B, 10]
        tiny, small = 1e-15, 1e-9
        score = np.ones(len(w))
        for k in range(n):
            score = score * (stats[:, 6 + k] + tiny) / (stats[:, 2 + k] + small)
        score = score ** (1.0 / n)
        ratio = (stats[:, 0] + tiny) / (stats[:, 1] + small)
        return np.asarray(np.where(ratio < 1, score * np.exp(1 - 1 / ratio), score))

    resample.__name__ = f"bleu_{n}"
    return resample


def meteor(items: FoldItems, w: np.ndarray) -> np.ndarray:
    """Corpus METEOR of each weighted set: METEOR's sufficient statistics summed, scored by its Java jar."""
    from bench.protocols.captioning.metrics import meteor_resample

    return meteor_resample(w @ items["meteor_stats"].astype(np.float64))
