"""Result records: one JSON file per (encoder, task, protocol) cell, with provenance.

``results/<data kind>/<encoder label>/<task>.<protocol>.json`` holds the fingerprint,
protocol id and parameters, per-fold metrics, mean and std, per-sample predictions
(targets and predicted labels), timings, package versions and the git revision. Score
matrices (for mAP and redrawing confusion matrices) live in a sidecar ``.scores.npz``.
Tables and ``leaderboard.md`` are pure functions of these files.
"""

from __future__ import annotations

import json
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench.atomic import atomic_save_npz, atomic_write_json

SCHEMA_VERSION = 1


@dataclass
class FoldResult:
    fold: str
    metrics: dict[str, float]
    n_train: int = 0
    n_val: int = 0
    n_test: int = 0
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class ResultRecord:
    encoder: dict[str, Any]
    task: dict[str, Any]
    protocol: dict[str, Any]
    data: dict[str, Any]
    folds: list[FoldResult]
    summary: dict[str, dict[str, float]]
    primary_metric: str
    predictions: dict[str, Any] = field(default_factory=dict)
    skipped_files: dict[str, str] = field(default_factory=dict)
    missing_files: list[str] = field(default_factory=list)
    status: str = "ok"
    reason: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def data_kind(self) -> str:
        return str(self.data.get("kind", "real"))

    @property
    def cell_name(self) -> str:
        return f"{self.task['name']}.{self.protocol['id']}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ResultRecord:
        obj = dict(obj)
        obj["folds"] = [FoldResult(**f) for f in obj.get("folds", [])]
        return cls(**obj)


def provenance() -> dict[str, Any]:
    versions = {}
    for pkg in ("bench-audio", "numpy", "scipy", "scikit-learn", "torch", "soundfile", "soxr", "av", "open_clip_torch"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "git": _git_revision(),
    }


def _git_revision() -> str:
    try:
        here = Path(__file__).resolve().parent
        rev = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        if rev.returncode != 0:
            return "unknown"
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.@+" else "_" for ch in name)


class ResultsStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def path_for(self, data_kind: str, encoder_label: str, task: str, protocol_id: str) -> Path:
        return (
            self.root
            / safe_name(data_kind)
            / safe_name(encoder_label)
            / f"{safe_name(task)}.{safe_name(protocol_id)}.json"
        )

    def write(self, record: ResultRecord, scores: dict[str, np.ndarray] | None = None) -> Path:
        path = self.path_for(record.data_kind, record.encoder["label"], record.task["name"], record.protocol["id"])
        path.parent.mkdir(parents=True, exist_ok=True)
        if scores:
            atomic_save_npz(path.with_suffix(".scores.npz"), scores)
        atomic_write_json(path, record.to_json())
        return path

    def read(self, path: Path) -> ResultRecord:
        try:
            return ResultRecord.from_json(json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError, KeyError) as exc:
            raise ValueError(f"{path}: not a valid bench result record ({exc}); delete it or re-run that cell") from exc

    def find(self, data_kind: str, encoder_label: str, task: str, protocol_id: str) -> ResultRecord | None:
        path = self.path_for(data_kind, encoder_label, task, protocol_id)
        return self.read(path) if path.exists() else None

    def all(self) -> list[tuple[Path, ResultRecord]]:
        out = []
        for path in sorted(self.root.glob("*/*/*.json")):
            out.append((path, self.read(path)))
        return out

    def scores(self, record_path: Path) -> dict[str, np.ndarray]:
        npz = record_path.with_suffix(".scores.npz")
        if not npz.exists():
            return {}
        with np.load(npz, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
