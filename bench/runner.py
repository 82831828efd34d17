"""``bench run``: encoders × tasks × protocols → result records, confusion matrices, leaderboard.

For each encoder and task the runner finds the dataset (explicit root, data root, or the demo
suite; loaded and checksummed once per run), embeds it once into the store, runs every
protocol that applies and writes one record per cell, with bootstrap intervals of its metrics.
A cell whose record already exists with the same cell key (:mod:`bench.cell_key`: task
definition, dataset files and annotations, encoder fingerprint, protocol parameters) is
skipped (``force`` recomputes it from the store; ``reembed`` also forgets the stored
embeddings), so re-running a finished command costs no encoder calls at all; any change to
what the numbers depend on recomputes the cell. Options, encoders and the device are checked
before any work (:mod:`bench.preflight`); a cell the data cannot support (a fold whose every
clip was skipped) is recorded as failed with the reason and the other cells still run.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

from bench import distributed, paths
from bench.audit import Audit, attach, audit_dataset, audit_of
from bench.cell_key import cell_key
from bench.datasets import DataNotFound, resolve_dataset
from bench.encoder import Encoder, NotSupportedError, capabilities, get_encoder
from bench.extract import ExtractionStats, audio_changed_since_embedded, extract, level_key
from bench.hashing import sha256_json
from bench.metrics import mean_std
from bench.preflight import check_run
from bench.protocols import CellError, Protocol, ProtocolContext, cell_protocol, protocols_for
from bench.results import (
    DataInfo,
    EncoderInfo,
    FoldResult,
    MetricSummary,
    ProtocolInfo,
    ResultRecord,
    ResultsStore,
    TaskInfo,
    config_id,
    provenance,
)
from bench.stats.bootstrap import BootstrapConfig, record_intervals
from bench.store import EmbeddingStore, EmbeddingView
from bench.task import Dataset, TaskSpec, get_task


class DemoOnlyEncoderError(ValueError):
    """An encoder whose weights were trained on the synthetic demo suite, asked to score real data."""


@dataclass
class RunOptions:
    data_root: Path | None = None
    roots: dict[str, Path] = field(default_factory=dict)
    device: str = "cpu"
    results_dir: Path = field(default_factory=paths.results_dir)
    cache_dir: Path = field(default_factory=paths.cache_dir)
    demo_dir: Path | None = None
    on_error: Literal["skip", "stop"] = "skip"
    batch_size: int | None = None
    workers: int = 2
    force: bool = False
    reembed: bool = False  # forget the stored embeddings of each encoder × task, embed again (implies force)
    verify_content: bool = False  # identify audio files by a hash of their bytes, not size + mtime
    seed: int = 0
    protocols: list[str] | None = None
    protocol_options: dict[str, Any] = field(default_factory=dict)
    encoder_options: dict[str, Any] = field(default_factory=dict)
    show_progress: bool = True
    confusion: bool = True
    encoding: str | None = None  # metadata files' text encoding (--encoding); None: UTF-8
    audit: bool = True  # decode every clip once for the dataset audit (cached per dataset)
    log: Any = None

    def say(self, msg: str) -> None:
        (self.log or (lambda m: print(m, file=sys.stderr)))(msg)


@dataclass
class CellOutcome:
    encoder: str
    task: str
    protocol: str
    status: str
    path: Path | None = None
    summary: str = ""


def load_dataset(task: TaskSpec, opts: RunOptions) -> Dataset:
    """``task``'s dataset from the options' roots, data root or demo suite (:mod:`bench.datasets`)."""
    return resolve_dataset(
        task, roots=opts.roots, data_root=opts.data_root, demo_dir=opts.demo_dir, encoding=opts.encoding
    )


def params_hash(obj: Any) -> str:
    return sha256_json(obj, 16)


def training_overlap(encoder: Encoder, task: TaskSpec, data_kind: str) -> str:
    """Why ``encoder`` is not held out from ``task``'s data (it was trained on it), or ""."""
    dataset = f"demo:{task.dataset_id}" if data_kind == "demo" else task.dataset_id
    if dataset not in encoder.trained_on:
        return ""
    return (
        f"{encoder.label()} was trained on {dataset} ({encoder.training_data}) and {task.title} evaluates on "
        "that dataset: not a held-out number"
    )


