"""Wav2CLIP checkpoints in the released ``Wav2CLIP.pt`` layout, read and written strictly.

The release is a *flat* state_dict: ``audio_encoder.*`` (the ResNet-18 and its front end,
including the persistent ``audio_encoder.spectrogram.window`` buffer) and
``audio_transform.sequential.{0,3}.*`` (the projection MLP). Training-only keys the release
may or may not carry (``image_transform.*``, ``loss_fn*``) are ignored, as the reference
loader's prefix filter ignores them; anything else missing or unexpected is an error that
names the keys, so a wrong file never loads silently. Our own trained checkpoints are
exported to the same layout and go through the same loader.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from bench.atomic import atomic_torch_save
from bench.weights import WeightsSpec
from encoders.wav2clip.model import Wav2CLIPAudio

KEPT_PREFIXES = ("audio_encoder.", "audio_transform.")
IGNORED_PREFIXES = ("image_transform.", "loss_fn")
OFFICIAL = WeightsSpec(
    name="wav2clip-official",
    url="https://github.com/descriptinc/lyrebird-wav2clip/releases/download/v0.1.0-alpha/Wav2CLIP.pt",
    filename="Wav2CLIP.pt",
    description=(
        "Wav2CLIP audio encoder + projection released by the authors (descriptinc/lyrebird-wav2clip v0.1.0-alpha)"
    ),
)


class CheckpointError(ValueError):
    """A weights file that is not a Wav2CLIP checkpoint in the released layout."""


def official_state_dict(model: Wav2CLIPAudio) -> dict[str, torch.Tensor]:
    """The model's weights under the release's key names (a flat dict, CPU tensors)."""
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if k.startswith(KEPT_PREFIXES)}


def save_official(model: Wav2CLIPAudio, path: Path | str) -> Path:
    """Write ``model`` as a flat state_dict in the released layout (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(official_state_dict(model), path)
    return path


def read_state_dict(path: Path | str) -> dict[str, torch.Tensor]:
    """Load a weights file as a flat tensor dict (no pickled code: ``weights_only``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: weights file not found. Pass --weights PATH to a Wav2CLIP.pt, or fetch the "
            "release with `bench weights fetch wav2clip-official`."
        )
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: cannot read as a PyTorch state_dict ({exc})") from exc
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        raise CheckpointError(
            f"{path}: this is a training checkpoint with a 'state_dict' wrapper (e.g. the old ResNet_CX.ckpt), "
            "not the flat Wav2CLIP.pt layout. Export the flat layout (bench train writes best.pt / last.pt)."
        )
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: expected a flat dict of tensors (the Wav2CLIP.pt layout)")
    return dict(obj)


def load_into(model: Wav2CLIPAudio, state: Mapping[str, torch.Tensor], source: str = "state_dict") -> None:
    """Strictly load released-layout weights into ``model``; training-only keys are skipped."""
    kept = {k: v for k, v in state.items() if k.startswith(KEPT_PREFIXES)}
    unknown = sorted(k for k in state if not k.startswith(KEPT_PREFIXES + IGNORED_PREFIXES))
    expected = set(model.state_dict())
    missing = sorted(expected - set(kept))
    extra = sorted(set(kept) - expected)
    if missing or extra or unknown:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s), e.g. {missing[:3]}")
        if extra or unknown:
            parts.append(f"unexpected key(s) {(extra + unknown)[:5]}")
        raise CheckpointError(
            f"{source}: not the Wav2CLIP.pt layout ({'; '.join(parts)}). Expected audio_encoder.* "
            "(ResNet-18 with spectrogram.window, no fc) and audio_transform.sequential.{0,3}.*"
        )
    ref = model.state_dict()
    for k, v in kept.items():
        if tuple(v.shape) != tuple(ref[k].shape):
            raise CheckpointError(f"{source}: {k} has shape {tuple(v.shape)}, the model expects {tuple(ref[k].shape)}")
    model.load_state_dict(kept, strict=True)


def load_official(path: Path | str, norm: str = "clip") -> Wav2CLIPAudio:
    """A ``Wav2CLIPAudio`` in eval mode with the weights of ``path`` (released layout)."""
    model = Wav2CLIPAudio(norm=norm)
    load_into(model, read_state_dict(path), source=str(path))
    return model.eval()
