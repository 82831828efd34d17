"""Bootstrap intervals for a cell and paired bootstrap tests between two encoders.

A cell is the mean over folds (or trials) of a metric computed on each fold's test items.
One bootstrap replicate redraws, within every fold, as many test items as it has, with
replacement (multinomial counts), recomputes the metric on each fold and averages over folds.
Folds that hold the same items (the trials of a train/test task) share one draw, so a replicate
is one resampled test set seen by every trial. The draw for a set of items depends only on the
seed and the item ids, so two encoders scored on the same items get the same draws: that is
what makes the comparison paired.

Intervals are percentile intervals of the replicates (default 1,000 replicates, 95 %).
The paired test is a two-sided percentile-bootstrap test of "no difference": with ``d*`` the
replicates of (A − B), ``p = min(1, 2·min(#{d* ≤ 0} + 1, #{d* ≥ 0} + 1) / (B + 1))``, so the
95 % interval of the difference excludes 0 exactly when p < 0.05 (up to the +1 terms), identical
predictions give p = 1 and a difference no replicate crosses gives p = 2/(B + 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from bench.hashing import sha256_json
from bench.metrics import Metric, get_metric
from bench.registry import RegistryError
from bench.results import ResultRecord
from bench.stats.items import FoldItems, MissingItemData, record_items
from bench.stats.weighted import Resampler

CHUNK = 128  # replicates evaluated together: bounds memory to CHUNK × n weights per fold
METHOD = "percentile bootstrap over test items, resampled within each fold (trials share one draw); mean over folds"


@dataclass(frozen=True)
class BootstrapConfig:
    """How many replicates, their seed and the interval level (``--popt bootstrap_resamples=…`` etc.)."""

    resamples: int = 1000
    seed: int = 0
    level: float = 0.95

    def __post_init__(self) -> None:
        if self.resamples < 1:
            raise ValueError(f"bootstrap_resamples must be at least 1, got {self.resamples}")
        if not 0 < self.level < 1:
            raise ValueError(f"bootstrap_level must lie between 0 and 1 (e.g. 0.95), got {self.level}")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> BootstrapConfig:
        return cls(
            resamples=int(options.get("bootstrap_resamples", cls.resamples)),
            seed=int(options.get("bootstrap_seed", cls.seed)),
            level=float(options.get("bootstrap_level", cls.level)),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Draws:
    """Multinomial resample counts for a set of test items, a pure function of (seed, item ids)."""

    def __init__(self, cfg: BootstrapConfig) -> None:
        self.cfg = cfg
        self._cache: dict[str, np.ndarray] = {}

    def counts(self, ids: Sequence[str]) -> np.ndarray:
        """``[resamples, n]`` counts (float32; each row sums to n)."""
        key = sha256_json(list(ids), 16)
        if key not in self._cache:
            n = len(ids)
            rng = np.random.default_rng([self.cfg.seed, int(key, 16)])
            picks = rng.integers(0, n, size=(self.cfg.resamples, n))  # n draws with replacement per replicate
            rows = np.arange(self.cfg.resamples)[:, None] * n
            counts = np.bincount((picks + rows).ravel(), minlength=self.cfg.resamples * n)
            self._cache[key] = counts.reshape(self.cfg.resamples, n).astype(np.float32)
        return self._cache[key]


def _evaluate(resampler: Resampler, items: FoldItems, weights: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [np.asarray(resampler(items, weights[i : i + CHUNK]), dtype=np.float64) for i in range(0, len(weights), CHUNK)]
    )


def _fold_mean(per_fold: list[np.ndarray]) -> np.ndarray:
    """Mean over folds ignoring NaN folds (as :func:`bench.metrics.mean_std`); NaN where all are NaN."""
    stack = np.stack(per_fold)
    finite = ~np.isnan(stack)
    count = finite.sum(axis=0)
    total = np.where(finite, stack, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def point_value(folds: Sequence[FoldItems], resampler: Resampler) -> float:
    """The cell value on these items (every weight 1)."""
    per_fold = [_evaluate(resampler, f, np.ones((1, len(f)), np.float32)) for f in folds if len(f)]
    return float(_fold_mean(per_fold)[0]) if per_fold else float("nan")


def replicates(folds: Sequence[FoldItems], resampler: Resampler, draws: Draws) -> np.ndarray:
    """The cell value on each bootstrap replicate, ``[resamples]``."""
    per_fold = [_evaluate(resampler, f, draws.counts(f.ids)) for f in folds if len(f)]
    if not per_fold:
        return np.full(draws.cfg.resamples, np.nan)
    return _fold_mean(per_fold)


def percentile_interval(values: np.ndarray, level: float) -> tuple[float, float] | None:
    """The central ``level`` interval of the finite replicates; None if under half are finite."""
    finite = values[np.isfinite(values)]
    if finite.size == 0 or finite.size < 0.5 * values.size:
        return None
    lo, hi = np.quantile(finite, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def resampler_for(metric: str) -> Resampler:
    """The registered resampling rule of ``metric``; ValueError naming why there is none."""
    try:
        entry: Metric = get_metric(metric)
    except RegistryError as exc:
        raise ValueError(str(exc)) from None
    if entry.resample is None:
        raise ValueError(f"metric {metric!r} declares no resampling rule ({entry.description})")
    return entry.resample


@dataclass(frozen=True)
class Intervals:
    """Per-metric intervals of one record (and of each captioning decoding), and why some are missing."""

    config: BootstrapConfig
    metrics: dict[str, tuple[float, float]] = field(default_factory=dict)
    decodings: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            **self.config.as_dict(),
            "method": METHOD,
            "intervals": {m: list(ci) for m, ci in self.metrics.items()},
        }
        if self.decodings:
            out["decodings"] = {d: {m: list(ci) for m, ci in cis.items()} for d, cis in self.decodings.items()}
        if self.unavailable:
            out["unavailable"] = dict(self.unavailable)
        return out


def _intervals_of(
    folds: list[FoldItems], metrics: Sequence[str], cfg: BootstrapConfig, draws: Draws, why: dict[str, str]
) -> dict[str, tuple[float, float]]:
    out = {}
    for metric in metrics:
        try:
            ci = percentile_interval(replicates(folds, resampler_for(metric), draws), cfg.level)
        except (ValueError, MissingItemData) as exc:
            why[metric] = str(exc)
            continue
        if ci is None:
            why[metric] = "undefined on most resamples (e.g. no system output or no positive)"
        else:
            out[metric] = ci
    return out


def record_intervals(record: ResultRecord, scores: Mapping[str, np.ndarray], cfg: BootstrapConfig) -> Intervals:
    """Bootstrap intervals of every metric in ``record``'s summary (and per decoding, for captioning)."""
    draws = Draws(cfg)
    why: dict[str, str] = {}
    folds = record_items(record, scores)
    if not folds:
        return Intervals(cfg, unavailable={m: "the record holds no per-item predictions" for m in record.summary})
    metrics = _intervals_of(folds, list(record.summary), cfg, draws, why)
    decodings = {}
    for name, values in (record.protocol.decodings or {}).items():
        decodings[name] = _intervals_of(record_items(record, scores, decoding=name), list(values), cfg, draws, {})
    return Intervals(cfg, metrics, decodings, why)


