"""OpenL3 in torch: official-layout .h5 weights through the user path, hop, image side, mel vs librosa."""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import librosa
import numpy as np
import pytest
import torch

from bench.encoder import NotSupportedError, capabilities, get_encoder
from encoders.openl3.h5 import OpenL3WeightsError
from encoders.openl3.model import MelFrontend

WIDTHS = (64, 128, 256, 512)


def keras_layers(image: bool) -> list[tuple[str, str, tuple[int, ...]]]:
    """(layer name, kind, shape) in the published models' topological order, Keras-2 auto names."""
    cin = 3 if image else 1
    layers: list[tuple[str, str, tuple[int, ...]]] = [("input_1", "none", ()), ("batch_normalization_1", "bn", (cin,))]
    conv, bn, act, pool = 0, 1, 0, 0
    for block, width in enumerate(WIDTHS):
        for j in range(2):
            conv += 1
            last = block == 3 and j == 1
            name = ("vision_embedding_layer" if image else "audio_embedding_layer") if last else f"conv2d_{conv}"
            layers.append((name, "conv", (3, 3, cin, width)))
            cin = width
            if last:
                break
            bn += 1
            act += 1
            if image and block == 0 and j == 1:  # image block 1: ReLU before BN
                layers += [(f"activation_{act}", "none", ()), (f"batch_normalization_{bn}", "bn", (width,))]
            else:
                layers += [(f"batch_normalization_{bn}", "bn", (width,)), (f"activation_{act}", "none", ())]
        if block < 3:
            pool += 1
            layers.append((f"max_pooling2d_{pool}", "none", ()))
    return layers


def write_keras_h5(path: Path, image: bool, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """A Keras-2 ``save_weights`` HDF5 file with random weights; returns what was written."""
    rng = np.random.default_rng(seed)
    written: dict[str, dict[str, np.ndarray]] = {}
    with h5py.File(path, "w") as fh:
        layers = keras_layers(image)
        fh.attrs["layer_names"] = np.array([n.encode() for n, _, _ in layers])
        fh.attrs["backend"] = b"tensorflow"
        fh.attrs["keras_version"] = b"2.2.4"
        for name, kind, shape in layers:
            g = fh.create_group(name)
            arrays: dict[str, np.ndarray] = {}
            if kind == "conv":
                fan_in = shape[0] * shape[1] * shape[2]
                arrays = {
                    "kernel": (rng.standard_normal(shape) * np.sqrt(2 / fan_in)).astype(np.float32),
                    "bias": (rng.standard_normal(shape[-1]) * 0.01).astype(np.float32),
                }
            elif kind == "bn":
                n = shape[0]
                arrays = {
                    "gamma": rng.uniform(0.8, 1.2, n).astype(np.float32),
                    "beta": rng.normal(0, 0.1, n).astype(np.float32),
                    "moving_mean": rng.normal(0, 0.1, n).astype(np.float32),
                    "moving_variance": rng.uniform(0.5, 2.0, n).astype(np.float32),
                }
            g.attrs["weight_names"] = np.array([f"{name}/{k}:0".encode() for k in arrays])
            for k, v in arrays.items():
                g.create_dataset(f"{name}/{k}:0", data=v)
            written[name] = arrays
    return written


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    d = tmp_path_factory.mktemp("openl3-weights")
    audio = write_keras_h5(d / "openl3_audio_mel256_env.h5", image=False, seed=1)
    image = write_keras_h5(d / "openl3_image_mel256_env.h5", image=True, seed=2)
    return d, audio, image


def openl3_window_count(seconds: float, hop: float = 0.1) -> int:
    """openl3's ``_get_num_windows``: centre padding adds half a 1 s window in front."""
    length = seconds + 0.5
    return 1 if length <= 1 else 1 + math.ceil(round((length - 1) / hop, 6))


def test_h5_weights_load_through_the_user_path(weights_dir: tuple[Path, dict, dict]) -> None:
    d, audio, _ = weights_dir
    enc = get_encoder("openl3", weights=str(d))
    assert enc.label() == "openl3" and enc.weights_id().startswith("h5:") and enc.refusal("real") is None
    assert {"audio", "frames", "image"} <= capabilities(enc)
    net = enc.audio_model().net
    # the first conv computed the Keras way (channels-last cross-correlation) equals torch's
    x = torch.randn(1, 1, 12, 10)
    with torch.no_grad():
        ours = net.convs[0](x)[0, :, 1:-1, 1:-1].numpy()
    k, b = audio["conv2d_1"]["kernel"], audio["conv2d_1"]["bias"]
    xn = x[0, 0].numpy()
    ref = np.zeros((64, 10, 8), np.float32)
    for i in range(10):
        for j in range(8):
            ref[:, i, j] = np.einsum("hw,hwo->o", xn[i : i + 3, j : j + 3], k[:, :, 0, :]) + b
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)
    bn = net.bns[-1]
    np.testing.assert_array_equal(bn.running_var.numpy(), audio["batch_normalization_8"]["moving_variance"])
    emb_layer = net.convs[-1].weight.detach().numpy()
    np.testing.assert_array_equal(emb_layer, audio["audio_embedding_layer"]["kernel"].transpose(3, 2, 0, 1))


