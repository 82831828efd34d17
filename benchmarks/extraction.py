"""Extraction throughput, probe time and peak memory per encoder on one task (cold and warm).

Not a test: it measures and prints, encoders side by side in one run. Example (the demo suite
is generated if needed):

    .venv/bin/python benchmarks/extraction.py --encoder logmel --task esc50
    .venv/bin/python benchmarks/extraction.py --encoder crepe,birdnet --task esc50

load = building the encoder's model (its first call, on 1 s of silence); cold = empty
embedding store (decode + resample + encoder; also the process's CPU time per clip, which a
busy shared machine does not inflate as much as wall time); warm = same store again (the
encoder is not called). Encoders run one after the other in this process; peak memory is the
process's maximum resident set size so far (it only grows). ``--limit N`` measures the first N
clips only (and skips the probe).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.datasets import resolve_dataset
from bench.encoder import get_encoder
from bench.extract import ExtractionStats, extract
from bench.protocols import ProtocolContext, get_protocol
from bench.store import EmbeddingStore
from bench.task import Dataset, get_task


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(
    name: str, task_name: str, dataset: Dataset, device: str, batch_size: int | None, workers: int, probe: bool
) -> dict[str, object]:
    task = get_task(task_name)
    encoder = get_encoder(name, device=device)
    tmp = Path(tempfile.mkdtemp(prefix="bench-benchmark-"))
    report: dict[str, object] = {
        "encoder": encoder.label(),
        "task": task_name,
        "clips": len(dataset.clips),
        "data": dataset.info.get("kind"),
        "batch_size": batch_size or encoder.preferred_batch_size,
    }
    try:
        t0 = time.perf_counter()  # model loading (weights, TensorFlow import, ...) kept out of "cold"
        encoder.embed([np.zeros(encoder.sample_rate, dtype=np.float32)])
        report["load_s"] = round(time.perf_counter() - t0, 2)
        store = EmbeddingStore(tmp)
        for phase in ("cold", "warm"):
            stats = ExtractionStats()
            t0, c0 = time.perf_counter(), time.process_time()
            view = extract(
                encoder,
                dataset,
                store,
                task.clip_policy,
                batch_size=batch_size,
                workers=workers,
                show_progress=False,
                stats=stats,
            )
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            report[phase] = {
                "seconds": round(dt, 3),
                "clips_per_s": round(len(dataset.clips) / dt, 2),
                "cpu_s_per_clip": round(cpu / max(1, len(dataset.clips)), 4),
                "encoder_calls": stats.encoder_calls,
                "audio_s_per_s": round(stats.audio_seconds / dt, 1),
            }
        assert view is not None
        if probe:
            t0 = time.perf_counter()
            out = get_protocol("probe").run(ProtocolContext(task, dataset, view, encoder, show_progress=False))
            report["probe_seconds"] = round(time.perf_counter() - t0, 3)
            report["probe_folds"] = len(out.folds)
        report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    finally:
        encoder.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder", default="logmel", help="encoder name(s), comma-separated")
    ap.add_argument("--task", default="esc50")
    ap.add_argument("--data-root", type=Path, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="only the first N clips (no probe)")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args()

    dataset = resolve_dataset(get_task(args.task), data_root=args.data_root)
    if args.limit is not None:
        keep = {c.id for c in dataset.clips[: args.limit]}
        dataset = dataset.subset(lambda c: c.id in keep)
    reports = [
        measure(name.strip(), args.task, dataset, args.device, args.batch_size, args.workers, args.limit is None)
        for name in args.encoder.split(",")
        if name.strip()
    ]
    keys = [k for k in reports[0] if k != "encoder"]
    width = max(len(_short(r.get(k))) for r in reports for k in [*keys, "encoder"])
    print(f"{'':>14}  " + "  ".join(f"{r['encoder']!s:<{width}}" for r in reports))
    for key in keys:
        print(f"{key:>14}: " + "  ".join(f"{_short(r.get(key)):<{width}}" for r in reports))
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1))


def _short(value: object) -> str:
    if isinstance(value, dict):
        return f"{value['clips_per_s']} clips/s ({value['seconds']} s, {value['cpu_s_per_clip']} CPU s/clip)"
    return str(value)


if __name__ == "__main__":
    main()
