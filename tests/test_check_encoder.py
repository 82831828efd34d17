"""``bench check-encoder`` on a third-party plugin found through the ``bench.encoders`` entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app

PLUGIN = '''
"""A deliberately broken encoder, as a researcher might first write one."""
import numpy as np

from bench.encoder import Encoder


class BrokenEncoder(Encoder):
    name = "toybroken"
    sample_rate = 16000
    embedding_dim = 8  # promises 8 ...

    def embed(self, waves):
        out = []
        for w in waves:
            peak_normalised = w / np.abs(w).max()  # 0 / 0 on digital silence
            bands = np.array_split(np.abs(np.fft.rfft(peak_normalised, n=512)), 7)
            out.append([b.mean() for b in bands])  # ... returns 7
        return np.asarray(out, dtype=np.float32)
'''


def install_plugin(root: Path) -> dict[str, str]:
    """A package with an entry point, importable through PYTHONPATH (what `pip install` leaves behind)."""
    root.mkdir(parents=True)
    (root / "toy_bench_plugin.py").write_text(PLUGIN)
    info = root / "toy_bench_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-bench-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[bench.encoders]\ntoybroken = toy_bench_plugin:BrokenEncoder\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def test_broken_plugin_both_faults_named_with_fixes(tmp_path: Path) -> None:
    env = install_plugin(tmp_path / "site")
    cmd = [sys.executable, "-m", "bench.cli", "check-encoder", "toybroken", "--long-s", "5"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "toy_bench_plugin.BrokenEncoder" in out
    lines = out.splitlines()

    def row(check: str) -> str:
        return next(ln for ln in lines if ln.split()[1:2] == [check])

    shape = row("embed_shape")
    assert shape.split()[0] == "FAIL" and "shape (2, 7); expected (2, 8)" in shape
    silence = row("silence")
    assert silence.split()[0] == "FAIL" and "NaN/inf" in silence
    fixes = [ln for ln in lines if ln.strip().startswith("fix:")]
    assert any("embedding_dim" in f for f in fixes) and any("max(std, eps)" in f for f in fixes)
    assert "FAILED: embed_shape, silence" in out
    assert row("fingerprint_stable").split()[0] == "PASS"  # found again through the entry point in a fresh process


def test_unknown_encoder_and_unknown_check_are_clear_errors() -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["check-encoder", "logmell"])
    assert res.exit_code == 1 and "Did you mean 'logmel'" in res.output
    res = runner.invoke(app, ["check-encoder", "logmel", "--check", "silense"])
    assert res.exit_code == 2 and "unknown check(s) silense" in res.output


@pytest.mark.parametrize("check", ["silence", "batch_independence"])
def test_a_passing_builtin_exits_zero(check: str) -> None:
    res = CliRunner().invoke(app, ["check-encoder", "logmel", "--check", check])
    assert res.exit_code == 0, res.output
    assert f"PASS  {check}" in res.output
