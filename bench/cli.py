"""The ``bench`` command line: thin verbs over the Python API."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bench import paths

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Benchmark audio representations the Wav2CLIP way.")
data_app = typer.Typer(no_args_is_help=True, help="Demo suite generation and dataset checks.")
report_app = typer.Typer(no_args_is_help=True, help="Figures drawn from stored results.")
sweep_app = typer.Typer(no_args_is_help=True, help="Sweeps over a protocol setting (data-fraction curves).")
train_app = typer.Typer(no_args_is_help=True, help="Train encoders in this repo (Wav2CLIP distillation).")
weights_app = typer.Typer(no_args_is_help=True, help="Published weights: list, fetch (needs internet).")
app.add_typer(data_app, name="data")
app.add_typer(report_app, name="report")
app.add_typer(sweep_app, name="sweep")
app.add_typer(train_app, name="train")
app.add_typer(weights_app, name="weights")


def _err(msg: str, code: int = 2) -> None:
    typer.secho(msg, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _split(values: str) -> list[str]:
    return [v.strip() for v in values.split(",") if v.strip()]


def _parse_kv(items: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            _err(f"{what} {item!r}: expected KEY=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _coerce(v: str) -> Any:
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    return v


@app.command()
def run(
    encoder: Annotated[str, typer.Option("--encoder", "-e", help="Encoder name(s), comma-separated; hear:MODULE[:WEIGHTS] for a HEAR module.")],
    task: Annotated[str, typer.Option("--task", "-t", help="Task name(s), comma-separated, or 'all'.")] = "all",
    data_root: Annotated[Path | None, typer.Option(help="Folder holding the real datasets (default: $BENCH_DATA_ROOT; none: demo suite).")] = None,
    root: Annotated[list[str] | None, typer.Option(help="Per-task dataset folder, TASK=DIR (repeatable).")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda (or cuda:N).")] = "cpu",
    weights: Annotated[str | None, typer.Option(help="Weights file for the encoder(s) that take one.")] = None,
    opt: Annotated[list[str] | None, typer.Option(help="Encoder option KEY=VALUE (repeatable).")] = None,
    protocol: Annotated[str | None, typer.Option(help="Only these protocols (e.g. probe,zeroshot).")] = None,
    popt: Annotated[list[str] | None, typer.Option(help="Protocol option KEY=VALUE, e.g. max_epochs=100 (repeatable).")] = None,
    on_error: Annotated[str, typer.Option(help="Unreadable audio: 'skip' records and skips the file, 'stop' stops the run (computed clips are kept).")] = "skip",
    batch_size: Annotated[int | None, typer.Option(help="Clips per encoder call (default: the encoder's preference).")] = None,
    workers: Annotated[int, typer.Option(help="Background decoding threads.")] = 2,
    seed: Annotated[int, typer.Option(help="Seed for probes and validation carving.")] = 0,
    force: Annotated[bool, typer.Option(help="Recompute cells that already have a current result.")] = False,
    results: Annotated[Path | None, typer.Option(help="Results folder (default ./results).")] = None,
    cache: Annotated[Path | None, typer.Option(help="Embedding store (default .bench/cache).")] = None,
    leaderboard: Annotated[bool, typer.Option(help="Regenerate leaderboard.md afterwards.")] = True,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Embed, probe and score: one result record per (encoder, task, protocol)."""
    from bench.registry import RegistryError
    from bench.runner import RunOptions
    from bench.runner import run as run_all
    from bench.task import resolve_task_names

    if on_error not in ("skip", "stop"):
        _err(f"--on-error must be 'skip' or 'stop', got {on_error!r}")
    try:
        task_names = resolve_task_names(task)
    except RegistryError as exc:
        _err(str(exc))
    enc_opts: dict[str, Any] = {k: _coerce(v) for k, v in _parse_kv(opt, "--opt").items()}
    if weights:
        enc_opts["weights"] = weights
    roots = {k: Path(v) for k, v in _parse_kv(root, "--root").items()}
    results_dir = results or paths.results_dir()
    opts = RunOptions(
        data_root=data_root or paths.data_root(),
        roots=roots,
        device=device,
        results_dir=results_dir,
        cache_dir=cache or paths.cache_dir(),
        on_error=on_error,  # type: ignore[arg-type]
        batch_size=batch_size,
        workers=workers,
        force=force,
        seed=seed,
        protocols=_split(protocol) if protocol else None,
        protocol_options={k: _coerce(v) for k, v in _parse_kv(popt, "--popt").items()},
        encoder_options=enc_opts,
        show_progress=not quiet,
    )
    from bench.extract import ExtractionStopped

    try:
        outcomes = run_all(_split(encoder), task_names, opts)
    except (RegistryError, ExtractionStopped, FileNotFoundError, ValueError) as exc:
        _err(str(exc), 1)
    from bench.distributed import dist_info

    if not dist_info().is_main:
        return  # torchrun: other ranks only embed their shard
    if leaderboard:
        from bench.reports.leaderboard import write

        out = write(results_dir, results_dir.resolve().parent / "leaderboard.md")
        typer.echo(f"leaderboard: {out}")
    if not any(o.status in ("ok", "cached", "n/a") for o in outcomes):
        _err("nothing was evaluated (see messages above)", 1)


