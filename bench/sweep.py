"""``bench sweep fractions``: probe accuracy against the amount of labelled training data.

For every encoder × task × fraction one ordinary result record is written through the
runner (so caching, resumption, provenance and the embedding store behave as in
``bench run``: a killed sweep resumes at the first unfinished fraction, a finished one costs
no encoder call). The figure is then drawn from the records on disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.encoder import get_encoder
from bench.extract import ExtractionStats
from bench.protocols.data_fraction import FractionProbeProtocol
from bench.results import ResultsStore
from bench.runner import CellOutcome, RunOptions, open_task, run_cell
from bench.store import EmbeddingView
from bench.task import get_task


@dataclass
class SweepResult:
    outcomes: list[CellOutcome] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)


def sweep_fractions(
    encoder_specs: list[str],
    task_names: list[str],
    fractions: list[float],
    seeds: int,
    opts: RunOptions,
    plot: bool = True,
) -> SweepResult:
    opts = replace(opts, confusion=False)
    results = ResultsStore(opts.results_dir)
    out = SweepResult()
    tasks = [get_task(t) for t in task_names]
    for task in tasks:
        if task.kind not in ("multiclass", "multilabel"):
            raise ValueError(f"{task.name} is a {task.kind} task; data-fraction curves need a classification task")
    labels: list[str] = []
    kinds: dict[str, set[str]] = {}
    for spec in encoder_specs:
        encoder = get_encoder(spec, device=opts.device, **opts.encoder_options)
        labels.append(encoder.label())
        try:
            for task in tasks:
                dataset, skipped = open_task(encoder, task, opts)
                if dataset is None:
                    assert skipped is not None
                    out.outcomes.append(skipped)
                    continue
                kinds.setdefault(task.name, set()).add(str(dataset.info.get("kind", "real")))
                view_cache: dict[str, EmbeddingView] = {}
                stats = ExtractionStats()
                for p in fractions:
                    outcome = run_cell(
                        encoder, task, dataset, FractionProbeProtocol(p, seeds), opts, results, view_cache, stats
                    )
                    opts.say(
                        f"{outcome.encoder:>12} {outcome.task:<14} {p:>6g} % {outcome.status:<7} {outcome.summary}"
                    )
                    out.outcomes.append(outcome)
        finally:
            encoder.close()
    if plot:
        from bench.reports.fraction_curves import write_fraction_plot

        for task in tasks:
            for kind in sorted(kinds.get(task.name, ())):
                try:
                    out.figures.append(write_fraction_plot(opts.results_dir, task.name, kind, labels, fractions))
                except ValueError as exc:
                    opts.say(f"no figure for {task.name}: {exc}")
    return out
