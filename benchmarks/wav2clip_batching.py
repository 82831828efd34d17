"""Wav2CLIP on CPU: our batched extraction vs a naive per-clip loop, same model, same clips.

Not a test: it measures and prints. The naive loop is the reference package's way
(``wav2clip.embed_audio``: one clip per call, autograd on, NCHW). Ours is the ``wav2clip``
encoder's ``embed``: same-length clips batched, ``torch.inference_mode``, channels-last
weights, per-clip standardisation (so batching cannot change an embedding). Outputs must
agree within 1e-5 (max absolute difference, printed); the script exits non-zero otherwise.

    .venv/bin/python benchmarks/wav2clip_batching.py [--weights PATH] [--clips 48] [--seconds 5]

Without ``--weights`` the architecture gets seeded random weights written in the released
layout and loaded through the same path as a real ``Wav2CLIP.pt``. Clips are synthetic (tones
plus noise at gains from 0.003 to 1). Timings are medians over ``--reps`` after a warm-up, the
methods alternating within each repetition so that load drift on a shared machine hits all alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bench.encoder import get_encoder
from encoders.wav2clip.checkpoint import load_official, save_official
from encoders.wav2clip.model import Wav2CLIPAudio


def synthetic_clips(n: int, seconds: float, sr: int = 16000, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    gains = np.geomspace(0.003, 1.0, n)
    return [
        (g * (0.5 * np.sin(2 * np.pi * rng.uniform(100, 4000) * t) + 0.5 * rng.standard_normal(len(t)))).astype(
            np.float32
        )
        for g in gains
    ]


def naive(model: Wav2CLIPAudio, clips: list[np.ndarray]) -> np.ndarray:
    """The package's embed_audio: one clip per call, autograd on, detach afterwards."""
    return np.stack([model(torch.from_numpy(c[None]))[0].detach().cpu().numpy() for c in clips])


def interleaved(fns: dict[str, Callable[[], np.ndarray]], reps: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Median seconds per method; methods alternate within each repetition, so load drift hits all alike."""
    outs = {name: fn() for name, fn in fns.items()}  # warm-up, and the outputs compared
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) for name, v in times.items()}, outs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--clips", type=int, default=48)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--batch-sizes", default="1,4,8,16")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    clips = synthetic_clips(args.clips, args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        weights = args.weights
        if weights is None:
            torch.manual_seed(0)
            weights = save_official(Wav2CLIPAudio().eval(), Path(tmp) / "Wav2CLIP.pt")
        reference = load_official(weights)  # NCHW, eval mode, as the package builds it
        report: dict[str, object] = {
            "clips": args.clips,
            "seconds": args.seconds,
            "threads": torch.get_num_threads(),
            "weights": str(args.weights or "random (seed 0)"),
        }
        fns: dict[str, Callable[[], np.ndarray]] = {"naive": lambda: naive(reference, clips)}
        sizes = [int(b) for b in args.batch_sizes.split(",")]
        for bs in sizes:
            enc = get_encoder("wav2clip", weights=str(weights), teacher="none", batch_size=bs)
            fns[f"bs{bs}"] = lambda enc=enc: enc.embed(clips)  # type: ignore[misc]
        secs, outs = interleaved(fns, args.reps)
        report["naive_clips_per_s"] = round(args.clips / secs["naive"], 2)
        ok = True
        for bs in sizes:
            diff = float(np.abs(outs[f"bs{bs}"] - outs["naive"]).max())
            ok &= diff <= 1e-5
            report[f"batched_bs{bs}_clips_per_s"] = round(args.clips / secs[f"bs{bs}"], 2)
            report[f"batched_bs{bs}_max_abs_diff"] = diff
            report[f"batched_bs{bs}_speedup"] = round(secs["naive"] / secs[f"bs{bs}"], 2)
    for k, v in report.items():
        print(f"{k:>28}: {v}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print("outputs equal within 1e-5:", "yes" if ok else "NO")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
