"""Leaderboard tables, their columns declared by the tasks, filled from result records.

Each task lists the columns it fills (:class:`bench.task.TableColumn`: the table, the header,
the protocol and the metric shown, and the key of the paper's published number); the tables
are those columns in task order, so a registered task joins Table 2 (or a table of its own)
without editing this file. Encoder rows show the column's protocol; tasks with zero-shot
prompts also fill "(ZS)" rows from the zero-shot protocol. A record holding several
decodings (captioning) gives one row per decoding. Cells show mean ± std over folds or
trials; "n/a" where the encoder lacks a side the protocol needs; "—" where nothing was run.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.registry import RegistryError
from bench.reports.significance import Candidate, Mark, ScoresOf, column_marks
from bench.results import MetricSummary, ResultRecord
from bench.task import TASKS, TaskSpec

TABLE_TITLES = {
    "table2": "Table 2: classification and retrieval",
    "table3": "Table 3: audio captioning (Clotho evaluation)",
    "datasets": "Your datasets (`--task csv:…` / `files:…`)",
}
AUDIT_MARK = "⚑"  # a cell the dataset audit flagged (a flag, kept distinct from the other marks; footnote below)
ROW_ORDER = ["logmel", "supervised", "openl3", "yamnet", "wav2clip"]


@dataclass(frozen=True)
class Column:
    task: str
    header: str
    protocol: str
    metric: str
    paper_key: str | None
    zero_shot: bool  # "(ZS)" rows fill this column from the zero-shot protocol


@dataclass(frozen=True)
class Table:
    id: str
    title: str
    columns: tuple[Column, ...]

    @property
    def headers(self) -> list[str]:
        return ["Model", *[c.header for c in self.columns]]

    @property
    def tasks(self) -> set[str]:
        return {c.task for c in self.columns}


def registered_tasks() -> list[TaskSpec]:
    """Every task declaration that imports (a broken plugin is reported, not fatal)."""
    specs = []
    for name in TASKS.names():
        try:
            specs.append(TASKS.get(name))
        except RegistryError as exc:
            print(f"bench: task {name!r} left out of the tables: {exc}", file=sys.stderr)
    return specs


def record_columns(records: Iterable[ResultRecord], registered: set[str]) -> list[tuple[str, Column]]:
    """(table id, column) of tasks that are not registered but declare columns in their records.

    Bring-your-own datasets (``--task csv:…``) exist only while a command runs; their records
    carry the columns (``task.columns``) so the leaderboard stays a function of the records.
    """
    out: dict[tuple[str, str], tuple[str, Column]] = {}
    for r in records:
        if r.task.name in registered:
            continue
        for c in r.task.extra.get("columns", ()):
            column = Column(r.task.name, c["header"], c["protocol"], c["metric"], None, bool(c.get("zero_shot")))
            out.setdefault((r.task.name, c["header"]), (c["table"], column))
    return [out[k] for k in sorted(out)]


def tables(specs: Iterable[TaskSpec], extra: Iterable[tuple[str, Column]] = ()) -> list[Table]:
    """The tables the tasks' columns make: columns in task order; tables by their first task.

    ``extra``: columns of unregistered tasks (:func:`record_columns`), after the registered ones.
    """
    by_table: dict[str, list[tuple[tuple[int, str], Column]]] = {}
    for spec in specs:
        for c in spec.table_columns:
            column = Column(
                spec.name,
                c.header,
                c.protocol,
                c.metric,
                c.paper_key,
                spec.zero_shot is not None and c.protocol == "probe",
            )
            by_table.setdefault(c.table, []).append(((spec.order, spec.name), column))
    for table_id, column in extra:
        by_table.setdefault(table_id, []).append(((10**6, column.task), column))
    out = []
    for table_id, cols in by_table.items():
        cols = sorted(cols, key=lambda kc: kc[0])  # stable: a task's own columns keep their order
        out.append((cols[0][0], Table(table_id, TABLE_TITLES.get(table_id, table_id), tuple(c for _, c in cols))))
    return [t for _, t in sorted(out, key=lambda kt: (kt[0], kt[1].id))]


def fmt(value: float | None, std: float | None = None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if std is None or (isinstance(std, float) and math.isnan(std)) or std == 0.0:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} ± {std:.{digits}f}"


def cell_text(record: ResultRecord | None, metric: str, audit: bool = True) -> str:
    """mean ± std over folds, then the bootstrap interval of the mean in brackets where stored.

    ``audit``: append ⚑ when the dataset audit flagged the cell (``styled`` adds it after the marks).
    """
    if record is None:
        return "—"
    if record.status == "n/a":
        return "n/a"
    if record.status != "ok":
        return record.status
    s = record.summary.get(metric)
    if s is None:
        return "unavailable" if metric in (record.protocol.unavailable or {}) else "—"
    text = fmt(s.mean, s.std)
    if s.ci is not None and text != "—":
        text = f"{text} [{s.ci[0]:.3f}, {s.ci[1]:.3f}]"
    return text + (f" {AUDIT_MARK}" if audit and audit_flags(record) else "")


OVERLAP_MARK = "⚠"
UNTESTED_MARK = "°"


def styled(text: str, mark: Mark, record: ResultRecord | None) -> str:
    """**best**, *not significantly different from the best*, ° untested; ⚠ trained on this dataset; ⚑ audit flags."""
    if mark == "best":
        text = f"**{text}**"
    elif mark == "tied":
        text = f"*{text}*"
    elif mark == "untested":
        text = f"{text} {UNTESTED_MARK}"
    if record is not None and record.status == "ok" and record.training_overlap:
        text = f"{text} {OVERLAP_MARK}"
    if record is not None and record.status == "ok" and audit_flags(record):
        text = f"{text} {AUDIT_MARK}"
    return text


Cell = Candidate | None | str  # a row's cell: a record, "—" (None), or literal text (blank)


def render_rows(
    rows: Sequence[tuple[str, Sequence[Cell]]],
    metrics: Sequence[str],
    scores_of: ScoresOf | None,
    marker: Callable[[ResultRecord], str] | None = None,
) -> list[list[str]]:
    """Text rows; with ``scores_of`` each column marks its best row and the rows tied with it.

    ``marker(record)`` is appended to the text of each cell that has a record.

    Rows compete within their protocol (probe rows with probe rows, zero-shot rows with
    zero-shot rows, each probe of the probes table on its own).
    """
    marks: dict[tuple[int, str], Mark] = {}
    if scores_of is not None:
        for j, metric in enumerate(metrics):
            groups: dict[str, list[Candidate]] = {}
            for _name, cells in rows:
                cell = cells[j]
                if isinstance(cell, Candidate):
                    groups.setdefault(cell.record.protocol.short, []).append(cell)
            for group in groups.values():
                for row, mark in column_marks(group, metric, scores_of).items():
                    marks[(j, row)] = mark
    out = []
    for name, cells in rows:
        texts = []
        for j, (cell, metric) in enumerate(zip(cells, metrics, strict=True)):
            if isinstance(cell, str):
                texts.append(cell)
            else:
                record = cell.record if cell is not None else None
                text = styled(cell_text(record, metric, audit=False), marks.get((j, name), ""), record)
                texts.append(text + marker(record) if marker is not None and record is not None and text else text)
        out.append([name, *texts])
    return out


def audit_flags(record: ResultRecord) -> list[str]:
    """The dataset audit's flags that apply to this cell (none in records written before the audit)."""
    return list((record.audit or {}).get("flags", ()))


