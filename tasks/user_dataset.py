"""Bring your own dataset: a labelled folder becomes a task, without writing Python.

Two sources, given as ``--task`` names (registered in ``bench.task_sources``):

``csv:PATH/labels.csv``
    A CSV with a header: ``file`` (or ``filename``, ``path``), ``label`` (or ``labels``,
    ``class``), and optionally ``fold``, ``split`` (train / val / test) and ``group`` (a
    speaker, a source recording: clips of one group never sit on both sides of a split).
    File paths are relative to the CSV's folder. Several labels in one field, separated by
    ``;`` (``sep=`` to change it), make the task multi-label.
``files:DIR/{label}_{group}_{index}.wav``
    No CSV: the label (and ``group``, ``fold`` or ``split``) comes from each file's path.
    Fields match as little as possible, left to right; other names (``{index}``) are ignored.
    ``DIR/{label}/{name}.wav`` reads a folder per class.

Options follow the path, each after a colon: ``:name=fsdd`` (the task's name and leaderboard
column; default: the dataset folder's name), ``:title=FSDD``, ``:folds=given|groups|K``
(the fold column or field; leave-one-group-out; or K stratified folds, default 5, in which a
group never sits on both sides), ``:seed=0`` (for the generated folds; recorded),
``:sep=;`` (multi-label separator), ``:clip=SECONDS`` (crop or pad every clip to this length;
default: each clip's own length, padded to at least 1 s).

Without a fold, split or ``folds=`` option the folds are generated: stratified by label,
groups kept together, seeded, and recorded in every result (``task.source``). Every protocol
that fits a classification task runs (probe, zero-shot with the class names, data-fraction
sweeps, confusion matrices), and results get a leaderboard column named after the dataset.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.audio import ClipPolicy
from bench.task import Clip, Dataset, MissingFile, TableColumn, TaskKind, TaskSpec, ZeroShotSpec
from tasks._csv import FileRows, MetadataError, Problems, read_rows

OPTIONS = ("name", "title", "folds", "seed", "sep", "clip")
COLUMNS = {
    "file": ("file", "filename", "path"),
    "label": ("label", "labels", "class"),
    "fold": ("fold",),
    "split": ("split",),
    "group": ("group",),
}
FIELDS = ("label", "group", "fold", "split")
SPLITS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
GENERIC_FOLDERS = frozenset({"audio", "recordings", "wav", "wavs", "data", "clips", "sounds", "files", "dataset"})
DEFAULT_FOLDS = 5
MAX_GROUP_FOLDS = 50
MIN_CLIP_S = 1.0


@dataclass(frozen=True)
class Row:
    line: int | None
    file: str
    labels: tuple[str, ...]
    fold: str | None = None
    split: str | None = None
    group: str | None = None


@dataclass
class Parsed:
    """What one read of the source gives: rows that passed, and every problem met on the way."""

    root: Path
    rows: list[Row]
    problems: Problems = field(default_factory=Problems)
    multilabel: bool = False


def parse_spec(kind: str, argument: str) -> tuple[str, dict[str, str]]:
    """``PATH[:key=value]...`` → (path, options); unknown keys are refused with the known ones."""
    parts = argument.split(":")
    options: dict[str, str] = {}
    while len(parts) > 1 and re.fullmatch(r"[A-Za-z_]+=.*", parts[-1]):
        key, _, value = parts.pop().partition("=")
        if key not in OPTIONS:
            close = difflib.get_close_matches(key, OPTIONS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{kind}:{argument}: unknown option {key!r}.{hint} Known: {', '.join(OPTIONS)}")
        options[key] = value
    path = ":".join(parts)
    if not path:
        raise ValueError(f"{kind}: give a path, e.g. {kind}:data/mine/labels.csv")
    return path, options


def _dataset_name(folder: Path) -> str:
    """The dataset's folder name, skipping generic ones (``fsdd/recordings`` → ``fsdd``)."""
    parts = [p for p in folder.resolve().parts if p not in ("/", "")]
    while len(parts) > 1 and parts[-1].lower() in GENERIC_FOLDERS:
        parts.pop()
    return parts[-1] if parts else "dataset"


