"""``yamnet``: Google's YAMNet (AudioSet, MobileNet-v1) through tensorflow-hub.

Weights (``--weights``):

* a TF-Hub handle, e.g. ``https://tfhub.dev/google/yamnet/1`` (downloaded once by
  tensorflow_hub into ``$TFHUB_CACHE_DIR``; it needs internet the first time);
* a local SavedModel directory (``hub.load`` on a directory never touches the network);
* ``random``: YAMNet's architecture with deterministic random weights, built in-repo
  (:mod:`encoders.yamnet.savedmodel`) and loaded through the same ``hub.load`` call;
* nothing: the official handle if it is already in the TF-Hub cache, else the random
  stand-in, which runs on the demo suite only (rows labelled ``yamnet[random-weights]``);
  real data then fails with the commands that fetch real weights.

The published model takes one 1-D waveform (16 kHz mono float in [-1, 1]) per call, so
clips are embedded one by one. It returns ``(scores [N, 521], embeddings [N, 1024],
log_mel [M, 64])`` with N = 1 + ceil(max(0, T − 0.975 s) / 0.48 s) patches of 0.96 s every
0.48 s. Clip embedding = mean of the N patch embeddings (the paper). Patch k is centred at
k·0.48 + 0.48 s; bench's 1 s frames are means of the patches centred in each window
(:mod:`encoders._frames`).

TensorFlow is imported only when the model is loaded, through
:func:`bench.frameworks.import_tensorflow` (torch and triton first), in this process.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import paths
from bench.encoder import Encoder, FrameEmbeddings
from bench.frameworks import import_tensorflow, import_tensorflow_hub, module_available
from encoders._frames import pool_to_windows

OFFICIAL_HANDLE = "https://tfhub.dev/google/yamnet/1"
PATCH_S = 0.96
HOP_S = 0.48
MIN_S = 0.975
RANDOM = "random"
RANDOM_MARKER = "BENCH_RANDOM_WEIGHTS.json"
FIX_WEIGHTS = (
    "with internet: `bench run --encoder yamnet --weights https://tfhub.dev/google/yamnet/1` "
    "(tensorflow_hub caches it in $TFHUB_CACHE_DIR); offline: download the model elsewhere and pass "
    "`--weights /path/to/yamnet_savedmodel_dir`; `--weights random` runs random weights on purpose"
)


def hub_cache_dir() -> Path:
    return Path(os.environ.get("TFHUB_CACHE_DIR") or Path(tempfile.gettempdir()) / "tfhub_modules")


def cached_handle_dir(handle: str) -> Path | None:
    """Where tensorflow_hub keeps ``handle`` once downloaded (sha1 of the handle), if it is there."""
    d = hub_cache_dir() / hashlib.sha1(handle.encode("utf8")).hexdigest()
    return d if (d / "saved_model.pb").is_file() else None


def _dir_digest(directory: Path) -> str:
    """sha256 over the SavedModel's graph and variables (what changes the numbers)."""
    h = hashlib.sha256()
    files = [directory / "saved_model.pb", *sorted((directory / "variables").glob("*"))]
    for f in files:
        if f.is_file():
            h.update(f.name.encode())
            with f.open("rb") as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
    return h.hexdigest()[:16]


