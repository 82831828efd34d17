"""The classification demo suite: real layouts, and every Table 2 classification + (ZS) column filled."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import CountingEncoder
from typer.testing import CliRunner

from bench.cli import app
from bench.demo import ensure_demo
from bench.demo.tau import SCENES as TAU_SCENES
from bench.encoder import ENCODERS
from bench.task import get_task
from bench.video import read_frames

SUITE = "esc50,urbansound8k,fsd50k,vggsound,tau"


class HashTextEncoder(CountingEncoder):
    """Spectral audio features plus a text side: each prompt maps to a fixed pseudo-random vector."""

    name = "hashtext"

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        seeds = [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) for t in texts]
        return np.stack([np.random.default_rng(s).normal(size=self.embedding_dim) for s in seeds]).astype(np.float32)


def test_fsd50k_and_tau_demos_are_in_the_real_layouts(tmp_path: Path) -> None:
    fsd = ensure_demo("fsd50k", tmp_path, scale=0.15)
    gt = fsd / "FSD50K.ground_truth"
    assert re.fullmatch(
        r"0,Accelerating_and_revving_and_vroom,/m/07q2z82", gt.joinpath("vocabulary.csv").read_text().splitlines()[0]
    )
    dev = gt.joinpath("dev.csv").read_text().splitlines()
    assert dev[0] == "fname,labels,mids,split" and {line.rsplit(",", 1)[1] for line in dev[1:]} == {"train", "val"}
    assert any(line.count('"') == 4 for line in dev[1:])  # quoted label and mid lists
    assert gt.joinpath("eval.csv").read_text().splitlines()[0] == "fname,labels,mids"
    ds = get_task("fsd50k").loader(fsd)
    infos = [sf.info(str(c.path)) for c in ds.clips]
    assert {(i.samplerate, i.channels, i.subtype) for i in infos} == {(44100, 1, "PCM_16")}
    assert min(i.duration for i in infos) < 1.0 < max(i.duration for i in infos)
    assert max(len(c.targets) for c in ds.clips) >= 5 and len(ds.classes) == 25  # mixtures with smeared ancestors

    tau = ensure_demo("tau", tmp_path, scale=0.25)
    assert tau.name == "TAU-urban-audio-visual-scenes-2021-development"
    header = (tau / "evaluation_setup" / "fold1_train.csv").read_text().splitlines()[0]
    assert header == "filename_audio\tfilename_video\tscene_label"
    assert (tau / "meta.csv").read_text().splitlines()[0].split("\t")[-1] == "identifier"
    ds = get_task("tau").loader(tau)
    assert len(ds.classes) == 10 and not ds.missing and not ds.info["shared_locations"]
    info = sf.info(str(ds.clips[0].path))
    assert (info.samplerate, info.channels, info.subtype) == (48000, 2, "PCM_24")
    video = tau / ds.clips[0].id.replace("audio/", "video/").replace(".wav", ".mp4")
    assert read_frames(video, fps=5.0).shape[1:] == (32, 32, 3)


@pytest.fixture()
def hashtext() -> Iterator[None]:
    with ENCODERS.registered(HashTextEncoder.name, HashTextEncoder, origin="tests"):
        yield


@pytest.mark.slow
@pytest.mark.usefixtures("hashtext")
def test_run_fills_every_classification_and_zero_shot_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_DEMO_SCALE", "0.2")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "run",
            "--encoder",
            "logmel,hashtext",
            "--task",
            SUITE,
            "--quiet",
            "--popt",
            "max_epochs=12",
            "--popt",
            "patience=4",
        ],
    )
    assert res.exit_code == 0, res.output
    board = (tmp_path / "leaderboard.md").read_text()
    row = next(line for line in board.splitlines() if line.startswith("| logmel |"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:6]
    assert all(re.fullmatch(r"\d\.\d{4} ± \d\.\d{4}", c) for c in cells), row  # ESC-50 … TAU, all filled
    assert "| logmel (ZS) | n/a | n/a | n/a | n/a | n/a |" in board
    zs = next(line for line in board.splitlines() if line.startswith("| hashtext (ZS) |"))
    assert all(re.fullmatch(r"\d\.\d{4}( ± \d\.\d{4})?", c.strip()) for c in zs.strip("|").split("|")[1:6]), zs
    vgg = json.loads((tmp_path / "results" / "demo" / "logmel" / "vggsound.probe-mlp-v1.json").read_text())
    assert vgg["data"]["n_missing"] > 0 and len(vgg["missing_files"]) == vgg["data"]["n_missing"]
    assert {"mAP", "accuracy"} <= set(vgg["summary"]) and len(vgg["folds"]) == 3
    tau = json.loads((tmp_path / "results" / "demo" / "logmel" / "tau.probe-mlp-v1.json").read_text())
    assert {"accuracy", "log_loss", "balanced_accuracy"} <= set(tau["summary"]) and tau["primary_metric"] == "accuracy"
    res = runner.invoke(
        app, ["report", "confusion", "--task", "tau", "--encoder", "logmel", "--diff", "hashtext", "--out", "fig3.png"]
    )
    assert res.exit_code == 0, res.output
    diff = (tmp_path / "fig3.csv").read_text().splitlines()
    assert diff[0].split(",")[1:] == sorted(TAU_SCENES) == tau["task"]["classes"]  # class names on both axes
    rows = np.array([[float(v) for v in line.split(",")[1:]] for line in diff[1:]])
    assert np.allclose(rows.sum(axis=1), 0.0, atol=1e-3)  # difference of two row-normalised matrices
    assert (tmp_path / "fig3.png").read_bytes()[:4] == b"\x89PNG"
