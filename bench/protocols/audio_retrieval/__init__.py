"""Audio retrieval on DESED (the paper's AR task), protocol ``desed-ar-v1``.

The paper's description is short; this is the exact reading implemented (docs/protocols.md):

1. Every clip is cut into 1-s non-overlapping frames (the encoder's frame embeddings); a frame
   spans ``[start, min(start + 1, clip length))``. A frame is *labelled* with every class whose
   reference event overlaps it by more than zero seconds.
2. Clips are shuffled with the run's seed and dealt into 5 folds. Each fold is one retrieval
   pool: every labelled frame of the fold is a query for each of its labels and retrieves the
   other frames of the same fold whose cosine similarity to it is at least the threshold. A frame
   is predicted to contain class c when some *other* frame of its fold labelled c retrieves it,
   i.e. when its highest cosine similarity to those frames reaches the threshold.
3. The threshold for fold k is the value that maximises the overall segment F1 over the clips of
   the other four folds (each scored within its own pool), searched over quantiles of their
   similarity scores; ties go to the lowest threshold. Fold k's clips take no part in it.
4. Predicted frames become estimated events (adjacent frames merged) and are scored against the
   reference events with sed_eval's segment-based metrics at 0.1 s resolution, one file at a
   time with each clip's length, so clips without events count. Reported: overall (micro)
   F1, precision, recall, error rate and class-wise average F1 per fold, mean ± std over
   the 5 folds, plus all folds pooled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from bench.protocols import Protocol, ProtocolContext, ProtocolOutput
from bench.protocols.audio_retrieval.segments import (
    Event,
    FileEvents,
    SegmentGrid,
    f1_from_counts,
    sed_eval_segment_scores,
)
from bench.results import FoldResult
from bench.task import annotations_digest


@dataclass(frozen=True)
class RetrievalConfig:
    folds: int = 5
    resolution: float = 0.1
    n_thresholds: int = 101

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ClipFrames:
    """One clip's frames as the protocol sees them."""

    id: str
    fold: int
    spans: list[tuple[float, float]]
    rows: np.ndarray  # [F, D] frame embeddings
    labels: np.ndarray  # [F, C] bool
    events: tuple[Event, ...]
    length_s: float


def assign_folds(ids: list[str], n_folds: int, seed: int) -> dict[str, int]:
    """Seeded random split of clips into ``n_folds`` folds of (almost) equal size, numbered 1..k."""
    if len(ids) < n_folds:
        raise ValueError(
            f"audio retrieval needs at least {n_folds} clips with embeddings for {n_folds} folds, got {len(ids)}"
        )
    order = sorted(ids)
    perm = np.random.default_rng(seed).permutation(len(order))
    return {order[p]: i % n_folds + 1 for i, p in enumerate(perm)}


