"""Issue 16's speed table in one run: each figure today beside its target, measured side by side.

Not a test: it measures and prints. Every ratio is taken between two things timed in this same
process, alternating within each repetition, because the shared 2-core machines drift by up to
~25 % between runs (see ``/work/shared/reference/perf-anchors.md``); absolute figures are printed
for context only.

    .venv/bin/python benchmarks/speed.py --reference-src /path/to/lyrebird-wav2clip
    .venv/bin/python benchmarks/speed.py --skip distill,supervised      # the fast rows only
    .venv/bin/python benchmarks/speed.py --demo-job                     # also time the demo main job (long)

Rows (``--skip`` names in brackets):

* ``[extract]`` Wav2CLIP fp32, our encoder's ``embed`` at batch 8 vs the reference package's
  ``wav2clip.embed_audio``, one 5-s clip per call (autograd on, NCHW, as the package runs it),
  same weights (seeded random, written in the release's layout, or ``--weights``). The
  reference comes from ``--reference-src``: a folder holding the ``wav2clip`` package (a
  lyrebird-wav2clip checkout, or the unpacked PyPI wheel ``wav2clip-0.1.0``). Without it the
  reference is reconstructed from our own model (NCHW, grad on, one clip per call), and the
  row says so. Outputs must agree (max abs difference printed).
* ``[extract]`` the same run's achieved GFLOP/s (FlopCounterMode: conv + linear) ÷ a
  channels-last 3×3 conv2d (256→256, 32×28×28) timed in the same loop.
* ``[precision]`` bf16 (and fp16) autocast vs fp32: speed ratio and the lowest cosine between
  the two embeddings of a clip. Uses the encoder's ``precision`` option where it exists,
  otherwise wraps ``encoder.embed`` in ``torch.autocast`` (and says so).
* ``[e2e]`` end-to-end extraction (``bench.extract.extract`` from 44.1-kHz PCM-16 wav files:
  decode + resample + model + store) ÷ the model alone on the same clips preloaded at 16 kHz.
* ``[probe]`` the MLP probe protocol at ESC-50 size (2,000 clips, 50 classes, 5 folds, 128-d
  cached embeddings: seeded class clusters), wall seconds.
* ``[distill]`` the demo Wav2CLIP distillation: seconds per training step of the demo preset
  (batch 16, 2.5-s windows, CX loss) × steps per epoch × max epochs, plus validation: an
  extrapolation, labelled as one (the teacher fit and the data preparation are not included).
* ``[supervised]`` the supervised baseline on demo ESC-50 + UrbanSound8K: seconds per training
  step (batch of the demo preset, whole clips) × steps per epoch, per fold-epoch and the upper
  bound folds × max epochs (early stopping usually ends sooner): an extrapolation.
* ``--demo-job``: ``bench run --encoder logmel,wav2clip --task all`` in a fresh ``BENCH_HOME``
  (demo suite generation, demo teacher and distillation, every extraction and protocol),
  wall time measured; ``--supervised-job`` likewise runs the supervised baseline on demo
  ESC-50 + UrbanSound8K for real.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SR = 16000


@dataclass
class Row:
    figure: str
    today: str
    target: str
    met: bool | None
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        mark = {True: "met", False: "NOT met", None: "-"}[row.met]
        print(
            f"  -> {row.figure}: {row.today} (target {row.target}; {mark}){'  ' + row.note if row.note else ''}",
            flush=True,
        )


def interleaved(
    fns: dict[str, Callable[[], Any]], reps: int, warmup: int = 1
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Seconds per call for each function; the functions alternate within each repetition."""
    outs: dict[str, Any] = {}
    for _ in range(warmup):
        outs = {name: fn() for name, fn in fns.items()}
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times, outs


def med(v: list[float]) -> float:
    return statistics.median(v)


def spread(v: list[float]) -> str:
    return f"{med(v):.3f} s ({min(v):.3f}-{max(v):.3f})"


