"""YAMNet's architecture as a TF-Hub-style SavedModel with deterministic random weights.

Written from YAMNet's published description (tensorflow/models ``research/audioset/yamnet``:
``params.py``, the README and the model card), not from its source:

* waveform: 1-D float32 at 16 kHz in [-1, 1]; zero-padded to at least 0.975 s, then up to a
  whole number of 0.48 s hops after the first patch;
* log-mel: |STFT| with a 25 ms periodic Hann window (400 samples), 10 ms hop (160), 512-point
  FFT, no padding; 64 mel bands (HTK scale, 125–7500 Hz, ``tf.signal``'s matrix);
  ``log(mel + 0.001)`` → ``log_mel`` [M, 64];
* patches of 96 frames × 64 bands every 48 frames (0.96 s every 0.48 s);
* MobileNet-v1 body: one 3×3 conv (stride 2, 32 filters) and 13 depthwise-separable blocks
  (64, 128/2, 128, 256/2, 256, 512/2, 512×5, 1024/2, 1024); every conv is followed by batch
  norm (center, no scale, epsilon 1e-4) and ReLU; global average pooling → ``embeddings``
  [N, 1024]; a 521-way dense layer with sigmoid → ``scores`` [N, 521].

The saved object is called like the published ``yamnet/1``: ``model(waveform)`` returns the
tuple ``(scores, embeddings, log_mel)``, and ``model.class_map_path()`` names a CSV asset.
Saved with ``tf.saved_model.save`` and read back with ``hub.load`` — the path real weights
take — so tests and the demo exercise the production loading code.
"""

from __future__ import annotations

import csv
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from bench.frameworks import import_tensorflow

SAMPLE_RATE = 16000
STFT_WIN = 400
STFT_HOP = 160
FFT = 512
MEL_BANDS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.001
PATCH_FRAMES = 96
PATCH_HOP_FRAMES = 48
MIN_SAMPLES = int(round((0.96 + 0.025 - 0.010) * SAMPLE_RATE))  # 15600: enough for one patch
PATCH_HOP_SAMPLES = int(round(0.48 * SAMPLE_RATE))  # 7680
N_CLASSES = 521
BN_EPS = 1e-4
# (kind, stride, filters): the published layer table
LAYERS: tuple[tuple[str, int, int], ...] = (
    ("conv", 2, 32),
    ("sep", 1, 64),
    ("sep", 2, 128),
    ("sep", 1, 128),
    ("sep", 2, 256),
    ("sep", 1, 256),
    ("sep", 2, 512),
    ("sep", 1, 512),
    ("sep", 1, 512),
    ("sep", 1, 512),
    ("sep", 1, 512),
    ("sep", 1, 512),
    ("sep", 2, 1024),
    ("sep", 1, 1024),
)
FORMAT_VERSION = "1"
RANDOM_MARKER = "BENCH_RANDOM_WEIGHTS.json"  # marks a SavedModel as random weights (labelled so)