@dataclass(frozen=True)
class CellIdentity:
    """What every record of a cell shares: the encoder, task, data and protocol as run, and its key."""

    encoder: EncoderInfo
    task: TaskInfo
    data: DataInfo
    protocol: dict[str, Any]  # JSON: the protocol's own output fields are added to it
    key: str
    bootstrap: BootstrapConfig
    overlap: str = ""

    @classmethod
    def of(
        cls,
        encoder: Encoder,
        task: TaskSpec,
        dataset: Dataset,
        protocol: Protocol,
        params: dict[str, Any],
        bootstrap: BootstrapConfig,
    ) -> CellIdentity:
        kind = str(dataset.info.get("kind", "real"))
        data = {
            "kind": kind,
            "root": str(dataset.root),
            "checksum": dataset.checksum(),
            "n_clips": len(dataset.clips),
            "n_missing": len(dataset.missing),
            **({"demo": dataset.info["demo"]} if "demo" in dataset.info else {}),
            "annotations": dataset.annotations_checksum(),
        }
        fingerprint = encoder.fingerprint()
        return cls(
            encoder=EncoderInfo.from_json(encoder.describe()),
            task=TaskInfo.from_json(
                {**task.describe(), "classes": list(dataset.classes), "n_classes": len(dataset.classes)}
            ),
            data=DataInfo.from_json(data),
            protocol={"id": protocol.id, "short": protocol.short, "params": params, "params_hash": params_hash(params)},
            key=cell_key(fingerprint, task, dataset, protocol.id, params_hash(params), bootstrap.as_dict()),
            bootstrap=bootstrap,
            overlap=training_overlap(encoder, task, kind),
        )

    @property
    def config(self) -> str:
        return config_id(self.encoder.fingerprint)

    def record(self, protocol_output: dict[str, Any] | None = None, **fields: Any) -> ResultRecord:
        """A record of this cell; ``protocol_output`` holds what the protocol reported beside its metrics."""
        protocol = ProtocolInfo.from_json({**self.protocol, **(protocol_output or {})})
        return ResultRecord(
            encoder=self.encoder,
            task=self.task,
            protocol=protocol,
            data=self.data,
            provenance=provenance(),
            cell_key=self.key,
            training_overlap=self.overlap,
            **fields,
        )

    def not_applicable(self, primary_metric: str, reason: str) -> ResultRecord:
        return self.record(folds=(), summary={}, primary_metric=primary_metric, status="n/a", reason=reason)

    def failed(self, primary_metric: str, reason: str, skipped: dict[str, str]) -> ResultRecord:
        """A cell the data could not support: no number, the reason, and the files that were skipped."""
        return self.record(
            folds=(), summary={}, primary_metric=primary_metric, status="failed", reason=reason, skipped_files=skipped
        )


def summarise(folds: Sequence[FoldResult], metrics: Sequence[str]) -> dict[str, MetricSummary]:
    """Mean ± population std of each metric over the folds (or trials) that report it."""
    out = {}
    for m in metrics:
        mean, std = mean_std([f.metrics[m] for f in folds if m in f.metrics])
        out[m] = MetricSummary(mean=mean, std=std, n=len(folds))
    return out


def with_intervals(record: ResultRecord, scores: dict[str, Any], cfg: BootstrapConfig) -> ResultRecord:
    """``record`` with the bootstrap interval of each summary metric (and the settings, in ``bootstrap``)."""
    found = record_intervals(record, scores, cfg)
    summary = {m: replace(s, ci=found.metrics.get(m)) for m, s in record.summary.items()}
    return replace(record, summary=summary, bootstrap=found.to_json())


def _embed_for(
    protocol: Protocol,
    encoder: Encoder,
    task: TaskSpec,
    dataset: Dataset,
    opts: RunOptions,
    view_cache: dict[str, EmbeddingView],
    stats: ExtractionStats,
) -> EmbeddingView | None:
    """The embeddings ``protocol`` reads (extracted once per level and task, then cached), or None."""
    if not protocol.uses_store:
        return None
    level = level_key(protocol.frames_window_s)
    if level not in view_cache:
        calls_before = stats.encoder_calls
        view = extract(
            encoder,
            dataset,
            EmbeddingStore(opts.cache_dir),
            task.clip_policy,
            frames_window_s=protocol.frames_window_s,
            on_error=opts.on_error,
            batch_size=opts.batch_size,
            workers=opts.workers,
            show_progress=opts.show_progress,
            stats=stats,
            verify_content=opts.verify_content,
            say=opts.say,
        )
        assert view is not None
        view_cache[level] = view
        if view.failed:
            example = next(iter(view.failed.items()))
            opts.say(
                f"  {len(view.failed)} clip(s) skipped in {task.title} (unreadable, or a non-finite embedding), "
                f"e.g. {example}"
            )
        if stats.encoder_calls > calls_before:
            opts.say(f"  embedded {stats.embedded} clips of {task.title} with {encoder.name} in {stats.seconds:.1f} s")
    return view_cache[level]


