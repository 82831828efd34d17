"""``logmel``: a weight-free baseline, the floor of every table.

64-band log-mel spectrogram at 16 kHz (25 ms Hann window, 10 ms hop, 512-point FFT, Slaney
mel scale and area normalisation, 50–8000 Hz, power in dB), summarised per clip by the mean
and the standard deviation of each band over time: 128 dimensions. Computed with torch ops;
the filterbank is built here and checked against librosa in the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from bench.encoder import Encoder


def hz_to_mel_slaney(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)


def mel_to_hz_slaney(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular filters on the Slaney mel scale, each normalised to unit area: [n_mels, n_fft//2+1]."""
    fft_freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mel_pts = mel_to_hz_slaney(
        np.linspace(hz_to_mel_slaney(np.array(fmin)), hz_to_mel_slaney(np.array(fmax)), n_mels + 2)
    )
    fdiff = np.diff(mel_pts)
    ramps = mel_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_pts[2 : n_mels + 2] - mel_pts[:n_mels]))[:, None]
    return weights.astype(np.float32)


class LogMelEncoder(Encoder):
    name = "logmel"
    version = "1"
    sample_rate = 16000
    n_mels = 64
    n_fft = 512
    win_length = 400
    hop_length = 160
    fmin = 50.0
    fmax = 8000.0
    preferred_batch_size = 32
    training_data = "none (no learned weights)"
    check_variants = ({"stats": "mean"},)

    def __init__(self, device: str = "cpu", stats: str = "mean_std") -> None:
        if stats not in ("mean_std", "mean"):
            raise ValueError(f"logmel: stats must be 'mean_std' or 'mean', got {stats!r}")
        self.device = device
        self.stats = stats
        self.embedding_dim = self.n_mels * (2 if stats == "mean_std" else 1)
        self._fb = torch.from_numpy(mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax)).to(
            device
        )
        self._window = torch.hann_window(self.win_length, periodic=True, device=device)

    def options(self) -> dict[str, Any]:
        return {
            "n_mels": self.n_mels,
            "n_fft": self.n_fft,
            "win": self.win_length,
            "hop": self.hop_length,
            "fmin": self.fmin,
            "fmax": self.fmax,
            "stats": self.stats,
        }

    def log_mel(self, waves: torch.Tensor) -> torch.Tensor:
        """[B, N] → [B, n_mels, T] in dB (10·log10 of power, floor 1e-10)."""
        spec = torch.stft(
            waves,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self._window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        power = spec.real**2 + spec.imag**2
        mel = torch.matmul(self._fb, power)
        return 10.0 * torch.log10(torch.clamp(mel, min=1e-10))

    def embed(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        out = np.zeros((len(waves), self.embedding_dim), dtype=np.float32)
        by_len: dict[int, list[int]] = {}
        for i, w in enumerate(waves):
            by_len.setdefault(len(w), []).append(i)
        with torch.inference_mode():
            for idx in by_len.values():
                x = torch.from_numpy(np.stack([np.asarray(waves[i], dtype=np.float32) for i in idx])).to(self.device)
                lm = self.log_mel(x)
                feats = [lm.mean(dim=2)]
                if self.stats == "mean_std":
                    feats.append(lm.std(dim=2, unbiased=False))
                out[idx] = torch.cat(feats, dim=1).cpu().numpy()
        return out