def _safe(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "_", name.lower()).strip("_") or "dataset"


# --- reading the two sources ---------------------------------------------------------------


def _column(path: Path, header: list[str], role: str, required: bool) -> str | None:
    names = {h.strip().lower(): h for h in header}
    for alias in COLUMNS[role]:
        if alias in names:
            return names[alias]
    if required:
        raise MetadataError(
            f"{path}: the header {header} has no {role} column; name it one of {', '.join(COLUMNS[role])} "
            "(see the README, 'Your own dataset')"
        )
    return None


def read_csv(csv_path: Path, sep: str) -> Parsed:
    """Rows of a bring-your-own CSV (paths relative to its folder); problems collected, not raised."""
    if not csv_path.is_file():
        raise MetadataError(f"{csv_path}: no such CSV file; check the path after csv:")
    root = csv_path.parent
    parsed = Parsed(root, [])
    header: list[str] | None = None
    cols: dict[str, str | None] = {}
    files = FileRows(csv_path, parsed.problems)
    for line, row in read_rows(csv_path, problems=parsed.problems):
        if header is None:
            header = list(row)
            cols = {r: _column(csv_path, header, r, r in ("file", "label")) for r in COLUMNS}
        get = {r: (row.get(c) or "").strip() if c else "" for r, c in cols.items()}
        labels = tuple(x.strip() for x in get["label"].split(sep) if x.strip()) if sep else (get["label"],)
        if not get["file"] or not labels or not all(labels):
            parsed.problems.add("malformed row", csv_path, line, "empty file or label", "complete the row or remove it")
            continue
        split = get["split"] or None
        if cols["split"] and split is None and not get["fold"]:
            parsed.problems.add("malformed row", csv_path, line, "empty split", "give every row train, val or test")
            continue
        if split is not None and split.lower() not in SPLITS:
            parsed.problems.add(
                "malformed row", csv_path, line, f"split must be train, val or test, got {split!r}", "fix the split"
            )
            continue
        fold = get["fold"] or None
        if cols["fold"] and fold is None:
            parsed.problems.add("malformed row", csv_path, line, "empty fold", "give every row a fold")
            continue
        r = Row(line, get["file"], labels, fold, SPLITS[split.lower()] if split else None, get["group"] or None)
        if files.add(r.file, line, r.fold or r.split, ";".join(sorted(labels)), (r.group,)):
            parsed.rows.append(r)
    if header is None:
        raise MetadataError(f"{csv_path}: no rows under the header; list one file per row")
    parsed.multilabel = any(len(r.labels) > 1 for r in parsed.rows)
    return parsed


