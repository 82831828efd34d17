"""The paper's table layouts, filled from result records.

A column is (task, protocol, metric). Table 2 uses the probe for encoder rows and the
zero-shot protocol for "(ZS)" rows. Cells show mean ± std over folds or trials; "n/a" where
the encoder lacks a side the protocol needs; "—" where nothing was run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.results import ResultRecord


@dataclass(frozen=True)
class Column:
    header: str
    task: str
    protocol: str
    metric: str
    key: str


TABLE2 = [
    Column("ESC-50<br>ACC", "esc50", "probe", "accuracy", "esc50"),
    Column("UrbanSound8K<br>ACC", "urbansound8k", "probe", "accuracy", "urbansound8k"),
    Column("FSD50K<br>mAP", "fsd50k", "probe", "mAP", "fsd50k"),
    Column("VGGSound<br>mAP", "vggsound", "probe", "mAP", "vggsound"),
    Column("TAU Audio Only<br>ACC", "tau", "probe", "accuracy", "tau"),
    Column("DESED (AR)<br>F1", "desed", "audio-retrieval", "f1", "desed"),
    Column("VGGSound (CMR)<br>A→I MRR", "vggsound_cmr", "cmr", "mrr_a2i", "cmr_a2i"),
    Column("VGGSound (CMR)<br>I→A MRR", "vggsound_cmr", "cmr", "mrr_i2a", "cmr_i2a"),
]
ZS_TASKS = {"esc50", "urbansound8k", "fsd50k", "vggsound", "tau"}

TABLE3 = [
    Column("B1", "clotho", "captioning", "bleu_1", "bleu_1"),
    Column("B2", "clotho", "captioning", "bleu_2", "bleu_2"),
    Column("B3", "clotho", "captioning", "bleu_3", "bleu_3"),
    Column("B4", "clotho", "captioning", "bleu_4", "bleu_4"),
    Column("M", "clotho", "captioning", "meteor", "meteor"),
    Column("RL", "clotho", "captioning", "rouge_l", "rouge_l"),
    Column("Cr", "clotho", "captioning", "cider", "cider"),
    Column("S", "clotho", "captioning", "spice", "spice"),
    Column("Sr", "clotho", "captioning", "spider", "spider"),
]

ROW_ORDER = ["logmel", "supervised", "openl3", "yamnet", "wav2clip"]


def fmt(value: float | None, std: float | None = None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if std is None or (isinstance(std, float) and math.isnan(std)) or std == 0.0:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} ± {std:.{digits}f}"


def cell_text(record: ResultRecord | None, metric: str) -> str:
    if record is None:
        return "—"
    if record.status == "n/a":
        return "n/a"
    if record.status != "ok":
        return record.status
    s = record.summary.get(metric)
    if s is None:
        unavailable = record.protocol.get("unavailable", {})
        return "unavailable" if metric in unavailable else "—"
    return fmt(s.get("mean"), s.get("std"))


def _sort_key(label: str) -> tuple[int, str]:
    base = label.split("[")[0].split("@")[0]
    return (ROW_ORDER.index(base) if base in ROW_ORDER else len(ROW_ORDER), label)


def index_records(records: Iterable[ResultRecord]) -> dict[tuple[str, str, str, str], ResultRecord]:
    """(data kind, encoder label, task, protocol short) → record."""
    out: dict[tuple[str, str, str, str], ResultRecord] = {}
    for r in records:
        out[(r.data_kind, r.encoder["label"], r.task["name"], r.protocol["short"])] = r
    return out


def table2_rows(records: list[ResultRecord], data_kind: str) -> list[list[str]]:
    idx = index_records(records)
    labels = sorted({r.encoder["label"] for r in records if r.data_kind == data_kind}, key=_sort_key)
    rows = []
    for label in labels:
        if any((data_kind, label, c.task, c.protocol) in idx for c in TABLE2):
            rows.append(
                [label] + [cell_text(idx.get((data_kind, label, c.task, c.protocol)), c.metric) for c in TABLE2]
            )
    for label in labels:
        zs = [idx.get((data_kind, label, c.task, "zeroshot")) if c.task in ZS_TASKS else None for c in TABLE2]
        if any(z is not None for z in zs):
            rows.append(
                [f"{label} (ZS)"]
                + [cell_text(z, c.metric) if c.task in ZS_TASKS else "" for z, c in zip(zs, TABLE2, strict=True)]
            )
    return rows


def table3_rows(records: list[ResultRecord], data_kind: str) -> list[list[str]]:
    idx = index_records(records)
    labels = sorted({r.encoder["label"] for r in records if r.data_kind == data_kind}, key=_sort_key)
    rows = []
    for label in labels:
        recs = [(key, r) for key, r in idx.items() if key[:2] == (data_kind, label) and key[2] == "clotho"]
        for (_, _, _, proto), rec in sorted(recs, key=lambda kv: kv[0][3]):
            if proto != "captioning" and not proto.startswith("captioning"):
                continue
            for decode, view in decoding_views(rec):
                name = f"{label} ({decode})" if decode else label
                rows.append([name] + [cell_text(view, c.metric) for c in TABLE3])
    return rows


def decoding_views(rec: ResultRecord) -> list[tuple[str | None, ResultRecord]]:
    """One (decoding, record) per decoding a captioning record holds in ``protocol.decodings``."""
    decodings = rec.protocol.get("decodings")
    if rec.status != "ok" or not isinstance(decodings, dict):
        return [(rec.protocol.get("decoding"), rec)]
    return [
        (name, replace(rec, summary={m: {"mean": v, "std": float("nan"), "n": 1} for m, v in values.items()}))
        for name, values in decodings.items()
    ]


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] + ["---:"] * (len(headers) - 1)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def load_paper_reference(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def paper_rows(ref: dict[str, Any], table: str, columns: list[Column]) -> list[list[str]]:
    rows = []
    for row in ref[table]["rows"]:
        cells = []
        for c in columns:
            v = row["values"].get(c.key)
            if v is None:
                cells.append("")
            else:
                cite = row.get("cite", {}).get(c.key)
                cells.append(f"{v}" + (f" [{cite}]" if cite else ""))
        rows.append([f"{row['model']} ‡"] + cells)
    return rows
