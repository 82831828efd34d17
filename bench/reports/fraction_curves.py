"""The data-fraction figure (the paper's Fig. 2): metric vs % of training data, one line per encoder.

Drawn from the sweep's result records only. A point is the mean over seeds (each seed's
value is the mean over its folds where a task has folds); the band spans ± one standard
deviation across seeds and the faint dots are the individual seeds. The x axis is
logarithmic, ticks at the requested percentages with the mean number of training clips
under each (small sets make "1 %" a handful of clips). A CSV beside the PNG holds every number.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.reports.tables import fmt
from bench.results import ResultRecord, ResultsStore


@dataclass
class CurvePoint:
    fraction_pct: float
    seed_values: list[float]
    n_train: float

    @property
    def mean(self) -> float:
        return float(np.mean(self.seed_values))

    @property
    def std(self) -> float:
        return float(np.std(self.seed_values))


def is_fraction_record(record: ResultRecord) -> bool:
    return record.protocol.sweep == "fractions"


def fraction_of(record: ResultRecord) -> float:
    """The % of the training split a data-fraction record was trained on."""
    if record.protocol.fraction_pct is None:
        raise ValueError(f"{record.encoder.label} / {record.task.name}: not a data-fraction record")
    return float(record.protocol.fraction_pct)


def fraction_rows(records: Sequence[ResultRecord], kind: str) -> tuple[list[str], list[list[str]]]:
    """Leaderboard table: one row per task × encoder, one column per fraction (mean ± std over seeds)."""
    cells: dict[tuple[str, str, str], dict[float, str]] = {}
    for rec in records:
        if rec.data_kind != kind or not is_fraction_record(rec) or rec.status != "ok":
            continue
        values = per_seed(rec, rec.primary_metric)
        if values:
            key = (rec.task.title, rec.encoder.label, rec.primary_metric)
            cells.setdefault(key, {})[fraction_of(rec)] = fmt(float(np.mean(values)), float(np.std(values)))
    fractions = sorted({f for row in cells.values() for f in row})
    headers = ["Task", "Model", "Metric", *[f"{f:g} %" for f in fractions]]
    rows = [[*key, *[row.get(f, "—") for f in fractions]] for key, row in sorted(cells.items())]
    return headers, rows


def per_seed(record: ResultRecord, metric: str) -> list[float]:
    groups: dict[int, list[float]] = {}
    for f in record.folds:
        if metric in f.metrics:
            groups.setdefault(int(f.info.get("seed_index", 0)), []).append(f.metrics[metric])
    return [float(np.mean(v)) for _, v in sorted(groups.items())]


def collect(
    results_dir: Path,
    task: str,
    kind: str,
    labels: Sequence[str] | None = None,
    fractions: Sequence[float] | None = None,
) -> tuple[dict[str, list[CurvePoint]], str, str]:
    """Encoder label → points sorted by fraction; also the metric and the task title."""
    curves: dict[str, list[CurvePoint]] = {}
    metric, title = "", task
    for _path, rec in ResultsStore(results_dir).all():
        if not (is_fraction_record(rec) and rec.task.name == task and rec.data_kind == kind and rec.status == "ok"):
            continue
        label = rec.encoder.label
        frac = fraction_of(rec)
        if (labels and label not in labels) or (fractions and frac not in fractions):
            continue
        metric, title = rec.primary_metric, rec.task.title
        values = per_seed(rec, metric)
        if values:
            n_train = float(np.mean([f.n_train for f in rec.folds]))
            curves.setdefault(label, []).append(CurvePoint(frac, values, n_train))
    for points in curves.values():
        points.sort(key=lambda p: p.fraction_pct)
    return curves, metric, title


def write_fraction_plot(
    results_dir: Path,
    task: str,
    kind: str,
    labels: Sequence[str] | None = None,
    fractions: Sequence[float] | None = None,
    out: Path | None = None,
) -> Path:
    curves, metric, title = collect(results_dir, task, kind, labels, fractions)
    if not curves:
        raise ValueError(
            f"no {kind} data-fraction records for task {task!r} in {results_dir}; run `bench sweep fractions` first"
        )
    png = out or Path(results_dir) / kind / f"{task}.fractions.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    _write_csv(curves, metric, png.with_suffix(".csv"))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    markers = "osD^vP*X"
    order = [x for x in (labels or []) if x in curves] + sorted(set(curves) - set(labels or []))
    for i, label in enumerate(order):
        points = curves[label]
        x = np.array([p.fraction_pct for p in points])
        mean = np.array([p.mean for p in points])
        std = np.array([p.std for p in points])
        (line,) = ax.plot(x, mean, marker=markers[i % len(markers)], lw=1.8, ms=5, label=label)
        ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.18, lw=0)
        for p in points:
            ax.scatter(
                [p.fraction_pct] * len(p.seed_values), p.seed_values, s=9, color=line.get_color(), alpha=0.45, lw=0
            )
    sizes: dict[float, float] = {}
    for pts in curves.values():
        for p in pts:
            sizes[p.fraction_pct] = max(sizes.get(p.fraction_pct, 0.0), p.n_train)
    ticks = sorted(sizes)
    ax.set_xscale("log")
    ax.set_xticks(ticks, labels=[f"{t:g}\n({sizes[t]:.0f})" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("% of training data (training clips)")
    ax.set_ylabel(metric)
    seeds = max(len(p.seed_values) for pts in curves.values() for p in pts)
    demo = " [demo data]" if kind == "demo" else ""
    ax.set_title(
        f"{title}: {metric} vs training data{demo}\nmean over {seeds} seed(s), band ± 1 std, dots: seeds", fontsize=10
    )
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=130)
    plt.close(fig)
    return png


def _write_csv(curves: dict[str, list[CurvePoint]], metric: str, path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["encoder", "fraction_pct", "mean_n_train", f"{metric}_mean", f"{metric}_std", "per_seed"])
        for label, points in sorted(curves.items()):
            for p in points:
                writer.writerow(
                    [
                        label,
                        f"{p.fraction_pct:g}",
                        f"{p.n_train:.1f}",
                        f"{p.mean:.6f}",
                        f"{p.std:.6f}",
                        " ".join(f"{v:.6f}" for v in p.seed_values),
                    ]
                )