@app.command("leaderboard")
def leaderboard_cmd(
    results: Annotated[Path | None, typer.Option(help="Results folder (default ./results).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output file (default: leaderboard.md beside the results folder).")] = None,
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
    name: Annotated[str, typer.Argument(help="Encoder name (a built-in, a plugin's entry-point name, or hear:MODULE).")],
    weights: Annotated[str | None, typer.Option(help="Weights for the encoder, as for `bench run`.")] = None,
    opt: Annotated[list[str] | None, typer.Option(help="Encoder option KEY=VALUE (repeatable).")] = None,
    vary: Annotated[list[str] | None, typer.Option(help="An option that changes the numbers, KEY=VALUE: the fingerprint must change with it (repeatable).")] = None,
    check: Annotated[str | None, typer.Option(help="Only these checks, comma-separated.")] = None,
    long_s: Annotated[float, typer.Option(help="Length of the long-clip check, seconds.")] = 60.0,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
) -> None:
    """Run the conformance checks on an encoder: silence, short/long clips, batching, frames, fingerprint, stand-ins.

    The same checks the test suite runs on every registered encoder. Exit status 1 if any fails.
    """
    from bench.conformance import CHECKS, Subject, report, run_checks

    options: dict[str, Any] = {k: _coerce(v) for k, v in _parse_kv(opt, "--opt").items()}
    if weights:
        options["weights"] = weights
    if device != "cpu":
        options["device"] = device
    variants = [{k: _coerce(v)} for k, v in _parse_kv(vary, "--vary").items()]
    names = _split(check) if check else None
    if names and set(names) - set(CHECKS):
        _err(f"unknown check(s) {', '.join(sorted(set(names) - set(CHECKS)))}; known: {', '.join(CHECKS)}")
    try:
        subject = Subject.build(name, options, long_s=long_s, variants=variants)
    except Exception as exc:
        _err(f"cannot build encoder {name!r} with options {options}: {type(exc).__name__}: {exc}\n"
             "fix: the encoder's constructor must work with these options (see `bench encoders`)", 1)
    enc = subject.encoder
    try:
        results = run_checks(subject, names)
    finally:
        enc.close()
    typer.echo(report(results, f"check-encoder {enc.label()} ({type(enc).__module__}.{type(enc).__name__}, "
                               f"{enc.sample_rate} Hz, {enc.embedding_dim}-d, fingerprint {enc.fingerprint()})"))
    if any(r.status == "fail" for r in results):
        raise typer.Exit(1)


