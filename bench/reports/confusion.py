"""Confusion matrices from stored per-sample predictions (CSV + PNG with class names).

Counts are summed over all folds (each clip is tested once in k-fold CV) or over all
trials. The PNG shows row-normalised rates (recall per true class). A difference plot
(A − B of row-normalised matrices, the paper's Fig. 3) is red where A is higher.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix

from bench.results import ResultRecord


def matrix_from_record(record: ResultRecord) -> tuple[np.ndarray, list[str]]:
    classes = list(record.task.classes)
    preds = record.predictions
    if "pred" not in preds or "target" not in preds:
        raise ValueError(
            f"{record.encoder.label} / {record.task.name} / {record.protocol.id}: the record holds no "
            "single-label predictions, so there is no confusion matrix (multi-label or n/a cell)"
        )
    cm = confusion_matrix(preds["target"], preds["pred"], labels=list(range(len(classes))))
    return cm, classes


def normalise_rows(cm: np.ndarray) -> np.ndarray:
    sums = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, sums, out=np.zeros(cm.shape, dtype=np.float64), where=sums > 0)


def write_csv(cm: np.ndarray, classes: list[str], path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["true\\predicted", *classes])
        for name, row in zip(classes, cm, strict=True):
            writer.writerow([name, *[int(v) if float(v).is_integer() else f"{v:.4f}" for v in row]])


def plot_matrix(
    mat: np.ndarray, classes: list[str], title: str, path: Path, diff: bool = False, counts: np.ndarray | None = None
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(classes)
    size = max(5.0, 0.38 * n + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    if diff:
        lim = max(1e-9, float(np.abs(mat).max()))
        im = ax.imshow(mat, cmap="RdBu_r", vmin=-lim, vmax=lim)
    else:
        im = ax.imshow(mat, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels=classes, rotation=90, fontsize=8)
    ax.set_yticks(range(n), labels=classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    if n <= 25:
        for i in range(n):
            for j in range(n):
                v = mat[i, j]
                if abs(v) < 0.005:
                    continue
                txt = f"{v:+.2f}" if diff else f"{v:.2f}"
                ax.text(
                    j,
                    i,
                    txt,
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white"
                    if (not diff and v > 0.6) or (diff and abs(v) > 0.6 * float(np.abs(mat).max()))
                    else "black",
                )
    fig.colorbar(
        im, ax=ax, fraction=0.046, pad=0.04, label="A − B (row-normalised)" if diff else "fraction of true class"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def confusion_paths(record_path: Path) -> tuple[Path, Path]:
    stem = record_path.name[: -len(".json")]
    return record_path.with_name(f"{stem}.confusion.csv"), record_path.with_name(f"{stem}.confusion.png")


def _title(record: ResultRecord) -> str:
    demo = " [demo data]" if record.data_kind == "demo" else ""
    metric = record.primary_metric
    s = record.summary.get(metric)
    mean = s.mean if s is not None else float("nan")
    return f"{record.encoder.label} on {record.task.title} ({record.protocol.short}){demo}\n{metric} {mean:.3f}"


def write_confusion(record: ResultRecord, record_path: Path) -> tuple[Path, Path]:
    cm, classes = matrix_from_record(record)
    csv_path, png_path = confusion_paths(record_path)
    write_csv(cm, classes, csv_path)
    plot_matrix(normalise_rows(cm), classes, _title(record), png_path)
    return csv_path, png_path


def write_difference(a: ResultRecord, b: ResultRecord, out: Path) -> tuple[Path, Path]:
    """Draw A, B and A − B side by side (row-normalised) plus the difference as CSV."""
    cm_a, classes_a = matrix_from_record(a)
    cm_b, classes_b = matrix_from_record(b)
    if classes_a != classes_b:
        raise ValueError("the two records have different class lists; are they the same task and dataset?")
    diff = normalise_rows(cm_a) - normalise_rows(cm_b)
    csv_path = out.with_suffix(".csv")
    write_csv(diff, classes_a, csv_path)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(classes_a)
    cell = max(4.5, 0.36 * n + 2.5)
    fig, axes = plt.subplots(1, 3, figsize=(3 * cell + 2, cell + 0.6))
    lim = max(1e-9, float(np.abs(diff).max()))
    panels = [
        (normalise_rows(cm_a), _panel_title(a), "Blues", 0.0, 1.0, "fraction of true class"),
        (normalise_rows(cm_b), _panel_title(b), "Blues", 0.0, 1.0, "fraction of true class"),
        (
            diff,
            f"{a.encoder.label} − {b.encoder.label}\n(red: {a.encoder.label} higher)",
            "RdBu_r",
            -lim,
            lim,
            "difference of row-normalised rates",
        ),
    ]
    for k, (ax, (mat, title, cmap, lo, hi, bar)) in enumerate(zip(axes, panels, strict=True)):
        im = ax.imshow(mat, cmap=cmap, vmin=lo, vmax=hi)
        ax.set_xticks(range(n), labels=classes_a, rotation=90, fontsize=7)
        ax.set_yticks(range(n), labels=classes_a, fontsize=7)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("predicted")
        if n <= 15:
            _annotate(ax, mat, diff=k == 2)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=bar)
    axes[0].set_ylabel("true")
    demo = " [demo data]" if a.data_kind == "demo" else ""
    fig.suptitle(f"{a.task.title}: confusion matrices and their difference{demo}")
    fig.tight_layout()
    png = out.with_suffix(".png")
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return csv_path, png


def _panel_title(record: ResultRecord) -> str:
    metric = record.primary_metric
    s = record.summary.get(metric)
    mean = s.mean if s is not None else float("nan")
    return f"{record.encoder.label}\n{metric} {mean:.3f}"


def _annotate(ax: Any, mat: np.ndarray, diff: bool) -> None:
    """Cell values (rates or signed differences); near-zero cells stay blank for legibility."""
    peak = float(np.abs(mat).max()) or 1.0
    for i in range(mat.shape[0]):
        for j in range(mat.shape[1]):
            v = float(mat[i, j])
            if abs(v) < 0.005:
                continue
            strong = abs(v) > (0.6 * peak if diff else 0.6)
            ax.text(
                j,
                i,
                f"{v:+.2f}" if diff else f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=6,
                color="white" if strong else "black",
            )
