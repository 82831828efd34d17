"""The supervised-from-scratch baseline: its own protocol, the probe's splits, per-fold resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fixtures import write_esc50
from sklearn.metrics import accuracy_score

from bench.audio import ClipPolicy
from bench.encoder import NotSupportedError, get_encoder
from bench.protocols import ProtocolContext, cell_protocol, get_protocol
from bench.splits import make_splits
from bench.task import Dataset, TaskSpec, get_task

TARGETS = {0: "dog", 1: "rooster"}
OPTS = {"max_epochs": 2, "patience": 1, "batch_size": 8, "crop_s": 0.25}  # one step per epoch here
ROOT = Path(__file__).parent


def tiny_task(root: Path) -> tuple[TaskSpec, Dataset]:
    """ESC-50 layout, 2 classes × 2 clips × folds 1–3, 0.5 s clips: a few training steps per run."""
    if not (root / "meta" / "esc50.csv").exists():
        write_esc50(root, TARGETS, per_fold=2, sr=8000, seconds=1.0)
        meta = root / "meta" / "esc50.csv"
        lines = meta.read_text().splitlines()
        meta.write_text("\n".join([lines[0], *(ln for ln in lines[1:] if ln.split(",")[1] in "123")]) + "\n")
    task = replace(get_task("esc50"), clip_policy=ClipPolicy(duration_s=0.5))
    return task, task.loader(root)


def run_protocol(task: TaskSpec, ds: Dataset):  # type: ignore[no-untyped-def]
    enc = get_encoder("supervised", **OPTS)
    proto = cell_protocol(enc, get_protocol("probe"))
    assert proto is not None
    return proto.run(ProtocolContext(task, ds, None, enc, seed=0, show_progress=False))


def test_trains_on_the_probe_splits_and_scores_each_fold(tmp_path: Path) -> None:
    task, ds = tiny_task(tmp_path / "ESC-50-master")
    enc = get_encoder("supervised", **OPTS)
    assert cell_protocol(enc, get_protocol("zeroshot")) is None
    with pytest.raises(NotSupportedError):
        enc.embed([np.zeros(16000, np.float32)])
    out = run_protocol(task, ds)
    splits = make_splits(task, ds, seed=0)
    assert [f.fold for f in out.folds] == [s.name for s in splits]
    by_id = {c.id: c for c in ds.clips}
    scores = out.scores["scores"]
    fold_of = np.array(out.predictions["fold"])
    for f, s in zip(out.folds, splits, strict=True):
        assert (f.n_train, f.n_val, f.n_test) == (len(s.train), len(s.val), len(s.test))
        rows = np.flatnonzero(fold_of == s.name)
        ids = [out.predictions["ids"][i] for i in rows]
        assert set(ids) == {c.id for c in s.test}
        y = [by_id[i].target for i in ids]
        assert f.metrics["accuracy"] == pytest.approx(accuracy_score(y, scores[rows].argmax(1)))
        assert 1 <= f.info["epochs_run"] <= 2 and not f.info["resumed"]
    np.testing.assert_allclose(scores.sum(axis=1), 1, atol=1e-5)
    assert out.params["train"]["max_epochs"] == 2 and out.params["train"]["preset"] == "full"  # real data
    ckdir = next((Path(os.environ["BENCH_HOME"]) / "supervised" / "esc50").iterdir())
    assert sorted(p.name for p in ckdir.glob("*.json")) == [f"{s.name}.json" for s in splits]
    assert not list(ckdir.glob("*.ckpt.pt"))


RUN_SCRIPT = """
import json, os, signal, sys
sys.path[:0] = [{root!r}, {tests!r}]
from pathlib import Path
import numpy as np
import encoders.supervised.protocol as sp
from test_supervised import run_protocol, tiny_task
saves, fits = [], []
original = sp.save_checkpoint
def save_then_die(state, path):
    original(state, path)
    saves.append(path.name)
    if len(saves) == 3:  # fold 1 finished (2 epochs), fold 2 has one epoch on disk
        os.kill(os.getpid(), signal.SIGKILL)
if {kill!r}:
    sp.save_checkpoint = save_then_die
