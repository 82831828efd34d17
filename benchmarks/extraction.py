"""Extraction throughput, probe time and peak memory for one encoder on one task (cold and warm).

Not a test: it measures and prints. Example (the demo suite is generated if needed):

    .venv/bin/python benchmarks/extraction.py --encoder logmel --task esc50

cold = empty embedding store (decode + resample + encoder); warm = same store again (the
encoder is not called). Peak memory is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

from bench.datasets import resolve_dataset
from bench.encoder import get_encoder
from bench.extract import ExtractionStats, extract
from bench.protocols import ProtocolContext, get_protocol
from bench.store import EmbeddingStore
from bench.task import get_task


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder", default="logmel")
    ap.add_argument("--task", default="esc50")
    ap.add_argument("--data-root", type=Path, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args()

    task = get_task(args.task)
    dataset = resolve_dataset(task, data_root=args.data_root)
    encoder = get_encoder(args.encoder, device=args.device)
    tmp = Path(tempfile.mkdtemp(prefix="bench-benchmark-"))
    report: dict[str, object] = {
        "encoder": args.encoder,
        "task": args.task,
        "clips": len(dataset.clips),
        "data": dataset.info.get("kind"),
        "batch_size": args.batch_size or encoder.preferred_batch_size,
    }
    try:
        store = EmbeddingStore(tmp)
        for phase in ("cold", "warm"):
            stats = ExtractionStats()
            t0 = time.perf_counter()
            view = extract(
                encoder,
                dataset,
                store,
                task.clip_policy,
                batch_size=args.batch_size,
                workers=args.workers,
                show_progress=False,
                stats=stats,
            )
            dt = time.perf_counter() - t0
            report[phase] = {
                "seconds": round(dt, 3),
                "clips_per_s": round(len(dataset.clips) / dt, 1),
                "encoder_calls": stats.encoder_calls,
                "audio_s_per_s": round(stats.audio_seconds / dt, 1),
            }
        assert view is not None
        t0 = time.perf_counter()
        out = get_protocol("probe").run(ProtocolContext(task, dataset, view, encoder, show_progress=False))
        report["probe_seconds"] = round(time.perf_counter() - t0, 3)
        report["probe_folds"] = len(out.folds)
        report["peak_rss_mb"] = round(peak_rss_mb(), 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for key, value in report.items():
        print(f"{key:>14}: {value}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