def _random_variables(seed: int) -> dict[str, np.ndarray]:
    """He-normal kernels, zero BN offsets, unit moving variance; deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    cin = 1

    def he(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

    def bn(prefix: str, n: int) -> None:
        out[f"{prefix}/bn/beta"] = np.zeros(n, np.float32)
        out[f"{prefix}/bn/moving_mean"] = np.zeros(n, np.float32)
        out[f"{prefix}/bn/moving_variance"] = np.ones(n, np.float32)

    for i, (kind, _stride, filters) in enumerate(LAYERS, start=1):
        if kind == "conv":
            out[f"layer{i}/conv"] = he((3, 3, cin, filters), 9 * cin)
            bn(f"layer{i}/conv", filters)
        else:
            out[f"layer{i}/depthwise_conv"] = he((3, 3, cin, 1), 9)
            bn(f"layer{i}/depthwise_conv", cin)
            out[f"layer{i}/pointwise_conv"] = he((1, 1, cin, filters), cin)
            bn(f"layer{i}/pointwise_conv", filters)
        cin = filters
    out["logits/kernel"] = (rng.standard_normal((cin, N_CLASSES)) * np.sqrt(1.0 / cin)).astype(np.float32)
    out["logits/bias"] = np.zeros(N_CLASSES, np.float32)
    return out


def build_module(seed: int = 0) -> Any:
    """A ``tf.Module`` with YAMNet's signature and random weights."""
    tf = import_tensorflow()

    class YAMNet(tf.Module):  # type: ignore[name-defined]
        def __init__(self, variables: dict[str, np.ndarray], class_map: str) -> None:
            super().__init__(name="yamnet")
            self.vars = {k: tf.Variable(v, trainable=False, name=k.replace("/", "_")) for k, v in variables.items()}
            self._class_map = tf.saved_model.Asset(class_map)
            self.mel_matrix = tf.constant(
                tf.signal.linear_to_mel_weight_matrix(MEL_BANDS, FFT // 2 + 1, SAMPLE_RATE, MEL_MIN_HZ, MEL_MAX_HZ)
            )

        def _bn_relu(self, x: Any, prefix: str) -> Any:
            v = self.vars
            x = (x - v[f"{prefix}/bn/moving_mean"]) * tf.math.rsqrt(v[f"{prefix}/bn/moving_variance"] + BN_EPS)
            return tf.nn.relu(x + v[f"{prefix}/bn/beta"])

        @tf.function(input_signature=[])
        def class_map_path(self) -> Any:
            return self._class_map.asset_path

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, waveform: Any) -> Any:
            n = tf.shape(waveform)[0]
            after_first = tf.maximum(0, n - MIN_SAMPLES)
            hops = (after_first + PATCH_HOP_SAMPLES - 1) // PATCH_HOP_SAMPLES
            pad = MIN_SAMPLES + hops * PATCH_HOP_SAMPLES - n
            padded = tf.pad(waveform, [[0, pad]])
            stft = tf.signal.stft(
                padded,
                frame_length=STFT_WIN,
                frame_step=STFT_HOP,
                fft_length=FFT,
                window_fn=tf.signal.hann_window,
                pad_end=False,
            )
            mel = tf.matmul(tf.abs(stft), self.mel_matrix)
            log_mel = tf.math.log(mel + LOG_OFFSET)
            patches = tf.signal.frame(log_mel, PATCH_FRAMES, PATCH_HOP_FRAMES, axis=0)
            x = tf.expand_dims(patches, -1)
            v = self.vars
            for i, (kind, stride, _filters) in enumerate(LAYERS, start=1):
                if kind == "conv":
                    x = tf.nn.conv2d(x, v[f"layer{i}/conv"], strides=stride, padding="SAME")
                    x = self._bn_relu(x, f"layer{i}/conv")
                else:
                    x = tf.nn.depthwise_conv2d(
                        x, v[f"layer{i}/depthwise_conv"], strides=[1, stride, stride, 1], padding="SAME"
                    )
                    x = self._bn_relu(x, f"layer{i}/depthwise_conv")
                    x = tf.nn.conv2d(x, v[f"layer{i}/pointwise_conv"], strides=1, padding="SAME")
                    x = self._bn_relu(x, f"layer{i}/pointwise_conv")
            embeddings = tf.reduce_mean(x, axis=[1, 2])
            scores = tf.sigmoid(tf.matmul(embeddings, v["logits/kernel"]) + v["logits/bias"])
            return scores, embeddings, log_mel

    return YAMNet, _random_variables(seed)


def save_random_yamnet(directory: Path, seed: int = 0) -> Path:
    """Write the random-weights SavedModel to ``directory`` (atomically) and return it."""
    tf = import_tensorflow()
    directory = Path(directory)
    tmp = directory.with_name(f".{directory.name}.{uuid.uuid4().hex}.partial")
    tmp.mkdir(parents=True)
    class_map = tmp / "yamnet_class_map.csv"
    with class_map.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["index", "mid", "display_name"])
        writer.writerows([i, f"/random/{i:03d}", f"random class {i}"] for i in range(N_CLASSES))
    cls, variables = build_module(seed)
    module = cls(variables, str(class_map))
    tf.saved_model.save(module, str(tmp / "model"))
    (tmp / "model" / RANDOM_MARKER).write_text(
        json.dumps({"model": "yamnet", "seed": seed, "format": FORMAT_VERSION, "random_weights": True})
    )
    if directory.exists():
        shutil.rmtree(directory)
    (tmp / "model").rename(directory)
    shutil.rmtree(tmp, ignore_errors=True)
    return directory


def ensure_random_yamnet(models_dir: Path, seed: int = 0) -> Path:
    """The cached random-weights SavedModel under ``models_dir``, built on first use."""
    target = Path(models_dir) / f"yamnet-random-seed{seed}-v{FORMAT_VERSION}"
    if (target / "saved_model.pb").is_file() and (target / RANDOM_MARKER).is_file():
        return target
    return save_random_yamnet(target, seed)