def _sort_key(label: str) -> tuple[int, str]:
    base = label.split("[")[0].split("@")[0]
    return (ROW_ORDER.index(base) if base in ROW_ORDER else len(ROW_ORDER), label)


def index_records(records: Iterable[ResultRecord]) -> dict[tuple[str, str, str, str], ResultRecord]:
    """(data kind, encoder label, task, protocol short) → record."""
    out: dict[tuple[str, str, str, str], ResultRecord] = {}
    for r in records:
        out[(r.data_kind, r.encoder.label, r.task.name, r.protocol.short)] = r
    return out


def table_rows(
    table: Table,
    records: Sequence[ResultRecord],
    data_kind: str,
    scores_of: ScoresOf | None = None,
    marker: Callable[[ResultRecord], str] | None = None,
) -> list[list[str]]:
    """Encoder rows (one per decoding where records hold several), then "(ZS)" rows.

    ``marker(record)`` is appended to each filled cell's text (e.g. a footnote mark).
    """
    idx = index_records(records)
    labels = sorted({r.encoder.label for r in records if r.data_kind == data_kind}, key=_sort_key)
    rows: list[tuple[str, list[Cell]]] = []
    for label in labels:
        cells = [idx.get((data_kind, label, c.task, c.protocol)) for c in table.columns]
        if all(r is None for r in cells):
            continue
        views = [dict(decoding_views(r)) if r is not None else {} for r in cells]
        decodings: list[str | None] = list(dict.fromkeys(d for v in views for d in v if d is not None))
        for decoding in decodings or [None]:
            name = f"{label} ({decoding})" if decoding else label
            shown = [v.get(decoding, r) for v, r in zip(views, cells, strict=True)]
            rows.append((name, [Candidate(name, r, decoding) if r is not None else None for r in shown]))
    if any(c.zero_shot for c in table.columns):
        for label in labels:
            zs = [idx.get((data_kind, label, c.task, "zeroshot")) if c.zero_shot else None for c in table.columns]
            if any(z is not None for z in zs):
                name = f"{label} (ZS)"
                row: list[Cell] = [
                    (Candidate(name, z) if z is not None else None) if c.zero_shot else ""
                    for z, c in zip(zs, table.columns, strict=True)
                ]
                rows.append((name, row))
    return render_rows(rows, [c.metric for c in table.columns], scores_of, marker)


