"""The ``bench`` command line: thin verbs over the Python API."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from bench.runner import RunOptions

from bench import paths
from bench.commands import COMMANDS, fail
from bench.metadata import check_encoding
from bench.options import OptionError, parse_pairs, typed_pairs
from bench.precision import PRECISIONS as PRECISION_NAMES
from bench.registry import RegistryError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Benchmark audio representations the Wav2CLIP way.")
data_app = typer.Typer(no_args_is_help=True, help="Demo suite generation and dataset checks.")
report_app = typer.Typer(no_args_is_help=True, help="Figures drawn from stored results.")
sweep_app = typer.Typer(no_args_is_help=True, help="Sweeps over a protocol setting (data-fraction curves).")
train_app = typer.Typer(no_args_is_help=True, help="Train encoders (commands registered by encoder packages).")
weights_app = typer.Typer(no_args_is_help=True, help="Published weights: list, fetch (needs internet).")
app.add_typer(data_app, name="data")
app.add_typer(report_app, name="report")
app.add_typer(sweep_app, name="sweep")
app.add_typer(train_app, name="train")
app.add_typer(weights_app, name="weights")


SOURCE_EXAMPLES = {"csv": "csv:PATH/labels.csv", "files": "'files:DIR/{label}_{group}_{index}.wav'"}


def _split(values: str) -> list[str]:
    return [v.strip() for v in values.split(",") if v.strip()]


# Options `bench run` and `bench sweep` share (one definition each).
DataRootOption = Annotated[
    Path | None, typer.Option(help="Folder holding the real datasets (default: $BENCH_DATA_ROOT; none: demo suite).")
]
RootOption = Annotated[list[str] | None, typer.Option(help="Per-task dataset folder, TASK=DIR (repeatable).")]
DeviceOption = Annotated[str, typer.Option(help="cpu or cuda (or cuda:N).")]
WeightsOption = Annotated[str | None, typer.Option(help="Weights file for the encoder(s) that take one.")]
PrecisionOption = Annotated[
    str,
    typer.Option(
        help="fp32, bf16 or fp16: autocast for the encoders that offer it (wav2clip, supervised); part of the "
        "fingerprint and the label. Pays on CPUs with AVX512-BF16/AMX and on CUDA."
    ),
]
EncoderOptOption = Annotated[list[str] | None, typer.Option(help="Encoder option KEY=VALUE (repeatable).")]
ProtocolOptOption = Annotated[
    list[str] | None, typer.Option(help="Protocol option KEY=VALUE, e.g. max_epochs=100 (repeatable).")
]
OnErrorOption = Annotated[
    str,
    typer.Option(
        help="Unreadable audio: 'skip' records and skips the file, 'stop' stops the run (computed clips are kept)."
    ),
]
BatchSizeOption = Annotated[
    int | None, typer.Option(help="Clips per encoder call (default: the encoder's preference).")
]
WorkersOption = Annotated[int, typer.Option(help="Background decoding threads.")]
ForceOption = Annotated[
    bool,
    typer.Option(
        help="Recompute cells that already have a current result, from the stored embeddings "
        "(--reembed also embeds again)."
    ),
]
ReembedOption = Annotated[
    bool,
    typer.Option(
        help="Forget the stored embeddings of these encoders × tasks and embed again (changed audio files "
        "are re-embedded without it)."
    ),
]
VerifyContentOption = Annotated[
    bool,
    typer.Option(
        help="Tell changed audio files by a hash of their bytes instead of size + modification time "
        "(reads every file on each run; for copies that kept old modification times)."
    ),
]
ResultsOption = Annotated[Path | None, typer.Option(help="Results folder (default ./results).")]
CacheOption = Annotated[Path | None, typer.Option(help="Embedding store (default .bench/cache).")]
QuietOption = Annotated[bool, typer.Option(help="No progress bars.")]
AuditOption = Annotated[
    bool,
    typer.Option(
        help="Decode every clip once for the dataset audit (identical audio across splits, silence, padding; "
        "cached per dataset). --no-audit keeps the label checks only."
    ),
]
EncodingOption = Annotated[
    str | None,
    typer.Option(help="Text encoding of metadata files (default UTF-8, a byte-order mark accepted), e.g. cp949."),
]


def _run_options(
    *,
    data_root: Path | None,
    root: list[str] | None,
    device: str,
    weights: str | None,
    opt: list[str] | None,
    popt: list[str] | None,
    on_error: str,
    precision: str,
    batch_size: int | None,
    workers: int,
    force: bool,
    reembed: bool,
    verify_content: bool,
    seed: int,
    results: Path | None,
    cache: Path | None,
    quiet: bool,
    protocols: list[str] | None = None,
    encoding: str | None = None,
    audit: bool = True,
) -> RunOptions:
    """The shared options of `bench run` / `bench sweep` parsed into :class:`RunOptions`.

    ``--opt`` / ``--popt`` values stay text here: the run checks and types them against the
    encoders' and protocols' schemas before any work (:mod:`bench.preflight`).
    """
    from bench.runner import RunOptions

    if on_error not in ("skip", "stop"):
        fail(f"--on-error must be 'skip' or 'stop', got {on_error!r}")
    try:
        if encoding:
            check_encoding(encoding)
        enc_opts: dict[str, Any] = dict(parse_pairs(opt or [], "--opt"))
        roots = {k: Path(v) for k, v in parse_pairs(root or [], "--root").items()}
        protocol_options: dict[str, Any] = dict(parse_pairs(popt or [], "--popt"))
    except ValueError as exc:  # an OptionError, or --encoding
        fail(str(exc))
    if weights:
        enc_opts["weights"] = weights
    if precision not in PRECISION_NAMES:
        fail(f"--precision must be one of {', '.join(PRECISION_NAMES)}, got {precision!r}")
    if precision != "fp32":  # fp32 is every encoder's default: not passed, so encoders without the option run
        enc_opts["precision"] = precision
    return RunOptions(
        data_root=data_root or paths.data_root(),
        roots=roots,
        device=device,
        results_dir=results or paths.results_dir(),
        cache_dir=cache or paths.cache_dir(),
        on_error="stop" if on_error == "stop" else "skip",
        batch_size=batch_size,
        workers=workers,
        force=force,
        reembed=reembed,
        verify_content=verify_content,
        seed=seed,
        protocols=protocols,
        protocol_options=protocol_options,
        encoder_options=enc_opts,
        show_progress=not quiet,
        encoding=encoding,
        audit=audit,
    )


@contextmanager
def _user_errors() -> Iterator[None]:
    """What a user can fix, as a message: options (exit 2), data or store problems (1), Ctrl-C (130)."""
    from bench.extract import ExtractionStopped
    from bench.store import StoreDamaged

    try:
        yield
    except OptionError as exc:
        fail(str(exc))
    except (RegistryError, ExtractionStopped, StoreDamaged, FileNotFoundError, ValueError) as exc:
        fail(str(exc), 1)
    except KeyboardInterrupt as exc:
        kept = str(exc) or "embeddings and finished cells are saved; run the same command again to resume"
        typer.secho(f"interrupted: {kept}", fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(130) from None


def _failed_cells(outcomes: list[Any]) -> None:
    """Exit 1 (after everything else was written) when a cell failed, naming each with its reason."""
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        fail("\n".join(f"failed: {o.encoder} {o.task} {o.protocol}: {o.summary}" for o in failed), 1)


@app.command()
def run(
    encoder: Annotated[
        str,
        typer.Option(
            "--encoder", "-e", help="Encoder name(s), comma-separated; hear:MODULE[:WEIGHTS] for a HEAR module."
        ),
    ],
    task: Annotated[str, typer.Option("--task", "-t", help="Task name(s), comma-separated, or 'all'.")] = "all",
    data_root: DataRootOption = None,
    root: RootOption = None,
    device: DeviceOption = "cpu",
    weights: WeightsOption = None,
    precision: PrecisionOption = "fp32",
    opt: EncoderOptOption = None,
    protocol: Annotated[str | None, typer.Option(help="Only these protocols (e.g. probe,zeroshot).")] = None,
    popt: ProtocolOptOption = None,
    on_error: OnErrorOption = "skip",
    batch_size: BatchSizeOption = None,
    workers: WorkersOption = 2,
    seed: Annotated[int, typer.Option(help="Seed for probes and validation carving.")] = 0,
    force: ForceOption = False,
    reembed: ReembedOption = False,
    verify_content: VerifyContentOption = False,
    results: ResultsOption = None,
    cache: CacheOption = None,
    leaderboard: Annotated[bool, typer.Option(help="Regenerate leaderboard.md afterwards.")] = True,
    quiet: QuietOption = False,
    encoding: EncodingOption = None,
    audit: AuditOption = True,
) -> None:
    """Embed, probe and score: one result record per (encoder, task, protocol).

    --task takes registered names (`bench tasks`) and your own datasets: csv:PATH/labels.csv or
    files:DIR/{label}_{group}_{index}.wav (see the README, "Your own dataset").
    """
    from bench.distributed import dist_info
    from bench.runner import run as run_all
    from bench.task import resolve_task_names

    opts = _run_options(
        data_root=data_root, root=root, device=device, weights=weights, opt=opt, popt=popt, on_error=on_error,
        precision=precision, batch_size=batch_size, workers=workers, force=force, reembed=reembed,
        verify_content=verify_content, seed=seed, results=results, cache=cache, quiet=quiet,
        protocols=_split(protocol) if protocol else None, encoding=encoding, audit=audit,
    )  # fmt: skip
    try:
        task_names = resolve_task_names(task)
    except (RegistryError, ValueError) as exc:
        fail(str(exc))
    with _user_errors():
        outcomes = run_all(_split(encoder), task_names, opts)
    if not dist_info().is_main:
        return  # torchrun: other ranks only embed their shard
    from bench.reports.run_summary import render_run_summary

    summary = render_run_summary(outcomes, opts.results_dir)
    if summary:
        typer.echo("\n" + summary)
    if leaderboard:
        from bench.reports.leaderboard import write

        out = write(opts.results_dir, opts.results_dir.resolve().parent / "leaderboard.md")
        typer.echo(f"leaderboard: {out}")
    _failed_cells(outcomes)
    if not any(o.status in ("ok", "cached", "n/a") for o in outcomes):
        fail("nothing was evaluated (see messages above)", 1)


@app.command("leaderboard")
def leaderboard_cmd(
    results: Annotated[Path | None, typer.Option(help="Results folder (default ./results).")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output file (default: leaderboard.md beside the results folder).")
    ] = None,
) -> None:
    """Regenerate leaderboard.md (Table 2 / Table 3 layouts) from the result records."""
    from bench.reports.leaderboard import write

    results_dir = results or paths.results_dir()
    path = write(results_dir, out or results_dir.resolve().parent / "leaderboard.md")
    typer.echo(str(path))


@app.command()
def encoders() -> None:
    """List encoders and whether each is ready on this machine (and why not)."""
    from bench.encoder import ENCODERS, availability

    for name in ENCODERS.names():
        ok, why = availability(name)
        typer.echo(f"{name:<14} {'ready' if ok else 'not ready':<10} {why}")
        try:
            trained = getattr(ENCODERS.get(name), "training_data", None)
        except Exception:  # a plugin that cannot be imported is already reported as not ready
            trained = None
        if isinstance(trained, str):
            typer.echo(f"{'':<25} trained on: {trained}")


@app.command("check-encoder")
def check_encoder(
    name: Annotated[
        str, typer.Argument(help="Encoder name (a built-in, a plugin's entry-point name, or hear:MODULE).")
    ],
    weights: Annotated[str | None, typer.Option(help="Weights for the encoder, as for `bench run`.")] = None,
    opt: Annotated[list[str] | None, typer.Option(help="Encoder option KEY=VALUE (repeatable).")] = None,
    vary: Annotated[
        list[str] | None,
        typer.Option(
            help="An option that changes the numbers, KEY=VALUE: the fingerprint must change with it (repeatable)."
        ),
    ] = None,
    check: Annotated[str | None, typer.Option(help="Only these checks, comma-separated.")] = None,
    long_s: Annotated[float, typer.Option(help="Length of the long-clip check, seconds.")] = 60.0,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
) -> None:
    """Run the conformance checks on an encoder: silence, short/long clips, batching, frames, fingerprint, stand-ins.

    The same checks the test suite runs on every registered encoder. Exit status 1 if any fails.
    """
    from bench.conformance import CHECKS, Subject, report, run_checks
    from bench.devices import check_device

    try:
        options: dict[str, Any] = typed_pairs(opt or [], "--opt")
        variants = [{k: v} for k, v in typed_pairs(vary or [], "--vary").items()]
        check_device(device)
    except ValueError as exc:
        fail(str(exc))
    if weights:
        options["weights"] = weights
    if device != "cpu":
        options["device"] = device
    names = _split(check) if check else None
    if names and set(names) - set(CHECKS):
        fail(f"unknown check(s) {', '.join(sorted(set(names) - set(CHECKS)))}; known: {', '.join(CHECKS)}")
    try:
        subject = Subject.build(name, options, long_s=long_s, variants=variants)
    except Exception as exc:
        fail(
            f"cannot build encoder {name!r} with options {options}: {type(exc).__name__}: {exc}\n"
            "fix: the encoder's constructor must work with these options (see `bench encoders`)",
            1,
        )
    enc = subject.encoder
    try:
        results = run_checks(subject, names)
    finally:
        enc.close()
    typer.echo(
        report(
            results,
            f"check-encoder {enc.label()} ({type(enc).__module__}.{type(enc).__name__}, "
            f"{enc.sample_rate} Hz, {enc.embedding_dim}-d, fingerprint {enc.fingerprint()})",
        )
    )
    if any(r.status == "fail" for r in results):
        raise typer.Exit(1)


@app.command()
def tasks() -> None:
    """List tasks with their kind, protocol and metrics."""
    from bench.task import TASK_SOURCES, TASKS, all_task_names

    in_all = set(all_task_names())
    for name in TASKS.names():
        spec = TASKS.get(name)
        scheme = (
            f"{len(spec.folds)} folds"
            if spec.folds
            else f"splits {'/'.join(spec.train_splits)}→{'/'.join(spec.test_splits)}, {spec.trials} trials"
        )
        typer.echo(
            f"{name:<14} {spec.kind:<22} {', '.join(spec.metrics):<28} "
            f"{scheme:<34} {'' if name in in_all else '(not in all)'}"
        )
    for prefix in TASK_SOURCES.names():
        typer.echo(
            f"{prefix + ':…':<14} your own dataset, e.g. --task {SOURCE_EXAMPLES.get(prefix, prefix + ':ARGUMENT')}"
        )


@data_app.command("demo")
def data_demo(
    task: Annotated[str, typer.Option(help="Demo datasets to build (task names or 'all').")] = "all",
    out: Annotated[Path | None, typer.Option(help="Demo root (default .bench/demo).")] = None,
) -> None:
    """Generate the synthetic demo datasets in the real on-disk layouts (deterministic)."""
    from bench.demo import demo_dataset, ensure_demo
    from bench.task import get_task, resolve_task_names

    done = set()
    for name in resolve_task_names(task):
        demo = get_task(name).demo
        if demo is None:
            continue
        spec = demo_dataset(demo)
        if spec.name not in done:
            done.add(spec.name)
            typer.echo(f"{spec.name:<14} {ensure_demo(spec, out)}")


@data_app.command("verify")
def data_verify(
    task: Annotated[str, typer.Argument(help="Task whose dataset to check, e.g. esc50, or csv:PATH/labels.csv.")],
    root: Annotated[
        Path | None,
        typer.Option(
            help="Dataset folder (e.g. .../ESC-50-master) or a data root holding it; default $BENCH_DATA_ROOT."
        ),
    ] = None,
    decode: Annotated[bool, typer.Option(help="Decode every file (slower, finds corrupt audio).")] = True,
    encoding: EncodingOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON (for scripts).")] = False,
    workers: WorkersOption = 2,
) -> None:
    """Report every problem of a dataset copy in one pass: metadata rows, missing, unreadable, empty, non-finite files.

    Exits 1 when anything is wrong. The dataset audit (class-disjoint folds, leakage, silent
    clips, padding) is printed too; its warnings alone do not fail the check.
    """
    import json

    from bench.task import get_task
    from bench.verify import verify

    try:
        spec = get_task(task)
    except RegistryError as exc:  # a usage error (exit 2), like `bench run -t foo`
        fail(str(exc))
    try:
        found = _verify_root(spec, root)
        report = verify(spec, found, decode=decode, workers=workers, encoding=encoding, show_progress=not json_out)
    except (RegistryError, FileNotFoundError, ValueError) as exc:
        fail(str(exc), 1)
    typer.echo(json.dumps(report.to_json(), indent=1) if json_out else report.text())
    if not report.ok:
        raise typer.Exit(1)


def _verify_root(spec: Any, root: Path | None) -> Path:
    """The folder to verify: a task's own folder (bring-your-own), ``root`` or a folder under it, the data root."""
    if spec.root is not None:
        return Path(spec.root)
    given = root or paths.data_root()
    if given is None:
        fail(f"give --root DIR, the {spec.title} folder (or a data root holding it; or set BENCH_DATA_ROOT)")
    found: Path = spec.find_root(given) or given
    return found


