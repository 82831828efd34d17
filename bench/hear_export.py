"""Every bench encoder as a HEAR 2021 module, so HEAR's own tools can evaluate it.

``bench.hear_modules.<encoder>`` (e.g. ``hear-validator bench.hear_modules.logmel``) exposes
the three HEAR functions for the registered encoder of that name; :func:`make_api` builds
them for any encoder. The model object is a torch ``nn.Module`` (what HEAR tools expect)
that wraps the bench encoder and carries the HEAR attributes:

* ``sample_rate``: the encoder's rate if HEAR offers it (16 000, 22 050, 44 100, 48 000 Hz),
  else the next higher HEAR rate; audio is then resampled (soxr) to the encoder's rate;
* ``scene_embedding_size`` = ``timestamp_embedding_size`` = the encoder's dimension.

Scene embeddings are the encoder's clip embeddings. Timestamp embeddings: the encoder's
clip embedding of a ``window_s`` window (default 1 s) centred on every multiple of
``hop_s`` (default 50 ms, HEAR's suggestion) from 0 to the clip's end, with zero padding at
both ends; timestamps are those centres in milliseconds.

Options: ``load_model(model_file_path)`` maps a non-empty path to the encoder's ``weights``;
more encoder options come from ``BENCH_HEAR_OPTS="key=value;key=value"``; ``hear_window_s`` /
``hear_hop_s`` in that variable change the timestamp windows. Encoders that refuse real
data (random stand-in weights) and end-to-end encoders (``supervised``) are refused here.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import soxr
import torch

from bench.encoder import Encoder, get_encoder
from bench.options import typed_pairs
from bench.protocols import EndToEndEncoder

HEAR_RATES = (16000, 22050, 44100, 48000)
DEFAULT_WINDOW_S = 1.0
DEFAULT_HOP_S = 0.05


class HearModel(torch.nn.Module):
    """A bench encoder dressed as a HEAR model (no parameters of its own)."""

    def __init__(self, encoder: Encoder, window_s: float = DEFAULT_WINDOW_S, hop_s: float = DEFAULT_HOP_S) -> None:
        super().__init__()
        self.encoder = encoder
        self.sample_rate = hear_rate(encoder.sample_rate)
        self.scene_embedding_size = int(encoder.embedding_dim)
        self.timestamp_embedding_size = int(encoder.embedding_dim)
        self.window_s = float(window_s)
        self.hop_s = float(hop_s)


def hear_rate(rate: int) -> int:
    higher = [r for r in HEAR_RATES if r >= rate]
    return higher[0] if higher else HEAR_RATES[-1]


def env_options() -> dict[str, Any]:
    """Encoder options from ``BENCH_HEAR_OPTS="key=value;key=value"``."""
    raw = os.environ.get("BENCH_HEAR_OPTS", "")
    return typed_pairs(filter(None, (p.strip() for p in raw.split(";"))), "BENCH_HEAR_OPTS")


def load_model(model_file_path: str = "", *, encoder: str, **options: Any) -> HearModel:
    opts = {**env_options(), **options}
    window_s = float(opts.pop("hear_window_s", DEFAULT_WINDOW_S))
    hop_s = float(opts.pop("hear_hop_s", DEFAULT_HOP_S))
    if model_file_path:
        opts["weights"] = model_file_path
    enc = get_encoder(encoder, **opts)
    if isinstance(enc, EndToEndEncoder):
        raise TypeError(f"{encoder!r} trains end to end per task; it has no frozen embeddings to export to HEAR")
    refused = enc.refusal("real")
    if refused is not None:
        raise RuntimeError(refused)
    return HearModel(enc, window_s=window_s, hop_s=hop_s)


def _check(audio: Any, model: Any) -> np.ndarray:
    if not isinstance(model, HearModel):
        raise TypeError(f"expected a model from load_model(), got {type(model).__name__}")
    x = audio.detach().float().cpu().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio, np.float32)
    if x.ndim != 2:
        raise ValueError(f"audio must be [n_sounds, n_samples], got shape {x.shape}")
    return x


def _to_encoder_rate(x: np.ndarray, model: HearModel) -> np.ndarray:
    rate = model.encoder.sample_rate
    if rate == model.sample_rate:
        return x
    return np.stack([soxr.resample(row, model.sample_rate, rate, quality="HQ") for row in x]).astype(np.float32)


def _embed(model: HearModel, waves: list[np.ndarray]) -> np.ndarray:
    bs = max(1, model.encoder.preferred_batch_size)
    rows = [np.asarray(model.encoder.embed(waves[i : i + bs]), dtype=np.float32) for i in range(0, len(waves), bs)]
    return np.concatenate(rows) if rows else np.zeros((0, model.scene_embedding_size), np.float32)


def get_scene_embeddings(audio: Any, model: HearModel) -> torch.Tensor:
    x = _to_encoder_rate(_check(audio, model), model)
    emb = _embed(model, list(x))
    device = audio.device if isinstance(audio, torch.Tensor) else "cpu"
    return torch.from_numpy(emb).to(device)


def timestamp_centres(n_samples: int, sample_rate: int, hop_s: float) -> np.ndarray:
    duration = n_samples / sample_rate
    return np.arange(math.floor(round(duration / hop_s, 9)) + 1, dtype=np.float64) * hop_s


def get_timestamp_embeddings(audio: Any, model: HearModel) -> tuple[torch.Tensor, torch.Tensor]:
    raw = _check(audio, model)
    x = _to_encoder_rate(raw, model)
    rate = model.encoder.sample_rate
    centres = timestamp_centres(raw.shape[1], model.sample_rate, model.hop_s)
    win = int(round(model.window_s * rate))
    half = win // 2
    windows = []
    for row in x:
        padded = np.concatenate([np.zeros(half, np.float32), row, np.zeros(win - half, np.float32)])
        for c in centres:
            start = int(round(c * rate))
            windows.append(padded[start : start + win])
    emb = _embed(model, windows).reshape(len(x), len(centres), -1)
    device = audio.device if isinstance(audio, torch.Tensor) else "cpu"
    ts = np.broadcast_to(centres * 1000.0, (len(x), len(centres))).astype(np.float32)
    return torch.from_numpy(emb).to(device), torch.from_numpy(ts.copy()).to(device)


def make_api(
    encoder: str, **defaults: Any
) -> tuple[Callable[..., HearModel], Callable[..., torch.Tensor], Callable[..., Any]]:
    """``(load_model, get_scene_embeddings, get_timestamp_embeddings)`` for one registered encoder."""

    def load(model_file_path: str = "") -> HearModel:
        return load_model(model_file_path, encoder=encoder, **defaults)

    load.__doc__ = f"HEAR load_model for bench encoder {encoder!r}; a non-empty path becomes its weights."
    return load, get_scene_embeddings, get_timestamp_embeddings