class YAMNetEncoder(Encoder):
    name = "yamnet"
    version = "1"
    sample_rate = 16000
    embedding_dim = 1024
    preferred_batch_size = 16
    training_data = "AudioSet (YouTube, 521 classes)"

    def __init__(self, device: str = "cpu", weights: str | None = None, seed: int = 0) -> None:
        self.device = device
        self.seed = seed
        self.random_requested = weights == RANDOM
        self.handle: str
        if weights is None:
            cached = cached_handle_dir(OFFICIAL_HANDLE)
            self.handle = OFFICIAL_HANDLE if cached is not None else RANDOM
        else:
            self.handle = weights
            if weights != RANDOM and "://" not in weights and not Path(weights).expanduser().is_dir():
                raise FileNotFoundError(
                    f"yamnet: --weights {weights!r} is neither a SavedModel directory nor a TF-Hub URL; {FIX_WEIGHTS}"
                )
        # an in-repo random SavedModel passed as a directory is still random weights
        self.random_weights = self.handle == RANDOM or (
            self.handle != RANDOM and (Path(self.handle).expanduser() / RANDOM_MARKER).is_file()
        )
        self.random_requested = self.random_requested or (self.random_weights and weights is not None)
        if self.random_weights:
            self.training_data = "none (random weights)"
        self._model: Any = None
        self._weights_id: str | None = None

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        missing = [m for m in ("tensorflow", "tensorflow_hub", "tf_keras") if not module_available(m)]
        if missing:
            return False, (f"missing {', '.join(missing)}: pip install 'bench-audio[tf]' (see README: TensorFlow)")
        if cached_handle_dir(OFFICIAL_HANDLE) is not None:
            return True, f"official weights cached in {hub_cache_dir()}"
        return False, (
            "TensorFlow OK, no YAMNet weights here; the demo suite runs random weights "
            f"(yamnet[random-weights]). For real weights: {FIX_WEIGHTS}"
        )

    def options(self) -> dict[str, Any]:
        return {"pooling": "mean", "frames": "centre-in-window"}

    def weights_id(self) -> str:
        if self._weights_id is None:
            if self.handle == RANDOM:
                self._weights_id = f"random-seed{self.seed}"
            elif "://" in self.handle and not Path(self.handle).is_dir():
                cached = cached_handle_dir(self.handle)
                self._weights_id = f"hub:{self.handle}" + (f":{_dir_digest(cached)}" if cached else "")
            else:
                self._weights_id = "savedmodel:" + _dir_digest(Path(self.handle).expanduser())
        return self._weights_id

    def label(self) -> str:
        return f"{self.name}[random-weights]" if self.random_weights else self.name

    def refusal(self, data_kind: str) -> str | None:
        if data_kind == "real" and self.random_weights and not self.random_requested:
            return (
                f"yamnet: no real YAMNet weights on this machine, refusing random weights on real data; {FIX_WEIGHTS}"
            )
        return None

    def model(self) -> Any:
        """The hub.load'ed model (TF imported here, torch and triton first)."""
        if self._model is None:
            hub = import_tensorflow_hub()
            if self.handle == RANDOM:
                from encoders.yamnet.savedmodel import ensure_random_yamnet

                location = str(ensure_random_yamnet(paths.models_dir(), self.seed))
            else:
                location = (
                    str(Path(self.handle).expanduser()) if Path(self.handle).expanduser().is_dir() else self.handle
                )
            try:
                self._model = hub.load(location)
            except Exception as exc:
                raise RuntimeError(
                    f"yamnet: cannot load {location!r} ({type(exc).__name__}: {exc}); {FIX_WEIGHTS}"
                ) from exc
        return self._model

    def native_frames(self, wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """YAMNet's own patch embeddings [N, 1024] and patch centres (s) for one clip."""
        model = self.model()  # imports TensorFlow the safe way; never `import tensorflow` before this
        tf = import_tensorflow()
        _scores, embeddings, _log_mel = model(tf.constant(np.asarray(wave, dtype=np.float32)))
        emb = np.asarray(embeddings.numpy(), dtype=np.float32)
        centres = np.arange(len(emb), dtype=np.float64) * HOP_S + PATCH_S / 2
        return emb, centres

    def embed(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([self.native_frames(w)[0].mean(axis=0) for w in waves]).astype(np.float32)

    def embed_frames(self, waves: Sequence[np.ndarray], window_s: float = 1.0) -> FrameEmbeddings:
        frames, starts = [], []
        for w in waves:
            emb, centres = self.native_frames(w)
            rows, st = pool_to_windows(emb, centres, len(w) / self.sample_rate, window_s)
            frames.append(rows)
            starts.append(st)
        return FrameEmbeddings(frames=frames, starts_s=starts, window_s=window_s)

    def close(self) -> None:
        self._model = None
