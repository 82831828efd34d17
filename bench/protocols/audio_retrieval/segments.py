"""Segment-based event metrics: sed_eval for reported scores, an exact vectorised twin for search.

Reported numbers always come from ``sed_eval.sound_event.SegmentBasedMetrics``, evaluated one
file at a time with each file's length (so clips without events count). Choosing a decision
threshold needs the same overall F1 at a hundred thresholds over a thousand clips, which
sed_eval's per-segment Python loops make slow; :class:`SegmentGrid` computes the same counts
with numpy. It reproduces sed_eval's segment rounding exactly, float quirks included
(``floor(onset * 1 / resolution)``, ``ceil(offset * 1 / resolution)``: 0.3 s starts in segment 2
at 0.1 s), and the protocol checks both agree on every scored fold.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Event = tuple[float, float, str]


def segment_span(onset: float, offset: float, resolution: float) -> tuple[int, int]:
    """Segment indices ``[first, stop)`` an event covers, rounded as sed_eval's event roll does."""
    return int(math.floor(onset * 1 / float(resolution))), int(math.ceil(offset * 1 / float(resolution)))


def segment_count(length_s: float, resolution: float) -> int:
    """Number of evaluated segments for a file of ``length_s`` seconds (sed_eval's rule)."""
    return int(math.ceil(length_s * 1 / float(resolution)))


@dataclass
class FileEvents:
    """One file: reference events, estimated events and the evaluated length in seconds."""

    filename: str
    reference: Sequence[Event]
    estimated: Sequence[Event]
    length_s: float


def _as_dicts(filename: str, events: Sequence[Event]) -> list[dict[str, Any]]:
    return [
        {"filename": filename, "onset": float(on), "offset": float(off), "event_label": lab} for on, off, lab in events
    ]


def sed_eval_segment_scores(
    files: Sequence[FileEvents], classes: Sequence[str], resolution: float = 0.1
) -> dict[str, float]:
    """sed_eval segment-based metrics over ``files``, accumulated file by file.

    Returns overall (micro) F1, precision, recall and error rate, the class-wise average
    (macro) F1, and the raw counts. Empty system output gives NaN precision/F1, as in sed_eval.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dcase_util imports pkg_resources
        import sed_eval

    metrics = sed_eval.sound_event.SegmentBasedMetrics(
        event_label_list=list(classes), time_resolution=float(resolution)
    )
    for f in files:
        metrics.evaluate(
            reference_event_list=_as_dicts(f.filename, f.reference),
            estimated_event_list=_as_dicts(f.filename, f.estimated),
            evaluated_length_seconds=float(f.length_s),
        )
    overall = metrics.results_overall_metrics()
    macro = metrics.results_class_wise_average_metrics()
    return {
        "f1": float(overall["f_measure"]["f_measure"]),
        "precision": float(overall["f_measure"]["precision"]),
        "recall": float(overall["f_measure"]["recall"]),
        "error_rate": float(overall["error_rate"]["error_rate"]),
        "f1_macro": float(macro["f_measure"]["f_measure"]),
        "n_tp": float(metrics.overall["Ntp"]),
        "n_ref": float(metrics.overall["Nref"]),
        "n_sys": float(metrics.overall["Nsys"]),
        "files": float(metrics.evaluated_files),
        "seconds": float(metrics.evaluated_length_seconds),
    }


class SegmentGrid:
    """Reference event rolls and frame-to-segment coverage of many clips, padded to one size.

    ``spans[i]`` are the (onset, offset) of clip i's frames: an estimated event over a frame
    covers the segments sed_eval would give it. ``counts(decisions)`` returns the overall
    (true positives, reference, system) segment counts for boolean decisions ``[N, F, C]``
    (frame f of clip i is predicted to contain class c).
    """

    def __init__(
        self,
        spans: Sequence[Sequence[tuple[float, float]]],
        references: Sequence[Sequence[Event]],
        lengths: Sequence[float],
        classes: Sequence[str],
        resolution: float = 0.1,
    ) -> None:
        index = {c: k for k, c in enumerate(classes)}
        n = len(spans)
        n_seg = [segment_count(length, resolution) for length in lengths]
        t_max = max(n_seg, default=0)
        self.n_frames = max((len(s) for s in spans), default=0)
        self.ref = np.zeros((n, t_max, len(classes)), dtype=bool)
        self.cover = np.zeros((n, t_max, self.n_frames), dtype=np.float32)
        for i in range(n):
            for on, off, label in references[i]:
                a, b = segment_span(on, off, resolution)
                self.ref[i, a : min(b, n_seg[i]), index[label]] = True
            for f, (on, off) in enumerate(spans[i]):
                a, b = segment_span(on, off, resolution)
                self.cover[i, a : min(b, n_seg[i]), f] = 1.0

    def subset(self, rows: np.ndarray) -> SegmentGrid:
        """The grid of clips ``rows`` only (copied once, for repeated counting)."""
        sub = object.__new__(SegmentGrid)
        sub.ref, sub.cover, sub.n_frames = self.ref[rows], self.cover[rows], self.n_frames
        return sub

    def counts(self, decisions: np.ndarray) -> tuple[int, int, int]:
        """(Ntp, Nref, Nsys) summed over all clips of the grid, as sed_eval sums them."""
        est = np.matmul(self.cover, decisions.astype(np.float32)) > 0
        return int((est & self.ref).sum()), int(self.ref.sum()), int(est.sum())


def f1_from_counts(n_tp: int, n_ref: int, n_sys: int) -> float:
    """sed_eval's overall F: 2PR/(P+R) = 2·Ntp/(Nref+Nsys); NaN without system output."""
    if n_sys == 0 or n_ref == 0:
        return float("nan")
    precision, recall = n_tp / n_sys, n_tp / n_ref
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
