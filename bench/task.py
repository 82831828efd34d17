"""Task declarations: small frozen records plus the dataset index a loader returns.

A task says *what* is evaluated (kind, splits, metrics, prompts, clip policy, where its
real layout lives); a loader in ``tasks/`` says *how* to read that layout into
:class:`Dataset`. Protocols never read audio: they only see clips' labels and folds and
the embedding store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bench.audio import ClipPolicy
from bench.hashing import sha256_json
from bench.prompts import label_text
from bench.registry import Registry
from bench.remote import DownloadSpec

if TYPE_CHECKING:
    from bench.demo import DemoDataset

TaskKind = Literal["multiclass", "multilabel", "audio_retrieval", "cross_modal_retrieval", "captioning"]


@dataclass(frozen=True)
class Clip:
    """One evaluable item. ``id`` is unique within the dataset and stable across machines."""

    id: str
    path: Path
    target: int | None = None
    targets: tuple[int, ...] = ()
    fold: int | None = None
    split: str | None = None
    group: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MissingFile:
    id: str
    path: Path
    reason: str


@dataclass
class Dataset:
    """What a loader found on disk: clips with labels/folds, the vocabulary, and gaps."""

    task: str
    root: Path
    clips: list[Clip]
    classes: list[str]
    missing: list[MissingFile] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def checksum(self) -> str:
        """Hash of the file list (relative path + size), labels and folds.

        Content hashing every file of FSD50K or VGGSound would cost minutes; size + path +
        labels catches re-downloads, edits to the metadata and different subsets.
        """
        h = hashlib.sha256()
        for clip in sorted(self.clips, key=lambda c: c.id):
            try:
                size = clip.path.stat().st_size
            except OSError:
                size = -1
            rel = _relative(clip.path, self.root)
            h.update(f"{clip.id}|{rel}|{size}|{clip.target}|{clip.targets}|{clip.fold}|{clip.split}\n".encode())
        return h.hexdigest()[:20]

    def subset(self, predicate: Callable[[Clip], bool]) -> Dataset:
        return Dataset(
            self.task, self.root, [c for c in self.clips if predicate(c)], self.classes, self.missing, self.info
        )


def annotations_digest(clips: Sequence[Clip], fields: Mapping[str, Any]) -> str:
    """Hash of the clips' annotations in ``Clip.extra`` (``fields``: key → value when absent).

    Protocols put it in their parameters, so editing a dataset's events or captions makes the
    results computed from the old ones stale, though the files and labels did not change.
    """
    rows = [
        [c.id, *(c.extra.get(k, default) for k, default in fields.items())] for c in sorted(clips, key=lambda c: c.id)
    ]
    return sha256_json(rows, 16)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class ZeroShotSpec:
    """How labels become prompts. ``{label}`` in each template is replaced by the label text."""

    templates: tuple[str, ...] = ("this is a sound of {label}.",)
    label_rule: str = "underscores_to_spaces_lower"

    def label_text(self, label: str) -> str:
        return label_text(self.label_rule, label)

    def prompts(self, label: str) -> list[str]:
        text = self.label_text(label)
        return [t.format(label=text) for t in self.templates]


@dataclass(frozen=True)
class TableColumn:
    """A leaderboard column the task fills: ``metric`` of its ``protocol`` (short name) result.

    ``table`` is the table it belongs to: "table2" (the paper's classification and retrieval
    table) or "table3" (captioning), or a new id for a table of its own. ``paper_key`` names
    the column in the paper's published numbers (``bench/reports/wav2clip-icassp2022.json``).
    """

    table: str
    header: str
    metric: str
    protocol: str = "probe"
    paper_key: str | None = None


@dataclass(frozen=True)
class TaskSpec:
    """A declarative task.

    ``folds``: official folds for k-fold cross-validation (test fold i, train the rest).
    Otherwise ``train_splits`` / ``val_splits`` / ``test_splits`` name the split values
    of clips; an empty ``val_splits`` means validation is carved from training data.
    ``trials`` repeats seeded runs where there are no folds (the paper: 3).
    ``metrics``: the primary metric first; each is registered in :data:`bench.metrics.METRICS`
    with its direction. ``table_columns``: where its results appear in ``leaderboard.md``
    (tasks without any get a row in "Other tasks").
    """

    name: str
    title: str
    kind: TaskKind
    loader: Callable[[Path], Dataset]
    root_names: tuple[str, ...]
    marker: str
    metrics: tuple[str, ...]
    clip_policy: ClipPolicy = ClipPolicy()
    folds: tuple[int, ...] = ()
    train_splits: tuple[str, ...] = ("train",)
    val_splits: tuple[str, ...] = ()
    test_splits: tuple[str, ...] = ("test",)
    trials: int = 3
    zero_shot: ZeroShotSpec | None = ZeroShotSpec()
    table_columns: tuple[TableColumn, ...] = ()
    demo: str | DemoDataset | None = None  # a registered demo dataset's name, or a declaration
    version: str = "1"
    description: str = ""
    citation: str = ""
    expected_clips: int | None = None
    in_all: bool = True
    order: int = 100
    downloads: DownloadSpec | None = None  # the real dataset's public files (`bench data download`)
    root: Path | None = None  # a task bound to one folder (a bring-your-own dataset): read there, always
    source: Mapping[str, Any] | None = None  # how a bring-your-own task was built (recorded in its results)

    @property
    def primary_metric(self) -> str:
        return self.metrics[0]

    def find_root(self, data_root: Path) -> Path | None:
        """The dataset folder under ``data_root`` (or ``data_root`` itself) holding ``marker``."""
        candidates = [data_root, *(data_root / n for n in self.root_names)]
        for cand in candidates:
            if (cand / self.marker).exists():
                return cand
            for sub in sorted(cand.glob(self.marker)) if any(ch in self.marker for ch in "*?[") else []:
                if sub.exists():
                    return cand
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "version": self.version,
            "metrics": list(self.metrics),
            "folds": list(self.folds),
            "splits": {"train": list(self.train_splits), "val": list(self.val_splits), "test": list(self.test_splits)},
            "clip_policy": self.clip_policy.key(),
            **({} if self.source is None else {"source": dict(self.source), "columns": self._columns_json()}),
        }

    def _columns_json(self) -> list[dict[str, Any]]:
        """The leaderboard columns, for tasks that are not registered (the leaderboard reads them from records)."""
        return [
            {"table": c.table, "header": c.header, "metric": c.metric, "protocol": c.protocol, "zero_shot": bool(z)}
            for c, z in ((c, self.zero_shot is not None and c.protocol == "probe") for c in self.table_columns)
        ]


TASKS: Registry[TaskSpec] = Registry("task", entry_point_group="bench.tasks")

# ``PREFIX:ARGUMENT`` task names build a task from the argument (``csv:PATH/labels.csv``):
# a source is a callable ``argument -> TaskSpec``, registered in the ``bench.task_sources`` group.
TASK_SOURCES: Registry[Callable[[str], TaskSpec]] = Registry("task source", entry_point_group="bench.task_sources")
_BUILT: dict[str, TaskSpec] = {}


def get_task(name: str) -> TaskSpec:
    """A registered task, or one built by a task source from ``PREFIX:ARGUMENT`` (built once per name)."""
    prefix, sep, argument = name.partition(":")
    if not sep or name in TASKS:
        return TASKS.get(name)
    if name not in _BUILT:
        spec = TASK_SOURCES.get(prefix)(argument)
        if spec.name in TASKS:
            raise ValueError(
                f"{name}: the dataset name {spec.name!r} is a registered task; give it another with :name=NAME"
            )
        _BUILT[name] = spec
    return _BUILT[name]


def all_task_names() -> list[str]:
    """Registered tasks with ``in_all`` (subsets such as ESC-10 opt out), in ``order``."""
    specs = [TASKS.get(n) for n in TASKS.names()]
    return [s.name for s in sorted((s for s in specs if s.in_all), key=lambda s: (s.order, s.name))]


def resolve_task_names(spec: str | Sequence[str]) -> list[str]:
    """Comma-separated task names (``all``: every task in ``all``), each validated (did-you-mean)."""
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    out: list[str] = []
    built: dict[str, str] = {}  # task name → the name given (two sources must not make one task name)
    for n in names:
        for m in all_task_names() if n == "all" else [n]:
            name = get_task(m).name  # validate early, with did-you-mean
            if built.setdefault(name, m) != m:
                raise ValueError(f"{built[name]} and {m} are both named {name!r}; give one another with :name=NAME")
            if m not in out:
                out.append(m)
    return out
