"""Cross-modal retrieval on VGGSound (the paper's CMR task), protocol ``cmr-mrr-v1``.

On the test split, each clip has an audio embedding (the encoder's clip embedding, as for the
probe) and an image embedding (the encoder's image side over the clip's video frames at
``cmr_fps``, mean-pooled). Audio→image: every audio embedding queries all image embeddings
by cosine similarity; image→audio the other way round. Clips with the same label are
relevant, the query's own clip included. Reported: mean reciprocal rank of the first
relevant item, MRR = mean over queries of 1 / rank.

Ties are counted against the query: the rank of the first relevant item is one plus the
number of irrelevant items whose similarity is greater than *or equal to* the best relevant
item's. So an encoder that maps everything to one point gets the worst possible MRR rather
than a perfect one, and the result never depends on the order clips are listed in.
Only clips with both an audio and an image embedding take part.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from scipy.special import gammaln

from bench import paths
from bench.extract_images import extract_image_embeddings
from bench.protocols import Protocol, ProtocolContext, ProtocolOutput
from bench.results import FoldResult
from bench.store import EmbeddingStore


def l2n(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def first_relevant_ranks(sim: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """1-based rank of the first relevant item per query row; ties with irrelevant items count against.

    ``inf`` for a query with no relevant item.
    """
    best = np.where(relevant, sim, -np.inf).max(axis=1)
    ahead = ((sim >= best[:, None]) & ~relevant).sum(axis=1)
    return np.where(np.isfinite(best), ahead + 1, np.inf)


def mrr_both_ways(
    audio: np.ndarray, image: np.ndarray, labels: np.ndarray, chunk: int = 1024
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(MRR audio→image, MRR image→audio, ranks a→i, ranks i→a) by cosine similarity."""
    a, im = l2n(audio.astype(np.float64)), l2n(image.astype(np.float64))
    ranks_a2i = np.empty(len(a))
    ranks_i2a = np.empty(len(a))
    for start in range(0, len(a), chunk):
        stop = min(start + chunk, len(a))
        rel = labels[start:stop, None] == labels[None, :]
        ranks_a2i[start:stop] = first_relevant_ranks(a[start:stop] @ im.T, rel)
        ranks_i2a[start:stop] = first_relevant_ranks(im[start:stop] @ a.T, rel)
    return float(np.mean(1.0 / ranks_a2i)), float(np.mean(1.0 / ranks_i2a)), ranks_a2i, ranks_i2a


def chance_mrr(labels: np.ndarray) -> float:
    """Expected MRR of a random ranking: the reference point for small or easy test sets.

    With N items of which R are relevant, the first relevant item is at rank k with
    probability C(N-k, R-1) / C(N, R).
    """
    n = len(labels)
    if n == 0:
        return float("nan")
    total = 0.0
    for count in Counter(labels.tolist()).values():
        ks = np.arange(1, n - count + 2)
        log_p = _log_binom(n - ks, count - 1) - _log_binom(np.array([n]), count)[0]
        total += count * float(np.sum(np.exp(log_p) / ks))
    return total / n


def _log_binom(n: np.ndarray, k: int) -> np.ndarray:
    return np.asarray(gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1))


class CrossModalRetrievalProtocol(Protocol):
    id = "cmr-mrr-v1"
    short = "cmr"
    trains = False  # no training: class-disjoint folds and leakage do not touch its numbers
    kinds = ("cross_modal_retrieval",)
    needs = frozenset({"image"})

    def params(self, ctx: ProtocolContext) -> dict[str, Any]:
        return {
            "split": list(ctx.task.test_splits),
            "fps": float(ctx.options.get("cmr_fps", 30.0)),
            "frame_size": ctx.options.get("cmr_size"),
            "image_pooling": "mean over frames of the whole clip",
            "score": "cosine",
            "relevant": "same label (own clip included)",
            "ties": "counted against the query (irrelevant items with equal similarity rank first)",
        }

    def run(self, ctx: ProtocolContext) -> ProtocolOutput:
        assert ctx.view is not None
        p = self.params(ctx)
        test = [c for c in ctx.dataset.clips if c.split in ctx.task.test_splits]
        videos = [c for c in test if c.extra.get("video", True)]
        size = int(p["frame_size"]) if p["frame_size"] is not None else None
        store = ctx.store if ctx.store is not None else EmbeddingStore(paths.cache_dir())
        images = extract_image_embeddings(
            ctx.encoder.embed_images,
            ctx.encoder.name,
            ctx.encoder.fingerprint(),
            ctx.dataset,
            store,
            fps=p["fps"],
            size=size,
            window_rule="whole:" + "+".join(ctx.task.test_splits),
            clips=videos,
            show_progress=ctx.show_progress,
        )
        assert images is not None
        clips = [c for c in videos if c.id in ctx.view and c.id in images]
        if not clips:
            raise ValueError(f"{ctx.task.title}: no test clip has both an audio and an image embedding")
        ids = [c.id for c in clips]
        labels = np.array([int(c.target) for c in clips])  # type: ignore[arg-type]
        mrr_a2i, mrr_i2a, r_a2i, r_i2a = mrr_both_ways(ctx.view.matrix(ids), images.matrix(ids), labels)
        fold = FoldResult(
            fold="test",
            metrics={"mrr_a2i": mrr_a2i, "mrr_i2a": mrr_i2a},
            n_test=len(clips),
            info={"chance_mrr": chance_mrr(labels)},
        )
        return ProtocolOutput(
            folds=[fold],
            predictions={
                "ids": ids,
                "target": labels.tolist(),
                "rank_a2i": r_a2i.astype(int).tolist(),
                "rank_i2a": r_i2a.astype(int).tolist(),
            },
            params=p,
            metrics=("mrr_a2i", "mrr_i2a"),
            extra={
                "image_failed": dict(images.failed),
                "no_video": [c.id for c in test if not c.extra.get("video", True)],
                "chance_mrr": fold.info["chance_mrr"],
                "n_queries": len(clips),
            },
        )
