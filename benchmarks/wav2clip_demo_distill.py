"""Does demo distillation teach anything? Audio→image MRR vs chance, and a probe vs random weights.

Not a test (too slow for CI on 2 cores): it measures and prints. It uses (or, when absent,
trains) the demo Wav2CLIP in ``$BENCH_HOME/models/wav2clip-demo`` exactly as
``bench run --encoder wav2clip`` would, then reports

1. audio→teacher-image retrieval on the demo VGGSound *test* split: each clip's projected
   audio embedding (same 5-s window as its image target) ranks the teacher's mean-pooled image
   embeddings of all test clips by cosine; MRR against chance (the MRR of a random ranking,
   H_N / N), for the trained weights and for the same architecture with random weights;
2. the ESC-50 demo MLP probe (5 official folds) for the trained and the random-weights encoder.

    .venv/bin/python benchmarks/wav2clip_demo_distill.py [--weights PATH] [--json out.json]

The script exits non-zero when MRR < 3× chance or the trained encoder does not beat random
weights on the probe (the issue's bar).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.datasets import resolve_dataset
from bench.encoder import get_encoder
from bench.paths import cache_dir
from bench.runner import RunOptions
from bench.runner import run as run_cells
from bench.store import EmbeddingStore
from bench.task import get_task
from encoders.wav2clip.data import load_window
from encoders.wav2clip.encoder import Wav2CLIPEncoder
from encoders.wav2clip.run_meta import run_metadata
from encoders.wav2clip.targets import WindowRule, teacher_targets
from encoders.wav2clip.teacher import CLIPTeacher, TeacherSpec


def mrr(queries: np.ndarray, gallery: np.ndarray) -> float:
    """Mean reciprocal rank of item i of ``gallery`` for query i (cosine similarity)."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    g = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    sims = q @ g.T
    ranks = (sims > np.diag(sims)[:, None]).sum(axis=1) + 1
    return float(np.mean(1.0 / ranks))


def retrieval(weights: str, teacher: TeacherSpec, rule: WindowRule) -> dict[str, float]:
    dataset = resolve_dataset(get_task("vggsound"))  # the demo VGGSound
    view = teacher_targets(CLIPTeacher(teacher), dataset, EmbeddingStore(cache_dir()), rule, show_progress=False)
    assert view is not None
    test = [c for c in dataset.clips if c.split == "test" and c.id in view]
    images = view.matrix([c.id for c in test])
    audio = [load_window(c, rule) for c in test]
    out: dict[str, float] = {"n_test": len(test), "chance": float(np.mean(1.0 / np.arange(1, len(test) + 1)))}
    for name, w in (("trained", weights), ("random", "random")):
        enc = get_encoder("wav2clip", weights=w, teacher=teacher.model, teacher_pretrained=teacher.pretrained)
        out[f"mrr_{name}"] = mrr(enc.embed(audio), images)
    out["ratio_trained"] = out["mrr_trained"] / out["chance"]
    return out


def probe(weights: str) -> dict[str, float]:
    out = {}
    with tempfile.TemporaryDirectory(prefix="w2c-probe-") as tmp:
        for name, w in (("trained", weights), ("random", "random")):
            opts = RunOptions(
                results_dir=Path(tmp) / "results",
                protocols=["probe"],
                encoder_options={"weights": w},
                show_progress=False,
                confusion=False,
                log=lambda _m: None,
            )
            cell = run_cells(["wav2clip"], ["esc50"], opts)[0]
            rec = json.loads(Path(str(cell.path)).read_text())
            out[f"esc50_acc_{name}"] = rec["summary"]["accuracy"]["mean"]
            out[f"esc50_std_{name}"] = rec["summary"]["accuracy"]["std"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None, help="a trained best.pt (default: the demo model, trained if absent)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    enc = Wav2CLIPEncoder(weights=args.weights or "demo")
    train_s = time.perf_counter() - t0
    path = enc.weights.path
    assert path is not None and enc.teacher is not None
    meta = run_metadata(path)
    cfg = meta.get("config", {})
    rule = WindowRule(cfg.get("window_s", 5.0), cfg.get("clip_s", 5.0), cfg.get("fps", 10.0), cfg.get("seed", 2021))
    report: dict[str, object] = {
        "weights": str(path),
        "sha256": enc.weights.sha256,
        "teacher": enc.teacher.spec.identity(),
        "model_ready_s": round(train_s, 1),
        "epochs": meta.get("epochs"),
        "steps": meta.get("steps"),
    }
    report.update(retrieval(str(path), enc.teacher.spec, rule))
    report.update(probe(str(path)))
    for k, v in report.items():
        print(f"{k:>18}: {v:.4f}" if isinstance(v, float) else f"{k:>18}: {v}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    ok = float(report["ratio_trained"]) >= 3.0 and float(report["esc50_acc_trained"]) > float(
        report["esc50_acc_random"]
    )  # type: ignore[arg-type]
    print("PASS" if ok else "FAIL", "(MRR >= 3x chance and trained > random on the ESC-50 probe)")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
