"""Wav2CLIP: the released key layout end to end, the front end vs NumPy/SciPy, normalisation scope."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import torch

from bench.encoder import get_encoder
from encoders.wav2clip.checkpoint import CheckpointError, official_state_dict
from encoders.wav2clip.model import Wav2CLIPAudio

SR = 16000


def documented_keys() -> set[str]:
    """The Wav2CLIP.pt key table of the reference notes, written out by hand."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = {"audio_encoder.spectrogram.window", "audio_encoder.conv1.weight"}
    keys |= {f"audio_encoder.bn1.{p}" for p in bn}
    for layer in range(1, 5):
        for block in (0, 1):
            pre = f"audio_encoder.layer{layer}.{block}"
            keys |= {f"{pre}.conv1.weight", f"{pre}.conv2.weight"}
            keys |= {f"{pre}.{b}.{p}" for b in ("bn1", "bn2") for p in bn}
        if layer > 1:
            keys.add(f"audio_encoder.layer{layer}.0.downsample.0.weight")
            keys |= {f"audio_encoder.layer{layer}.0.downsample.1.{p}" for p in bn}
    keys |= {f"audio_transform.sequential.{i}.{p}" for i in (0, 3) for p in ("weight", "bias")}
    return keys


def waves(n: int, seconds: float, seed: int = 0, gains: tuple[float, ...] = (0.02, 0.3, 1.0)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    out = []
    for i in range(n):
        tone = np.sin(2 * np.pi * (300 + 150 * i) * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
        out.append((gains[i % len(gains)] * (0.6 * tone + 0.4 * rng.standard_normal(len(t)))).astype(np.float32))
    return out


@pytest.fixture(scope="module")
def reference_model() -> Wav2CLIPAudio:
    torch.manual_seed(7)
    model = Wav2CLIPAudio()
    with torch.no_grad():  # non-trivial BN statistics, as a trained file has
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def save_release_like(model: Wav2CLIPAudio, path: Path, extra: bool = True) -> Path:
    state = official_state_dict(model)
    if extra:  # training-only keys the release may carry; the reference loader ignores them
        state["image_transform.sequential.0.weight"] = torch.zeros(512, 512)
        state["loss_fn_a.logit_scale"] = torch.tensor(2.6)
    torch.save(state, path)
    return path


def test_official_layout_saves_loads_and_gives_identical_outputs(
    reference_model: Wav2CLIPAudio, tmp_path: Path
) -> None:
    assert set(official_state_dict(reference_model)) == documented_keys()
    path = save_release_like(reference_model, tmp_path / "Wav2CLIP.pt")
    enc = get_encoder("wav2clip", weights=str(path), teacher="none")  # the user path: --weights PATH
    clips = waves(3, 2.0)
    got = enc.embed(clips)
    with torch.no_grad():
        want = np.stack([reference_model(torch.from_numpy(w)[None])[0].numpy() for w in clips])
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    assert got.shape == (3, 512) and not np.allclose(np.linalg.norm(got, axis=1), 1.0)  # not L2-normalised


def test_loader_refuses_other_layouts(reference_model: Wav2CLIPAudio, tmp_path: Path) -> None:
    state = official_state_dict(reference_model)
    cases = {
        "missing": {k: v for k, v in state.items() if k != "audio_encoder.spectrogram.window"},
        "fc": {**state, "audio_encoder.fc.weight": torch.zeros(309, 512)},
        "stranger": {**state, "visual.proj": torch.zeros(3)},
        "wrapped": {"state_dict": state},
        "shape": {**state, "audio_transform.sequential.0.weight": torch.zeros(256, 512)},
    }
    messages = {
        "missing": "missing",
        "fc": "audio_encoder.fc.weight",
        "stranger": "visual.proj",
        "wrapped": "wrapper",
        "shape": "shape",
    }
    for name, bad in cases.items():
        path = tmp_path / f"{name}.pt"
        torch.save(bad, path)
        with pytest.raises(CheckpointError, match=messages[name]):
            get_encoder("wav2clip", weights=str(path), teacher="none")
    with pytest.raises(FileNotFoundError, match="not found"):
        get_encoder("wav2clip", weights=str(tmp_path / "absent.pt"), teacher="none")


def numpy_log_spectrogram(wave: np.ndarray) -> np.ndarray:
    """The front end written with NumPy/SciPy: reflect-padded frames, periodic Hann, |rfft|²."""
    n_fft, hop = 512, 353
    x = np.pad(wave.astype(np.float64), n_fft // 2, mode="reflect")
    n_frames = 1 + (len(x) - n_fft) // hop
    frames = np.stack([x[i * hop : i * hop + n_fft] for i in range(n_frames)], axis=1)
    window = scipy.signal.get_window("hann", n_fft)  # periodic by default
    return np.abs(np.fft.rfft(frames * window[:, None], axis=0)) ** 2


def test_front_end_matches_numpy_scipy(reference_model: Wav2CLIPAudio) -> None:
    wave = waves(1, 1.7, seed=3)[0]
    power = numpy_log_spectrogram(wave)
    assert power.shape == (257, 1 + len(wave) // 353)
    ours = reference_model.audio_encoder.spectrogram(torch.from_numpy(wave)[None])[0].double().numpy()
    np.testing.assert_allclose(ours, power, rtol=1e-4, atol=1e-4 * power.max())
    logspec = np.log(power + 1e-7)
    standard = (logspec - logspec.mean()) / (logspec.std(ddof=1) + 1e-9)
    front = reference_model.audio_encoder.log_spectrogram(torch.from_numpy(wave)[None])[0, 0].double().numpy()
    np.testing.assert_allclose(front, standard, atol=1e-4, rtol=0)


def test_per_clip_standardisation_ignores_batch_mates(reference_model: Wav2CLIPAudio, tmp_path: Path) -> None:
    path = save_release_like(reference_model, tmp_path / "w.pt", extra=False)
    clips = waves(5, 1.5, seed=1, gains=(0.01, 1.0, 0.1, 0.5, 0.003))
    one = get_encoder("wav2clip", weights=str(path), teacher="none", batch_size=1)
    many = get_encoder("wav2clip", weights=str(path), teacher="none", batch_size=8)
    alone = one.embed(clips)
    together = many.embed(clips)
    np.testing.assert_allclose(together, alone, atol=1e-5, rtol=0)
    np.testing.assert_allclose(many.embed([clips[0], clips[4]])[0], alone[0], atol=1e-5, rtol=0)


def test_silent_clip_in_a_batch_is_the_network_on_a_zero_spectrogram(
    reference_model: Wav2CLIPAudio, tmp_path: Path
) -> None:
    """Issue 13: batched with other clips, an all-zero clip came out ~1e3-1e4 in magnitude."""
    path = save_release_like(reference_model, tmp_path / "w.pt", extra=False)
    enc = get_encoder("wav2clip", weights=str(path), teacher="none")
    silent = np.zeros(2 * SR, dtype=np.float32)
    batched = enc.embed([*waves(3, 2.0, seed=4), silent, *waves(2, 2.0, seed=5)])[3]
    alone = enc.embed([silent])[0]
    # independent value: a constant log-spectrogram standardises to zeros (x - mean = 0 exactly)
    frames = 1 + len(silent) // 353
    with torch.no_grad():
        zeros = torch.zeros(1, 1, 257, frames)
        want = reference_model.audio_transform(reference_model.audio_encoder.features(zeros))[0].numpy()
    np.testing.assert_allclose(alone, want, atol=1e-5, rtol=0)
    np.testing.assert_allclose(batched, want, atol=1e-5, rtol=0)


def test_reference_mode_reproduces_batch_dependence(reference_model: Wav2CLIPAudio, tmp_path: Path) -> None:
    path = save_release_like(reference_model, tmp_path / "w.pt", extra=False)
    quiet, loud = waves(2, 1.5, seed=2, gains=(0.01, 1.0))
    ref = get_encoder("wav2clip", weights=str(path), teacher="none", norm="batch")
    per_clip = get_encoder("wav2clip", weights=str(path), teacher="none")
    alone = ref.embed([quiet])[0]
    mixed = ref.embed([quiet, loud])[0]
    np.testing.assert_allclose(alone, per_clip.embed([quiet])[0], atol=1e-5)  # a batch of one: the same thing
    assert np.abs(mixed - alone).max() > 1e-2  # the batch mate moved the embedding
    # independent check: one mean/std over both clips' NumPy log-spectrograms, then the network
    logs = np.stack([np.log(numpy_log_spectrogram(w) + 1e-7) for w in (quiet, loud)])
    standard = (logs - logs.mean()) / (logs.std(ddof=1) + 1e-9)
    with torch.no_grad():
        spec = torch.from_numpy(standard).float()[:, None]
        want = reference_model.audio_transform(reference_model.audio_encoder.features(spec))[0].numpy()
    np.testing.assert_allclose(mixed, want, atol=1e-4, rtol=0)


def test_frame_embeddings_one_second_windows_with_timestamps(reference_model: Wav2CLIPAudio, tmp_path: Path) -> None:
    path = save_release_like(reference_model, tmp_path / "w.pt", extra=False)
    enc = get_encoder("wav2clip", weights=str(path), teacher="none")
    a, b = waves(2, 2.5, seed=4)
    fe = enc.embed_frames([a, b[:8000]], window_s=1.0)
    assert [f.shape for f in fe.frames] == [(3, 512), (1, 512)]
    np.testing.assert_array_equal(fe.starts_s[0], [0.0, 1.0, 2.0])
    last = np.zeros(SR, np.float32)
    last[: len(a) - 2 * SR] = a[2 * SR :]
    np.testing.assert_allclose(fe.frames[0], enc.embed([a[:SR], a[SR : 2 * SR], last]), atol=1e-5)


def test_fingerprint_label_and_options(reference_model: Wav2CLIPAudio, tmp_path: Path) -> None:
    p1 = save_release_like(reference_model, tmp_path / "a.pt", extra=False)
    p2 = save_release_like(reference_model, tmp_path / "b.pt", extra=True)  # other bytes, same network
    e1 = get_encoder("wav2clip", weights=str(p1), teacher="none")
    e2 = get_encoder("wav2clip", weights=str(p2), teacher="none")
    e3 = get_encoder("wav2clip", weights=str(p1), teacher="none", norm="batch")
    assert len({e1.fingerprint(), e2.fingerprint(), e3.fingerprint()}) == 3
    assert e1.weights_id() != e2.weights_id() and len(e1.weights_id()) == 64
    assert e1.label().startswith("wav2clip@") and e3.label().endswith("[batch-norm]")
    rnd = get_encoder("wav2clip", weights="random", teacher="none", seed=3)
    assert rnd.label() == "wav2clip[random]" and rnd.weights_id() == "random-seed3" and not rnd.demo_only
    with pytest.raises(ValueError, match="norm"):
        get_encoder("wav2clip", weights="random", norm="global")
