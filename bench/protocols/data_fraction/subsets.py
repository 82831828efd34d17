"""Nested, stratified subsets of a training set, for data-fraction curves (the paper's Fig. 2).

One seeded ordering of the training clips serves every fraction: a fraction takes the first
``round(p/100 · N)`` clips of it, so each smaller subset lies inside every larger one (the
curve shows the effect of adding data, not of drawing a new sample at each point), and a
subset never depends on which other fractions were asked for. The ordering interleaves the
classes: within a stratum the clips are shuffled and clip ``r`` of ``N_c`` gets the key
``(r + u) / N_c`` with ``u`` uniform in [0, 1); sorting by key makes every prefix hold each
stratum in proportion, within one clip. The stratum of a multi-label clip is its rarest
label. Subsets keep the pool's order, so 100 % is exactly the full training set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from bench.task import Clip

SCHEME = "nested-stratified-v1"


def stratum(clip: Clip, label_counts: Counter[int]) -> int:
    """The class a clip is stratified by: its label, or its rarest label (multi-label)."""
    if clip.target is not None:
        return int(clip.target)
    if clip.targets:
        return min(clip.targets, key=lambda k: (label_counts[k], k))
    return -1


def subset_order(clips: Sequence[Clip], seed: int) -> list[str]:
    """Clip ids in the order in which growing fractions take them (see the module docstring)."""
    pool = sorted(clips, key=lambda c: c.id)  # independent of the order the caller passes
    counts: Counter[int] = Counter(k for c in pool for k in c.targets)
    by_stratum: dict[int, list[Clip]] = {}
    for c in pool:
        by_stratum.setdefault(stratum(c, counts), []).append(c)
    rng = np.random.default_rng(seed)
    keyed: list[tuple[float, str]] = []
    for s in sorted(by_stratum):
        members = by_stratum[s]
        perm = rng.permutation(len(members))
        jitter = rng.random(len(members))
        keyed += [((rank + jitter[rank]) / len(members), members[i].id) for rank, i in enumerate(perm)]
    return [cid for _, cid in sorted(keyed)]


def subset_size(n: int, fraction_pct: float) -> int:
    if not 0 < fraction_pct <= 100:
        raise ValueError(f"a training fraction must lie in (0, 100] percent, got {fraction_pct:g}")
    return min(n, max(1, int(round(fraction_pct / 100.0 * n))))


def fraction_subset(clips: Sequence[Clip], fraction_pct: float, seed: int) -> list[Clip]:
    """The clips of ``fraction_pct`` % of ``clips`` (at least one), in their given order."""
    order = subset_order(clips, seed)
    chosen = set(order[: subset_size(len(order), fraction_pct)])
    return [c for c in clips if c.id in chosen]


def parse_fractions(text: str | Sequence[float]) -> list[float]:
    """``"1,2,5,10"`` → [1.0, 2.0, 5.0, 10.0] (percent), sorted, validated, no repeats."""
    items = [t.strip().rstrip("%") for t in text.split(",")] if isinstance(text, str) else [str(t) for t in text]
    out: set[float] = set()
    for item in items:
        if not item:
            continue
        try:
            value = float(item)
        except ValueError:
            raise ValueError(f"--fractions: {item!r} is not a number (percent of the training split)") from None
        subset_size(1, value)  # range check with the same message
        out.add(value)
    if not out:
        raise ValueError("--fractions: give at least one percentage, e.g. 1,2,5,10,20,50,100")
    return sorted(out)
