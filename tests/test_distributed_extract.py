"""`bench run` under torchrun (2 CPU ranks, gloo): sharded extraction, one consolidated store."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
from fixtures import write_esc50
from helpers import TORCHRUN_2

from bench.encoder import get_encoder
from bench.extract import extract
from bench.store import EmbeddingStore
from bench.task import get_task


def test_torchrun_two_ranks_match_single_process(tmp_path: Path) -> None:
    root = write_esc50(tmp_path / "ESC-50-master", {0: "dog", 1: "rooster", 2: "pig"}, per_fold=2)
    env = {
        **os.environ,
        "BENCH_HOME": str(tmp_path / "home"),
        "BENCH_RESULTS": str(tmp_path / "results"),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    cmd = [
        *TORCHRUN_2,
        "-m",
        "bench.cli",
        "run",
        "--encoder",
        "logmel",
        "--task",
        "esc50",
        "--root",
        f"esc50={root}",
        "--quiet",
        "--protocol",
        "probe",
        "--popt",
        "max_epochs=5",
        "--no-leaderboard",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads((tmp_path / "results" / "real" / "logmel" / "esc50.probe-mlp-v1.json").read_text())
    assert record["status"] == "ok" and len(record["folds"]) == 5
    manifests = list((tmp_path / "home" / "cache").rglob("manifest.json"))
    manifest = json.loads(manifests[0].read_text())
    assert len(manifests) == 1 and manifest["complete"] and manifest["writers"] == 2  # both ranks embedded a shard
    ds = get_task("esc50").loader(root)
    single = extract(
        get_encoder("logmel"),
        ds,
        EmbeddingStore(tmp_path / "single"),
        get_task("esc50").clip_policy,
        show_progress=False,
    )
    sharded = extract(
        get_encoder("logmel"),
        ds,
        EmbeddingStore(tmp_path / "home" / "cache"),
        get_task("esc50").clip_policy,
        show_progress=False,
    )
    assert single is not None and sharded is not None
    ids = [c.id for c in ds.clips]
    # tolerance, not bit-identity: the ranks ran with 1 thread, this process with its own count
    np.testing.assert_allclose(sharded.matrix(ids), single.matrix(ids), atol=1e-4)
