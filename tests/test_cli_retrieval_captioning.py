"""``bench run`` on the DESED, VGGSound (CMR) and Clotho demo sets: records, n/a cells, Table 2/3."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import CountingEncoder, leaderboard_cell, result_file
from typer.testing import CliRunner

from bench import paths
from bench.cli import app
from bench.demo import ensure_demo
from bench.encoder import ENCODERS, capabilities
from bench.task import get_task

runner = CliRunner()
TINY = ["--popt", "cap_d_model=32", "--popt", "cap_dim_ff=64", "--popt", "cap_nhead=2", "--popt", "cap_max_epochs=4"]


class MultiModalEncoder(CountingEncoder):
    """Audio, text and image sides in one 16-d space (image: colour statistics, text: character codes)."""

    name = "mmtest"

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        x = images.astype(np.float32) / 255.0
        stats = np.concatenate([x.mean(axis=(1, 2)), x.std(axis=(1, 2))], axis=1)
        return np.concatenate([stats, np.zeros((len(x), 10), np.float32)], axis=1)

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([[ord(ch) % 7 for ch in (t + " " * 16)[:16]] for t in texts], dtype=np.float32)


@pytest.fixture()
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("BENCH_DEMO_SCALE", "0.25")
    monkeypatch.chdir(tmp_path)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ENCODERS.registered("mmtest", MultiModalEncoder, origin="tests"):
            yield tmp_path
    finally:
        torch.set_num_threads(previous)


def test_demo_layouts_are_read_by_the_real_loaders(tmp_path: Path) -> None:
    desed = get_task("desed").loader(ensure_demo("desed", tmp_path, scale=0.25))
    assert len(desed.clips) == 12 and desed.info["clips_without_events"] >= 1
    assert any(len(c.extra["events"]) >= 2 for c in desed.clips)
    overlapping = [
        c
        for c in desed.clips
        if any(a[1] > b[0] for a, b in zip(c.extra["events"], c.extra["events"][1:], strict=False))
    ]
    assert overlapping, "the demo should have overlapping events"
    clotho = get_task("clotho").loader(ensure_demo("clotho", tmp_path, scale=0.25))
    assert {c.split for c in clotho.clips} == {"development", "validation", "evaluation"}
    assert all(len(c.extra["captions"]) == 5 for c in clotho.clips)
    assert clotho.clips[0].extra["file_name"].startswith(" ") and any("," in c.extra["file_name"] for c in clotho.clips)
    assert "café" in clotho.clips[1].extra["keywords"]


def test_run_retrieval_and_captioning_on_the_demo(demo: Path) -> None:
    res = runner.invoke(app, ["run", "--encoder", "logmel", "--task", "desed,vggsound_cmr,clotho", "--quiet", *TINY])
    assert res.exit_code == 0, res.output
    ar = json.loads(result_file(demo / "results", "demo", "logmel", "desed.desed-ar-v1.json").read_text())
    assert ar["status"] == "ok" and len(ar["folds"]) == 5 and ar["protocol"]["short"] == "audio-retrieval"
    assert 0.0 <= ar["summary"]["f1"]["mean"] <= 1.0
    assert all(np.isfinite(f["info"]["threshold"]) for f in ar["folds"])
    clips = get_task("desed").loader(paths.demo_dir() / "DESED").clips
    assert sorted(ar["predictions"]["ids"]) == sorted(c.id for c in clips)  # every clip scored once, empty ones too
    cmr = json.loads(result_file(demo / "results", "demo", "logmel", "vggsound_cmr.cmr-mrr-v1.json").read_text())
    assert cmr["status"] == "n/a" and "image" in cmr["reason"]
    cap = json.loads(result_file(demo / "results", "demo", "logmel", "clotho.captioning-tfdec-v1.json").read_text())
    assert set(cap["protocol"]["decodings"]) == {"greedy", "beam-4"}
    assert "spice" in cap["protocol"]["unavailable"] or "spice" in cap["summary"]
    assert len(cap["predictions"]["greedy"]) == cap["folds"][0]["n_test"] > 0

    res = runner.invoke(app, ["run", "--encoder", "mmtest", "--task", "vggsound_cmr", "--quiet"])
    assert res.exit_code == 0, res.output
    assert capabilities(MultiModalEncoder()) >= {"image", "text"}
    rec = json.loads(result_file(demo / "results", "demo", "mmtest", "vggsound_cmr.cmr-mrr-v1.json").read_text())
    assert rec["status"] == "ok"
    n = rec["folds"][0]["n_test"]
    assert n == len(rec["predictions"]["ids"]) >= 10
    for key in ("mrr_a2i", "mrr_i2a"):
        assert 1.0 / n <= rec["summary"][key]["mean"] <= 1.0
    assert max(rec["predictions"]["rank_a2i"]) <= n

    board = (demo / "leaderboard.md").read_text()
    row = next(line for line in board.splitlines() if line.startswith("| logmel |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[6] not in ("—", "n/a") and cells[7:9] == ["n/a", "n/a"]  # DESED filled, CMR n/a
    mm = next(line for line in board.splitlines() if line.startswith("| mmtest |"))
    mm_a2i = leaderboard_cell([c.strip() for c in mm.strip("|").split("|")][7])
    assert mm_a2i["mean"] == f"{rec['summary']['mrr_a2i']['mean']:.4f}"
    greedy = next(line for line in board.splitlines() if line.startswith("| logmel (greedy) |"))
    assert "| logmel (beam-4) |" in board
    if "spice" in cap["protocol"]["unavailable"]:
        assert greedy.rstrip().endswith("| unavailable | unavailable |")
