"""Result records: one JSON file per (encoder, task, protocol) cell, with provenance.

``results/<data kind>/<encoder label>/<task>.<protocol>.json`` holds the fingerprint,
protocol id and parameters, per-fold metrics, mean and std, per-sample predictions
(targets and predicted labels), timings, package versions and the git revision. Score
matrices (for mAP and redrawing confusion matrices) live in a sidecar ``.scores.npz``.
Tables and ``leaderboard.md`` are pure functions of these files.

In memory a record is a tree of frozen dataclasses, so reports read ``record.encoder.label``
(checked by mypy) instead of string keys. On disk it is the same JSON as ever (schema 1):
each part's ``to_json`` writes the keys it always had, and keys a part does not model (an
adapter's or a protocol's own, e.g. Wav2CLIP's ``weights_source`` or retrieval's
``thresholds``) travel in its ``extra`` mapping and are written back unchanged, so every
committed record loads and rewrites byte for byte.
"""

from __future__ import annotations

import json
import platform
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench.atomic import atomic_save_npz, atomic_write_json

SCHEMA_VERSION = 1


def _split(obj: Mapping[str, Any], known: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the keys a part models, everything else)."""
    return {k: obj[k] for k in known if k in obj}, {k: v for k, v in obj.items() if k not in known}


@dataclass(frozen=True)
class FoldResult:
    fold: str
    metrics: Mapping[str, float]
    n_train: int = 0
    n_val: int = 0
    n_test: int = 0
    info: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> FoldResult:
        return cls(**obj)


@dataclass(frozen=True)
class MetricSummary:
    """Mean and population std of one metric over folds or trials; ``n`` folds were run."""

    mean: float
    std: float
    n: int

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "n": self.n}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> MetricSummary:
        return cls(mean=obj["mean"], std=obj["std"], n=obj["n"])


@dataclass(frozen=True)
class EncoderInfo:
    """What :meth:`bench.encoder.Encoder.describe` said about the encoder of a cell."""

    name: str
    label: str
    fingerprint: str
    version: str = "1"
    sample_rate: int = 0
    embedding_dim: int = 0
    weights: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    capabilities: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    FIELDS = ("name", "label", "fingerprint", "version", "sample_rate", "embedding_dim", "weights", "options")

    def to_json(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in self.FIELDS}, "capabilities": list(self.capabilities), **self.extra}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> EncoderInfo:
        known, extra = _split(obj, (*cls.FIELDS, "capabilities"))
        return cls(**{**known, "capabilities": tuple(known.get("capabilities", ())), "extra": extra})


@dataclass(frozen=True)
class TaskInfo:
    """The task declaration as run, with the dataset's classes."""

    name: str
    title: str
    kind: str
    version: str = "1"
    metrics: tuple[str, ...] = ()
    folds: tuple[int, ...] = ()
    splits: Mapping[str, Sequence[str]] = field(default_factory=dict)
    clip_policy: str = ""
    classes: tuple[str, ...] = ()
    n_classes: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    FIELDS = ("name", "title", "kind", "version", "splits", "clip_policy", "n_classes")

    def to_json(self) -> dict[str, Any]:
        lists = {"metrics": list(self.metrics), "folds": list(self.folds), "classes": list(self.classes)}
        return {**{k: getattr(self, k) for k in self.FIELDS}, **lists, **self.extra}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> TaskInfo:
        known, extra = _split(obj, (*cls.FIELDS, "metrics", "folds", "classes"))
        tuples = {k: tuple(known.get(k, ())) for k in ("metrics", "folds", "classes")}
        return cls(**{**known, **tuples, "extra": extra})


@dataclass(frozen=True)
class ProtocolInfo:
    """Protocol identity and parameters, plus what the protocol reported beside its metrics.

    ``decodings`` (captioning: metrics per decoding, ``decoding`` the one in the summary),
    ``unavailable`` (metrics that could not be computed here, with the reason), and
    ``sweep`` / ``fraction_pct`` (a data-fraction point) are read by the reports; anything
    else a protocol adds stays in ``extra``.
    """

    id: str
    short: str
    params: Mapping[str, Any] = field(default_factory=dict)
    params_hash: str = ""
    decoding: str | None = None
    decodings: Mapping[str, Mapping[str, float]] | None = None
    unavailable: Mapping[str, str] | None = None
    sweep: str | None = None
    fraction_pct: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    FIELDS = ("id", "short", "params", "params_hash")
    OPTIONAL = ("decoding", "decodings", "unavailable", "sweep", "fraction_pct")

    def to_json(self) -> dict[str, Any]:
        optional = {k: getattr(self, k) for k in self.OPTIONAL if getattr(self, k) is not None}
        return {**{k: getattr(self, k) for k in self.FIELDS}, **optional, **self.extra}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ProtocolInfo:
        known, extra = _split(obj, (*cls.FIELDS, *cls.OPTIONAL))
        return cls(**known, extra=extra)