def _pattern_regex(pattern: str) -> tuple[str, re.Pattern[str], list[str]]:
    """(glob, regex, field names) for a pattern such as ``{label}_{group}_{index}.wav``."""
    names = re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", pattern)
    if "label" not in names:
        raise ValueError(f"files:{pattern}: the pattern needs a {{label}} field, e.g. {{label}}_{{index}}.wav")
    for dup in {n for n in names if names.count(n) > 1 and n in FIELDS}:
        raise ValueError(f"files:{pattern}: the field {{{dup}}} appears twice")
    regex, glob, pos = "", "", 0
    for m in re.finditer(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", pattern):
        literal = pattern[pos : m.start()]
        regex += re.escape(literal) + (f"(?P<{m.group(1)}>[^/]+?)" if m.group(1) in FIELDS else "[^/]+?")
        glob += literal + "*"
        pos = m.end()
    regex += re.escape(pattern[pos:])
    glob += pattern[pos:]
    return glob, re.compile(regex), names


def read_files(pattern: str) -> Parsed:
    """Rows from file names matching ``pattern`` (its fixed leading folder is the dataset root)."""
    cut = pattern.split("{", 1)[0].rfind("/")
    root = Path(pattern[:cut] or "/") if cut >= 0 else Path(".")
    relative = pattern[cut + 1 :]
    if not root.is_dir():
        raise MetadataError(f"files:{pattern}: {root} is not a folder")
    glob, regex, _ = _pattern_regex(relative)
    parsed = Parsed(root, [])
    for path in sorted(root.glob(glob)):
        rel = path.relative_to(root).as_posix()
        m = regex.fullmatch(rel)
        if m is None or not path.is_file():
            continue
        got = m.groupdict()
        split = got.get("split")
        if split is not None and split.lower() not in SPLITS:
            parsed.problems.add("malformed row", path, None, f"split must be train, val or test, got {split!r}", "")
            continue
        parsed.rows.append(
            Row(None, rel, (got["label"],), got.get("fold"), SPLITS[split.lower()] if split else None, got.get("group"))
        )
    if not parsed.rows:
        raise MetadataError(f"files:{pattern}: no file under {root} matches the pattern (glob {glob!r})")
    return parsed


# --- folds ---------------------------------------------------------------------------------


def _fold_numbers(values: list[str]) -> tuple[dict[str, int], dict[int, str]]:
    """Fold values → 1..k: integers keep their number; names (e.g. speakers) are numbered in sorted order."""
    distinct = sorted(set(values))
    if all(re.fullmatch(r"-?\d+", v) for v in distinct):
        return {v: int(v) for v in distinct}, {int(v): v for v in distinct}
    number = {v: i + 1 for i, v in enumerate(distinct)}
    return number, {i: v for v, i in number.items()}


def _named(names: dict[int, str]) -> dict[str, str]:
    """Fold number → name as JSON keeps it (string keys)."""
    return {str(k): v for k, v in sorted(names.items())}


def generated_folds(rows: list[Row], k: int, seed: int) -> dict[str, int]:
    """File → fold 1..k: stratified by (first) label, a group never split, seeded; row order does not matter."""
    from bench.splits import stratified_group_folds

    ordered = sorted(rows, key=lambda r: r.file)
    groups = [r.group if r.group is not None else f"__file__{r.file}" for r in ordered]
    if len(set(groups)) < k:
        raise ValueError(
            f"{len(set(groups))} group(s) cannot fill {k} folds in which a group stays on one side; use :folds=N "
            "with a smaller N, or :folds=groups"
        )
    y = np.array([r.labels[0] for r in ordered])
    # sklearn's StratifiedGroupKFold folds, computed without its per-fold Python loop
    fold = stratified_group_folds(y, np.array(groups), k, seed)
    return {r.file: int(f) + 1 for r, f in zip(ordered, fold, strict=True)}


@dataclass
class Scheme:
    """How clips are split: fold numbers per file (or splits), with what to record about it."""

    folds: tuple[int, ...]
    fold_of: dict[str, int]
    record: dict[str, Any]
    splits: bool = False


def scheme(parsed: Parsed, folds: str | None, seed: int) -> Scheme:
    rows = parsed.rows
    has_fold = any(r.fold is not None for r in rows)
    has_split = any(r.split is not None for r in rows)
    choice = folds or ("given" if has_fold or has_split else str(DEFAULT_FOLDS))
    if choice == "given":
        if has_fold:
            number, names = _fold_numbers([r.fold for r in rows if r.fold is not None])
            fold_of = {r.file: number[r.fold] for r in rows if r.fold is not None}
            return Scheme(tuple(sorted(names)), fold_of, {"folds": "given", "fold_names": _named(names)})
        if has_split:
            return Scheme((), {}, {"folds": "given splits"}, splits=True)
        raise ValueError("folds=given, but the rows have no fold or split; drop :folds=given to generate folds")
    if choice == "groups":
        if not any(r.group is not None for r in rows):
            raise ValueError("folds=groups needs a group column (or a {group} field in the files: pattern)")
        number, names = _fold_numbers([r.group or "" for r in rows])
        if len(names) > MAX_GROUP_FOLDS:
            raise ValueError(f"folds=groups would make {len(names)} folds; use :folds=K for K stratified folds")
        fold_of = {r.file: number[r.group or ""] for r in rows}
        return Scheme(tuple(sorted(names)), fold_of, {"folds": "leave-one-group-out", "fold_names": _named(names)})
    if not choice.isdigit() or int(choice) < 2:
        raise ValueError(f"folds={choice!r}: use given, groups, or a number of folds ≥ 2")
    k = int(choice)
    fold_of = generated_folds(rows, k, seed)
    record = {"folds": f"{k} stratified group folds (generated)", "fold_seed": seed}
    return Scheme(tuple(range(1, k + 1)), fold_of, record)


# --- the task ------------------------------------------------------------------------------


def build_dataset(name: str, parsed: Parsed, plan: Scheme) -> Dataset:
    labels = sorted({label for r in parsed.rows for label in r.labels})
    index = {label: i for i, label in enumerate(labels)}
    clips, missing = [], []
    for r in parsed.rows:
        path = Path(r.file) if Path(r.file).is_absolute() else parsed.root / r.file
        if not path.is_file():
            where = f"line {r.line} of the CSV" if r.line is not None else "the pattern"
            missing.append(MissingFile(r.file, path, f"listed in {where} but absent"))
            continue
        targets = tuple(sorted(index[label] for label in r.labels))
        clips.append(
            Clip(
                id=r.file,
                path=path,
                target=None if parsed.multilabel else targets[0],
                targets=targets if parsed.multilabel else (),
                fold=plan.fold_of.get(r.file) if not plan.splits else None,
                split=r.split if plan.splits else None,
                group=r.group,
            )
        )
    return Dataset(task=name, root=parsed.root, clips=clips, classes=labels, missing=missing, info=dict(plan.record))


def make_task(kind: str, argument: str) -> TaskSpec:
    path, options = parse_spec(kind, argument)
    sep = options.get("sep", ";")
    try:
        seed = int(options.get("seed", "0"))
        clip = float(options["clip"]) if "clip" in options else None
    except ValueError:
        raise ValueError(f"{kind}:{argument}: seed must be an integer and clip a number of seconds") from None
    reader: Callable[[], Parsed] = (lambda: read_csv(Path(path), sep)) if kind == "csv" else (lambda: read_files(path))
    first = reader()
    name = _safe(options.get("name") or _dataset_name(first.root))
    title = options.get("title") or options.get("name") or _dataset_name(first.root)
    plan = scheme(first, options.get("folds"), seed)
    task_kind: TaskKind = "multilabel" if first.multilabel else "multiclass"
    metric = "mAP" if first.multilabel else "accuracy"

    def load(root: Path) -> Dataset:
        parsed = reader()  # read again: an edited CSV or folder is noticed
        dataset = build_dataset(name, parsed, scheme(parsed, options.get("folds"), seed))
        parsed.problems.raise_if_any(dataset)
        return dataset

    source = {"spec": f"{kind}:{argument}", kind: str(Path(path).resolve()) if kind == "csv" else path, **plan.record}
    if first.multilabel:
        source["label_separator"] = sep
    return TaskSpec(
        name=name,
        title=title,
        kind=task_kind,
        loader=load,
        root_names=(),
        marker=Path(path).name if kind == "csv" else "",
        metrics=(metric,),
        clip_policy=ClipPolicy(duration_s=clip) if clip else ClipPolicy(min_duration_s=MIN_CLIP_S),
        folds=plan.folds,
        train_splits=("train",),
        val_splits=("val",) if any(r.split == "val" for r in first.rows) else (),
        test_splits=("test",),
        zero_shot=ZeroShotSpec(),
        table_columns=(TableColumn("datasets", f"{title}<br>{'ACC' if metric == 'accuracy' else 'mAP'}", metric),),
        in_all=False,
        order=200,
        description=f"your dataset from {kind}:{path}",
        root=first.root,
        source=source,
    )


def from_csv(argument: str) -> TaskSpec:
    """``csv:PATH/labels.csv[:key=value...]`` (the ``bench.task_sources`` entry ``csv``)."""
    return make_task("csv", argument)


def from_files(argument: str) -> TaskSpec:
    """``files:DIR/{label}_..._.wav[:key=value...]`` (the ``bench.task_sources`` entry ``files``)."""
    return make_task("files", argument)
