"""The CLI end to end on a small demo suite: results, confusion PNGs, leaderboard, caching."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import leaderboard_cell, result_file
from typer.testing import CliRunner

from bench.cli import app
from bench.demo import ensure_demo, is_demo
from bench.task import get_task
from encoders.logmel import LogMelEncoder

runner = CliRunner()


@pytest.fixture()
def small_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BENCH_DEMO_SCALE", "0.25")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_demo_generation_is_deterministic_and_in_real_layout(tmp_path: Path) -> None:
    a = ensure_demo("urbansound8k", tmp_path / "a", scale=0.25)
    b = ensure_demo("urbansound8k", tmp_path / "b", scale=0.25)
    assert (a / "metadata" / "UrbanSound8K.csv").read_bytes() == (b / "metadata" / "UrbanSound8K.csv").read_bytes()
    ds_a, ds_b = get_task("urbansound8k").loader(a), get_task("urbansound8k").loader(b)
    assert ds_a.checksum() == ds_b.checksum() and is_demo(a)
    first = ds_a.clips[0]
    np.testing.assert_array_equal(sf.read(first.path)[0], sf.read(b / first.path.relative_to(a))[0])
    infos = [sf.info(str(c.path)) for c in ds_a.clips]
    assert len({i.samplerate for i in infos}) >= 3 and {i.channels for i in infos} == {1, 2}
    assert len({i.subtype for i in infos}) >= 3 and any(i.format == "WAVEX" for i in infos)
    assert {c.fold for c in ds_a.clips} == set(range(1, 11))


def test_run_leaderboard_confusion_and_rerun_without_encoder_calls(
    small_demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    original = LogMelEncoder.embed

    def counting(self, waves):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        return original(self, waves)

    monkeypatch.setattr(LogMelEncoder, "embed", counting)
    args = ["run", "--encoder", "logmel", "--task", "esc50,urbansound8k", "--quiet", "--popt", "max_epochs=60"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert calls["n"] > 0
    results = small_demo / "results"
    esc = json.loads(result_file(results, "demo", "logmel", "esc50.probe-mlp-v1.json").read_text())["summary"]
    number = f"{esc['accuracy']['mean']:.4f} ± {esc['accuracy']['std']:.4f}"
    # the run ends with the tables of what it ran: numbers, nothing marked as reused
    row = next(line for line in res.output.splitlines() if line.startswith("| logmel |"))
    first_cell = row.split("|")[2].strip()
    cell = leaderboard_cell(first_cell)
    assert f"{cell['mean']} ± {cell['std']}" == number and cell["lo"] is not None and "†" not in res.output
    for task, folds in (("esc50", 5), ("urbansound8k", 10)):
        rec = json.loads(result_file(results, "demo", "logmel", f"{task}.probe-mlp-v1.json").read_text())
        assert len(rec["folds"]) == folds and rec["data"]["kind"] == "demo"
        n_classes = rec["task"]["n_classes"]
        assert rec["summary"]["accuracy"]["mean"] > 1.5 / n_classes  # well above chance
        assert result_file(results, "demo", "logmel", f"{task}.probe-mlp-v1.confusion.png").stat().st_size > 1000
        zs = json.loads(result_file(results, "demo", "logmel", f"{task}.zeroshot-v1.json").read_text())
        assert zs["status"] == "n/a"
    board = (small_demo / "leaderboard.md").read_text()
    assert "Demo suite" in board and "demo data" in board
    assert "| logmel |" in board and "| logmel (ZS) | n/a | n/a |" in board
    assert "| Wav2CLIP ‡ | 0.8595 | 0.8101 | 0.4308 | 0.4663 | 0.6302 | 0.3955 | 0.0566 | 0.0678 |" in board
    assert "| Supervise ‡ | 0.5300 |" in board
    calls["n"] = 0
    before = {p: p.read_bytes() for p in results.rglob("*.json")}
    res = runner.invoke(app, args)
    assert res.exit_code == 0 and calls["n"] == 0 and "cached" in res.output
    # reusing rewrites no record (n/a ones included): `make demo` leaves a fresh clone's results as committed
    assert {p: p.read_bytes() for p in results.rglob("*.json")} == before
    # a rerun still shows the numbers, each marked as a stored result reused
    assert f"accuracy {number} (stored result reused)" in res.output
    row = next(line for line in res.output.splitlines() if line.startswith("| logmel |"))
    assert row.split("|")[2].strip() == f"{first_cell}†"
    reused = re.search(r"(\d+) of (\d+) cells reused a stored result", res.output)
    assert reused is not None and reused[1] == reused[2], res.output
    res = runner.invoke(app, [*args, "--force"])
    assert res.exit_code == 0 and calls["n"] == 0  # recomputed from the embedding store
    res = runner.invoke(app, ["report", "confusion", "--task", "esc50", "--encoder", "logmel", "--out", "cm.png"])
    assert res.exit_code == 0, res.output
    assert (small_demo / "cm.png").read_bytes()[:4] == b"\x89PNG"
    res = runner.invoke(
        app, ["report", "confusion", "--task", "esc50", "--encoder", "logmel", "--diff", "logmel", "--out", "d.png"]
    )
    assert res.exit_code == 0 and (small_demo / "d.png").exists()
    diff_csv = (small_demo / "d.csv").read_text().splitlines()
    assert all(float(v) == 0 for line in diff_csv[1:] for v in line.split(",")[1:])


def test_cli_errors_are_clear(small_demo: Path) -> None:
    res = runner.invoke(app, ["run", "--encoder", "logmel", "--task", "esc5"])
    assert res.exit_code == 2 and "Did you mean 'esc50'" in res.output
    res = runner.invoke(app, ["run", "--encoder", "logmel", "--task", "esc50", "--on-error", "ignore"])
    assert res.exit_code == 2 and "--on-error" in res.output
    res = runner.invoke(
        app, ["run", "--encoder", "logmel", "--task", "esc50", "--data-root", str(small_demo / "nowhere")]
    )
    assert res.exit_code == 1 and "meta/esc50.csv" in res.output
    res = runner.invoke(app, ["data", "verify", "esc50", "--root", str(small_demo)])
    assert res.exit_code == 1 and "esc50.csv" in res.output


def test_data_verify_on_demo(small_demo: Path) -> None:
    root = ensure_demo("esc50", small_demo / "demo")
    res = runner.invoke(app, ["data", "verify", "esc50", "--root", str(root)])
    assert res.exit_code == 0 and "OK" in res.output
    sorted((root / "audio").glob("*.wav"))[3].write_bytes(b"")
    res = runner.invoke(app, ["data", "verify", "esc50", "--root", str(root)])
    assert res.exit_code == 1 and "empty" in res.output


def test_help_everywhere() -> None:
    for args in (
        ["--help"],
        ["run", "--help"],
        ["data", "demo", "--help"],
        ["data", "verify", "--help"],
        ["report", "confusion", "--help"],
        ["leaderboard", "--help"],
        ["encoders", "--help"],
        ["tasks", "--help"],
    ):
        assert runner.invoke(app, args).exit_code == 0