@dataclass(frozen=True)
class DataInfo:
    """Which data the cell ran on: demo or real, where, and its file-list checksum."""

    kind: str
    root: str
    checksum: str
    n_clips: int = 0
    n_missing: int = 0
    demo: Mapping[str, Any] | None = None  # the demo suite's BENCH_DEMO.json
    extra: Mapping[str, Any] = field(default_factory=dict)

    FIELDS = ("kind", "root", "checksum", "n_clips", "n_missing")

    def to_json(self) -> dict[str, Any]:
        demo = {} if self.demo is None else {"demo": self.demo}
        return {**{k: getattr(self, k) for k in self.FIELDS}, **demo, **self.extra}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> DataInfo:
        known, extra = _split(obj, (*cls.FIELDS, "demo"))
        return cls(**known, extra=extra)


@dataclass(frozen=True)
class Provenance:
    created: str = ""
    python: str = ""
    platform: str = ""
    versions: Mapping[str, str] = field(default_factory=dict)
    git: str = "unknown"
    extra: Mapping[str, Any] = field(default_factory=dict)

    FIELDS = ("created", "python", "platform", "versions", "git")

    def to_json(self) -> dict[str, Any]:
        return {**{k: getattr(self, k) for k in self.FIELDS}, **self.extra}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Provenance:
        known, extra = _split(obj, cls.FIELDS)
        return cls(**known, extra=extra)


@dataclass(frozen=True)
class ResultRecord:
    encoder: EncoderInfo
    task: TaskInfo
    protocol: ProtocolInfo
    data: DataInfo
    folds: tuple[FoldResult, ...]
    summary: Mapping[str, MetricSummary]
    primary_metric: str
    predictions: Mapping[str, Any] = field(default_factory=dict)
    skipped_files: Mapping[str, str] = field(default_factory=dict)
    missing_files: tuple[str, ...] = ()
    status: str = "ok"  # ok | n/a
    reason: str = ""
    timings: Mapping[str, float] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=Provenance)
    schema_version: int = SCHEMA_VERSION
    audit: Mapping[str, Any] | None = None  # the dataset audit (bench.audit); absent in older records

    @property
    def data_kind(self) -> str:
        return self.data.kind

    def to_json(self) -> dict[str, Any]:
        return {
            "encoder": self.encoder.to_json(),
            "task": self.task.to_json(),
            "protocol": self.protocol.to_json(),
            "data": self.data.to_json(),
            "folds": [f.to_json() for f in self.folds],
            "summary": {m: s.to_json() for m, s in self.summary.items()},
            "primary_metric": self.primary_metric,
            "predictions": dict(self.predictions),
            "skipped_files": dict(self.skipped_files),
            "missing_files": list(self.missing_files),
            "status": self.status,
            "reason": self.reason,
            "timings": dict(self.timings),
            "provenance": self.provenance.to_json(),
            "schema_version": self.schema_version,
            **({} if self.audit is None else {"audit": dict(self.audit)}),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ResultRecord:
        version = obj.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ValueError(f"schema version {version}; this bench reads version {SCHEMA_VERSION}")
        return cls(
            encoder=EncoderInfo.from_json(obj["encoder"]),
            task=TaskInfo.from_json(obj["task"]),
            protocol=ProtocolInfo.from_json(obj["protocol"]),
            data=DataInfo.from_json(obj["data"]),
            folds=tuple(FoldResult.from_json(f) for f in obj.get("folds", [])),
            summary={m: MetricSummary.from_json(s) for m, s in obj["summary"].items()},
            primary_metric=obj["primary_metric"],
            predictions=obj.get("predictions", {}),
            skipped_files=obj.get("skipped_files", {}),
            missing_files=tuple(obj.get("missing_files", ())),
            status=obj.get("status", "ok"),
            reason=obj.get("reason", ""),
            timings=obj.get("timings", {}),
            provenance=Provenance.from_json(obj.get("provenance", {})),
            schema_version=version,
            audit=obj.get("audit"),
        )


def provenance() -> Provenance:
    versions = {}
    for pkg in ("bench-audio", "numpy", "scipy", "scikit-learn", "torch", "soundfile", "soxr", "av", "open_clip_torch"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return Provenance(
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        python=platform.python_version(),
        platform=platform.platform(),
        versions=versions,
        git=_git_revision(),
    )


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
        path = self.path_for(record.data_kind, record.encoder.label, record.task.name, record.protocol.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        if scores:
            atomic_save_npz(path.with_suffix(".scores.npz"), scores)
        atomic_write_json(path, record.to_json())
        return path

    def read(self, path: Path) -> ResultRecord:
        try:
            return ResultRecord.from_json(json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError, KeyError, ValueError) as exc:
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
