"""The HEAR bridge both ways: HEAR modules as bench encoders, bench encoders as HEAR modules."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import CountingEncoder
from scipy.signal import resample_poly
from typer.testing import CliRunner

from bench.cli import app
from bench.encoder import get_encoder
from bench.hear_export import timestamp_centres

runner = CliRunner()


def validate(module: str, weights: str = "") -> None:
    """hearvalidator's own checks, run in this process (TensorFlow loaded the safe way first)."""
    from bench.frameworks import import_tensorflow

    import_tensorflow()
    from hearvalidator.validate import ValidateModel

    ValidateModel(module, weights, "cpu")()


def test_hearbaseline_naive_runs_on_demo_esc50(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_DEMO_SCALE", "0.25")
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(
        app,
        [
            "run",
            "--encoder",
            "hear:hearbaseline.naive",
            "--task",
            "esc50",
            "--quiet",
            "--protocol",
            "probe",
            "--popt",
            "max_epochs=5",
        ],
    )
    assert res.exit_code == 0, res.output
    rec = json.loads((tmp_path / "results/demo/hear_hearbaseline.naive/esc50.probe-mlp-v1.json").read_text())
    assert rec["encoder"]["options"]["shims"] == ["librosa-positional-mel"]  # 2021 code on librosa 0.11
    assert rec["encoder"]["embedding_dim"] == 4096 and rec["encoder"]["sample_rate"] == 44100
    assert len(rec["folds"]) == 5 and 0 <= rec["summary"]["accuracy"]["mean"] <= 1
    assert "| hear:hearbaseline.naive |" in (tmp_path / "leaderboard.md").read_text()


def test_hear_module_frames_and_batching_match_the_module() -> None:
    import hearbaseline.naive as naive

    enc = get_encoder("hear:hearbaseline.naive")
    rng = np.random.default_rng(0)
    waves = [(rng.standard_normal(n) * 0.1).astype(np.float32) for n in (44100, 44100 * 2, 44100)]
    emb = enc.embed(waves)
    direct = naive.get_scene_embeddings(torch.from_numpy(np.stack([waves[0], waves[2]])), enc.model).numpy()
    np.testing.assert_allclose(emb[[0, 2]], direct, rtol=1e-5)
    ts_emb, ts = naive.get_timestamp_embeddings(torch.from_numpy(waves[1][None]), enc.model)
    fe = enc.embed_frames([waves[1]], window_s=1.0)
    centres = ts[0].numpy() / 1000
    for j in range(2):
        inside = (centres >= j) & (centres < j + 1)
        np.testing.assert_allclose(fe.frames[0][j], ts_emb[0].numpy()[inside].mean(axis=0), rtol=1e-5)
    with pytest.raises(ImportError, match="pip install --no-deps"):
        get_encoder("hear:no_such_hear_package.model")


def test_logmel_as_hear_module_passes_hearvalidator() -> None:
    validate("bench.hear_modules.logmel")
    mod = importlib.import_module("bench.hear_modules.logmel")
    model = mod.load_model()
    audio = torch.from_numpy(np.random.default_rng(1).uniform(-1, 1, (2, 16000 * 2)).astype(np.float32))
    scene = mod.get_scene_embeddings(audio, model)
    ref = get_encoder("logmel").embed(list(audio.numpy()))
    np.testing.assert_allclose(scene.numpy(), ref, rtol=1e-5)
    emb, ts = mod.get_timestamp_embeddings(audio, model)
    assert emb.shape == (2, 41, 128) and torch.allclose(ts[0], torch.arange(41) * 50.0)
    # the timestamp at 1000 ms is the clip embedding of the window [0.5 s, 1.5 s)
    np.testing.assert_allclose(
        emb[1, 20].numpy(), get_encoder("logmel").embed([audio[1, 8000:24000].numpy()])[0], rtol=1e-5
    )


@pytest.mark.usefixtures("with_test_encoders")
def test_registered_test_encoder_as_hear_module_resampled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "bench.hear_modules.counting", raising=False)  # dropped again afterwards
    validate("bench.hear_modules.counting")  # found through the registry, no file
    mod = importlib.import_module("bench.hear_modules.counting")
    model = mod.load_model()
    assert model.sample_rate == 16000 and CountingEncoder.sample_rate == 8000  # HEAR has no 8 kHz
    noise = np.random.default_rng(2).uniform(-0.5, 0.5, 16000)
    ours = mod.get_scene_embeddings(torch.from_numpy(noise.astype(np.float32)[None]), model).numpy()
    # an independent resampler (scipy polyphase) gives the same log band energies below Nyquist
    expected = CountingEncoder().embed([resample_poly(noise, 1, 2).astype(np.float32)])
    np.testing.assert_allclose(ours[0, :-2], expected[0, :-2], atol=0.05)


def test_wav2clip_as_hear_module_passes_hearvalidator() -> None:
    # explicit random weights: with none, load_model would distil the demo model first (minutes),
    # and demo-trained weights are refused as a HEAR module (HEAR tools score real data)
    validate("bench.hear_modules.wav2clip", "random")


def test_export_refuses_random_stand_ins_and_end_to_end(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="refusing random weights"):
        importlib.import_module("bench.hear_modules.yamnet").load_model()
    with pytest.raises(TypeError, match="trains end to end"):
        importlib.import_module("bench.hear_modules.supervised").load_model()
    assert list(timestamp_centres(32000, 16000, 0.05)[[0, -1]]) == [0.0, 2.0]