def test_shapes_hop_and_timestamps(weights_dir: tuple[Path, dict, dict]) -> None:
    d, _, _ = weights_dir
    enc = get_encoder("openl3", weights=str(d))
    rng = np.random.default_rng(0)
    one = (rng.standard_normal(48000) * 0.1).astype(np.float32)
    ((emb, ts),) = enc.native_frames([one])  # the real network on 6 windows
    assert emb.shape == (openl3_window_count(1.0), 512) and np.isfinite(emb).all()
    np.testing.assert_allclose(ts, np.arange(6) * 0.1)
    clip = enc.embed([one])
    np.testing.assert_allclose(clip[0], emb.mean(axis=0), rtol=1e-5, atol=1e-6)
    # window counts for longer clips: count what reaches the network (a cheap stand-in forward)
    seen: list[int] = []
    model = enc.audio_model()
    model.forward = lambda w: (seen.append(len(w)), torch.zeros(len(w), 512))[1]  # type: ignore[method-assign]
    for seconds in (1.0, 5.0, 10.0):
        seen.clear()
        ((emb, ts),) = enc.native_frames([np.zeros(int(seconds * 48000), np.float32)])
        assert sum(seen) == len(emb) == openl3_window_count(seconds)
        np.testing.assert_allclose(np.diff(ts), 0.1)
    assert [openl3_window_count(s) for s in (1.0, 5.0, 10.0)] == [6, 46, 96]
    fe = enc.embed_frames([np.zeros(5 * 48000, np.float32)], window_s=1.0)
    assert fe.frames[0].shape == (5, 512) and list(fe.starts_s[0]) == [0, 1, 2, 3, 4]


def test_image_subnetwork(weights_dir: tuple[Path, dict, dict]) -> None:
    d, _, image = weights_dir
    enc = get_encoder("openl3", weights=str(d / "openl3_audio_mel256_env.h5"))
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (2, 64, 48, 3), dtype=np.uint8)  # video frames smaller than 224 px
    exact = rng.integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    out = enc.embed_images(np.concatenate([exact, exact]))
    assert out.shape == (2, 512) and np.allclose(out[0], out[1])
    assert enc.embed_images(small).shape == (2, 512)
    net = enc.image_model().net
    np.testing.assert_array_equal(
        net.convs[-1].weight.detach().numpy(), image["vision_embedding_layer"]["kernel"].transpose(3, 2, 0, 1)
    )
    np.testing.assert_array_equal(net.input_bn.weight.detach().numpy(), image["batch_normalization_1"]["gamma"])


def test_missing_image_file_and_bad_files(tmp_path: Path, weights_dir: tuple[Path, dict, dict]) -> None:
    d, _, _ = weights_dir
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "openl3_audio_mel256_env.h5").write_bytes((d / "openl3_audio_mel256_env.h5").read_bytes())
    enc = get_encoder("openl3", weights=str(alone))
    with pytest.raises(NotSupportedError, match=r"openl3_image_mel256_env\.h5"):
        enc.embed_images(np.zeros((1, 224, 224, 3), np.uint8))
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "openl3_audio_mel256_env.h5").write_bytes((d / "openl3_image_mel256_env.h5").read_bytes())
    with pytest.raises(OpenL3WeightsError, match="vision_embedding_layer"):
        get_encoder("openl3", weights=str(wrong)).audio_model()
    with pytest.raises(FileNotFoundError, match=r"openl3_audio_mel256_music\.h5"):
        get_encoder("openl3", weights=str(d), content_type="music")


def test_mel_frontend_matches_librosa() -> None:
    rng = np.random.default_rng(3)
    t = np.arange(48000) / 48000
    waves = [
        (0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(48000)).astype(np.float32),
        (0.05 * rng.standard_normal(48000)).astype(np.float32),
    ]
    ours = MelFrontend()(torch.from_numpy(np.stack(waves)))[:, 0].numpy()
    for w, o in zip(waves, ours, strict=True):
        mel = librosa.feature.melspectrogram(
            y=w.astype(np.float64),
            sr=48000,
            n_fft=2048,
            hop_length=242,
            n_mels=256,
            center=True,
            pad_mode="constant",
            power=1.0,
        )
        ref = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=80.0)
        ref -= ref.max()
        assert o.shape == ref.shape == (256, 199)
        np.testing.assert_allclose(o, ref, atol=0.02)


def test_random_stand_in_is_labelled_and_refused_on_real_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("encoders.openl3.default_weight_dirs", lambda: [])
    enc = get_encoder("openl3")
    assert enc.label() == "openl3[hop0.5,random-weights]" and enc.refusal("demo") is None
    assert "refusing random weights on real data" in (enc.refusal("real") or "")
    explicit = get_encoder("openl3", weights="random")
    assert explicit.label() == "openl3[random-weights]" and explicit.refusal("real") is None and explicit.hop_s == 0.1
    ok, why = type(enc).availability()
    assert not ok and "random weights" in why and "--weights" in why