@data_app.command("download")
def data_download(
    task: Annotated[str, typer.Argument(help="Task(s) whose real dataset to fetch, comma-separated, e.g. esc50.")],
    root: Annotated[
        Path | None,
        typer.Option(
            help="Data root the datasets are unpacked under (then your --data-root); default $BENCH_DATA_ROOT."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List URLs, sizes and checksums; download nothing.")
    ] = False,
    mirror: Annotated[
        str | None,
        typer.Option(
            envvar="BENCH_DOWNLOAD_MIRROR", help="Fetch every file from MIRROR/NAME instead of its official URL."
        ),
    ] = None,
    archives: Annotated[
        Path | None, typer.Option(help="Folder for the downloaded archives (default ROOT/downloads).")
    ] = None,
    keep_archives: Annotated[
        bool, typer.Option(help="Keep the archives after unpacking (reruns then need no download).")
    ] = True,
    force: Annotated[bool, typer.Option(help="Unpack again even where a previous run already did.")] = False,
    retries: Annotated[int, typer.Option(help="Automatic resumes after a dropped connection, per file.")] = 3,
    decode: Annotated[
        bool, typer.Option(help="Decode every file in the final verify (slower, finds corrupt audio).")
    ] = True,
) -> None:
    """Download a dataset's public files (resumable), check sizes/checksums, unpack, verify."""
    from bench.download import DownloadError, download_dataset, plan_lines
    from bench.task import get_task, resolve_task_names
    from bench.verify import verify

    root = root or paths.data_root()
    where = root or Path("DIR")
    seen: set[int] = set()
    failed = False
    for name in resolve_task_names(task):
        spec = get_task(name)
        if spec.downloads is None or id(spec.downloads) in seen:
            typer.echo(f"{name}: no download declared" if spec.downloads is None else f"{name}: same files as above")
            continue
        seen.add(id(spec.downloads))
        typer.echo(f"{name}: {spec.title}")
        if dry_run or not spec.downloads.files:
            typer.echo("\n".join(plan_lines(spec.downloads, where, mirror, archives)))
            failed |= not dry_run  # nothing was downloaded: the data is not there yet
            continue
        if root is None:
            fail(
                "give --root DIR (or set BENCH_DATA_ROOT): the folder the datasets are unpacked under; "
                "it is then your --data-root"
            )
        try:
            download_dataset(
                spec.downloads,
                where,
                typer.echo,
                archives=archives,
                mirror=mirror,
                retries=retries,
                keep_archives=keep_archives,
                force=force,
            )
            found = spec.find_root(where)
            if found is None:
                raise DownloadError(
                    f"{where}: unpacked, but no {spec.marker} under it; "
                    f"the archive layout is not the one the {name} loader reads"
                )
            report = verify(spec, found, decode=decode)
        except (DownloadError, ValueError, OSError) as exc:
            fail(str(exc), 1)
        typer.echo(report.text())
        typer.echo(f"use it with: bench run --task {name} --data-root {where}")
        failed |= not report.ok
    if failed:
        raise typer.Exit(1)


@report_app.command("confusion")
def report_confusion(
    task: Annotated[str, typer.Option(help="Task name.")],
    encoder: Annotated[str, typer.Option(help="Encoder label as in results/.")],
    diff: Annotated[str | None, typer.Option(help="Second encoder: draw A, B and A − B (the paper's Fig. 3).")] = None,
    protocol: Annotated[str, typer.Option(help="Protocol short name.")] = "probe",
    data: Annotated[str, typer.Option(help="'demo' or 'real' results.")] = "demo",
    results: Annotated[Path | None, typer.Option(help="Results folder.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output PNG path.")] = None,
) -> None:
    """Draw a confusion matrix (CSV + PNG with class names), or the difference of two."""
    from bench.reports.confusion import write_confusion, write_difference
    from bench.results import ResultsStore

    store = ResultsStore(results or paths.results_dir())

    def find(label: str) -> Any:
        for path, rec in store.shown():  # the configuration the leaderboard shows for the label
            if (
                rec.data_kind == data
                and rec.encoder.label == label
                and rec.task.name == task
                and rec.protocol.short == protocol
            ):
                return path, rec
        fail(
            f"no {data} result for encoder {label!r}, task {task!r}, "
            f"protocol {protocol!r} in {store.root}; run `bench run` first"
        )

    path_a, rec_a = find(encoder)
    try:
        if diff is None:
            csv_path, png = write_confusion(rec_a, path_a)
            if out is not None:
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(png.read_bytes())
                png = out
        else:
            _path_b, rec_b = find(diff)
            target = out or path_a.parent.parent / f"{task}.{protocol}.confusion-diff.{encoder}-vs-{diff}.png"
            csv_path, png = write_difference(rec_a, rec_b, target)
    except ValueError as exc:
        fail(str(exc), 1)
    typer.echo(f"{csv_path}\n{png}")


@report_app.command("compare")
def report_compare(
    task: Annotated[str, typer.Option(help="Task name, e.g. esc50.")],
    encoder: Annotated[str, typer.Option(help="Encoder A: a label as in the leaderboard, or an encoder name.")],
    vs: Annotated[str, typer.Option(help="Encoder B, the same way.")],
    protocol: Annotated[
        str, typer.Option(help="Protocol short name or id (probe, linear, knn, zeroshot, …).")
    ] = "probe",
    metric: Annotated[str | None, typer.Option(help="Metrics to compare, comma-separated (default: all).")] = None,
    data: Annotated[str, typer.Option(help="'demo' or 'real' results (default: real if there are any).")] = "auto",
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    results: Annotated[Path | None, typer.Option(help="Results folder.")] = None,
) -> None:
    """Paired bootstrap test of A − B on the test items both were scored on: difference, interval, p-value."""
    from bench.reports.compare import compare, load_side, report
    from bench.results import ResultsStore
    from bench.stats.bootstrap import BootstrapConfig

    store = ResultsStore(results or paths.results_dir())
    if data not in ("auto", "demo", "real"):
        fail(f"--data must be demo, real or auto, got {data!r}")
    kind = data
    if data == "auto":
        kind = "real" if any(r.data_kind == "real" for _, r in store.all()) else "demo"
    try:
        cfg = BootstrapConfig(resamples=resamples, seed=seed)
        a = load_side(store, kind, encoder, task, protocol)
        b = load_side(store, kind, vs, task, protocol)
        metrics = _split(metric) if metric else list(a.record.summary)
        typer.echo(report(a, b, compare(a, b, metrics, cfg), cfg))
    except ValueError as exc:
        fail(str(exc), 1)


@sweep_app.command("fractions")
def sweep_fractions_cmd(
    encoder: Annotated[str, typer.Option("--encoder", "-e", help="Encoder name(s), comma-separated.")],
    task: Annotated[str, typer.Option("--task", "-t", help="Classification task(s), comma-separated.")] = "vggsound",
    fractions: Annotated[
        str, typer.Option(help="Percentages of the training split, comma-separated.")
    ] = "1,2,5,10,20,50,100",
    seeds: Annotated[
        int, typer.Option(help="Repetitions per fraction (own validation carve, subset and probe seed each).")
    ] = 3,
    data_root: DataRootOption = None,
    root: RootOption = None,
    device: DeviceOption = "cpu",
    weights: WeightsOption = None,
    precision: PrecisionOption = "fp32",
    opt: EncoderOptOption = None,
    popt: ProtocolOptOption = None,
    on_error: OnErrorOption = "skip",
    batch_size: BatchSizeOption = None,
    workers: WorkersOption = 2,
    seed: Annotated[int, typer.Option(help="Base seed; repetition r uses seed + 1000·r.")] = 0,
    force: ForceOption = False,
    reembed: ReembedOption = False,
    verify_content: VerifyContentOption = False,
    results: ResultsOption = None,
    cache: CacheOption = None,
    quiet: QuietOption = False,
    encoding: EncodingOption = None,
    audit: AuditOption = True,
) -> None:
    """Probe on nested stratified subsets of the training split; one record per fraction; Fig. 2 PNG."""
    from bench.protocols.data_fraction.subsets import parse_fractions
    from bench.sweep import sweep_fractions
    from bench.task import resolve_task_names

    opts = _run_options(
        data_root=data_root, root=root, device=device, weights=weights, opt=opt, popt=popt, on_error=on_error,
        precision=precision, batch_size=batch_size, workers=workers, force=force, reembed=reembed,
        verify_content=verify_content, seed=seed, results=results, cache=cache, quiet=quiet, encoding=encoding,
        audit=audit,
    )  # fmt: skip
    try:
        task_names = resolve_task_names(task)
        percents = parse_fractions(fractions)
    except (RegistryError, ValueError) as exc:
        fail(str(exc))
    with _user_errors():
        out = sweep_fractions(_split(encoder), task_names, percents, seeds, opts)
    for fig in out.figures:
        typer.echo(f"figure: {fig}")
    _failed_cells(out.outcomes)
    if not any(o.status in ("ok", "cached") for o in out.outcomes):
        fail("nothing was evaluated (see messages above)", 1)


@report_app.command("intervals")
def report_intervals(
    results: Annotated[Path | None, typer.Option(help="Results folder.")] = None,
    redo: Annotated[bool, typer.Option(help="Recompute intervals records already hold.")] = False,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    level: Annotated[float, typer.Option(help="Confidence level.")] = 0.95,
) -> None:
    """Add bootstrap intervals to stored records written without them, from their stored per-item scores.

    The records' numbers are not recomputed; an older record stays due for recomputation by
    the next run of its cell. Then `bench leaderboard` shows the intervals.
    """
    from bench.reports.intervals import add_intervals
    from bench.results import ResultsStore
    from bench.stats.bootstrap import BootstrapConfig

    try:
        cfg = BootstrapConfig(resamples=resamples, seed=seed, level=level)
    except ValueError as exc:
        fail(str(exc))
    store = ResultsStore(results or paths.results_dir())
    try:
        done = add_intervals(store, cfg, redo=redo)
    except ValueError as exc:  # an unreadable record: named with the fix
        fail(str(exc), 1)
    for b in done:
        if b.status in ("added", "unavailable"):
            typer.echo(f"{b.path}: intervals for {b.detail}")
    counts = {s: sum(b.status == s for b in done) for s in ("added", "unavailable", "kept", "skipped")}
    typer.echo(
        f"{counts['added']} record(s) given intervals, {counts['unavailable']} without per-item scores to "
        f"resample (said in the record), {counts['kept']} already had them, {counts['skipped']} without a "
        "number (n/a or failed)"
    )


@report_app.command("fractions")
def report_fractions(
    task: Annotated[str, typer.Option(help="Task name.")] = "vggsound",
    encoder: Annotated[
        str | None, typer.Option(help="Encoder labels, comma-separated (default: all with sweep results).")
    ] = None,
    data: Annotated[str, typer.Option(help="'demo' or 'real' results.")] = "demo",
    results: Annotated[Path | None, typer.Option(help="Results folder.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output PNG path.")] = None,
) -> None:
    """Redraw the data-fraction figure (the paper's Fig. 2) from stored sweep results."""
    from bench.reports.fraction_curves import write_fraction_plot

    try:
        png = write_fraction_plot(
            results or paths.results_dir(), task, data, _split(encoder) if encoder else None, out=out
        )
    except ValueError as exc:
        fail(str(exc), 1)
    typer.echo(f"{png.with_suffix('.csv')}\n{png}")


@weights_app.command("list")
def weights_list() -> None:
    """Known downloadable weights and whether they are fetched here."""
    from bench.weights import WEIGHTS, fetched_path, source_info

    for name in WEIGHTS.names():
        spec = WEIGHTS.get(name)
        path = fetched_path(name)
        state = f"fetched {path} sha256 {source_info(name).get('sha256', '?')[:16]}" if path else "not fetched"
        typer.echo(f"{name:<20} {state}\n{'':<20} {spec.description}\n{'':<20} {spec.url}")


@weights_app.command("fetch")
def weights_fetch(
    name: Annotated[str, typer.Argument(help="Weights name, as `bench weights list` shows it.")],
    url: Annotated[
        str | None, typer.Option(help="Download from here instead (a mirror, or file:///path for a local copy).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Download again even if already fetched.")] = False,
) -> None:
    """Download published weights into $BENCH_HOME/weights/NAME (sha256 recorded). Needs internet."""
    from bench.weights import WeightsFetchError, fetch, source_info

    try:
        path = fetch(name, url=url, force=force)
    except (WeightsFetchError, RegistryError) as exc:
        fail(str(exc), 1)
    typer.echo(f"{path}\nsha256 {source_info(name).get('sha256')}")


def _mount_registered_commands() -> None:
    """Commands packages register in ``bench.commands`` (e.g. ``bench train wav2clip``), under their group."""
    groups = {"data": data_app, "report": report_app, "sweep": sweep_app, "train": train_app, "weights": weights_app}
    for name in COMMANDS.names():
        try:
            cmd = COMMANDS.get(name)
        except RegistryError as exc:  # a broken plugin must not take the whole command line down
            print(f"bench: command {name!r} not loaded: {exc}", file=sys.stderr)
            continue
        if cmd.group and cmd.group not in groups:
            groups[cmd.group] = typer.Typer(no_args_is_help=True)
            app.add_typer(groups[cmd.group], name=cmd.group)
        (groups[cmd.group] if cmd.group else app).command(cmd.name)(cmd.callback)


_mount_registered_commands()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.secho("interrupted; finished work is saved (embeddings and finished cells resume)", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