def stored(record: ResultRecord) -> str:
    """A reused record's number, for the run's log line."""
    s = record.summary.get(record.primary_metric)
    if record.status != "ok" or s is None:
        return f"{record.status} (stored result reused)"
    return f"{record.primary_metric} {s.mean:.4f} ± {s.std:.4f} (stored result reused)"


def run_cell(
    encoder: Encoder,
    task: TaskSpec,
    dataset: Dataset,
    protocol: Protocol,
    opts: RunOptions,
    results: ResultsStore,
    view_cache: dict[str, EmbeddingView],
    stats: ExtractionStats,
) -> CellOutcome:
    kind = str(dataset.info.get("kind", "real"))
    registered = protocol
    replacement = cell_protocol(encoder, protocol)
    opted_out = replacement is None
    protocol = replacement or protocol
    ctx = ProtocolContext(
        task,
        dataset,
        None,
        encoder,
        seed=opts.seed,
        device=opts.device,
        options=dict(opts.protocol_options),
        show_progress=opts.show_progress,
        store=EmbeddingStore(opts.cache_dir),
        verify_content=opts.verify_content,
    )
    params = protocol.params(ctx)
    outcome = partial(CellOutcome, encoder.name, task.name, protocol.short)
    audit = audit_of(dataset)
    flagged = audit_note(audit, protocol)
    cell = CellIdentity.of(encoder, task, dataset, protocol, params, BootstrapConfig.from_options(ctx.options))
    existing = results.cell(kind, encoder.label(), task.name, protocol.id, cell.config)
    recompute = opts.force or opts.reembed or (existing is not None and existing.status == "failed")
    if existing is not None and not recompute and existing.cell_key == cell.key:
        current = None if audit is None else audit.to_json(protocol.trains)
        # audited since (or audited anew): keep it current; an n/a record has no number to flag, and
        # rewriting it on every reuse left a fresh clone's committed records modified by `make demo`
        if current is not None and existing.status != "n/a" and existing.audit != current:
            results.rewrite(replace(existing, audit=current))  # keeps the scores sidecar
        path = results.path_for(kind, encoder.label(), task.name, protocol.id, cell.config)
        note = " ".join(part for part in (stored(existing), flagged.strip()) if part)
        return outcome("cached", path, note)
    if replacement is not None and replacement is not registered:
        _note_unread_options(replacement, encoder, opts)
    if cell.overlap:
        opts.say(f"  note: {cell.overlap}")
    missing = protocol.needs - capabilities(encoder)
    if missing or opted_out:
        reason = (
            f"encoder {encoder.name!r} trains end to end; it has no frozen embeddings for {protocol.short}"
            if opted_out
            else f"encoder {encoder.name!r} has no {'/'.join(sorted(missing))} side"
        )
        return outcome("n/a", results.write(cell.not_applicable(task.primary_metric, reason)), reason)

    t0 = time.perf_counter()
    ctx.view = _embed_for(protocol, encoder, task, dataset, opts, view_cache, stats)
    extract_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    try:
        out = protocol.run(ctx)
    except NotSupportedError as exc:  # a side that exists but cannot work here (e.g. teacher weights absent)
        return outcome("n/a", results.write(cell.not_applicable(task.primary_metric, str(exc))), str(exc))
    except CellError as exc:  # this data cannot support the cell; the other cells still run
        skipped = dict(ctx.view.failed) if ctx.view is not None else {}
        return outcome("failed", results.write(cell.failed(task.primary_metric, str(exc), skipped)), str(exc))
    protocol_s = time.perf_counter() - t1
    metric_names = out.metrics or task.metrics
    summary = summarise(out.folds, metric_names)
    extra = dict(out.extra)
    skipped = dict(ctx.view.failed) if ctx.view is not None else dict(extra.pop("skipped_files", {}))
    record = cell.record(
        extra,
        folds=tuple(out.folds),
        summary=summary,
        primary_metric=metric_names[0],
        predictions=out.predictions,
        skipped_files=skipped,
        missing_files=tuple(m.id for m in dataset.missing),
        audit=None if audit is None else audit.to_json(protocol.trains),
        timings={
            "extract_s": round(extract_s, 3),
            "protocol_s": round(protocol_s, 3),
            "encoder_calls": stats.encoder_calls,
        },
    )
    record = with_intervals(record, out.scores, cell.bootstrap)
    path = results.write(record, out.scores)
    if opts.confusion and task.kind == "multiclass" and "pred" in out.predictions:
        from bench.reports.confusion import write_confusion

        write_confusion(record, path)
    p = record.summary[metric_names[0]]
    ci = f" [{p.ci[0]:.4f}, {p.ci[1]:.4f}]" if p.ci else ""
    flag = " (trained on this dataset)" if cell.overlap else ""
    return outcome("ok", path, f"{metric_names[0]} {p.mean:.4f} ± {p.std:.4f}{ci}{flag}{flagged}")


