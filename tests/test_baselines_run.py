"""The paper's baselines through `bench run`: readiness listing, all rows in the leaderboard, TF first."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from fixtures import write_esc50, write_us8k
from typer.testing import CliRunner

from bench.cli import app
from bench.demo import MARKER
from bench.results import ResultsStore

runner = CliRunner()
ROOT = Path(__file__).parent


def demo_marked(root: Path) -> Path:
    """Hand-written fixtures marked as demo data (random stand-in weights may run on them)."""
    (root / MARKER).write_text(json.dumps({"demo": True, "generator": "tests"}))
    return root


def tiny_esc50(root: Path) -> Path:
    """ESC-50 layout, 2 classes, one clip per class in folds 1–3 (three folds keep runs short)."""
    write_esc50(root, {0: "dog", 1: "rooster"}, per_fold=1)
    meta = root / "meta" / "esc50.csv"
    lines = meta.read_text().splitlines()
    meta.write_text("\n".join([lines[0], *(ln for ln in lines[1:] if ln.split(",")[1] in "123")]) + "\n")
    return demo_marked(root)


def test_bench_encoders_shows_readiness_and_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hub"))
    monkeypatch.setattr("encoders.openl3.default_weight_dirs", lambda: [tmp_path / "openl3"])
    res = runner.invoke(app, ["encoders"])
    assert res.exit_code == 0, res.output
    lines = {ln.split()[0]: ln for ln in res.output.splitlines() if ln.strip()}
    for ready in ("logmel", "supervised", "hear"):
        assert " ready " in lines[ready], lines[ready]
    for name, fix in (
        ("yamnet", "--weights https://tfhub.dev/google/yamnet/1"),
        ("openl3", "openl3_audio_mel256_env.h5"),
    ):
        assert "not ready" in lines[name] and "random weights" in lines[name] and fix in lines[name]
    (tmp_path / "openl3").mkdir()
    (tmp_path / "openl3" / "openl3_audio_mel256_env.h5").write_bytes(b"")
    res = runner.invoke(app, ["encoders"])
    assert any(ln.startswith("openl3") and " ready " in ln for ln in res.output.splitlines())


def test_all_four_baselines_land_in_the_leaderboard(
    yamnet_savedmodel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bench run --encoder yamnet,openl3,supervised,logmel --task esc50,urbansound8k` on demo data.

    Kept cheap: tiny hand-written sets marked as demo data, OpenL3's conv stack replaced by
    pooling its real mel front end (the network itself is tested in test_openl3.py), one
    training epoch per fold for the supervised baseline.
    """
    import encoders.supervised.protocol as sp
    from encoders.openl3.model import OpenL3Audio

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hub"))
    monkeypatch.setattr("encoders.openl3.default_weight_dirs", lambda: [])
    shutil.copytree(yamnet_savedmodel, tmp_path / "home" / "models" / yamnet_savedmodel.name)  # the stand-in, prebuilt
    monkeypatch.setitem(sp.PRESETS, "demo", replace(sp.PRESETS["demo"], max_epochs=1))

    def pooled_mel(self: OpenL3Audio, windows: torch.Tensor) -> torch.Tensor:
        mel = self.frontend(windows)[:, 0]
        return torch.cat([mel.mean(dim=2), mel.amax(dim=2)], dim=1)

    monkeypatch.setattr(OpenL3Audio, "forward", pooled_mel)
    esc = tiny_esc50(tmp_path / "ESC-50-master")
    us8k = demo_marked(write_us8k(tmp_path / "UrbanSound8K", ["siren", "drilling"], folds=3))
    res = runner.invoke(
        app,
        [
            "run",
            "--encoder",
            "yamnet,openl3,supervised,logmel",
            "--task",
            "esc50,urbansound8k",
            "--root",
            f"esc50={esc}",
            "--root",
            f"urbansound8k={us8k}",
            "--quiet",
            "--popt",
            "max_epochs=5",
        ],
    )
    assert res.exit_code == 0, res.output
    board = (tmp_path / "leaderboard.md").read_text()
    demo = board.split("## Demo suite")[1].split("\n## ")[0]
    rows = {
        ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[2:4]]
        for ln in demo.splitlines()
        if ln.startswith("| ")
    }
    for label in ("yamnet[random-weights]", "openl3[hop0.5,random-weights]", "supervised", "logmel"):
        assert label in rows, demo
        assert all(0 <= float(v.split(" ± ")[0]) <= 1 for v in rows[label]), rows[label]
        assert rows[f"{label} (ZS)"] == ["n/a", "n/a"]
    sup = json.loads((tmp_path / "results/demo/supervised/esc50.supervised-resnet18-v1.json").read_text())
    assert sup["protocol"]["short"] == "probe" and sup["protocol"]["preset"] == "demo" and len(sup["folds"]) == 3
    assert sup["timings"]["encoder_calls"] == 0  # nothing was extracted for it
    assert not (tmp_path / ".bench" / "cache" / "supervised").exists()
    # real data: the random stand-ins are refused with the fix, the others run
    (esc / MARKER).unlink()
    res = runner.invoke(
        app, ["run", "--encoder", "yamnet,openl3", "--task", "esc50", "--root", f"esc50={esc}", "--quiet"]
    )
    assert res.exit_code == 1 and "refusing random weights on real data" in res.output and "--weights" in res.output


