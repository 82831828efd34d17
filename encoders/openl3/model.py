"""OpenL3 (Cramer et al., ICASSP 2019) in torch: the mel256 audio network and the image network.

The layer stack follows the published Keras models (marl/openl3 ``models.py``), one torch
module per Keras layer that holds weights, so the official ``.h5`` files load one to one
(see :mod:`encoders.openl3.h5`):

* audio (mel256): input BatchNorm → 4 blocks of [Conv3×3 → BN → ReLU → Conv3×3 → BN → ReLU]
  with 2×2 max-pooling after blocks 1–3 (64, 128, 256, 512 filters); the last conv
  (``audio_embedding_layer``) has neither BN nor ReLU. A final max-pool of (32, 24) over the
  32 × 24 map gives 512-d (or (8, 8) → 4 × 3 × 512 = 6144-d), flattened in Keras' (h, w, c)
  order.
* image: the same stack on 224×224 RGB in [-1, 1] with "same" pooling; block 1 is
  Conv → BN → ReLU → Conv → ReLU → BN (as published). Final pool (28, 28) → 512-d or
  (7, 7) → 8192-d.

Keras BatchNormalization uses epsilon 1e-3. The mel front end reproduces openl3's librosa
front end (designed to match kapre 0.1.4): |STFT| (n_fft 2048, hop 242, periodic Hann,
centred zero padding) → 256 Slaney mel bands (0–24 kHz, area-normalised) → 10·log10 with
floor 1e-10 → clipped 80 dB below the window's maximum → the maximum subtracted, per 1 s window.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from encoders.logmel import mel_filterbank

SAMPLE_RATE = 48000
N_FFT = 2048
HOP = 242
N_MELS = 256
TOP_DB = 80.0
AMIN = 1e-10
BN_EPS = 1e-3
AUDIO_POOL = {512: (32, 24), 6144: (8, 8)}
IMAGE_POOL = {512: (28, 28), 8192: (7, 7)}
WIDTHS = (64, 128, 256, 512)


class MelFrontend(nn.Module):
    """[B, 48000] windows → [B, 1, 256, 199] dB mel spectrograms (max 0, floor −80)."""

    window: torch.Tensor
    filterbank: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.hann_window(N_FFT, periodic=True), persistent=False)
        fb = mel_filterbank(SAMPLE_RATE, N_FFT, N_MELS, 0.0, SAMPLE_RATE / 2)
        self.register_buffer("filterbank", torch.from_numpy(fb), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(
            x,
            n_fft=N_FFT,
            hop_length=HOP,
            win_length=N_FFT,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        ).abs()
        mel = torch.matmul(self.filterbank, spec)
        db = 10.0 * torch.log10(torch.clamp(mel, min=AMIN))
        peak = db.amax(dim=(1, 2), keepdim=True)
        db = torch.maximum(db, peak - TOP_DB)
        return (db - peak).unsqueeze(1)


def keras_same_max_pool(x: torch.Tensor, pool: tuple[int, int]) -> torch.Tensor:
    """Keras ``MaxPooling2D(pool, padding='same')`` (stride = pool): pad with −inf like TF."""
    pads = []
    for size, k in zip(x.shape[-2:], pool, strict=True):
        out = math.ceil(size / k)
        total = max((out - 1) * k + k - size, 0)
        pads.append((total // 2, total - total // 2))
    (top, bottom), (left, right) = pads
    if top or bottom or left or right:
        x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
    return F.max_pool2d(x, kernel_size=pool, stride=pool)


def flatten_hwc(x: torch.Tensor) -> torch.Tensor:
    """Keras ``Flatten`` on channels-last maps: [B, C, H, W] → [B, H·W·C] in (h, w, c) order."""
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)


class L3Stack(nn.Module):
    """Input BN and the eight 3×3 convs with their BNs; ``image`` selects the published variant."""

    def __init__(self, in_channels: int, image: bool) -> None:
        super().__init__()
        self.image = image
        self.input_bn = nn.BatchNorm2d(in_channels, eps=BN_EPS)
        convs: list[nn.Module] = []
        bns: list[nn.Module] = []
        cin = in_channels
        for width in WIDTHS:
            for _ in range(2):
                convs.append(nn.Conv2d(cin, width, kernel_size=3, padding=1))
                cin = width
                bns.append(nn.BatchNorm2d(width, eps=BN_EPS))
        self.convs = nn.ModuleList(convs)
        self.bns = nn.ModuleList(bns[:-1])  # the embedding conv has no BN

    def weighted_layers(self) -> list[tuple[str, nn.Module]]:
        """Modules in the order Keras stores their weights (topological order)."""
        out: list[tuple[str, nn.Module]] = [("bn", self.input_bn)]
        for i, conv in enumerate(self.convs):
            out.append(("conv", conv))
            if i < len(self.bns):
                out.append(("bn", self.bns[i]))
        return out

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return keras_same_max_pool(x, (2, 2)) if self.image else F.max_pool2d(x, 2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_bn(x)
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i == len(self.convs) - 1:
                break
            # published block 1 of the image net applies ReLU before BN
            x = self.bns[i](F.relu(x)) if self.image and i == 1 else F.relu(self.bns[i](x))
            if i % 2 == 1:
                x = self._pool(x)
        return x


class OpenL3Audio(nn.Module):
    """1 s windows at 48 kHz [B, 48000] → embeddings [B, 512 or 6144]."""

    def __init__(self, embedding_size: int = 512) -> None:
        super().__init__()
        if embedding_size not in AUDIO_POOL:
            raise ValueError(f"openl3: audio embedding_size must be one of {sorted(AUDIO_POOL)}, got {embedding_size}")
        self.embedding_size = embedding_size
        self.frontend = MelFrontend()
        self.net = L3Stack(1, image=False)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        fmap = self.net(self.frontend(windows))
        return flatten_hwc(keras_same_max_pool(fmap, AUDIO_POOL[self.embedding_size]))


class OpenL3Image(nn.Module):
    """Images [B, 3, 224, 224] in [-1, 1] → embeddings [B, 512 or 8192]."""

    def __init__(self, embedding_size: int = 512) -> None:
        super().__init__()
        if embedding_size not in IMAGE_POOL:
            raise ValueError(f"openl3: image embedding_size must be one of {sorted(IMAGE_POOL)}, got {embedding_size}")
        self.embedding_size = embedding_size
        self.net = L3Stack(3, image=True)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        fmap = self.net(images)
        return flatten_hwc(keras_same_max_pool(fmap, IMAGE_POOL[self.embedding_size]))


def frame_audio(wave: np.ndarray, hop_s: float = 0.1, center: bool = True) -> np.ndarray:
    """openl3's framing at 48 kHz: 1 s windows every ``hop_s``; centre padding; end zero-padded.

    ``center`` prepends half a window so window k is centred on ``k * hop_s`` of the
    original audio; the end is padded so every sample lands in a window.
    """
    frame = SAMPLE_RATE
    hop = int(hop_s * SAMPLE_RATE)
    x = np.asarray(wave, dtype=np.float32)
    if center:
        x = np.concatenate([np.zeros(frame // 2, dtype=np.float32), x])
    pad = frame - len(x) if len(x) < frame else math.ceil((len(x) - frame) / hop) * hop - (len(x) - frame)
    if pad > 0:
        x = np.concatenate([x, np.zeros(pad, dtype=np.float32)])
    n = 1 + (len(x) - frame) // hop
    return np.lib.stride_tricks.sliding_window_view(x, frame)[::hop][:n].copy()


def preprocess_images(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, 3] → float [N, 3, 224, 224] in [-1, 1].

    Like openl3: images that are not 224×224 are scaled so the shorter side is 256 and
    centre-cropped to 224. openl3 refuses images smaller than 224 px; here they are scaled up
    (bilinear) so small video frames still work.
    """
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"openl3: images must be uint8 [N, H, W, 3], got shape {images.shape}")
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    h, w = x.shape[-2:]
    if (h, w) != (224, 224):
        scale = 256.0 / min(h, w)
        size = (max(224, round(h * scale)), max(224, round(w * scale)))
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=scale < 1)
        top, left = (size[0] - 224) // 2, (size[1] - 224) // 2
        x = x[..., top : top + 224, left : left + 224]
    return (x * 2.0 - 1.0).clamp(-1.0, 1.0)