def audit_note(audit: Audit | None, protocol: Protocol) -> str:
    """What follows a flagged cell's number in the run output ("" for a clean one)."""
    if audit is None or not protocol.trains or not audit.flags:
        return ""
    return f"  ⚑ audit: {', '.join(audit.flags)} (see the audit above; marked in leaderboard.md)"


def cell_options(
    encoder: Encoder, task: TaskSpec, dataset: Dataset, protocols: Sequence[Protocol], opts: RunOptions
) -> dict[str, RunOptions]:
    """The options each protocol's cell runs with: ``force`` where audio changed in place since it was embedded.

    A stored result is reused by its dataset checksum (paths, sizes, labels), which an
    overwrite at the same size leaves unchanged; the embedding store knows each clip's file
    state, so cells over such audio are recomputed (and only the changed clips re-embedded).
    Checked once per task before any cell runs: the first cell brings the store up to date.
    """
    store = EmbeddingStore(opts.cache_dir)
    changed: dict[str, int] = {}
    out: dict[str, RunOptions] = {}
    for registered in protocols:
        protocol = cell_protocol(encoder, registered) or registered
        if not protocol.uses_store or opts.force:
            out[registered.id] = opts
            continue
        level = level_key(protocol.frames_window_s)
        if level not in changed:
            changed[level] = audio_changed_since_embedded(
                encoder, dataset, store, task.clip_policy, protocol.frames_window_s, opts.verify_content
            )
            if changed[level]:
                opts.say(
                    f"  {changed[level]} audio file(s) of {task.title} changed since they were embedded: "
                    "recomputing the results that read them"
                )
        out[registered.id] = replace(opts, force=True) if changed[level] else opts
    return out


def _note_unread_options(protocol: Protocol, encoder: Encoder, opts: RunOptions) -> None:
    """An end-to-end encoder's own protocol may not read every ``--popt`` the replaced one does: say so."""
    unread = sorted(k for k in opts.protocol_options if protocol.schema().get(k.split(".")[-1]) is None)
    if unread:
        opts.say(
            f"  note: encoder {encoder.name!r} trains end to end; its {protocol.short} does not read "
            f"--popt {', '.join(unread)} (its own settings are --opt options)"
        )


def _embed_shard(
    encoder: Encoder, task: TaskSpec, dataset: Dataset, opts: RunOptions, info: distributed.DistInfo
) -> None:
    """torchrun: every rank embeds its share of each level the task's protocols need."""
    levels = sorted(
        {p.frames_window_s for p in protocols_for(task, opts.protocols) if not p.needs - capabilities(encoder)},
        key=lambda w: -1.0 if w is None else w,
    )
    for window in levels:
        extract(
            encoder,
            dataset,
            EmbeddingStore(opts.cache_dir),
            task.clip_policy,
            frames_window_s=window,
            on_error=opts.on_error,
            batch_size=opts.batch_size,
            workers=opts.workers,
            shard=(info.rank, info.world),
            show_progress=opts.show_progress and info.is_main,
            verify_content=opts.verify_content,
            say=opts.say,
        )
        info.barrier()


