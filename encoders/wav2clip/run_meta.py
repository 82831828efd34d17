"""What a Wav2CLIP training run says about itself: ``model.json`` beside its checkpoints.

``bench train wav2clip`` writes it (teacher, data, config, status, checkpoint hashes) and
the ``wav2clip`` encoder reads it to find a checkpoint's teacher and to know whether its
weights were trained on demo data. A small machine-wide list of demo-trained weight hashes
(``$BENCH_HOME/models/demo-weights.json``) recognises a copied ``best.pt`` without its
``model.json``, so demo weights are refused on real data wherever they travel on this machine.

A leaf: it imports neither the trainer nor the encoder, so both (and the demo model) read and
write run metadata without importing each other.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_json
from bench.hashing import sha256_file
from bench.paths import models_dir

RUN_META = "model.json"
RUN_FORMAT = "bench-wav2clip-run"
CHECKPOINTS = ("best.pt", "last.pt")


def demo_model_dir() -> Path:
    """Where the demo Wav2CLIP is distilled and reused."""
    return models_dir() / "wav2clip-demo"


def run_metadata(weights_path: Path) -> dict[str, Any]:
    """The ``model.json`` that ``bench train`` writes beside its checkpoints (empty if none)."""
    meta_path = weights_path.parent / RUN_META
    if not meta_path.is_file():
        return {}
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError:
        return {}
    return dict(meta) if isinstance(meta, dict) and meta.get("format") == RUN_FORMAT else {}


def write_run_metadata(
    out_dir: Path,
    meta: dict[str, Any],
    status: str,
    reason: str,
    best_val: float,
    best_epoch: int,
    epochs: int,
    steps: int,
) -> None:
    """``model.json`` with the run's progress and the hashes of its checkpoints (demo ones remembered)."""
    if meta.get("demo"):
        mark_demo_weights(*(out_dir / name for name in CHECKPOINTS))
    files = {name: sha256_file(out_dir / name) for name in CHECKPOINTS if (out_dir / name).is_file()}
    atomic_write_json(
        out_dir / RUN_META,
        {
            **meta,
            "status": status,
            "stop_reason": reason,
            "best_val_loss": best_val if math.isfinite(best_val) else None,
            "best_epoch": best_epoch + 1,
            "epochs": epochs,
            "steps": steps,
            "sha256": files,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )


def _demo_weights_list() -> Path:
    return models_dir() / "demo-weights.json"


def mark_demo_weights(*paths: Path) -> None:
    """Remember these files' hashes as demo-trained, so a copy without its ``model.json`` is still
    recognised (and refused on real data) on this machine."""
    registry = _demo_weights_list()
    known = set(json.loads(registry.read_text())) if registry.is_file() else set()
    known |= {sha256_file(p) for p in paths if p.is_file()}
    registry.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(registry, sorted(known))


def is_demo_weights(sha256: str) -> bool:
    registry = _demo_weights_list()
    return registry.is_file() and sha256 in json.loads(registry.read_text())