def frame_spans(starts: np.ndarray, window_s: float, length_s: float) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Indices of frames that start inside the clip, and their (onset, offset) clipped to its length."""
    keep = np.flatnonzero(np.asarray(starts) < length_s - 1e-9)
    return keep, [(float(starts[i]), float(min(starts[i] + window_s, length_s))) for i in keep]


def frame_labels(
    spans: list[tuple[float, float]], events: tuple[Event, ...], class_index: dict[str, int]
) -> np.ndarray:
    out = np.zeros((len(spans), len(class_index)), dtype=bool)
    for f, (a, b) in enumerate(spans):
        for on, off, label in events:
            if on < b and off > a:
                out[f, class_index[label]] = True
    return out


def pool_scores(clips: list[ClipFrames], n_classes: int) -> list[np.ndarray]:
    """For each clip of one pool, ``[F, C]``: best cosine to another frame of the pool labelled c.

    ``-inf`` where no other frame carries the label (nothing can retrieve it).
    """
    if not clips:
        return []
    rows = np.concatenate([c.rows for c in clips]).astype(np.float64)
    rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)  # cosine
    labels = np.concatenate([c.labels for c in clips])
    sim = rows @ rows.T
    np.fill_diagonal(sim, -np.inf)  # a query never retrieves itself
    best = np.full((len(rows), n_classes), -np.inf, dtype=np.float64)
    for k in range(n_classes):
        queries = labels[:, k]
        if queries.any():
            best[:, k] = sim[:, queries].max(axis=1)
    out, pos = [], 0
    for c in clips:
        out.append(best[pos : pos + len(c.rows)])
        pos += len(c.rows)
    return out


def padded(scores: list[np.ndarray], n_frames: int, n_classes: int) -> np.ndarray:
    out = np.full((len(scores), n_frames, n_classes), -np.inf)
    for i, s in enumerate(scores):
        out[i, : len(s)] = s
    return out


def select_threshold(scores: np.ndarray, grid: SegmentGrid, rows: np.ndarray, n_thresholds: int) -> tuple[float, float]:
    """The threshold maximising overall segment F1 over clips ``rows`` (lowest on ties), and that F1."""
    train, sub = scores[rows], grid.subset(rows)
    finite = train[np.isfinite(train)]
    if finite.size == 0:
        return float("inf"), float("nan")
    candidates = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, n_thresholds)))
    f1s = np.array([f1_from_counts(*sub.counts(train >= t)) for t in candidates])
    if np.isnan(f1s).all():
        return float("inf"), float("nan")
    best = int(np.nanargmax(f1s))  # first maximum = lowest threshold
    return float(candidates[best]), float(f1s[best])


def fold_thresholds(
    scores: np.ndarray, folds: np.ndarray, grid: SegmentGrid, n_folds: int, n_thresholds: int
) -> dict[int, tuple[float, float]]:
    """Fold → (threshold chosen on the other folds' clips, its F1 there)."""
    return {k: select_threshold(scores, grid, np.flatnonzero(folds != k), n_thresholds) for k in range(1, n_folds + 1)}


def merged_events(spans: list[tuple[float, float]], decisions: np.ndarray, classes: list[str]) -> list[Event]:
    """Estimated events: runs of consecutive predicted frames per class, onset-sorted."""
    events: list[Event] = []
    for k, label in enumerate(classes):
        run: list[float] | None = None
        for f, (a, b) in enumerate(spans):
            if decisions[f, k]:
                if run is not None and abs(run[1] - a) < 1e-9:
                    run[1] = b
                else:
                    if run is not None:
                        events.append((run[0], run[1], label))
                    run = [a, b]
            elif run is not None:
                events.append((run[0], run[1], label))
                run = None
        if run is not None:
            events.append((run[0], run[1], label))
    return sorted(events)


class AudioRetrievalProtocol(Protocol):
    id = "desed-ar-v1"
    short = "audio-retrieval"
    kinds = ("audio_retrieval",)
    frames_window_s = 1.0

    def config(self, ctx: ProtocolContext) -> RetrievalConfig:
        return RetrievalConfig(
            folds=int(ctx.options.get("ar_folds", 5)),
            resolution=float(ctx.options.get("ar_resolution", 0.1)),
            n_thresholds=int(ctx.options.get("ar_thresholds", 101)),
        )

    def params(self, ctx: ProtocolContext) -> dict[str, Any]:
        return {
            **self.config(ctx).as_dict(),
            "window_s": self.frames_window_s,
            "seed": ctx.seed,
            "pool": "fold",
            "frame_label": "any overlap",
            "score": "cosine",
            "annotations": annotations_digest(ctx.dataset.clips, {"events": (), "duration_s": None}),
        }

    def prepare(self, ctx: ProtocolContext, cfg: RetrievalConfig) -> list[ClipFrames]:
        assert ctx.view is not None
        index = {c: k for k, c in enumerate(ctx.dataset.classes)}
        usable = [c for c in ctx.dataset.clips if c.id in ctx.view]
        folds = assign_folds([c.id for c in usable], cfg.folds, ctx.seed)
        out = []
        for clip in usable:
            starts = ctx.view.starts_of(clip.id)
            length = clip.extra.get("duration_s") or float(starts[-1] + self.frames_window_s)
            keep, spans = frame_spans(starts, float(self.frames_window_s or 1.0), float(length))
            rows = ctx.view.rows(clip.id)[keep].astype(np.float64)
            events = tuple(clip.extra.get("events", ()))
            out.append(
                ClipFrames(
                    clip.id, folds[clip.id], spans, rows, frame_labels(spans, events, index), events, float(length)
                )
            )
        return out

    def run(self, ctx: ProtocolContext) -> ProtocolOutput:
        cfg = self.config(ctx)
        classes = list(ctx.dataset.classes)
        clips = self.prepare(ctx, cfg)
        return evaluate_retrieval(clips, classes, cfg, self.params(ctx))


def evaluate_retrieval(
    clips: list[ClipFrames], classes: list[str], cfg: RetrievalConfig, params: dict[str, Any]
) -> ProtocolOutput:
    """Steps 2–4 of the module docstring on prepared clips (public for tests and notebooks)."""
    n_classes = len(classes)
    by_fold: dict[int, list[int]] = {}
    for i, c in enumerate(clips):
        by_fold.setdefault(c.fold, []).append(i)
    per_clip: list[np.ndarray] = [np.zeros((0, n_classes))] * len(clips)
    for members in by_fold.values():
        for i, s in zip(members, pool_scores([clips[i] for i in members], n_classes), strict=True):
            per_clip[i] = s
    grid = SegmentGrid(
        [c.spans for c in clips], [c.events for c in clips], [c.length_s for c in clips], classes, cfg.resolution
    )
    scores = padded(per_clip, grid.n_frames, n_classes)
    folds = np.array([c.fold for c in clips])
    chosen = fold_thresholds(scores, folds, grid, cfg.folds, cfg.n_thresholds)

    fold_results, files_all = [], []
    ids, fold_names, thresholds, predicted = [], [], [], []
    for k in range(1, cfg.folds + 1):
        rows = np.flatnonzero(folds == k)
        theta, train_f1 = chosen[k]
        decisions = scores[rows] >= theta
        files = []
        for j, row in enumerate(rows):
            c = clips[int(row)]
            est = merged_events(c.spans, decisions[j, : len(c.spans)], classes)
            files.append(FileEvents(c.id, c.events, est, c.length_s))
            ids.append(c.id)
            fold_names.append(f"fold{k}")
            thresholds.append(theta)
            predicted.append([list(e) for e in est])
        result = sed_eval_segment_scores(files, classes, cfg.resolution)
        fast = grid.subset(rows).counts(decisions)
        if fast != (int(result["n_tp"]), int(result["n_ref"]), int(result["n_sys"])):
            raise RuntimeError(
                f"fold {k}: threshold search counts {fast} differ from sed_eval's "
                f"{result['n_tp'], result['n_ref'], result['n_sys']}; please report this bug"
            )
        files_all += files
        fold_results.append(
            FoldResult(
                fold=f"fold{k}",
                metrics={m: result[m] for m in ("f1", "precision", "recall", "error_rate", "f1_macro")},
                n_train=int(len(clips) - len(rows)),
                n_test=int(len(rows)),
                info={
                    "threshold": theta,
                    "train_f1": train_f1,
                    "n_queries": int(sum(clips[i].labels.any(axis=1).sum() for i in rows)),
                    "counts": {"tp": fast[0], "ref": fast[1], "sys": fast[2]},
                },
            )
        )
    pooled = sed_eval_segment_scores(files_all, classes, cfg.resolution)
    return ProtocolOutput(
        folds=fold_results,
        predictions={"ids": ids, "fold": fold_names, "threshold": thresholds, "events": predicted},
        params=params,
        metrics=("f1", "precision", "recall", "error_rate", "f1_macro"),
        extra={"pooled": pooled, "thresholds": {f"fold{k}": chosen[k][0] for k in chosen}},
    )
