"""Which rows of a leaderboard column are the best, and which are statistically tied with it.

Within one column, rows of one protocol compete (probe rows with probe rows, zero-shot rows
with zero-shot rows, each decoding of a captioning record as a row). The best row has the best
mean (by the metric's direction); every other row is compared with it by the paired bootstrap
test of :mod:`bench.stats.bootstrap` on the test items both were scored on. A row whose p-value
is at least ``ALPHA`` is "not significantly different from the best". A row that cannot be
tested (a record without per-item data, or one computed on other data) is marked as untested
rather than silently counted as worse.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bench.metrics import get_metric
from bench.results import ResultRecord
from bench.stats.bootstrap import BootstrapConfig, paired_comparison
from bench.stats.items import FoldItems, MissingItemData, record_items

ALPHA = 0.05
Mark = Literal["best", "tied", "untested", ""]
ScoresOf = Callable[[ResultRecord], Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class Candidate:
    """One row's cell in a column: its record and, for captioning, the decoding shown."""

    row: str
    record: ResultRecord
    decoding: str | None = None

    def value(self, metric: str) -> float:
        if self.decoding is not None and self.record.protocol.decodings:
            return float(self.record.protocol.decodings.get(self.decoding, {}).get(metric, math.nan))
        s = self.record.summary.get(metric)
        return s.mean if s is not None else math.nan


def column_marks(
    candidates: Sequence[Candidate], metric: str, scores_of: ScoresOf, cfg: BootstrapConfig | None = None
) -> dict[str, Mark]:
    """Row → "best", "tied" (p ≥ ALPHA against the best), "untested", or "" (significantly worse).

    Nothing is marked in a column with fewer than two scored rows.
    """
    cfg = cfg or BootstrapConfig()
    scored = [c for c in candidates if c.record.status == "ok" and math.isfinite(c.value(metric))]
    if len(scored) < 2:
        return {}
    sign = 1.0 if get_metric(metric).higher_is_better else -1.0
    best = max(scored, key=lambda c: sign * c.value(metric))  # first of equal values wins
    items: dict[int, list[FoldItems]] = {}

    def folds(c: Candidate) -> list[FoldItems]:
        if id(c) not in items:
            items[id(c)] = record_items(c.record, scores_of(c.record), decoding=c.decoding)
        return items[id(c)]

    marks: dict[str, Mark] = {best.row: "best"}
    for c in scored:
        if c is best:
            continue
        if c.record.data.checksum != best.record.data.checksum:
            marks[c.row] = "untested"  # other data: the same ids would not be the same items
            continue
        try:
            p = paired_comparison(folds(best), folds(c), metric, cfg).p_value
        except (ValueError, MissingItemData):
            marks[c.row] = "untested"
            continue
        marks[c.row] = "tied" if p >= ALPHA else ("untested" if math.isnan(p) else "")
    return marks