TF_FIRST = """
import sys
sys.path[:0] = [{root!r}, {tests!r}]
import tensorflow  # first, as a notebook or a TensorFlow HEAR module would
from collections.abc import Sequence
import numpy as np
from bench.encoder import ENCODERS
from encoders.logmel import LogMelEncoder

class TorchvisionEncoder(LogMelEncoder):
    # a torch encoder that needs torchvision (as open_clip-based ones do), which loads triton
    name = "tvlogmel"
    def embed(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        import torch, torchvision.transforms.functional as tvf
        emb = torch.from_numpy(super().embed(waves))
        return tvf.resize(emb[:, None, None, :], [1, 64], antialias=True)[:, 0, 0].numpy()

ENCODERS.register("tvlogmel", TorchvisionEncoder, origin="tests")
from bench.cli import main
sys.argv = ["bench", "run", "--encoder", "yamnet,tvlogmel", "--task", "esc50", "--root", "esc50={data}",
            "--quiet", "--popt", "max_epochs=5"]
main()
"""


def test_tensorflow_first_then_torch_encoders_in_one_run(yamnet_savedmodel: Path, tmp_path: Path) -> None:
    from importlib.util import find_spec

    esc = tiny_esc50(tmp_path / "ESC-50-master")
    home = tmp_path / "home"
    shutil.copytree(yamnet_savedmodel, home / "models" / yamnet_savedmodel.name)
    env = {**os.environ, "BENCH_HOME": str(home), "TFHUB_CACHE_DIR": str(tmp_path / "hub"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    script = textwrap.dedent(TF_FIRST.format(root=str(ROOT.parent), tests=str(ROOT), data=str(esc)))
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    assert "triton is disabled" in proc.stderr or find_spec("triton") is None
    for label in ("yamnet[random-weights]", "tvlogmel"):
        rec = json.loads(
            ResultsStore(tmp_path / "results").path_for("demo", label, "esc50", "probe-mlp-v1").read_text()
        )
        assert rec["status"] == "ok" and len(rec["folds"]) == 3


def test_fresh_process_yamnet_then_torch_training(yamnet_savedmodel: Path, tmp_path: Path) -> None:
    """Regression: the adapter ran ``import tensorflow`` before loading triton, so the probe's
    optimiser (torch._dynamo → triton) segfaulted right after YAMNet embedded a task."""
    esc = tiny_esc50(tmp_path / "ESC-50-master")
    home = tmp_path / "home"
    shutil.copytree(yamnet_savedmodel, home / "models" / yamnet_savedmodel.name)
    env = {
        **os.environ,
        "BENCH_HOME": str(home),
        "TFHUB_CACHE_DIR": str(tmp_path / "hub"),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join([str(ROOT.parent), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [
        sys.executable,
        "-m",
        "bench.cli",
        "run",
        "--encoder",
        "yamnet",
        "--task",
        "esc50",
        "--root",
        f"esc50={esc}",
        "--quiet",
        "--protocol",
        "probe",
        "--popt",
        "max_epochs=3",
    ]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    rec = json.loads(
        ResultsStore(tmp_path / "results")
        .path_for("demo", "yamnet[random-weights]", "esc50", "probe-mlp-v1")
        .read_text()
    )
    assert rec["status"] == "ok" and rec["timings"]["encoder_calls"] > 0