@app.command()
def tasks() -> None:
    """List tasks with their kind, protocol and metrics."""
    from bench.task import TASKS, all_task_names

    in_all = set(all_task_names())
    for name in TASKS.names():
        spec = TASKS.get(name)
        scheme = f"{len(spec.folds)} folds" if spec.folds else f"splits {'/'.join(spec.train_splits)}→{'/'.join(spec.test_splits)}, {spec.trials} trials"
        typer.echo(f"{name:<14} {spec.kind:<22} {', '.join(spec.metrics):<28} {scheme:<34} {'' if name in in_all else '(not in all)'}")


@data_app.command("demo")
def data_demo(
    task: Annotated[str, typer.Option(help="Demo datasets to build (task names or 'all').")] = "all",
    out: Annotated[Path | None, typer.Option(help="Demo root (default .bench/demo).")] = None,
) -> None:
    """Generate the synthetic demo datasets in the real on-disk layouts (deterministic)."""
    from bench.demo import ensure_demo
    from bench.task import get_task, resolve_task_names

    done = set()
    for name in resolve_task_names(task):
        demo = get_task(name).demo
        if demo and demo not in done:
            done.add(demo)
            typer.echo(f"{demo:<14} {ensure_demo(demo, out)}")


@data_app.command("verify")
def data_verify(
    task: Annotated[str, typer.Argument(help="Task whose metadata to check, e.g. esc50.")],
    root: Annotated[Path, typer.Option(help="The dataset folder (e.g. .../ESC-50-master).")],
    decode: Annotated[bool, typer.Option(help="Decode every file (slower, finds corrupt audio).")] = True,
) -> None:
    """Report files listed in the metadata that are missing or unreadable."""
    from bench.task import get_task
    from bench.verify import verify

    spec = get_task(task)
    found = spec.find_root(root) or root
    try:
        report = verify(spec, found, decode=decode)
    except (FileNotFoundError, ValueError) as exc:
        _err(str(exc), 1)
    typer.echo(report.text())
    if report.missing or report.unreadable:
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
        for path, rec in store.all():
            if rec.data_kind == data and rec.encoder["label"] == label and rec.task["name"] == task and rec.protocol["short"] == protocol:
                return path, rec
        _err(f"no {data} result for encoder {label!r}, task {task!r}, protocol {protocol!r} in {store.root}; run `bench run` first")

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
        _err(str(exc), 1)
    typer.echo(f"{csv_path}\n{png}")


