"""Bootstrap intervals for stored records written before bench computed them (``bench report intervals``).

An interval depends only on what a record already holds: its per-item scores (the
``.scores.npz`` sidecar), the targets in its predictions and the bootstrap settings. So a
record from an older bench, or one whose cell would take hours to recompute (a slow encoder
on a big dataset), gets the same interval a fresh run would give, without touching its
numbers. Its cell key is left as it was: a record written before cell keys existed is still
recomputed by the next ``bench run`` of that cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.atomic import atomic_write_json
from bench.results import ResultsStore
from bench.runner import with_intervals
from bench.stats.bootstrap import BootstrapConfig


@dataclass(frozen=True)
class Backfill:
    path: Path
    status: str  # "added"; "unavailable" (nothing per item to resample, said in the record); "kept"; "skipped"
    detail: str = ""


def add_intervals(store: ResultsStore, cfg: BootstrapConfig, *, redo: bool = False) -> list[Backfill]:
    """Write intervals into every ok record that lacks them (all ok records with ``redo``)."""
    out = []
    for path, record in store.all():
        if record.status != "ok" or not record.summary:
            out.append(Backfill(path, "skipped", f"status {record.status}"))
            continue
        if record.bootstrap is not None and not redo:
            out.append(Backfill(path, "kept"))
            continue
        updated = with_intervals(record, store.scores(path), cfg)
        atomic_write_json(path, updated.to_json())
        found = sorted(m for m, s in updated.summary.items() if s.ci is not None)
        missing = (updated.bootstrap or {}).get("unavailable", {})
        detail = ", ".join(found) if found else "none"
        if missing:
            detail += "; unavailable: " + "; ".join(f"{m} ({why})" for m, why in sorted(missing.items()))
        out.append(Backfill(path, "added" if found else "unavailable", detail))
    return out