def synthetic_clips(n: int, seconds: float, sr: int = SR, seed: int = 0) -> list[np.ndarray]:
    """Tones plus noise at gains from 0.003 to 1 (the model's cost does not depend on content)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    gains = np.geomspace(0.003, 1.0, n)
    return [
        (g * (0.5 * np.sin(2 * np.pi * rng.uniform(100, 4000) * t) + 0.5 * rng.standard_normal(len(t)))).astype(
            np.float32
        )
        for g in gains
    ]


# ---------------------------------------------------------------------------------------------
# the reference package


def _torchaudio_shim() -> types.ModuleType:
    """``torchaudio.transforms.Spectrogram(n_fft, hop_length)`` for the reference when torchaudio is
    not installed: our torch.stft re-implementation, equal to torchaudio's (tests/test_wav2clip_model.py)."""
    from encoders.wav2clip.model import Spectrogram

    class AnyShapeSpectrogram(Spectrogram):
        """torchaudio's takes ``(..., time)``; ours ``(time)`` or ``(batch, time)``."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            spec = super().forward(x.reshape(-1, x.shape[-1]))
            return spec.reshape(*x.shape[:-1], *spec.shape[-2:])

    mod = types.ModuleType("torchaudio")
    transforms = types.ModuleType("torchaudio.transforms")
    transforms.Spectrogram = AnyShapeSpectrogram  # type: ignore[attr-defined]
    mod.transforms = transforms  # type: ignore[attr-defined]
    return mod


def load_reference(src: Path, weights: Path) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """``(embed_audio bound to the model, description)`` from the reference source folder."""
    pkg = src / "wav2clip"
    if not (pkg / "__init__.py").is_file():
        raise SystemExit(
            f"--reference-src {src}: no wav2clip/__init__.py inside; point it at a lyrebird-wav2clip "
            "checkout or the unpacked wav2clip-0.1.0 wheel"
        )
    note = f"reference package from {src}"
    try:
        import torchaudio  # noqa: F401
    except ImportError:
        sys.modules["torchaudio"] = _torchaudio_shim()
        sys.modules["torchaudio.transforms"] = sys.modules["torchaudio"].transforms
        note += " (torchaudio not installed: its Spectrogram replaced by our equal torch.stft one)"
    sys.path.insert(0, str(src))
    try:
        wav2clip = importlib.import_module("wav2clip")
        from wav2clip.model.encoder import ResNetExtractor
    finally:
        sys.path.remove(str(src))
    checkpoint = torch.load(weights, map_location="cpu", weights_only=True)
    model = ResNetExtractor(checkpoint=checkpoint, scenario="frozen", transform=True)
    return (lambda clip: wav2clip.embed_audio(clip, model)), note


def reconstructed_reference(weights: Path) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    from encoders.wav2clip.checkpoint import load_official

    model = load_official(weights)  # NCHW, eval, as the package builds it

    def embed_audio(clip: np.ndarray) -> np.ndarray:
        return model(torch.from_numpy(clip[None])).detach().cpu().numpy()

    return (
        embed_audio,
        "reference RECONSTRUCTED from our model (NCHW, grad on, one clip per call): pass --reference-src",
    )


def conv_peak_fn() -> tuple[Callable[[], Any], float]:
    """A channels-last 3×3 conv2d 256→256 on 32×256×28×28 under inference_mode, and its FLOPs."""
    conv = torch.nn.Conv2d(256, 256, 3, padding=1, bias=False).eval().to(memory_format=torch.channels_last)
    x = torch.randn(32, 256, 28, 28).to(memory_format=torch.channels_last)
    flops = 2.0 * 32 * 256 * 28 * 28 * 256 * 9

    def run() -> None:
        with torch.inference_mode():
            for _ in range(3):
                conv(x)

    return run, 3 * flops


def model_flops_per_clip(model: torch.nn.Module, seconds: float) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(torch.zeros(1, int(seconds * SR)))
    return float(counter.get_total_flops())


def wav2clip_encoder(weights: Path, **opts: Any) -> Any:
    from bench.encoder import get_encoder

    return get_encoder("wav2clip", weights=str(weights), teacher="none", **opts)


def encoder_accepts(option: str) -> bool:
    from encoders.wav2clip.encoder import Wav2CLIPEncoder

    return option in inspect.signature(Wav2CLIPEncoder).parameters


# ---------------------------------------------------------------------------------------------
# rows


def row_extract(rep: Report, args: argparse.Namespace, weights: Path) -> None:
    print(
        "[extract] Wav2CLIP fp32: ours (embed, batch 8) vs the reference's embed_audio per clip; conv peak", flush=True
    )
    clips = synthetic_clips(args.clips, 5.0)
    if args.reference_src:
        ref_embed, note = load_reference(args.reference_src, weights)
    else:
        ref_embed, note = reconstructed_reference(weights)
    enc = wav2clip_encoder(weights, batch_size=8)
    peak, peak_flops = conv_peak_fn()
    fns = {
        "reference": lambda: np.concatenate([ref_embed(c) for c in clips]),
        "ours": lambda: enc.embed(clips),
        "conv": peak,
    }
    times, outs = interleaved(fns, args.reps)
    diff = float(np.abs(outs["ours"] - outs["reference"]).max())
    ratio = med(times["reference"]) / med(times["ours"])
    flops = model_flops_per_clip(enc.model, 5.0)
    achieved = flops * len(clips) / med(times["ours"]) / 1e9
    conv_gflops = peak_flops / med(times["conv"]) / 1e9
    rep.details["extract"] = {
        "clips": len(clips),
        "reference": note,
        "max_abs_diff": diff,
        "reference_clips_per_s": len(clips) / med(times["reference"]),
        "ours_clips_per_s": len(clips) / med(times["ours"]),
        "times": {k: spread(v) for k, v in times.items()},
        "gflop_per_clip": flops / 1e9,
        "achieved_gflops": achieved,
        "conv_peak_gflops": conv_gflops,
    }
    print(f"    {note}; max |ours - reference| = {diff:.2e}", flush=True)
    print(
        f"    reference {len(clips) / med(times['reference']):.1f} clips/s, "
        f"ours {len(clips) / med(times['ours']):.1f} clips/s; "
        f"{flops / 1e9:.2f} GFLOP/clip -> {achieved:.0f} GFLOP/s; conv peak {conv_gflops:.0f} GFLOP/s",
        flush=True,
    )
    rep.add(
        Row(
            "Wav2CLIP fp32 extraction, embed batch 8 / reference embed_audio per clip",
            f"{ratio:.2f}x",
            ">= 2.0x",
            ratio >= 2.0,
            "" if diff <= 1e-4 else f"OUTPUTS DIFFER ({diff:.1e})",
        )
    )
    rep.add(
        Row(
            "same, achieved GFLOP/s / channels-last 3x3 conv2d",
            f"{achieved / conv_gflops:.2f}",
            ">= 0.80",
            achieved / conv_gflops >= 0.8,
            f"{achieved:.0f} / {conv_gflops:.0f} GFLOP/s",
        )
    )


@contextmanager
def autocast(dtype: torch.dtype | None) -> Iterator[None]:
    if dtype is None:
        yield
        return
    with torch.autocast("cpu", dtype=dtype):
        yield


def row_precision(rep: Report, args: argparse.Namespace, weights: Path) -> None:
    print("[precision] bf16 / fp16 autocast vs fp32 (speed, lowest cosine to fp32)", flush=True)
    clips = synthetic_clips(args.clips, 5.0, seed=1)
    native = encoder_accepts("precision")
    fns: dict[str, Callable[[], np.ndarray]] = {}
    fp32 = wav2clip_encoder(weights, batch_size=8)
    fns["fp32"] = lambda: fp32.embed(clips)
    for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        if native:
            enc = wav2clip_encoder(weights, batch_size=8, precision=name)
            fns[name] = lambda enc=enc: enc.embed(clips)  # type: ignore[misc]
        else:

            def run(dtype: torch.dtype = dtype) -> np.ndarray:
                with autocast(dtype):
                    return np.asarray(fp32.embed(clips))

            fns[name] = run
    times, outs = interleaved(fns, args.reps)
    how = "the encoder's precision option" if native else "torch.autocast around embed (no precision option yet)"
    flags = [f for f in ("avx512_bf16", "amx_bf16", "avx512_fp16") if f in Path("/proc/cpuinfo").read_text()]
    details: dict[str, Any] = {"how": how, "cpu_flags": flags, "times": {k: spread(v) for k, v in times.items()}}
    for name in ("bf16", "fp16"):
        a, b = outs[name], outs["fp32"]
        cos = np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
        speed = med(times["fp32"]) / med(times[name])
        details[name] = {"speedup": speed, "min_cosine": float(cos.min()), "mean_cosine": float(cos.mean())}
        rep.add(
            Row(
                f"{name} autocast vs fp32 (speed; min cosine to fp32)",
                f"{speed:.2f}x; {cos.min():.5f}",
                "an option, measured",
                None,
                f"via {how}; CPU flags: {', '.join(flags) or 'none'}",
            )
        )
    rep.details["precision"] = details


def write_wavs(folder: Path, n: int, seconds: float, sr: int = 44100) -> list[Path]:
    import soundfile as sf

    rng = np.random.default_rng(3)
    t = np.arange(int(seconds * sr)) / sr
    out = []
    for i in range(n):
        wave = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 4000) * t) + 0.1 * rng.standard_normal(len(t))
        path = folder / f"clip{i:04d}.wav"
        sf.write(path, wave.astype(np.float32), sr, subtype="PCM_16")
        out.append(path)
    return out


def row_e2e(rep: Report, args: argparse.Namespace, weights: Path) -> None:
    from bench.audio import ClipPolicy, load_audio
    from bench.extract import ExtractionStats, extract
    from bench.store import EmbeddingStore
    from bench.task import Clip, Dataset

    print("[e2e] extraction from 44.1-kHz wav files vs the model alone on preloaded 16-kHz arrays", flush=True)
    enc = wav2clip_encoder(weights, batch_size=8)
    tmp = Path(tempfile.mkdtemp(prefix="speed-e2e-"))
    try:
        paths = write_wavs(tmp, args.e2e_clips, 5.0)
        ds = Dataset(task="speed-e2e", root=tmp, clips=[Clip(id=p.stem, path=p) for p in paths], classes=[])
        waves = [load_audio(p, SR)[0] for p in paths]
        bs = enc.preferred_batch_size
        stores = iter(range(10_000))
        stats = ExtractionStats()

        def e2e() -> None:
            store = EmbeddingStore(tmp / f"store{next(stores)}")
            extract(enc, ds, store, ClipPolicy(), show_progress=False, stats=stats)

        def model_alone() -> None:
            for i in range(0, len(waves), bs):
                enc.embed(waves[i : i + bs])

        times, _ = interleaved({"e2e": e2e, "model": model_alone}, args.reps)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = med(times["model"]) / med(times["e2e"])
    rep.details["e2e"] = {"clips": len(paths), "times": {k: spread(v) for k, v in times.items()}, "ratio": ratio}
    rep.add(
        Row(
            "end-to-end extraction from 44.1 kHz wavs / model alone on preloaded arrays",
            f"{ratio:.2f}",
            ">= 0.95",
            ratio >= 0.95,
            f"{len(paths)} x 5 s; e2e {med(times['e2e']):.2f} s, model {med(times['model']):.2f} s",
        )
    )


def probe_fixture(n_clips: int = 2000, n_classes: int = 50, dim: int = 128, seed: int = 0) -> tuple[Any, Any, Any]:
    """ESC-50-shaped data: 5 folds × 400 clips, 40 clips per class, seeded class clusters in 128-d."""
    from bench.store import EmbeddingView
    from bench.task import Clip, Dataset, get_task

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, dim)).astype(np.float32)
    targets = np.repeat(np.arange(n_classes), n_clips // n_classes)
    x = (centres[targets] + 2.5 * rng.standard_normal((len(targets), dim))).astype(np.float32)
    clips = [
        Clip(id=f"c{i}", path=Path(f"c{i}.wav"), target=int(t), fold=1 + (i // n_classes) % 5)
        for i, t in enumerate(targets)
    ]
    ds = Dataset(task="esc50", root=Path("."), clips=clips, classes=[f"class{k}" for k in range(n_classes)])
    view = EmbeddingView([c.id for c in clips], np.arange(len(clips) + 1), x, None, {}, {})
    return get_task("esc50"), ds, view


def run_probe(task: Any, ds: Any, view: Any) -> Any:
    from bench.protocols import ProtocolContext, get_protocol
    from encoders.logmel import LogMelEncoder

    return get_protocol("probe").run(ProtocolContext(task, ds, view, LogMelEncoder(), show_progress=False))


def row_probe(rep: Report, args: argparse.Namespace) -> None:
    print("[probe] MLP probe, ESC-50 size (2,000 clips, 5 folds, 128-d)", flush=True)
    task, ds, view = probe_fixture()
    # imports (sklearn, scipy: ~1-2 s) happen once per process in a real run: not the probe's time
    from bench.protocols import get_protocol
    from encoders.logmel import LogMelEncoder  # noqa: F401

    get_protocol("probe")
    secs = []
    out = None
    for _ in range(args.probe_reps):
        t0 = time.perf_counter()
        out = run_probe(task, ds, view)
        secs.append(time.perf_counter() - t0)
    assert out is not None
    folds = [
        {
            "fold": f.fold,
            "accuracy": round(f.metrics["accuracy"], 4),
            **{k: f.info[k] for k in ("best_epoch", "epochs_run")},
        }
        for f in out.folds
    ]
    rep.details["probe"] = {"seconds": secs, "folds": folds}
    print(f"    folds: {folds}", flush=True)
    rep.add(
        Row(
            "MLP probe, ESC-50 size, 128-d cached embeddings",
            f"{med(secs):.1f} s",
            "<= 5 s",
            med(secs) <= 5.0,
            f"epochs run per fold {[f['epochs_run'] for f in folds]}",
        )
    )


def time_steps(step: Callable[[], None], n: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        step()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        out.append(time.perf_counter() - t0)
    return out


def row_distill(rep: Report, args: argparse.Namespace) -> None:
    from bench.demo import vggsound as demo_vgg
    from encoders.wav2clip.train import PRESETS, DistillationModel

    print("[distill] demo distillation: per-step time x steps (extrapolated)", flush=True)
    p = {**PRESETS["demo"]}
    bs, window = int(p["batch_size"]), float(p["window_s"])
    n_train_all = len(demo_vgg.LABELS) * demo_vgg.TRAIN_PER_CLASS
    n_val = max(1, min(500, round(float(p.get("val_fraction", 0.1)) * n_train_all)))
    steps = (n_train_all - n_val) // bs
    torch.manual_seed(0)
    model = DistillationModel(norm="clip", loss="cx").train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    audio = torch.from_numpy(np.stack(synthetic_clips(bs, window, seed=2)))
    image = torch.randn(bs, 512)

    def step() -> None:
        loss = model(audio, image)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def val_batch() -> None:
        model.eval()
        with torch.no_grad():
            model(audio, image)
        model.train()

    st = time_steps(step, args.steps)
    vt = time_steps(val_batch, max(2, args.steps // 2))
    epoch_s = steps * med(st) + -(-n_val // bs) * med(vt)
    total = epoch_s * int(p["max_epochs"])
    rep.details["distill"] = {
        "batch": bs,
        "window_s": window,
        "steps_per_epoch": steps,
        "n_val": n_val,
        "step_s": st,
        "val_batch_s": vt,
        "epoch_s": epoch_s,
        "max_epochs": p["max_epochs"],
        "total_s": total,
    }
    rep.add(
        Row(
            "demo distillation (extrapolated: step time x steps x max epochs; teacher, data prep excluded)",
            f"{total / 60:.1f} min ({epoch_s:.0f} s/epoch x {p['max_epochs']})",
            "main job <= 10 min after install",
            total <= 600,
            f"{med(st):.2f} s/step, {steps} steps/epoch of {bs} x {window:g} s",
        )
    )


def row_supervised(rep: Report, args: argparse.Namespace) -> None:
    from bench.demo import esc50 as demo_esc
    from bench.demo import urbansound8k as demo_us
    from encoders.supervised.protocol import PRESETS as SUP
    from encoders.supervised.protocol import ResNetClassifier, resolve_config

    print(
        "[supervised] supervised baseline, demo ESC-50 + UrbanSound8K: per-step time x steps (extrapolated)", flush=True
    )
    cfg = SUP["demo"]
    tasks = {  # (classes, folds, clips per fold, seconds per training clip)
        "esc50": (len(demo_esc.CATEGORIES), 5, len(demo_esc.CATEGORIES) * demo_esc.CLIPS_PER_CLASS_PER_FOLD, 5.0),
        "urbansound8k": (len(demo_us.CLASSES), 10, len(demo_us.CLASSES) * 4, 4.0),
    }
    details: dict[str, Any] = {"preset": cfg.as_dict()}
    total = 0.0
    per_epoch_all: list[str] = []
    for name, (n_cls, folds, per_fold, secs) in tasks.items():
        torch.manual_seed(0)
        model = ResNetClassifier(n_cls, resolve_config("demo", {}, "demo").precision).train()
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        x = torch.from_numpy(np.stack(synthetic_clips(cfg.batch_size, secs, seed=4)))
        y = torch.arange(cfg.batch_size) % n_cls

        def step(model: torch.nn.Module = model, opt: Any = opt, x: torch.Tensor = x, y: torch.Tensor = y) -> None:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        def val(model: torch.nn.Module = model, x: torch.Tensor = x) -> None:
            model.eval()
            with torch.inference_mode():
                model(x)
            model.train()

        st = time_steps(step, args.steps)
        vt = time_steps(val, max(2, args.steps // 2))
        n_train_fold = per_fold * (folds - 1)
        n_val = round(0.1 * n_train_fold)
        steps = -(-(n_train_fold - n_val) // cfg.batch_size)
        epoch_s = steps * med(st) + (n_val / cfg.batch_size) * med(vt)
        upper = folds * cfg.max_epochs * epoch_s + folds * (per_fold / cfg.batch_size) * med(vt)
        total += upper
        per_epoch_all.append(f"{name} {epoch_s:.0f} s")
        details[name] = {
            "step_s": st,
            "val_batch_s": vt,
            "steps_per_epoch": steps,
            "epoch_s": epoch_s,
            "folds": folds,
            "upper_bound_s": upper,
        }
    rep.details["supervised"] = details
    rep.add(
        Row(
            "supervised baseline, demo ESC-50 + UrbanSound8K (extrapolated upper bound: folds x max epochs)",
            f"{total / 60:.0f} min",
            "<= 20 min, row committed",
            total <= 1200,
            f"per fold-epoch: {', '.join(per_epoch_all)}; max {cfg.max_epochs} epochs, batch {cfg.batch_size}",
        )
    )


def run_bench_job(rep: Report, key: str, figure: str, cmd: list[str], limit_s: float, target: str) -> None:
    home = Path(tempfile.mkdtemp(prefix=f"speed-{key}-"))
    shutil.copytree(ROOT / "results", home / "results")  # as a fresh clone has them: cells still current are reused
    cmd = [*cmd, "--results", str(home / "results"), "--no-leaderboard"]
    env = {**os.environ, "BENCH_HOME": str(home)}
    print(f"[{key}] {' '.join(cmd)}  (BENCH_HOME={home})", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-25:]
    rep.details[key] = {"seconds": dt, "returncode": proc.returncode, "tail": tail, "bench_home": str(home)}
    print("\n".join("    " + line for line in tail), flush=True)
    rep.add(
        Row(
            figure,
            f"{dt / 60:.1f} min" + ("" if proc.returncode == 0 else f" (exit {proc.returncode})"),
            target,
            dt <= limit_s and proc.returncode == 0,
            f"BENCH_HOME kept at {home}",
        )
    )


def machine() -> dict[str, Any]:
    info = {
        "loadavg": os.getloadavg(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "MALLOC_TOP_PAD_": os.environ.get("MALLOC_TOP_PAD_"),
    }
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            if line.startswith(("Model name", "CPU(s):", "Vendor ID")):
                k, v = line.split(":", 1)
                info[k.strip()] = v.strip()
    except OSError:
        pass
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference-src", type=Path, default=None, help="folder holding the reference `wav2clip` package")
    ap.add_argument("--weights", type=Path, default=None, help="a Wav2CLIP.pt-layout file (default: seeded random)")
    ap.add_argument(
        "--skip", default="", help="comma-separated rows to skip: extract,precision,e2e,probe,distill,supervised"
    )
    ap.add_argument("--clips", type=int, default=32, help="5-s clips per timed repetition (extract, precision)")
    ap.add_argument("--e2e-clips", type=int, default=96)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--probe-reps", type=int, default=1)
    ap.add_argument("--steps", type=int, default=6, help="timed training steps (distill, supervised)")
    ap.add_argument(
        "--demo-job",
        action="store_true",
        help="also run `bench run --encoder logmel,wav2clip --task all` in a fresh BENCH_HOME",
    )
    ap.add_argument(
        "--supervised-job", action="store_true", help="also run the supervised baseline on demo ESC-50 + UrbanSound8K"
    )
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - {"extract", "precision", "e2e", "probe", "distill", "supervised"}
    if unknown:
        raise SystemExit(f"--skip: unknown row(s) {sorted(unknown)}")

    rep = Report(details={"machine": machine()})
    print("machine:", json.dumps(rep.details["machine"]), flush=True)
    with tempfile.TemporaryDirectory(prefix="speed-weights-") as tmp:
        weights = args.weights
        if weights is None:
            from encoders.wav2clip.checkpoint import save_official
            from encoders.wav2clip.model import Wav2CLIPAudio

            torch.manual_seed(0)
            weights = save_official(Wav2CLIPAudio().eval(), Path(tmp) / "Wav2CLIP.pt")
        if "extract" not in skip:
            row_extract(rep, args, weights)
        if "precision" not in skip:
            row_precision(rep, args, weights)
        if "e2e" not in skip:
            row_e2e(rep, args, weights)
    if "probe" not in skip:
        row_probe(rep, args)
    if "distill" not in skip:
        row_distill(rep, args)
    if "supervised" not in skip:
        row_supervised(rep, args)
    bench = str(Path(sys.executable).parent / "bench")
    if args.demo_job:
        run_bench_job(
            rep,
            "demo_job",
            "demo main job (bench run logmel,wav2clip --task all, fresh BENCH_HOME)",
            [bench, "run", "--encoder", "logmel,wav2clip", "--task", "all"],
            600,
            "<= 10 min",
        )
    if args.supervised_job:
        run_bench_job(
            rep,
            "supervised_job",
            "supervised baseline, demo ESC-50 + UrbanSound8K (real run)",
            [bench, "run", "--encoder", "supervised", "--task", "esc50,urbansound8k"],
            1200,
            "<= 20 min",
        )

    print(f"\nload average at the end: {os.getloadavg()}")
    print("\n| figure | today | target | met | note |\n|---|---|---|---|---|")
    for r in rep.rows:
        met = "-" if r.met is None else ("yes" if r.met else "no")
        print(f"| {r.figure} | {r.today} | {r.target} | {met} | {r.note} |")
    if args.json:
        args.json.write_text(
            json.dumps({"rows": [r.__dict__ for r in rep.rows], "details": rep.details}, indent=1, default=str)
        )


if __name__ == "__main__":
    main()