PROBES = (("probe", "MLP"), ("linear", "linear"), ("knn", "kNN"))


def probe_columns(layout: Sequence[Table]) -> list[Column]:
    """The classification columns of every table (those the MLP probe fills)."""
    return [c for t in layout for c in t.columns if c.protocol == "probe"]


def probe_rows(
    columns: Sequence[Column], records: Sequence[ResultRecord], data_kind: str, scores_of: ScoresOf | None = None
) -> list[list[str]]:
    """One row per encoder × probe (MLP, linear, kNN) over the classification columns."""
    idx = index_records(records)
    labels = sorted({r.encoder.label for r in records if r.data_kind == data_kind}, key=_sort_key)
    rows: list[tuple[str, list[Cell]]] = []
    for label in labels:
        for short, title in PROBES:
            found = [idx.get((data_kind, label, c.task, short)) for c in columns]
            # an end-to-end encoder's own protocol fills the "probe" cells of Table 2, not this table
            cells = [r if r is not None and r.protocol.id.startswith("probe-") else None for r in found]
            if any(r is not None and r.status == "ok" for r in cells):
                name = f"{label} ({title})"
                rows.append((name, [Candidate(name, r) if r is not None else None for r in cells]))
    return render_rows(rows, [c.metric for c in columns], scores_of)


def decoding_views(rec: ResultRecord) -> list[tuple[str | None, ResultRecord]]:
    """One (decoding, record) per decoding a captioning record holds in ``protocol.decodings``."""
    decodings = rec.protocol.decodings
    if rec.status != "ok" or decodings is None:
        return [(rec.protocol.decoding, rec)]
    intervals = (rec.bootstrap or {}).get("decodings", {})
    return [
        (
            name,
            replace(
                rec,
                summary={
                    m: MetricSummary(v, float("nan"), 1, _ci(intervals.get(name, {}).get(m))) for m, v in values.items()
                },
            ),
        )
        for name, values in decodings.items()
    ]


def _ci(value: Any) -> tuple[float, float] | None:
    return (float(value[0]), float(value[1])) if value else None


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def load_paper_reference(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def paper_rows(ref: dict[str, Any], table: Table) -> list[list[str]]:
    """The paper's published rows of ``table`` (empty cells where the paper has no number)."""
    rows = []
    for row in ref[table.id]["rows"]:
        cells = []
        for c in table.columns:
            v = row["values"].get(c.paper_key) if c.paper_key else None
            if v is None:
                cells.append("")
            else:
                cite = row.get("cite", {}).get(c.paper_key)
                cells.append(f"{v}" + (f" [{cite}]" if cite else ""))
        rows.append([f"{row['model']} ‡"] + cells)
    return rows