@dataclass(frozen=True)
class Comparison:
    """A − B on the test items both were scored on: the difference, its interval and the p-value."""

    metric: str
    higher_is_better: bool
    a: float
    b: float
    diff: float
    ci: tuple[float, float] | None
    p_value: float
    n_items: int
    n_folds: int
    only_a: int = 0  # items scored for A but not for B (left out)
    only_b: int = 0
    config: BootstrapConfig = field(default_factory=BootstrapConfig)

    @property
    def a_better(self) -> bool:
        return self.diff > 0 if self.higher_is_better else self.diff < 0

    def significant(self, alpha: float = 0.05) -> bool:
        return self.p_value < alpha


def p_value(diffs: np.ndarray) -> float:
    """Two-sided percentile-bootstrap p-value of "A − B = 0" from the replicates of A − B."""
    d = diffs[np.isfinite(diffs)]
    if d.size == 0:
        return float("nan")
    below, above = int((d <= 0).sum()), int((d >= 0).sum())
    return float(min(1.0, 2 * (min(below, above) + 1) / (d.size + 1)))


def align(
    folds_a: Sequence[FoldItems], folds_b: Sequence[FoldItems]
) -> tuple[list[FoldItems], list[FoldItems], int, int]:
    """Both sides restricted to the folds and items they share (same order), and the counts left out."""
    by_name = {f.fold: f for f in folds_b}
    out_a, out_b, only_a, only_b = [], [], 0, 0
    for fa in folds_a:
        fb = by_name.get(fa.fold)
        if fb is None:
            only_a += len(fa)
            continue
        shared = sorted(set(fa.ids) & set(fb.ids))
        only_a += len(fa) - len(shared)
        only_b += len(fb) - len(shared)
        if shared:
            out_a.append(fa.restricted(shared))
            out_b.append(fb.restricted(shared))
    only_b += sum(len(f) for f in folds_b if f.fold not in {g.fold for g in folds_a})
    return out_a, out_b, only_a, only_b


def paired_comparison(
    folds_a: Sequence[FoldItems], folds_b: Sequence[FoldItems], metric: str, cfg: BootstrapConfig | None = None
) -> Comparison:
    """Paired bootstrap of ``metric``(A) − ``metric``(B) over the test items both hold."""
    cfg = cfg or BootstrapConfig()
    resampler = resampler_for(metric)
    a, b, only_a, only_b = align(folds_a, folds_b)
    if not a:
        raise ValueError("the two results share no test items (different folds or datasets); nothing to compare")
    draws = Draws(cfg)
    diffs = replicates(a, resampler, draws) - replicates(b, resampler, draws)
    value_a, value_b = point_value(a, resampler), point_value(b, resampler)
    return Comparison(
        metric=metric,
        higher_is_better=get_metric(metric).higher_is_better,
        a=value_a,
        b=value_b,
        diff=value_a - value_b,
        ci=percentile_interval(diffs, cfg.level),
        p_value=p_value(diffs),
        n_items=len({i for f in a for i in f.ids}),
        n_folds=len(a),
        only_a=only_a,
        only_b=only_b,
        config=cfg,
    )
