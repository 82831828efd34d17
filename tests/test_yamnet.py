"""YAMNet through tensorflow-hub: an in-repo SavedModel with the published signature, loaded by hub.load."""

from __future__ import annotations

import csv
import hashlib
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.encoder import availability, get_encoder

SR = 16000


def expected_patches(n_samples: int) -> tuple[int, int]:
    """(patches, log-mel frames) by YAMNet's published rule, worked out independently.

    The waveform is zero-padded to at least 0.975 s (15 600 samples: one 0.96 s patch plus
    the 25 ms STFT window minus one 10 ms hop), then to a whole number of 0.48 s hops;
    the STFT (400-sample window, 160 hop, no padding) gives the log-mel frames, and patches
    are 96 frames every 48.
    """
    padded = 15600 if n_samples <= 15600 else 15600 + math.ceil((n_samples - 15600) / 7680) * 7680
    frames = 1 + (padded - 400) // 160
    return 1 + (frames - 96) // 48, frames


def test_savedmodel_signature_frames_and_timestamps(yamnet_savedmodel: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.frameworks import import_tensorflow_hub

    hub = import_tensorflow_hub()
    import tensorflow as tf

    loaded: list[str] = []
    real_load = hub.load
    monkeypatch.setattr(hub, "load", lambda handle, *a, **k: (loaded.append(handle), real_load(handle, *a, **k))[1])
    enc = get_encoder("yamnet", weights=str(yamnet_savedmodel))
    model = enc.model()
    assert loaded == [str(yamnet_savedmodel)]  # the path real weights take
    assert enc.label() == "yamnet[random-weights]" and enc.weights_id().startswith("savedmodel:")
    with open(model.class_map_path().numpy().decode()) as fh:
        assert len(list(csv.DictReader(fh))) == 521
    rng = np.random.default_rng(0)
    for seconds, n_patches in ((0.5, 1), (5.0, 10), (10.0, 20)):
        wave = (rng.standard_normal(int(seconds * SR)) * 0.1).astype(np.float32)
        scores, emb, log_mel = model(tf.constant(wave))
        assert expected_patches(len(wave)) == (n_patches, log_mel.shape[0])
        assert scores.shape == (n_patches, 521) and emb.shape == (n_patches, 1024) and log_mel.shape[1] == 64
        assert float(tf.reduce_min(scores)) >= 0 and float(tf.reduce_max(scores)) <= 1
        emb = emb.numpy()
        np.testing.assert_allclose(enc.embed([wave])[0], emb.mean(axis=0), rtol=1e-5, atol=1e-6)
        # 1 s frames: the mean of the patches whose centre (start k·0.48 s + 0.48 s) lies in [j, j+1)
        fe = enc.embed_frames([wave], window_s=1.0)
        n_windows = max(1, math.ceil(seconds))
        np.testing.assert_array_equal(fe.starts_s[0], np.arange(n_windows, dtype=float))
        centres = 0.48 * np.arange(n_patches) + 0.48
        for j in range(n_windows):
            inside = (centres >= j) & (centres < j + 1)
            np.testing.assert_allclose(fe.frames[0][j], emb[inside].mean(axis=0), rtol=1e-5, atol=1e-6)


def test_cached_official_handle_is_used_offline(
    yamnet_savedmodel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = "https://tfhub.dev/google/yamnet/1"
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hub"))
    assert get_encoder("yamnet").label() == "yamnet[random-weights]"
    ok, why = availability("yamnet")
    assert not ok and "random weights" in why and "--weights" in why
    cached = tmp_path / "hub" / hashlib.sha1(handle.encode()).hexdigest()
    shutil.copytree(yamnet_savedmodel, cached)
    (cached / "BENCH_RANDOM_WEIGHTS.json").unlink()  # pretend these are the real weights
    enc = get_encoder("yamnet")
    assert enc.handle == handle and enc.label() == "yamnet" and enc.refusal("real") is None
    assert availability("yamnet")[0]
    assert enc.embed([np.zeros(8000, np.float32)]).shape == (1, 1024)  # hub.load(URL) reads the cache
    assert enc.weights_id().startswith(f"hub:{handle}:")


def test_random_stand_in_refuses_real_data_and_errors_name_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "empty"))
    enc = get_encoder("yamnet")
    assert enc.refusal("demo") is None
    msg = enc.refusal("real") or ""
    assert "refusing random weights on real data" in msg and "--weights https://tfhub.dev/google/yamnet/1" in msg
    assert get_encoder("yamnet", weights="random").refusal("real") is None
    with pytest.raises(FileNotFoundError, match="neither a SavedModel directory nor a TF-Hub URL"):
        get_encoder("yamnet", weights=str(tmp_path / "nowhere"))
    monkeypatch.setattr("encoders.yamnet.module_available", lambda name: name != "tensorflow_hub")
    ok, why = availability("yamnet")
    assert not ok and "tensorflow_hub" in why and "pip install" in why


def test_missing_tensorflow_hub_gives_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from bench.frameworks import import_tensorflow, import_tensorflow_hub

    import_tensorflow()
    monkeypatch.setitem(sys.modules, "tensorflow_hub", None)
    with pytest.raises(ImportError, match="pip install --no-deps tensorflow-hub"):
        import_tensorflow_hub()
