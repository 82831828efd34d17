"""``hear``: any HEAR-API module as a bench encoder (``--encoder hear:MODULE[:WEIGHTS]``).

The HEAR 2021 API: ``load_model(model_file_path="")`` returns a torch ``nn.Module`` or a
``tf.Module`` with ``sample_rate``, ``scene_embedding_size`` and
``timestamp_embedding_size``; ``get_scene_embeddings(audio [n, samples], model) -> [n, D]``;
``get_timestamp_embeddings(audio, model) -> ([n, T, D], timestamps [n, T] in ms)``. Audio is
mono float in [-1, 1] at ``model.sample_rate`` — bench decodes straight to that rate.

Clips of one batch are passed together only when they have the same length (HEAR modules
take one padded tensor; padding would change their embeddings). Frame level: the module's
timestamp embeddings, averaged per ``window_s`` window by timestamp (:mod:`encoders._frames`).

Compatibility shim: ``hearbaseline`` (2021) calls ``librosa.filters.mel(sr, ...)``
positionally, which librosa >= 0.10 rejects. If ``load_model`` fails that way it is retried
with a keyword-forwarding wrapper in place of ``librosa.filters.mel`` for the duration of the
call (site-packages are never edited); the shim is recorded in the encoder's options.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from bench.encoder import Encoder, FrameEmbeddings
from bench.frameworks import guard_import_order, preload_triton
from bench.hashing import sha256_file
from encoders._frames import pool_to_windows

MEL_ARGS = ("sr", "n_fft", "n_mels", "fmin", "fmax", "htk", "norm", "dtype")


@contextmanager
def librosa_positional_mel() -> Iterator[None]:
    """Let 2021-era callers pass ``librosa.filters.mel`` arguments positionally."""
    import librosa.filters

    original: Callable[..., Any] = librosa.filters.mel

    def mel(*args: Any, **kwargs: Any) -> Any:
        return original(**dict(zip(MEL_ARGS, args, strict=False)), **kwargs)

    librosa.filters.mel = mel
    try:
        yield
    finally:
        librosa.filters.mel = original


def import_hear_module(name: str) -> ModuleType:
    """Import a HEAR module; triton is loaded first in case the module imports TensorFlow."""
    preload_triton()
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        top = name.split(".")[0]
        raise ImportError(
            f"hear: cannot import HEAR module {name!r} ({exc}). Install the package that provides it, "
            f"e.g. `pip install --no-deps {top}` (HEAR 2021 packages pin old numpy; --no-deps plus the "
            "few libraries the module imports usually works)"
        ) from exc
    guard_import_order()
    return module


def _distribution_version(module: str) -> str:
    top = module.split(".")[0]
    for dist in metadata.packages_distributions().get(top, []):
        try:
            return f"{dist}=={metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


class HearEncoder(Encoder):
    name = "hear"
    version = "1"
    preferred_batch_size = 16
    training_data = "declared by the HEAR module's authors (unknown to bench)"
    batch_independent = False  # a HEAR module batches as it likes; bench cannot promise it

    def __init__(self, module: str, weights: str | None = None, device: str = "cpu") -> None:
        self.module_name = module
        self.device = device
        self.weights_path = str(Path(weights).expanduser()) if weights else ""
        if self.weights_path and not Path(self.weights_path).exists():
            raise FileNotFoundError(f"hear: weights file {self.weights_path} not found (from hear:{module}:{weights})")
        self.module = import_hear_module(module)
        for fn in ("load_model", "get_scene_embeddings", "get_timestamp_embeddings"):
            if not callable(getattr(self.module, fn, None)):
                raise TypeError(f"hear: module {module!r} has no {fn}(); it does not follow the HEAR API")
        self.shims: list[str] = []
        try:
            self.model = self.module.load_model(self.weights_path)
        except TypeError as exc:
            if "mel()" not in str(exc):
                raise
            with librosa_positional_mel():
                self.model = self.module.load_model(self.weights_path)
            self.shims.append("librosa-positional-mel")
        for attr in ("sample_rate", "scene_embedding_size", "timestamp_embedding_size"):
            if not hasattr(self.model, attr):
                raise TypeError(f"hear: {module}.load_model() returned a model without .{attr}")
        self.sample_rate = int(self.model.sample_rate)
        self.embedding_dim = int(self.model.scene_embedding_size)
        self.is_torch = isinstance(self.model, torch.nn.Module)
        if self.is_torch:
            self.model.to(device).eval()

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        from bench.frameworks import module_available

        have = "hearbaseline installed" if module_available("hearbaseline") else "no HEAR package found"
        return True, f"wraps an installed HEAR-API module: --encoder hear:MODULE[:WEIGHTS] ({have})"

    def options(self) -> dict[str, Any]:
        return {"module": self.module_name, "package": _distribution_version(self.module_name), "shims": self.shims}

    def weights_id(self) -> str:
        return "sha256:" + sha256_file(self.weights_path)[:16] if self.weights_path else "module-default"

    def label(self) -> str:
        base = f"hear:{self.module_name}"
        return f"{base}@{sha256_file(self.weights_path)[:8]}" if self.weights_path else base

    def _tensor(self, waves: Sequence[np.ndarray]) -> Any:
        x = np.stack([np.asarray(w, dtype=np.float32) for w in waves])
        if self.is_torch:
            return torch.from_numpy(x).to(self.device)
        import tensorflow as tf  # a TF HEAR module has already imported TensorFlow

        return tf.constant(x)

    @staticmethod
    def _numpy(t: Any) -> np.ndarray:
        if isinstance(t, torch.Tensor):
            return t.detach().float().cpu().numpy()
        return np.asarray(t.numpy() if hasattr(t, "numpy") else t, dtype=np.float32)

    def _same_length_groups(self, waves: Sequence[np.ndarray]) -> list[list[int]]:
        groups: dict[int, list[int]] = {}
        for i, w in enumerate(waves):
            groups.setdefault(len(w), []).append(i)
        return list(groups.values())

    def embed(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        out = np.zeros((len(waves), self.embedding_dim), dtype=np.float32)
        with torch.inference_mode():
            for idx in self._same_length_groups(waves):
                emb = self.module.get_scene_embeddings(self._tensor([waves[i] for i in idx]), self.model)
                out[idx] = self._numpy(emb)
        return out

    def embed_frames(self, waves: Sequence[np.ndarray], window_s: float = 1.0) -> FrameEmbeddings:
        frames: list[np.ndarray] = [np.zeros(0)] * len(waves)
        starts: list[np.ndarray] = [np.zeros(0)] * len(waves)
        with torch.inference_mode():
            for idx in self._same_length_groups(waves):
                emb, ts = self.module.get_timestamp_embeddings(self._tensor([waves[i] for i in idx]), self.model)
                emb_np, ts_np = self._numpy(emb), self._numpy(ts)
                for k, i in enumerate(idx):
                    rows, st = pool_to_windows(emb_np[k], ts_np[k] / 1000.0, len(waves[i]) / self.sample_rate, window_s)
                    frames[i], starts[i] = rows, st
        return FrameEmbeddings(frames=frames, starts_s=starts, window_s=window_s)
