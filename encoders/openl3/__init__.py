"""``openl3``: OpenL3 (mel256, env or music, 512-d) in torch, loading the official Keras weights.

The ``openl3`` package cannot be installed on today's stack (its setup.py downloads the
weights from GitHub, pins h5py<3 and runs on Keras 2 only), so the published architecture is
implemented in torch (:mod:`encoders.openl3.model`) and the official ``.h5`` files are read
with h5py (:mod:`encoders.openl3.h5`). ``torchopenl3`` (PyPI 1.0.1) does install, but it
fetches its own converted weights from GitHub at run time and uses nnAudio's front end;
we build on neither.

Weights (``--weights``): a file ``openl3_audio_mel256_<content>.h5`` or a directory holding
it (the image file ``openl3_image_mel256_<content>.h5`` is looked up beside it); ``random``
for deterministic random weights; nothing: the files of an installed ``openl3`` package or
``$BENCH_HOME/models/openl3/``, else the random stand-in on the demo suite only (rows
labelled ``openl3[random-weights]``). ``--opt backend=openl3`` runs the ``openl3`` package
itself (``get_audio_embedding``) when it is installed.

Audio: 48 kHz mono, 1 s windows every ``hop_s`` (0.1 s; the automatic random stand-in defaults
to 0.5 s, a demo preset shown in its label) with centre padding (window k is
centred on k·hop_s), end zero-padded; clip embedding = mean over windows. bench's 1 s
frames are means of the windows centred in each second (:mod:`encoders._frames`). Images
(cross-modal retrieval): the image sub-network, 512-d.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench import paths
from bench.encoder import Encoder, FrameEmbeddings, NotSupportedError
from bench.frameworks import module_available
from bench.hashing import sha256_file
from encoders._frames import pool_to_windows

RANDOM = "random"
PUBLISHED_HOP_S = 0.1
DEMO_HOP_S = 0.5
CONTENT_TYPES = ("env", "music")
BACKENDS = ("torch", "openl3")
FIX_WEIGHTS = (
    "download openl3_audio_mel256_{c}.h5 (and openl3_image_mel256_{c}.h5 for images) from "
    "https://github.com/marl/openl3/tree/models (gunzip the -v0_4_0.h5.gz files) into "
    "$BENCH_HOME/models/openl3/ or pass --weights FILE_OR_DIR; --weights random runs random weights on purpose"
)


def audio_file_name(content_type: str) -> str:
    return f"openl3_audio_mel256_{content_type}.h5"


def default_weight_dirs() -> list[Path]:
    """Where weights are looked for when none are given: $BENCH_HOME/models/openl3, the openl3 package."""
    dirs = [paths.models_dir() / "openl3"]
    try:
        spec = importlib.util.find_spec("openl3")  # locating the package does not import TF
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        dirs.append(Path(spec.origin).parent)
    return dirs


def find_default_weights(content_type: str) -> Path | None:
    for d in default_weight_dirs():
        if (d / audio_file_name(content_type)).is_file():
            return d / audio_file_name(content_type)
    return None


class OpenL3Encoder(Encoder):
    name = "openl3"
    version = "1"
    sample_rate = 48000
    preferred_batch_size = 4
    training_data = "AudioSet videos (audio-visual correspondence; env: environmental, music: music content)"
    check_variants = ({"hop_s": 0.5}, {"seed": 1})

    def __init__(
        self,
        device: str = "cpu",
        weights: str | None = None,
        content_type: str = "env",
        embedding_size: int = 512,
        hop_s: float | None = None,
        backend: str = "torch",
        seed: int = 0,
        window_batch: int = 32,
    ) -> None:
        if content_type not in CONTENT_TYPES:
            raise ValueError(f"openl3: content_type must be one of {CONTENT_TYPES}, got {content_type!r}")
        if backend not in BACKENDS:
            raise ValueError(f"openl3: backend must be one of {BACKENDS}, got {backend!r}")
        if hop_s is not None and not 0 < hop_s <= 1:
            raise ValueError(f"openl3: hop_s must be in (0, 1] seconds, got {hop_s}")
        self.device = device
        self.content_type = content_type
        self.embedding_dim = int(embedding_size)
        self.backend = backend
        self.seed = seed
        self.window_batch = window_batch
        self.random_requested = weights == RANDOM
        self.audio_path: Path | None = None
        if backend == "openl3":
            if not module_available("openl3"):
                raise ImportError(
                    "openl3: backend=openl3 needs the openl3 package, which is not installed (and cannot be "
                    "installed from PyPI alone: its setup.py downloads weights from GitHub). Use the default "
                    "backend=torch with the official .h5 files instead"
                )
        elif weights is None:
            self.audio_path = find_default_weights(content_type)
        elif weights != RANDOM:
            self.audio_path = self._resolve(Path(weights).expanduser())
        self.random_weights = backend == "torch" and self.audio_path is None
        if self.random_weights:
            self.training_data = "none (random weights)"
        # the published hop; the automatic random stand-in (demo suite only) frames every 0.5 s
        # to keep the demo CPU-friendly (OpenL3 costs ~20 GFLOP per window) unless hop_s is given
        stand_in = self.random_weights and not self.random_requested
        self.hop_s = float(hop_s) if hop_s is not None else (DEMO_HOP_S if stand_in else PUBLISHED_HOP_S)
        self._audio: Any = None
        self._image: Any = None
        self._weights_id: str | None = None

    def _resolve(self, p: Path) -> Path:
        if p.is_dir():
            f = p / audio_file_name(self.content_type)
            if not f.is_file():
                raise FileNotFoundError(f"openl3: {p} has no {f.name}; {FIX_WEIGHTS.format(c=self.content_type)}")
            return f
        if not p.is_file():
            raise FileNotFoundError(f"openl3: weights file {p} not found; {FIX_WEIGHTS.format(c=self.content_type)}")
        return p

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        found = {c: find_default_weights(c) for c in CONTENT_TYPES}
        if found["env"] is not None:
            return True, f"official weights at {found['env'].parent}"
        where = " or ".join(str(d) for d in default_weight_dirs())
        return False, (
            f"no OpenL3 weights in {where}; the demo suite runs random weights (openl3[random-weights]). "
            "For real weights: " + FIX_WEIGHTS.format(c="env")
        )

    def options(self) -> dict[str, Any]:
        return {
            "input_repr": "mel256",
            "content_type": self.content_type,
            "embedding_size": self.embedding_dim,
            "hop_s": self.hop_s,
            "center": True,
            "backend": self.backend,
            "pooling": "mean",
            "frontend": "librosa-like-torch" if self.backend == "torch" else "openl3-kapre",
        }

    def weights_id(self) -> str:
        if self._weights_id is None:
            if self.backend == "openl3":
                self._weights_id = "openl3-package"
            elif self.audio_path is None:
                self._weights_id = f"random-seed{self.seed}"
            else:
                self._weights_id = "h5:" + sha256_file(self.audio_path)[:16]
        return self._weights_id

    def label(self) -> str:
        tags = [] if self.content_type == "env" else [self.content_type]
        if self.embedding_dim != 512:
            tags.append(str(self.embedding_dim))
        if abs(self.hop_s - PUBLISHED_HOP_S) > 1e-9:
            tags.append(f"hop{self.hop_s:g}")
        if self.random_weights:
            tags.append("random-weights")
        return f"{self.name}[{','.join(tags)}]" if tags else self.name

    def refusal(self, data_kind: str) -> str | None:
        if data_kind == "real" and self.random_weights and not self.random_requested:
            return (
                "openl3: no OpenL3 weights on this machine, refusing random weights on real data; "
                + FIX_WEIGHTS.format(c=self.content_type)
            )
        return None

    def audio_model(self) -> Any:
        if self._audio is None:
            from encoders.openl3.h5 import load_l3_stack
            from encoders.openl3.model import OpenL3Audio

            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                model = OpenL3Audio(self.embedding_dim)
            if self.audio_path is not None:
                load_l3_stack(model.net, self.audio_path, "audio_embedding_layer")
            self._audio = model.eval().to(self.device)
        return self._audio

    def image_model(self) -> Any:
        if self._image is None:
            from encoders.openl3.h5 import load_l3_stack
            from encoders.openl3.model import OpenL3Image

            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed + 1)
                model = OpenL3Image(512)
            if self.audio_path is not None:
                image_path = self.audio_path.with_name(self.audio_path.name.replace("_audio_", "_image_"))
                if not image_path.is_file():
                    raise NotSupportedError(
                        f"openl3: no image weights {image_path} beside the audio weights; "
                        + FIX_WEIGHTS.format(c=self.content_type)
                    )
                load_l3_stack(model.net, image_path, "vision_embedding_layer")
            self._image = model.eval().to(self.device)
        return self._image

    def native_frames(self, waves: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per clip: window embeddings [T, D] and window centres k·hop_s (openl3's timestamps)."""
        if self.backend == "openl3":
            return self._openl3_package(waves)
        from encoders.openl3.model import frame_audio

        windows = [frame_audio(w, self.hop_s, center=True) for w in waves]
        flat = np.concatenate(windows, axis=0)
        model = self.audio_model()
        outs = []
        with torch.inference_mode():
            for i in range(0, len(flat), self.window_batch):
                x = torch.from_numpy(flat[i : i + self.window_batch]).to(self.device)
                outs.append(model(x).float().cpu().numpy())
        emb = np.concatenate(outs, axis=0)
        result, k = [], 0
        for win in windows:
            result.append((emb[k : k + len(win)], np.arange(len(win), dtype=np.float64) * self.hop_s))
            k += len(win)
        return result

    def _openl3_package(self, waves: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        from bench.frameworks import import_tensorflow

        import_tensorflow()
        import openl3

        embs, tss = openl3.get_audio_embedding(
            [np.asarray(w, dtype=np.float32) for w in waves],
            self.sample_rate,
            input_repr="mel256",
            content_type=self.content_type,
            embedding_size=self.embedding_dim,
            center=True,
            hop_size=self.hop_s,
            verbose=False,
        )
        return [(np.asarray(e, np.float32), np.asarray(t, np.float64)) for e, t in zip(embs, tss, strict=True)]

    def embed(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([emb.mean(axis=0) for emb, _ in self.native_frames(waves)]).astype(np.float32)

    def embed_frames(self, waves: Sequence[np.ndarray], window_s: float = 1.0) -> FrameEmbeddings:
        frames, starts = [], []
        for w, (emb, centres) in zip(waves, self.native_frames(waves), strict=True):
            rows, st = pool_to_windows(emb, centres, len(w) / self.sample_rate, window_s)
            frames.append(rows)
            starts.append(st)
        return FrameEmbeddings(frames=frames, starts_s=starts, window_s=window_s)

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        from encoders.openl3.model import preprocess_images

        model = self.image_model()
        outs = []
        with torch.inference_mode():
            for i in range(0, len(images), 16):
                x = preprocess_images(images[i : i + 16]).to(self.device)
                outs.append(model(x).float().cpu().numpy())
        return np.concatenate(outs, axis=0) if outs else np.zeros((0, 512), np.float32)

    def close(self) -> None:
        self._audio = None
        self._image = None