original_fit = sp.FoldTrainer.fit
def counted_fit(self, split, ckpt):
    fits.append(split.name)
    return original_fit(self, split, ckpt)
sp.FoldTrainer.fit = counted_fit
out = run_protocol(*tiny_task(Path({data!r})))
np.save({out!r} + ".npy", out.scores["scores"])
Path({out!r} + ".json").write_text(json.dumps({{"fits": fits, "metrics": [f.metrics for f in out.folds],
                                                "resumed": [f.info["resumed"] for f in out.folds]}}))
"""


def run_in_subprocess(tmp_path: Path, home: Path, name: str, kill: bool = False) -> tuple[dict, np.ndarray]:  # type: ignore[type-arg]
    """The protocol in a fresh process with one environment: runs compared for equality never mix
    the pytest process's thread count with a subprocess's (CPU kernels reduce by thread count)."""
    out = str(tmp_path / name)
    script = RUN_SCRIPT.format(
        root=str(ROOT.parent), tests=str(ROOT), data=str(tmp_path / "ESC-50-master"), kill=kill, out=out
    )
    env = {**os.environ, "BENCH_HOME": str(home), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], env=env, capture_output=True, text=True, timeout=600
    )
    if kill:
        assert proc.returncode == -9, proc.stderr[-2000:]
        return {}, np.zeros(0)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(Path(out + ".json").read_text()), np.load(out + ".npy")


def test_a_killed_run_resumes_the_unfinished_fold(tmp_path: Path) -> None:
    tiny_task(tmp_path / "ESC-50-master")
    reference, reference_scores = run_in_subprocess(tmp_path, tmp_path / "reference-home", "reference")
    assert reference["fits"] == ["fold1", "fold2", "fold3"]
    home = tmp_path / "killed-home"
    run_in_subprocess(tmp_path, home, "killed", kill=True)
    ckdir = next((home / "supervised" / "esc50").iterdir())
    assert (ckdir / "fold1.json").is_file() and (ckdir / "fold2.ckpt.pt").is_file()
    resumed, resumed_scores = run_in_subprocess(tmp_path, home, "resumed")
    assert resumed["fits"] == ["fold2", "fold3"]  # fold 1 was not trained again
    assert resumed["resumed"] == [False, True, False]
    assert resumed["metrics"] == reference["metrics"]
    np.testing.assert_allclose(resumed_scores, reference_scores, atol=1e-5)


def test_training_crops_are_windows_of_the_whole_clip_standardised_spectrogram() -> None:
    """A crop keeps the whole clip's standardisation (the statistics seen at test time), not its own."""
    import torch

    from encoders.supervised.protocol import HOP, SAMPLE_RATE, crop_frames, spectrogram_crops
    from encoders.wav2clip.model import ResNet18Audio

    assert crop_frames(2.0) == 1 + 2 * SAMPLE_RATE // HOP == 91  # torch.stft(center=True) frame count
    rng = np.random.default_rng(0)
    waves = torch.from_numpy(rng.standard_normal((3, 4 * SAMPLE_RATE)).astype(np.float32))
    waves[1, : 2 * SAMPLE_RATE] *= 0.01  # a quiet half: its crops standardise very differently on their own
    spec = ResNet18Audio().log_spectrogram(waves)
    crops = spectrogram_crops(spec, 91, torch.Generator().manual_seed(0))
    assert crops.shape == (3, 1, 257, 91)
    for i in range(3):
        starts = [s for s in range(spec.shape[-1] - 90) if torch.equal(spec[i, :, :, s : s + 91], crops[i])]
        assert starts, f"crop {i} is not a window of its clip's spectrogram"
        alone = ResNet18Audio().log_spectrogram(waves[i : i + 1, starts[0] * HOP : starts[0] * HOP + 2 * SAMPLE_RATE])
        assert not torch.allclose(alone[0, :, :, :91], crops[i], atol=1e-3)  # cropping the audio would differ
    short = spec[:, :, :, :50]
    assert torch.equal(spectrogram_crops(short, 91, torch.Generator()), short)  # shorter than the crop: whole