@sweep_app.command("fractions")
def sweep_fractions_cmd(
    encoder: Annotated[str, typer.Option("--encoder", "-e", help="Encoder name(s), comma-separated.")],
    task: Annotated[str, typer.Option("--task", "-t", help="Classification task(s), comma-separated.")] = "vggsound",
    fractions: Annotated[str, typer.Option(help="Percentages of the training split, comma-separated.")] = "1,2,5,10,20,50,100",
    seeds: Annotated[int, typer.Option(help="Repetitions per fraction (own validation carve, subset and probe seed each).")] = 3,
    data_root: Annotated[Path | None, typer.Option(help="Folder holding the real datasets (default: $BENCH_DATA_ROOT; none: demo suite).")] = None,
    root: Annotated[list[str] | None, typer.Option(help="Per-task dataset folder, TASK=DIR (repeatable).")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda (or cuda:N).")] = "cpu",
    weights: Annotated[str | None, typer.Option(help="Weights file for the encoder(s) that take one.")] = None,
    opt: Annotated[list[str] | None, typer.Option(help="Encoder option KEY=VALUE (repeatable).")] = None,
    popt: Annotated[list[str] | None, typer.Option(help="Probe option KEY=VALUE, e.g. max_epochs=100 (repeatable).")] = None,
    on_error: Annotated[str, typer.Option(help="Unreadable audio: 'skip' or 'stop'.")] = "skip",
    batch_size: Annotated[int | None, typer.Option(help="Clips per encoder call.")] = None,
    workers: Annotated[int, typer.Option(help="Background decoding threads.")] = 2,
    seed: Annotated[int, typer.Option(help="Base seed; repetition r uses seed + 1000·r.")] = 0,
    force: Annotated[bool, typer.Option(help="Recompute points that already have a current result.")] = False,
    results: Annotated[Path | None, typer.Option(help="Results folder (default ./results).")] = None,
    cache: Annotated[Path | None, typer.Option(help="Embedding store (default .bench/cache).")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Probe on nested stratified subsets of the training split; one record per fraction; Fig. 2 PNG."""
    from bench.extract import ExtractionStopped
    from bench.fractions import parse_fractions
    from bench.registry import RegistryError
    from bench.runner import RunOptions
    from bench.sweep import sweep_fractions
    from bench.task import resolve_task_names

    if on_error not in ("skip", "stop"):
        _err(f"--on-error must be 'skip' or 'stop', got {on_error!r}")
    try:
        task_names = resolve_task_names(task)
        percents = parse_fractions(fractions)
    except (RegistryError, ValueError) as exc:
        _err(str(exc))
    enc_opts: dict[str, Any] = {k: _coerce(v) for k, v in _parse_kv(opt, "--opt").items()}
    if weights:
        enc_opts["weights"] = weights
    opts = RunOptions(
        data_root=data_root or paths.data_root(),
        roots={k: Path(v) for k, v in _parse_kv(root, "--root").items()},
        device=device,
        results_dir=results or paths.results_dir(),
        cache_dir=cache or paths.cache_dir(),
        on_error=on_error,  # type: ignore[arg-type]
        batch_size=batch_size,
        workers=workers,
        force=force,
        seed=seed,
        protocol_options={k: _coerce(v) for k, v in _parse_kv(popt, "--popt").items()},
        encoder_options=enc_opts,
        show_progress=not quiet,
    )
    try:
        out = sweep_fractions(_split(encoder), task_names, percents, seeds, opts)
    except (RegistryError, ExtractionStopped, FileNotFoundError, ValueError) as exc:
        _err(str(exc), 1)
    for fig in out.figures:
        typer.echo(f"figure: {fig}")
    if not any(o.status in ("ok", "cached") for o in out.outcomes):
        _err("nothing was evaluated (see messages above)", 1)


@report_app.command("fractions")
def report_fractions(
    task: Annotated[str, typer.Option(help="Task name.")] = "vggsound",
    encoder: Annotated[str | None, typer.Option(help="Encoder labels, comma-separated (default: all with sweep results).")] = None,
    data: Annotated[str, typer.Option(help="'demo' or 'real' results.")] = "demo",
    results: Annotated[Path | None, typer.Option(help="Results folder.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output PNG path.")] = None,
) -> None:
    """Redraw the data-fraction figure (the paper's Fig. 2) from stored sweep results."""
    from bench.reports.fractions import write_fraction_plot

    try:
        png = write_fraction_plot(results or paths.results_dir(), task, data, _split(encoder) if encoder else None, out=out)
    except ValueError as exc:
        _err(str(exc), 1)
    typer.echo(f"{png.with_suffix('.csv')}\n{png}")
@train_app.command("wav2clip")
def train_wav2clip(
    data_root: Annotated[Path | None, typer.Option(help="VGGSound folder (vggsound.csv + {ytid}_{start:06d}.mp4), or its parent; none: the demo set.")] = None,
    out: Annotated[Path | None, typer.Option(help="Run folder (default $BENCH_HOME/models/wav2clip-demo or wav2clip-vggsound-<checksum>).")] = None,
    preset: Annotated[str | None, typer.Option(help="'paper' (batch 128, ≤100 epochs, 5-s windows of 10-s clips, 30 fps) or 'demo' (default without --data-root).")] = None,
    loss: Annotated[str, typer.Option(help="'cx' (the paper's cross-projection loss) or 'clip' (plain CLIP loss on the projected audio).")] = "cx",
    norm: Annotated[str, typer.Option(help="Front-end standardisation: 'clip' (per clip) or 'batch' (the reference's batch-global).")] = "clip",
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs (early stopping may end sooner).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Global batch (split across torchrun processes).")] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate (paper: 1e-3).")] = None,
    window_s: Annotated[float | None, typer.Option(help="Audio/video window per clip, seconds (paper: 5).")] = None,
    clip_s: Annotated[float | None, typer.Option(help="Nominal clip length the window is drawn from (VGGSound: 10).")] = None,
    fps: Annotated[float | None, typer.Option(help="Frame rate of the teacher targets (paper: 30).")] = None,
    teacher: Annotated[str | None, typer.Option(help="open_clip model name (default ViT-B-32-quickgelu; the demo trains bench-tiny-clip).")] = None,
    teacher_pretrained: Annotated[str | None, typer.Option(help="open_clip pretrained tag (e.g. openai) or a local checkpoint file.")] = None,
    teacher_seed: Annotated[int, typer.Option(help="Seed of a randomly initialised teacher (no pretrained weights).")] = 0,
    seed: Annotated[int | None, typer.Option(help="Seed for initialisation, shuffling, validation carving and windows (paper: 2021).")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda (each torchrun process takes its LOCAL_RANK GPU).")] = "cpu",
    save_every: Annotated[int | None, typer.Option(help="Write a resumable state every N steps (also at every epoch end).")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after N optimizer steps (smoke runs; re-run with more to continue).")] = None,
    workers: Annotated[int, typer.Option(help="Background decoding threads.")] = 2,
    fresh: Annotated[bool, typer.Option(help="Delete the run folder's state and start over (default: resume).")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Distil a CLIP teacher into Wav2CLIP on VGGSound (or the demo set); resumes a killed run.

    Under torchrun: `torchrun --nproc-per-node N -m bench.cli train wav2clip ...` (DDP; gloo on CPU, NCCL on GPU).
    """
    from encoders.wav2clip.teacher import PAPER_MODEL, PAPER_PRETRAINED, TeacherSpec
    from encoders.wav2clip.train import TrainError, train
    from encoders.wav2clip.train import preset as make_preset

    name = preset or ("demo" if data_root is None else "paper")
    explicit: dict[str, Any] = {}
    if teacher is not None or teacher_pretrained is not None or data_root is not None:
        model = teacher or PAPER_MODEL
        pre = teacher_pretrained if teacher_pretrained is not None else (PAPER_PRETRAINED if model == PAPER_MODEL else None)
        explicit = {"teacher": TeacherSpec(model, pre, teacher_seed), "demo_teacher": False}
    try:
        cfg = make_preset(
            name, data_root=data_root, out_dir=out, loss=loss, norm=norm, max_epochs=epochs, batch_size=batch_size, lr=lr,
            window_s=window_s, clip_s=clip_s, fps=fps, seed=seed, device=device, save_every_steps=save_every,
            max_steps=max_steps, workers=workers, show_progress=not quiet, fresh=fresh, **explicit,
        )
        result = train(cfg)
    except (TrainError, FileNotFoundError, ValueError) as exc:
        _err(str(exc), 1)
    if int(os.environ.get("RANK", "0")) == 0:
        typer.echo(f"best: {result.best_path}\nlast: {result.last_path}\nlog:  {result.out_dir / 'log.jsonl'}")


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
    name: Annotated[str, typer.Argument(help="Weights name, e.g. wav2clip-official (see `bench weights list`).")],
    url: Annotated[str | None, typer.Option(help="Download from here instead (a mirror, or file:///path for a local copy).")] = None,
    force: Annotated[bool, typer.Option(help="Download again even if already fetched.")] = False,
) -> None:
    """Download published weights into $BENCH_HOME/weights/NAME (sha256 recorded). Needs internet."""
    from bench.registry import RegistryError
    from bench.weights import WeightsFetchError, fetch, source_info

    try:
        path = fetch(name, url=url, force=force)
    except (WeightsFetchError, RegistryError) as exc:
        _err(str(exc), 1)
    typer.echo(f"{path}\nsha256 {source_info(name).get('sha256')}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.secho("interrupted; finished work is saved (embeddings and finished cells resume)", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