class DatasetCache:
    """Each task's dataset loaded (and checksummed) once per run, whichever encoders score it."""

    def __init__(self) -> None:
        self._loaded: dict[str, Dataset | DataNotFound] = {}

    def get(self, task: TaskSpec, opts: RunOptions) -> Dataset:
        if task.name not in self._loaded:
            try:
                self._loaded[task.name] = load_dataset(task, opts)
            except DataNotFound as exc:
                self._loaded[task.name] = exc
        found = self._loaded[task.name]
        if isinstance(found, DataNotFound):
            raise found
        return found


def open_task(
    encoder: Encoder, task: TaskSpec, opts: RunOptions, datasets: DatasetCache | None = None
) -> tuple[Dataset | None, CellOutcome | None]:
    """``task``'s dataset for ``encoder``, or (None, the outcome saying why the task is skipped).

    No data where the user pointed, or data the encoder refuses (random stand-in weights on
    real data), skip the task; demo-trained weights asked to score real data stop the run.
    Metadata problems stop the run (every problem listed). The dataset audit runs here, before
    any protocol: its summary is printed (missing files included) and every record keeps it.
    """
    try:
        dataset = (datasets or DatasetCache()).get(task, opts)
    except DataNotFound as exc:
        opts.say(f"skip {task.name}: {exc}")
        return None, CellOutcome(encoder.name, task.name, "-", "no-data", summary=str(exc))
    refused = encoder.refusal(str(dataset.info.get("kind", "real")))
    if refused is not None and encoder.demo_only:
        raise DemoOnlyEncoderError(f"{refused} ({task.title} at {dataset.root})")
    if refused is not None:
        opts.say(f"skip {task.name}: {refused}")
        return None, CellOutcome(encoder.name, task.name, "-", "refused", summary=refused)
    if opts.reembed:
        info = distributed.dist_info()
        if info.is_main:
            root = str(Path(dataset.root).resolve())
            n = EmbeddingStore(opts.cache_dir).discard(encoder.name, encoder.fingerprint(), task.name, root)
            opts.say(f"  --reembed: forgot {n} stored embedding set(s) of {task.title} with {encoder.name}")
        info.barrier()
    if distributed.dist_info().is_main:
        audit = audit_dataset(
            task, dataset, cache_dir=opts.cache_dir, workers=opts.workers, show_progress=opts.show_progress,
            decode=opts.audit,
        )  # fmt: skip
        attach(dataset, audit)
        for line in audit.summary():
            opts.say(line)
    return dataset, None


def check(encoder_specs: Sequence[str], protocols: Sequence[Protocol], opts: RunOptions) -> RunOptions:
    """``opts`` with typed protocol options, or :class:`~bench.options.OptionError` before any work."""
    popts = check_run(
        encoder_specs,
        protocols,
        device=opts.device,
        encoder_options=opts.encoder_options,
        protocol_options=opts.protocol_options,
        batch_size=opts.batch_size,
        workers=opts.workers,
    )
    return replace(opts, protocol_options=popts)


def run(encoder_specs: list[str], task_names: list[str], opts: RunOptions) -> list[CellOutcome]:
    tasks = [get_task(t) for t in task_names]
    opts = check(encoder_specs, [p for t in tasks for p in protocols_for(t, opts.protocols)], opts)
    results = ResultsStore(opts.results_dir)
    outcomes: list[CellOutcome] = []
    info = distributed.init(opts.device)
    device = distributed.rank_device(opts.device, info)
    datasets = DatasetCache()
    for spec in encoder_specs:
        encoder = get_encoder(spec, device=device, **opts.encoder_options)
        try:
            for task in tasks:
                dataset, skipped = open_task(encoder, task, opts, datasets)
                if dataset is None:
                    assert skipped is not None
                    outcomes.append(skipped)
                    continue
                view_cache: dict[str, EmbeddingView] = {}
                stats = ExtractionStats()
                protocols = protocols_for(task, opts.protocols)
                per_cell = cell_options(
                    encoder, task, dataset, protocols, opts
                )  # before embedding brings it up to date
                if info.active:
                    _embed_shard(encoder, task, dataset, opts, info)
                    if not info.is_main:
                        continue  # rank 0 consolidates and evaluates
                for protocol in protocols:
                    outcome = run_cell(
                        encoder, task, dataset, protocol, per_cell[protocol.id], results, view_cache, stats
                    )
                    opts.say(
                        f"{outcome.encoder:>12} {outcome.task:<14} "
                        f"{outcome.protocol:<10} {outcome.status:<7} {outcome.summary}"
                    )
                    outcomes.append(outcome)
        finally:
            encoder.close()
    return outcomes
