"""What one ``bench run`` produced, printed at its end: the paper's tables for the cells it ran.

Numbers, not statuses: a cell whose stored result was still current (same cell key:
encoder fingerprint, data, protocol and parameters) shows that stored result, marked ``†``
and named in a footnote, so a reader sees both what the run computed and what it reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from bench.reports.tables import markdown_table, registered_tasks, table_rows, tables
from bench.results import ResultRecord, ResultsStore

REUSED = "†"


class Outcome(Protocol):
    """The fields of :class:`bench.runner.CellOutcome` read here."""

    status: str
    path: Path | None


def render_run_summary(outcomes: Sequence[Outcome], results_dir: Path) -> str:
    """Markdown tables of the run's cells (empty when the run produced no record)."""
    store = ResultsStore(results_dir)
    records: list[ResultRecord] = []
    reused: set[tuple[str, str, str, str]] = set()
    for o in outcomes:
        if o.path is None or not o.path.is_file():
            continue
        record = store.read(o.path)
        records.append(record)
        if o.status == "cached":
            reused.add(_key(record))
    if not records:
        return ""

    def mark(r: ResultRecord) -> str:
        return REUSED if _key(r) in reused else ""

    out: list[str] = []
    layout = tables(registered_tasks())
    for kind in ("real", "demo"):
        for table in layout:
            rows = table_rows(table, records, kind, marker=mark)
            if rows:
                out += [f"{table.title} ({kind} data)", "", markdown_table(table.headers, rows), ""]
    in_tables = set().union(*(t.tasks for t in layout))
    others = [r for r in records if r.task.name not in in_tables]
    for r in others:
        s = r.summary.get(r.primary_metric)
        value = "n/a" if s is None else f"{s.mean:.4f} ± {s.std:.4f}"
        out.append(f"{r.encoder.label} {r.task.name} {r.protocol.short}: {r.primary_metric} {value}{mark(r)}")
    if reused:
        out.append(
            f"{REUSED} {len(reused)} of {len(records)} cells reused a stored result still current (same encoder "
            "fingerprint, data, protocol and parameters) instead of recomputing it; --force recomputes."
        )
    return "\n".join(out)


def _key(r: ResultRecord) -> tuple[str, str, str, str]:
    return (r.data_kind, r.encoder.label, r.task.name, r.protocol.id)
