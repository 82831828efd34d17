"""Wav2CLIP's audio network, exactly as the reference (descriptinc/lyrebird-wav2clip) builds it.

* Front end: power spectrogram, n_fft 512, hop 353, periodic Hann window of 512, centred
  reflect padding (torchaudio ``Spectrogram`` defaults otherwise), ``log(x + 1e-7)``, then
  standardisation.
* ResNet-18 (BasicBlock [2, 2, 2, 2], 1 input channel, widths 64/128/256/512), adaptive average
  pooling over frequency and time → 512-d. No classification layer.
* Projection ``MLPLayers([512, 512, 512], dropout=0.1)`` without its trailing ReLU/Dropout:
  ``Linear → ReLU → Dropout → Linear`` (state-dict keys ``sequential.0`` and ``sequential.3``).

Module and buffer names follow the reference, so the released ``Wav2CLIP.pt`` (keys
``audio_encoder.*`` and ``audio_transform.*``) loads strictly.

Standardisation scope: the reference uses one mean/std over the *whole input tensor*, so a
clip's embedding depends on its batch mates. ``norm="clip"`` (our default) standardises each
clip over its own spectrogram, which equals the reference for a batch of one (a constant
spectrogram — digital silence — becomes all zeros, whatever its batch mates);
``norm="batch"`` reproduces the reference's batch dependence. Torch ops only (no torchaudio).
"""

from __future__ import annotations

import torch
from torch import nn

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 353


class Spectrogram(nn.Module):
    """torchaudio.transforms.Spectrogram(n_fft=512, hop_length=353) re-implemented with torch.stft."""

    window: torch.Tensor

    def __init__(self, n_fft: int = N_FFT, hop_length: int = HOP) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True))  # persistent, like torchaudio

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(
            x,
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.n_fft,
            window=self.window,
            center=True,
            pad_mode="reflect",
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        return spec.real.pow(2) + spec.imag.pow(2)


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + identity)


class ResNet18Audio(nn.Module):
    """Wav2CLIP's ``audio_encoder``: waveform [B, N] at 16 kHz → [B, 512]."""

    def __init__(self, norm: str = "clip") -> None:
        super().__init__()
        if norm not in ("clip", "batch"):
            raise ValueError(f"norm must be 'clip' (per-clip, default) or 'batch' (reference), got {norm!r}")
        self.norm = norm
        self.spectrogram = Spectrogram()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, 2)
        self.layer2 = self._make_layer(128, 2, stride=2)
        self.layer3 = self._make_layer(256, 2, stride=2)
        self.layer4 = self._make_layer(512, 2, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, mean=1.0, std=0.02)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )
        layers: list[nn.Module] = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def log_spectrogram(self, x: torch.Tensor) -> torch.Tensor:
        """[B, N] → standardised log power spectrogram [B, 1, 257, T]."""
        spec = torch.log(self.spectrogram(x) + 1e-7).unsqueeze(1)
        if self.norm == "batch":
            return (spec - spec.mean()) / (spec.std() + 1e-9)
        flat = spec.flatten(1)
        mean = flat.mean(dim=1).view(-1, 1, 1, 1)
        std = flat.std(dim=1).view(-1, 1, 1, 1)
        # A constant spectrogram (digital silence) standardises to zeros, as a clip alone does in
        # exact arithmetic. Batched, the mean of a zero-variance clip picks up rounding that the
        # 1/(0 + 1e-9) scale blew up to ~1e3-1e4, so the clip's embedding depended on its batch.
        constant = (flat.amax(dim=1) == flat.amin(dim=1)).view(-1, 1, 1, 1)
        return torch.where(constant, torch.zeros_like(spec), (spec - mean) / (std + 1e-9))

    def features(self, spec: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(spec))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.log_spectrogram(x))


class MLPLayers(nn.Module):
    """Reference ``MLPLayers([512, 512, 512], dropout=0.1)`` with the trailing ReLU/Dropout removed."""

    def __init__(self, units: tuple[int, ...] = (512, 512, 512), dropout: float = 0.1) -> None:
        super().__init__()
        seq: list[nn.Module] = []
        for i in range(len(units) - 1):
            seq += [nn.Linear(units[i], units[i + 1]), nn.ReLU(), nn.Dropout(dropout)]
        self.sequential = nn.Sequential(*seq[:-2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sequential(x)


class Wav2CLIPAudio(nn.Module):
    """``audio_transform(audio_encoder(x))``: the released model's CLIP-space audio embedding."""

    def __init__(self, norm: str = "clip") -> None:
        super().__init__()
        self.audio_encoder = ResNet18Audio(norm=norm)
        self.audio_transform = MLPLayers()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.audio_transform(self.audio_encoder(x))
