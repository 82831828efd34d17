"""``wav2clip``: the Wav2CLIP audio encoder as a bench adapter, with its CLIP teacher's text/image sides.

Weights (``weights=``):

* a path to a ``Wav2CLIP.pt``-layout file (the release, or ``best.pt`` / ``last.pt`` written
  by ``bench train wav2clip``); a ``model.json`` beside a trained file names its teacher;
* ``official``: the release fetched with ``bench weights fetch wav2clip-official``;
* ``demo``: the model distilled on the demo suite (trained on first use, then reused);
* ``random``: the architecture with random weights (seeded), a baseline;
* nothing: the fetched release if present, else the demo model.

A model trained on demo data is ``demo_only``: the runner refuses it on real datasets.

Clip embedding: the projected 512-d audio embedding in CLIP space, not L2-normalised (as the
release returns it). ``norm="clip"`` (default) standardises each clip's log-spectrogram on its
own, so batching never changes an embedding; ``norm="batch"`` is the reference behaviour (one
mean/std over everything passed in one call: a batch, or all windows of a clip). Frames: 1-s
non-overlapping windows (the paper), last partial window zero-padded, window-start timestamps.
Inference runs batched under ``torch.inference_mode`` with channels-last weights
(see ``benchmarks/wav2clip_batching.py``). A forward pass takes as many same-length clips as
make about 40 s of audio (8 × 5 s, 4 × 10 s, 40 × 1 s windows: the fastest batches measured on
2 CPU cores, ``benchmarks/speed.py``), unless ``batch_size`` fixes the count. ``precision``
``bf16``/``fp16`` runs the network under autocast (:mod:`bench.precision`); it is part of the
fingerprint and the label (``wav2clip[bf16]``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.encoder import Encoder, FrameEmbeddings, NotSupportedError
from bench.hashing import sha256_file
from bench.precision import autocast, check_precision, slow_on_this_cpu
from encoders.wav2clip.checkpoint import load_official
from encoders.wav2clip.model import SAMPLE_RATE, Wav2CLIPAudio
from encoders.wav2clip.run_meta import is_demo_weights, run_metadata
from encoders.wav2clip.teacher import PAPER_MODEL, PAPER_PRETRAINED, CLIPTeacher, TeacherSpec


@dataclass
class ResolvedWeights:
    kind: str  # official | demo | file | random
    path: Path | None
    sha256: str
    meta: dict[str, Any] = field(default_factory=dict)


def resolve_weights(weights: str | None, device: str = "cpu", show_progress: bool = True) -> ResolvedWeights:
    from bench.weights import fetched_path
    from encoders.wav2clip.demo import ensure_demo_model

    if weights == "random":
        return ResolvedWeights("random", None, "random")
    if weights in (None, "official"):
        official = fetched_path("wav2clip-official")
        if official is not None:
            return ResolvedWeights("official", official, sha256_file(official))
        if weights == "official":
            raise FileNotFoundError(
                "the official Wav2CLIP weights have not been fetched: run `bench weights fetch wav2clip-official` "
                "(needs internet) or pass --weights PATH/TO/Wav2CLIP.pt"
            )
    if weights in (None, "demo"):
        path = ensure_demo_model(device=device, show_progress=show_progress)
        return ResolvedWeights("demo", path, sha256_file(path), run_metadata(path))
    assert weights is not None
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"wav2clip weights {path} not found; pass --weights with a "
            "Wav2CLIP.pt-layout file, 'official', 'demo' or 'random'"
        )
    meta = run_metadata(path)
    digest = sha256_file(path)
    return ResolvedWeights("demo" if meta.get("demo") or is_demo_weights(digest) else "file", path, digest, meta)


def resolve_teacher(
    teacher: str | None, pretrained: str | None, seed: int | None, resolved: ResolvedWeights
) -> TeacherSpec | None:
    """The distillation teacher: explicit options, else the run's ``model.json``, else the paper's."""
    if teacher == "none":
        return None
    recorded = resolved.meta.get("teacher")
    if teacher is None and recorded:
        spec = TeacherSpec.from_json(recorded)
        pre = spec.pretrained
        if pre is not None and resolved.path is not None and pre.startswith("./"):
            pre = str(resolved.path.parent / pre[2:])  # a teacher file stored inside the run folder
        return TeacherSpec(
            spec.model, pretrained if pretrained is not None else pre, spec.seed if seed is None else seed
        )
    model = teacher or PAPER_MODEL
    if pretrained is None and model == PAPER_MODEL:
        pretrained = PAPER_PRETRAINED
    return TeacherSpec(model, pretrained, seed or 0)


AUDIO_PER_PASS_S = 40.0  # audio per forward pass when batch_size is not given (see the module docstring)


class Wav2CLIPEncoder(Encoder):
    name = "wav2clip"
    version = "1"
    sample_rate = SAMPLE_RATE
    embedding_dim = 512
    preferred_batch_size = 16  # clips per call from the extractor; the passes inside follow AUDIO_PER_PASS_S
    training_data = "VGGSound (distilled from CLIP, itself trained on web image-text pairs)"
    trained_on: tuple[str, ...] = ("vggsound",)
    check_variants = ({"seed": 1}, {"norm": "batch"})

    def __init__(
        self,
        device: str = "cpu",
        weights: str | None = None,
        norm: str = "clip",
        teacher: str | None = None,
        teacher_pretrained: str | None = None,
        teacher_seed: int | None = None,
        batch_size: int | None = None,
        seed: int = 0,
        precision: str = "fp32",
    ) -> None:
        if norm not in ("clip", "batch"):
            raise ValueError(f"wav2clip: norm must be 'clip' (per-clip, default) or 'batch' (reference), got {norm!r}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"wav2clip: batch_size must be >= 1, got {batch_size}")
        self.device = device
        self.norm = norm
        self.seed = seed
        self.precision = check_precision(precision, "wav2clip")
        slow = slow_on_this_cpu(self.precision, device)
        if slow:
            warnings.warn(f"wav2clip: {slow}", stacklevel=2)
        self.batch_size = None if batch_size is None else int(batch_size)
        if self.batch_size is not None:
            self.preferred_batch_size = self.batch_size
        self.weights = resolve_weights(None if weights in (None, "") else str(weights), device=device)
        if self.weights.path is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = Wav2CLIPAudio(norm=norm).eval()
        else:
            model = load_official(self.weights.path, norm=norm)
        self.model = model.to(device).to(memory_format=torch.channels_last)
        self.demo_only = bool(self.weights.kind == "demo")
        if self.weights.kind != "official":
            self.training_data = {
                "demo": "the demo suite's synthetic VGGSound (`bench data demo`), with a tiny demo CLIP teacher",
                "random": "none (random weights)",
            }.get(
                self.weights.kind,
                f"as the weights file {self.weights.path.name if self.weights.path else '?'} was "
                "trained (the recipe: VGGSound)",
            )
            # a weights file keeps ("vggsound",): the recipe distils on VGGSound; flag it rather than miss an overlap
            self.trained_on = {"demo": ("demo:vggsound",), "random": ()}.get(self.weights.kind, self.trained_on)
        spec = resolve_teacher(teacher, teacher_pretrained, teacher_seed, self.weights)
        self.teacher = CLIPTeacher(spec, device=device) if spec is not None else None

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        from bench.weights import fetched_path
        from encoders.wav2clip.demo import find_demo_model

        official = fetched_path("wav2clip-official")
        if official is not None:
            return True, f"official weights at {official}"
        demo = find_demo_model()
        if demo is not None:
            return True, f"demo model at {demo} (trained on synthetic data; refused on real data)"
        return True, (
            "no weights yet: the first run distils a demo model (a few minutes on 2 CPU cores); "
            "for real data fetch the release (`bench weights fetch wav2clip-official`) or pass --weights"
        )

    def refusal(self, data_kind: str) -> str | None:
        """Demo-trained weights are for the demo suite only (also refused as a HEAR module)."""
        if self.demo_only and data_kind != "demo":
            return (
                f"encoder {self.label()!r} was trained on the synthetic demo suite (weights {self.weights_id()[:12]}); "
                "refusing to score real data. Give it real weights: --weights PATH, "
                "or fetch the release with `bench weights fetch wav2clip-official`."
            )
        return None

    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"norm": self.norm, "teacher": self.teacher.spec.identity() if self.teacher else None}
        if self.weights.kind == "random":
            opts["seed"] = self.seed
        if self.precision != "fp32":  # fp32 keeps the fingerprint it had before the option existed
            opts["precision"] = self.precision
        return opts

    def weights_id(self) -> str:
        return f"random-seed{self.seed}" if self.weights.kind == "random" else self.weights.sha256

    def label(self) -> str:
        tags = []
        if self.weights.kind == "demo":
            tags.append("demo")
        elif self.weights.kind == "random":
            tags.append("random")
        if self.norm == "batch":
            tags.append("batch-norm")
        if self.precision != "fp32":
            tags.append(self.precision)
        base = self.name if self.weights.kind != "file" else f"{self.name}@{self.weights.sha256[:8]}"
        return f"{base}[{','.join(tags)}]" if tags else base

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["weights_source"] = {
            "kind": self.weights.kind,
            "path": str(self.weights.path) if self.weights.path else None,
        }
        out["demo_only"] = self.demo_only
        return out

    def _forward(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode(), autocast(self.precision, self.device):
            t = torch.from_numpy(x).to(self.device)
            return self.model(t).float().cpu().numpy()

    def clips_per_pass(self, n_samples: int) -> int:
        """How many clips of ``n_samples`` go through the network together."""
        if self.batch_size is not None:
            return self.batch_size
        return max(1, int(AUDIO_PER_PASS_S * self.sample_rate) // max(1, n_samples))

    def embed(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        """Same-length clips go through the model together, :meth:`clips_per_pass` at a time.

        With ``norm="batch"`` every same-length group is one call, reproducing the reference's
        dependence on batch mates (clips of other lengths could not share the reference's batch).
        """
        out = np.zeros((len(waves), self.embedding_dim), dtype=np.float32)
        by_len: dict[int, list[int]] = {}
        for i, w in enumerate(waves):
            by_len.setdefault(len(w), []).append(i)
        for n, idx in by_len.items():
            step = len(idx) if self.norm == "batch" else self.clips_per_pass(n)
            for s in range(0, len(idx), step):
                chunk = idx[s : s + step]
                batch = np.empty((len(chunk), n), dtype=np.float32)  # one copy, straight into the batch
                for row, i in enumerate(chunk):
                    batch[row] = waves[i]
                out[chunk] = self._forward(batch)
        return out

    def embed_frames(self, waves: Sequence[np.ndarray], window_s: float = 1.0) -> FrameEmbeddings:
        win = int(round(window_s * self.sample_rate))
        windows: list[list[np.ndarray]] = []
        for wave in waves:
            n = max(1, int(np.ceil(len(wave) / win)))
            padded = np.zeros(n * win, dtype=np.float32)
            padded[: len(wave)] = wave
            windows.append([padded[i * win : (i + 1) * win] for i in range(n)])
        if self.norm == "batch":  # the reference standardises over all windows of one clip
            frames = [self.embed(ws) for ws in windows]
        else:
            flat = self.embed([w for ws in windows for w in ws])
            bounds = np.cumsum([0] + [len(ws) for ws in windows])
            frames = [flat[bounds[i] : bounds[i + 1]] for i in range(len(windows))]
        starts = [np.arange(len(ws), dtype=np.float64) * window_s for ws in windows]
        return FrameEmbeddings(frames=frames, starts_s=starts, window_s=window_s)

    def _teacher(self) -> CLIPTeacher:
        if self.teacher is None:
            raise NotSupportedError(
                "wav2clip: the CLIP teacher is disabled (teacher=none), so there is no text/image side"
            )
        return self.teacher

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        return self._teacher().embed_text(texts)

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        return self._teacher().embed_images(images)

    def close(self) -> None:
        if self.teacher is not None:
            self.teacher.release()
