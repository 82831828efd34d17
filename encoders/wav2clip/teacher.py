"""The frozen CLIP teacher, through open_clip: image targets for distillation, text for zero-shot.

Wav2CLIP's audio embeddings live in the teacher's space, so the text and image sides of the
``wav2clip`` encoder must be *the* teacher the model was distilled from. A teacher is
identified by open_clip's own identity: a model config name plus a weights source (a
pretrained tag such as ``openai``, or a local checkpoint file, hashed), or, for random
initialisation, a seed. The paper's teacher is assumed to be ViT-B/32 (``ViT-B-32-quickgelu``
+ ``openai``); ``bench-tiny-clip`` is a 3.6 M-parameter config shipped here for tests and
the demo (random weights from a fixed seed; the demo saves them next to the trained model so
zero-shot uses exactly the distillation teacher).

Images go through open_clip's evaluation preprocessing (shorter side to the model's size,
bicubic, centre crop, mean/std), done batched in torch. Embeddings are returned as CLIP
returns them (not L2-normalised).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.atomic import atomic_torch_save
from bench.encoder import NotSupportedError
from bench.hashing import sha256_file, sha256_json

TINY = "bench-tiny-clip"
PAPER_MODEL = "ViT-B-32-quickgelu"
PAPER_PRETRAINED = "openai"
CONFIG_DIR = Path(__file__).with_name("configs")
_registered = threading.Lock()
_done: list[bool] = []


class _DropRandomInitWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "No pretrained weights loaded" not in record.getMessage()


class TeacherUnavailable(NotSupportedError):
    """The teacher's weights cannot be loaded here (offline, missing file)."""


def _register_configs() -> None:
    """Make the shipped configs (``bench-tiny-clip``) known to open_clip, once per process."""
    import open_clip

    with _registered:
        if not _done:
            open_clip.add_model_config(CONFIG_DIR)
            _done.append(True)


def _looks_like_path(value: str) -> bool:
    return "/" in value or "\\" in value or value.endswith((".pt", ".pth", ".bin", ".safetensors"))


@dataclass(frozen=True)
class TeacherSpec:
    """``model``: an open_clip config name; ``pretrained``: a tag, a file, or None (random, ``seed``)."""

    model: str = PAPER_MODEL
    pretrained: str | None = PAPER_PRETRAINED
    seed: int = 0

    @classmethod
    def tiny(cls, seed: int = 0) -> TeacherSpec:
        return cls(TINY, None, seed)

    def identity(self) -> dict[str, Any]:
        """What makes two teachers the same: config name + weights (tag, file hash) or seed."""
        if self.pretrained is None:
            return {"model": self.model, "weights": "random", "seed": self.seed}
        if _looks_like_path(self.pretrained) or Path(self.pretrained).is_file():
            path = Path(self.pretrained)
            digest = _file_digest(path) if path.is_file() else "missing"
            return {"model": self.model, "weights": {"file": path.name, "sha256": digest}}
        return {"model": self.model, "weights": self.pretrained}

    def fingerprint(self) -> str:
        return sha256_json(self.identity(), 16)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "pretrained": self.pretrained, "seed": self.seed}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> TeacherSpec:
        return cls(str(obj["model"]), obj.get("pretrained"), int(obj.get("seed", 0)))


_digests: dict[tuple[str, float, int], str] = {}


def _file_digest(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime, st.st_size)
    if key not in _digests:
        _digests[key] = sha256_file(path)
    return _digests[key]


class CLIPTeacher:
    """A frozen open_clip model, loaded on first use."""

    def __init__(self, spec: TeacherSpec, device: str = "cpu", batch_size: int = 256) -> None:
        self.spec = spec
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._error: TeacherUnavailable | None = None
        self._tokenizer: Any = None
        self._pp: dict[str, Any] = {}

    def fingerprint(self) -> str:
        return self.spec.fingerprint()

    @property
    def name(self) -> str:
        return f"clip-{self.spec.model}"

    def load(self) -> Any:
        if self._model is not None:
            return self._model
        if self._error is not None:  # don't retry a failed download for every task
            raise self._error
        try:
            return self._load()
        except TeacherUnavailable as exc:
            self._error = exc
            raise

    def _load(self) -> Any:
        import open_clip

        _register_configs()
        spec = self.spec
        if spec.pretrained is not None and _looks_like_path(spec.pretrained) and not Path(spec.pretrained).is_file():
            raise TeacherUnavailable(f"CLIP teacher weights file {spec.pretrained} not found (teacher {spec.model})")
        quiet = _DropRandomInitWarning() if spec.pretrained is None else None  # random init is intended here
        root = logging.getLogger()
        if quiet:
            root.addFilter(quiet)
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(spec.seed)
                model = open_clip.create_model(spec.model, pretrained=spec.pretrained, device=self.device)
        except RuntimeError as exc:
            raise TeacherUnavailable(
                f"cannot load the CLIP teacher {spec.model} with weights {spec.pretrained!r} ({exc}). Offline, "
                "download the weights elsewhere and pass the file (--opt teacher_pretrained=PATH), or use "
                "--opt teacher=none for audio-only evaluation."
            ) from exc
        finally:
            if quiet:
                root.removeFilter(quiet)
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        self._pp = dict(open_clip.get_model_preprocess_cfg(model))
        self._tokenizer = open_clip.get_tokenizer(spec.model)
        self._model = model
        return model

    @property
    def embed_dim(self) -> int:
        model = self.load()
        return (
            int(model.text_projection.shape[1]) if hasattr(model, "text_projection") else int(model.visual.output_dim)
        )

    @property
    def image_size(self) -> int:
        self.load()
        size = self._pp.get("size", 224)
        return int(size if isinstance(size, int) else size[0])

    def preprocess(self, images: np.ndarray) -> torch.Tensor:
        """uint8 ``[N, H, W, 3]`` → normalised float ``[N, 3, S, S]`` (open_clip eval transform)."""
        from torchvision.transforms.v2 import InterpolationMode
        from torchvision.transforms.v2 import functional as F

        self.load()
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be uint8 [N, H, W, 3], got shape {images.shape}")
        x = torch.from_numpy(np.ascontiguousarray(images)).to(self.device).permute(0, 3, 1, 2).float() / 255.0
        size = self.image_size
        x = F.resize(x, [size], interpolation=InterpolationMode.BICUBIC, antialias=True)
        x = F.center_crop(x, [size, size]).clamp_(0.0, 1.0)
        mean = torch.tensor(self._pp.get("mean"), device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self._pp.get("std"), device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        model = self.load()
        out = []
        with torch.inference_mode():
            for i in range(0, len(images), self.batch_size):
                out.append(model.encode_image(self.preprocess(images[i : i + self.batch_size])).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.embed_dim), np.float32)

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        self.load()
        return torch.as_tensor(self._tokenizer(list(texts))).to(self.device)

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        model = self.load()
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                out.append(model.encode_text(self.tokenize(texts[i : i + self.batch_size])).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.embed_dim), np.float32)

    def release(self) -> None:
        """Drop the loaded model (it is reloaded on next use)."""
        self._model = None

    def save(self, path: Path) -> Path:
        """Write the teacher's weights (so a randomly initialised teacher travels with a model)."""
        model = self.load()
        atomic_torch_save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)
        return path
