"""Distillation: the loss against a hand computation, windows, a real kill + exact resume, torchrun/gloo."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import TORCHRUN_2
from typer.testing import CliRunner
from wav2clip_demo import SCALE, TINY_TRAIN, small_demo

from bench.cli import app
from bench.encoder import get_encoder
from encoders.wav2clip.checkpoint import read_state_dict
from encoders.wav2clip.targets import WindowRule
from encoders.wav2clip.train import CLIPLoss1D, DistillationModel, preset, split_train_val

REPO = Path(__file__).resolve().parents[1]
TINY_ARGS = [*TINY_TRAIN, "--epochs", "2", "--save-every", "1", "--quiet"]


@pytest.fixture()
def demo_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("BENCH_DEMO", str(small_demo(tmp_path_factory, "vggsound")))
    monkeypatch.setenv("BENCH_DEMO_SCALE", str(SCALE))
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def test_clip_loss_matches_a_hand_computation() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 8)), rng.standard_normal((5, 8))
    loss = CLIPLoss1D()
    assert math.isclose(loss.logit_scale.detach().exp().item(), 1 / 0.07, rel_tol=1e-6)
    got = loss(torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)).detach().item()
    an, bn = a / np.linalg.norm(a, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1, keepdims=True)
    logits = an @ bn.T / 0.07

    def ce(z: np.ndarray) -> float:
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(-(np.diag(z) - np.log(np.exp(z).sum(axis=1)))))

    assert math.isclose(got, (ce(logits) + ce(logits.T)) / 2, rel_tol=1e-5)
    cx = DistillationModel(loss="cx")
    assert {"image_transform.sequential.0.weight", "loss_fn_a.logit_scale", "loss_fn_i.logit_scale"} <= set(
        cx.state_dict()
    )
    assert cx.loss_fn_a.logit_scale is not cx.loss_fn_i.logit_scale  # separate temperatures


def _loss_and_grads(model: DistillationModel, audio: torch.Tensor, image: torch.Tensor) -> list[torch.Tensor]:
    model.zero_grad(set_to_none=True)
    loss = model(audio, image)
    loss.backward()
    return [loss.detach(), *(p.grad.clone() for p in model.parameters() if p.grad is not None)]


def test_fp32_is_the_paper_loss_and_bf16_autocasts_the_encoder() -> None:
    """fp32: exactly the cross-projection loss composed by hand from the submodules (values and
    gradients), i.e. what the trainer computed before --precision; bf16 (issue 16): close to it,
    not equal (autocast is on), gradients in fp32; channels-last changes nothing in fp32 beyond
    kernel rounding."""
    torch.manual_seed(0)
    model = DistillationModel(loss="cx").eval()  # no dropout draws, frozen batch-norm statistics
    audio, image = torch.randn(4, 16000), torch.randn(4, 512)
    fp32 = _loss_and_grads(model, audio, image)
    a = model.audio_encoder(audio)
    by_hand = 0.5 * (
        model.loss_fn_a(a, model.image_transform(image)) + model.loss_fn_i(model.audio_transform(a), image)
    )
    assert torch.equal(fp32[0], by_hand.detach())
    model.zero_grad(set_to_none=True)
    by_hand.backward()
    assert all(
        torch.equal(g, p.grad)
        for g, p in zip(fp32[1:], (p for p in model.parameters() if p.grad is not None), strict=True)
    )

    model.precision = "bf16"
    bf16 = _loss_and_grads(model, audio, image)
    assert bf16[0].dtype == torch.float32 and all(g.dtype == torch.float32 for g in bf16[1:])
    assert not torch.equal(bf16[0], fp32[0]) and abs(float(bf16[0] - fp32[0])) < 0.05 * float(fp32[0])

    model.precision = "fp32"
    model.to(memory_format=torch.channels_last)
    assert torch.allclose(_loss_and_grads(model, audio, image)[0], fp32[0], rtol=1e-5)


def test_precision_and_layout_enter_the_run_identity_only_when_not_default() -> None:
    paper = preset("paper")
    assert "precision" not in paper.identity() and "channels_last" not in paper.identity()
    demo = preset("demo")
    assert (demo.precision, demo.channels_last, demo.max_epochs) == ("auto", True, 5)
    bf16, fp32 = preset("demo", precision="bf16").identity(), preset("demo", precision="fp32").identity()
    assert bf16["precision"] == "bf16" and "precision" not in fp32 and bf16 != fp32


def test_windows_and_validation_carving() -> None:
    rule = WindowRule(window_s=5.0, clip_s=10.0, fps=30.0, seed=0)
    starts = [rule.start(f"clip{i}") for i in range(200)]
    assert all(0 <= s <= 5.0 for s in starts) and len(set(starts)) > 100
    assert all(abs(s * 30 - round(s * 30)) < 1e-9 for s in starts)  # on the video frame grid
    assert starts == [WindowRule(5.0, 10.0, 30.0, 0).start(f"clip{i}") for i in range(200)]
    assert WindowRule(5.0, 5.0).start("x") == 0.0  # the demo's 5-s clips: the whole clip
    ids = [f"id{i:03d}" for i in range(40)]
    train, val = split_train_val(ids, 0.1, 500, seed=1)
    assert len(val) == 4 and not set(train) & set(val) and sorted(train + val) == ids
    assert split_train_val(ids, 0.5, 3, seed=1)[1].__len__() == 3
    assert (train, val) == split_train_val(ids, 0.1, 500, seed=1)


def read_state(path: Path) -> dict[str, object]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError):
        return {}


def bench_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``bench`` in a fresh process with ``env``: every run compared for bit-identity goes this way.

    Mixing a run in the pytest process with one in a subprocess compares different thread
    counts (and CPU kernels reduce in a thread-dependent order), so none is made in-process.
    """
    return subprocess.run(
        [sys.executable, "-m", "bench.cli", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )


def test_killed_run_resumes_mid_epoch_to_the_same_weights(tmp_path: Path, demo_env: dict[str, str]) -> None:
    runner = CliRunner()
    full = tmp_path / "full"
    res_full = bench_cli([*TINY_ARGS, "--out", str(full)], demo_env)
    assert res_full.returncode == 0, res_full.stderr[-3000:]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.cli", *TINY_ARGS, "--out", str(killed)],
        cwd=REPO,
        env=demo_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        st = read_state(killed / "state.json")
        if st.get("epoch") == 0 and int(st.get("step", 0)) >= 1:  # type: ignore[call-overload]
            os.kill(proc.pid, signal.SIGKILL)  # a real kill: no cleanup
            break
        time.sleep(0.02)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode() if proc.stderr else ""
    assert not (killed / "last.pt").exists()  # it died inside the first epoch
    assert read_state(killed / "state.json")["numerics"]["torch_threads"] == 1  # type: ignore[index]
    resumed = bench_cli([*TINY_ARGS, "--out", str(killed)], demo_env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed" in resumed.stderr and "at epoch 0 step" in resumed.stderr
    assert "bit-identical" not in resumed.stderr  # same numerics: no warning
    a, b = read_state_dict(full / "last.pt"), read_state_dict(killed / "last.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    log_a = [json.loads(x) for x in (full / "log.jsonl").read_text().splitlines()]
    log_b = [json.loads(x) for x in (killed / "log.jsonl").read_text().splitlines()]
    per_epoch = (
        json.loads((full / "model.json").read_text())["data"]["n_train"] // 4
    )  # batch 4, last partial batch dropped
    assert [r["global_step"] for r in log_b if r["kind"] == "step"] == list(range(1, 2 * per_epoch + 1))
    assert [r.get("val_loss") for r in log_a] == [r.get("val_loss") for r in log_b]
    meta = json.loads((killed / "model.json").read_text())
    assert meta["status"] == "finished" and meta["demo"] and meta["sha256"]["last.pt"]
    more = [*TINY_ARGS]  # a run that ended at --epochs (not by early stopping) is extended by a larger --epochs
    more[more.index("--epochs") + 1] = "3"
    res = runner.invoke(app, [*more, "--out", str(killed)])
    assert res.exit_code == 0 and "resumed" in res.output, res.output
    assert json.loads((killed / "model.json").read_text())["epochs"] == 3
    log_c = [json.loads(x) for x in (killed / "log.jsonl").read_text().splitlines()]
    assert [r["global_step"] for r in log_c if r["kind"] == "step"] == list(range(1, 3 * per_epoch + 1))
    stray = tmp_path / "elsewhere" / "copy.pt"  # a copy without its model.json is still known as demo-trained
    stray.parent.mkdir()
    stray.write_bytes((killed / "last.pt").read_bytes())
    assert get_encoder("wav2clip", weights=str(stray), teacher="none").demo_only
    # a different setting in the same folder is refused, not silently mixed
    res = runner.invoke(app, [*TINY_ARGS[:-1], "--lr", "0.01", "--quiet", "--out", str(killed)])
    assert res.exit_code == 1 and "other settings" in res.output


def test_torchrun_two_processes_gloo_and_the_checkpoint_loads(tmp_path: Path, demo_env: dict[str, str]) -> None:
    data = tmp_path / "VGGSound"  # a copy with one corrupt video: reported and skipped, not fatal
    shutil.copytree(Path(demo_env["BENCH_DEMO"]) / "VGGSound", data)
    victim = sorted((data / "video").glob("*.mp4"))[0]
    victim.write_bytes(victim.read_bytes()[:300])
    out = tmp_path / "ddp"
    cmd = [
        *TORCHRUN_2,
        "-m",
        "bench.cli",
        *TINY_ARGS,
        "--epochs",
        "1",
        "--clip-s",
        "5",
        "--data-root",
        str(data),
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=demo_env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 process(es) on cpu" in proc.stderr and "without a usable video skipped" in proc.stderr
    assert json.loads((out / "model.json").read_text())["data"]["n_skipped"] >= 1
    enc = get_encoder("wav2clip", weights=str(out / "best.pt"))
    assert enc.demo_only and enc.label() == "wav2clip[demo]"
    assert enc.teacher is not None and enc.teacher.spec.model == "bench-tiny-clip"
    emb = enc.embed([np.sin(np.arange(16000) / 5.0).astype(np.float32)])
    assert emb.shape == (1, 512) and np.isfinite(emb).all()
    steps = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    per_epoch = json.loads((out / "model.json").read_text())["data"]["n_train"] // 4  # global batch 4 over 2 ranks
    assert [r["global_step"] for r in steps if r["kind"] == "step"] == list(range(1, per_epoch + 1))


def test_audio_crops_follow_the_target_windows_lazy_or_preloaded(tmp_path: Path) -> None:
    import soundfile as sf

    from bench.task import Clip
    from encoders.wav2clip.data import AudioWindows

    sr = 16000
    ramp = (np.arange(10 * sr) / (10 * sr)).astype(np.float32)  # the value tells the time
    clips = []
    for i in range(3):
        path = tmp_path / f"c{i}.wav"
        sf.write(path, ramp, sr, subtype="FLOAT")
        clips.append(Clip(id=f"clip{i}", path=path))
    (tmp_path / "bad.wav").write_bytes(b"RIFF....WAVEjunk")
    clips.append(Clip(id="bad", path=tmp_path / "bad.wav"))
    rule = WindowRule(window_s=2.0, clip_s=10.0, fps=30.0, seed=5)
    pre = AudioWindows(clips, rule, show_progress=False)
    lazy = AudioWindows(clips, rule, memory_budget_gb=0.0, show_progress=False)
    assert pre.preloaded and not lazy.preloaded and list(pre.failed) == ["bad"]
    got, kept = lazy.get([0, 3, 1], prefetch_next=[2])
    assert kept == [0, 1] and "bad" in lazy.failed
    for row, i in zip(got, kept, strict=True):
        start = int(round(rule.start(clips[i].id) * sr))
        np.testing.assert_array_equal(row, ramp[start : start + 2 * sr])
        np.testing.assert_array_equal(row, pre.get([i])[0][0])
    assert rule.window(clips[0]) == (rule.start("clip0"), 2.0)  # the video frames come from the same window
    lazy.close()


def test_resume_with_another_thread_count_says_the_weights_will_differ(
    tmp_path: Path, demo_env: dict[str, str]
) -> None:
    out = tmp_path / "run"
    first = bench_cli([*TINY_ARGS, "--max-steps", "1", "--out", str(out)], {**demo_env, "OMP_NUM_THREADS": "1"})
    assert first.returncode == 0, first.stderr[-3000:]
    state = read_state(out / "state.json")
    assert state["numerics"]["torch_threads"] == 1 and state["numerics"]["device"] == "cpu"  # type: ignore[index]
    second = bench_cli([*TINY_ARGS, "--max-steps", "2", "--out", str(out)], {**demo_env, "OMP_NUM_THREADS": "2"})
    assert second.returncode == 0, second.stderr[-3000:]
    assert (
        "resuming with 2 threads; the interrupted run used 1: the weights will not be bit-identical to an "
        "uninterrupted run"
    ) in " ".join(second.stderr.split())
    assert read_state(out / "state.json")["numerics"]["torch_threads"] == 2  # type: ignore[index]
    assert "numerics_changed_on_resume" in json.loads((out / "model.json").read_text())
