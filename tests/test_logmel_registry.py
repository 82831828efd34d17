"""The logmel baseline against librosa; the registry's refusals and hints."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from bench.encoder import ENCODERS, capabilities, get_encoder
from bench.registry import Registry, RegistryError
from bench.task import TASKS, get_task, resolve_task_names
from encoders.logmel import LogMelEncoder, mel_filterbank


def test_filterbank_matches_librosa() -> None:
    ours = mel_filterbank(16000, 512, 64, 50.0, 8000.0)
    ref = librosa.filters.mel(sr=16000, n_fft=512, n_mels=64, fmin=50.0, fmax=8000.0)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-7)


def test_log_mel_statistics_match_librosa() -> None:
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal(16000).astype(np.float32) * 0.1, np.sin(np.arange(24000) / 3.0).astype(np.float32)]
    enc = get_encoder("logmel")
    emb = enc.embed(waves)
    for w, e in zip(waves, emb, strict=True):
        mel = librosa.feature.melspectrogram(
            y=w,
            sr=16000,
            n_fft=512,
            hop_length=160,
            win_length=400,
            window="hann",
            center=True,
            pad_mode="constant",
            power=2.0,
            n_mels=64,
            fmin=50,
            fmax=8000,
        )
        db = 10 * np.log10(np.maximum(mel, 1e-10))
        np.testing.assert_allclose(e[:64], db.mean(axis=1), rtol=1e-4, atol=2e-3)
        np.testing.assert_allclose(e[64:], db.std(axis=1), rtol=1e-4, atol=2e-3)


def test_logmel_batch_invariance_and_frames() -> None:
    enc = LogMelEncoder()
    rng = np.random.default_rng(1)
    waves = [rng.standard_normal(8000).astype(np.float32) * g for g in (0.01, 0.1, 1.0)]
    together = enc.embed(waves)
    alone = np.stack([enc.embed([w])[0] for w in waves])
    np.testing.assert_allclose(together, alone, atol=1e-4)
    fe = enc.embed_frames([np.zeros(40000, np.float32) + 0.01], window_s=1.0)
    assert fe.frames[0].shape == (3, 128) and list(fe.starts_s[0]) == [0.0, 1.0, 2.0]
    assert capabilities(enc) == {"audio", "frames"}


def test_registry_did_you_mean_and_duplicates() -> None:
    with pytest.raises(RegistryError, match="Did you mean 'logmel'"):
        get_encoder("logmell")
    with pytest.raises(RegistryError, match="already registered"):
        ENCODERS.register("logmel", "somewhere.else:Encoder", origin="test")
    with pytest.raises(RegistryError, match="does not take option"):
        get_encoder("logmel", weights="x.pt")
    with pytest.raises(RegistryError, match="Did you mean 'esc50'"):
        resolve_task_names("esc5")
    assert resolve_task_names("all")[:2] == ["esc50", "urbansound8k"]
    assert "esc10" in TASKS and "esc10" not in resolve_task_names("all")
    assert get_task("esc50").primary_metric == "accuracy"


def test_registry_is_lazy_and_reads_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    class FakeEP:
        name = "outside"
        value = "encoders.logmel:LogMelEncoder"
        dist = None

    monkeypatch.setattr("bench.registry.entry_points", lambda group: [FakeEP()] if group == "bench.encoders" else [])
    reg: Registry[object] = Registry("encoder", entry_point_group="bench.encoders")
    reg.register("lazy", "module_that_does_not_exist:X")  # registering does not import
    assert reg.names() == ["lazy", "outside"]
    assert reg.get("outside") is LogMelEncoder
    with pytest.raises(RegistryError, match="cannot import"):
        reg.get("lazy")
    # the installed project declares its built-ins as real entry points too
    names = {ep.name for ep in metadata.entry_points(group="bench.encoders")}
    assert "logmel" in names
