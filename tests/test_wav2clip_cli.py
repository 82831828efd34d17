"""Wav2CLIP through the CLI: weights fetch (local URL only), demo-only refusal, the demo run end to end."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner
from wav2clip_demo import SCALE, TINY_TRAIN, small_demo

from bench.cli import app
from bench.demo import MARKER
from bench.encoder import get_encoder
from encoders.wav2clip.checkpoint import save_official
from encoders.wav2clip.model import Wav2CLIPAudio

runner = CliRunner()


@pytest.fixture()
def demo(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = small_demo(tmp_path_factory, "esc50", "vggsound")
    monkeypatch.setenv("BENCH_DEMO", str(root))
    monkeypatch.setenv("BENCH_DEMO_SCALE", str(SCALE))
    monkeypatch.chdir(tmp_path)
    return root


def release_like_file(path: Path) -> Path:
    torch.manual_seed(0)
    return save_official(Wav2CLIPAudio().eval(), path)


def test_weights_fetch_from_a_local_url_then_used_by_default(demo: Path, tmp_path: Path) -> None:
    src = release_like_file(tmp_path / "mirror" / "Wav2CLIP.pt")
    res = runner.invoke(app, ["weights", "fetch", "wav2clip-official", "--url", src.as_uri()])
    assert res.exit_code == 0, res.output
    cached = Path(res.output.splitlines()[0])
    assert cached.read_bytes() == src.read_bytes() and "weights/wav2clip-official" in str(cached)
    assert hashlib.sha256(src.read_bytes()).hexdigest() in res.output
    assert "fetched" in runner.invoke(app, ["weights", "list"]).output
    enc = get_encoder("wav2clip", teacher="none")  # no --weights: the fetched release
    assert (
        enc.label() == "wav2clip"
        and not enc.demo_only
        and enc.weights_id() == hashlib.sha256(src.read_bytes()).hexdigest()
    )
    assert "official weights at" in runner.invoke(app, ["encoders"]).output
    # offline: a clear message, nothing half-written left behind
    res = runner.invoke(
        app, ["weights", "fetch", "wav2clip-official", "--force", "--url", "http://127.0.0.1:9/Wav2CLIP.pt"]
    )
    assert res.exit_code == 1 and "could not download" in res.output and "--weights" in res.output
    assert [p.name for p in cached.parent.iterdir() if p.name.endswith(".part")] == []
    # a teacher whose weights are absent: the zero-shot cell is n/a with the reason, the run goes on
    res = runner.invoke(
        app,
        [
            "run",
            "--encoder",
            "wav2clip",
            "--task",
            "esc10",
            "--protocol",
            "zeroshot",
            "--quiet",
            "--opt",
            f"teacher_pretrained={tmp_path / 'no-clip.pt'}",
            "--no-leaderboard",
        ],
    )
    assert res.exit_code == 0, res.output
    rec = json.loads(next((tmp_path / "results" / "demo").glob("*/esc10.zeroshot-v1.json")).read_text())
    assert rec["status"] == "n/a" and "not found" in rec["reason"]


def test_demo_model_is_refused_on_real_data(demo: Path, tmp_path: Path) -> None:
    weights = release_like_file(tmp_path / "run" / "best.pt")
    (weights.parent / "model.json").write_text(json.dumps({"format": "bench-wav2clip-run", "demo": True}))
    real = tmp_path / "data" / "ESC-50-master"
    shutil.copytree(demo / "ESC-50-master", real)
    (real / MARKER).unlink()  # now it is "real" data
    res = runner.invoke(
        app,
        [
            "run",
            "--encoder",
            "wav2clip",
            "--task",
            "esc50",
            "--weights",
            str(weights),
            "--data-root",
            str(tmp_path / "data"),
            "--quiet",
            "--opt",
            "teacher=none",
        ],
    )
    assert res.exit_code == 1 and "refusing to score real data" in res.output and "wav2clip[demo]" in res.output


def test_demo_run_end_to_end_lands_wav2clip_rows_with_zero_shot(demo: Path, tmp_path: Path) -> None:
    # a quick distillation on the demo set into the default folder ($BENCH_HOME/models/wav2clip-demo) ...
    res = runner.invoke(
        app,
        [*TINY_TRAIN, "--epochs", "1", "--quiet"],
    )
    assert res.exit_code == 0, res.output
    # ... which `bench run` with no --weights finds and reuses (the full `--task all` is a documented manual check)
    res = runner.invoke(
        app, ["run", "--encoder", "wav2clip", "--task", "esc50,vggsound", "--quiet", "--popt", "max_epochs=5"]
    )
    assert res.exit_code == 0, res.output
    assert "distilling a demo model" not in res.output
    board = (tmp_path / "leaderboard.md").read_text()
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
        for line in board.splitlines()
        if line.startswith("| wav2clip")
    }
    assert set(rows) == {"wav2clip[demo]", "wav2clip[demo] (ZS)"}
    for label in rows:  # ESC-50 and VGGSound cells hold numbers, for the probe and for zero-shot
        assert rows[label][0][0].isdigit() and rows[label][3][0].isdigit(), rows
    rec = json.loads((tmp_path / "results" / "demo" / "wav2clip_demo_" / "esc50.zeroshot-v1.json").read_text())
    assert rec["encoder"]["demo_only"] and rec["encoder"]["options"]["teacher"]["model"] == "bench-tiny-clip"
    assert rec["protocol"]["params"]["templates"] == ["this is a sound of {label}."]


def test_help_of_the_new_commands() -> None:
    for args in (
        ["train", "--help"],
        ["train", "wav2clip", "--help"],
        ["weights", "--help"],
        ["weights", "fetch", "--help"],
        ["weights", "list", "--help"],
    ):
        res = runner.invoke(app, args)
        assert res.exit_code == 0 and "Usage" in res.output, args
