"""The demo Wav2CLIP: a tiny CLIP teacher and a distilled audio encoder, both from the demo suite.

With no weights on the machine, ``bench run --encoder wav2clip`` distils a model on the
demo VGGSound set so the whole pipeline runs offline. A *randomly initialised* tiny CLIP
separates the demo's classes too weakly to teach anything (measured: even a perfect
class-level audio model would reach only ~3× chance audio→image MRR against its
embeddings), so the demo teacher is first trained briefly on frames of the demo's
*training* videos against captions of their labels (cross-entropy of each frame over the
label prompts, through both towers): a stand-in for the world knowledge real CLIP brings.
Distillation itself never sees a label. Everything is seeded; the teacher's weights are
stored in the run folder (``teacher.pt``) so zero-shot uses exactly the distillation teacher. The result lives in ``$BENCH_HOME/models/wav2clip-demo`` and is reused
while the demo suite is unchanged. It is labelled ``wav2clip[demo]`` and refused on real data.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.atomic import atomic_write_json
from bench.hashing import sha256_file
from bench.paths import models_dir
from bench.progress import progress_bar
from bench.task import Dataset
from bench.video import read_frames
from encoders.wav2clip.teacher import TINY, CLIPTeacher, TeacherSpec

CAPTION_TEMPLATES = (
    "{label}",
    "a video of {label}.",
    "a photo of {label}.",
    "the sound of {label}.",
    "this is a sound of {label}.",
)
TEACHER_FILE = "teacher.pt"
DEMO_TEACHER_VERSION = "1"


def demo_model_dir() -> Path:
    return models_dir() / "wav2clip-demo"


def _demo_registry() -> Path:
    return models_dir() / "demo-weights.json"


def mark_demo_weights(*paths: Path) -> None:
    """Remember these files' hashes as demo-trained, so a copy without its ``model.json`` is still
    recognised (and refused on real data) on this machine."""
    known = set(json.loads(_demo_registry().read_text())) if _demo_registry().is_file() else set()
    known |= {sha256_file(p) for p in paths if p.is_file()}
    _demo_registry().parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(_demo_registry(), sorted(known))


def is_demo_weights(sha256: str) -> bool:
    return _demo_registry().is_file() and sha256 in json.loads(_demo_registry().read_text())


def _wanted_demo() -> dict[str, Any]:
    from bench.demo import GENERATORS, demo_scale

    generator = GENERATORS.get("vggsound")
    version = getattr(sys.modules.get(getattr(generator, "__module__", ""), None), "version", "1")
    return {"generator": "vggsound", "version": str(version), "seed": 0, "scale": demo_scale()}


def find_demo_model() -> Path | None:
    """The finished demo model for the current demo suite settings, if one was trained."""
    from encoders.wav2clip.encoder import run_metadata

    best = demo_model_dir() / "best.pt"
    if not best.is_file():
        return None
    meta = run_metadata(best)
    demo = meta.get("data", {}).get("demo", {})
    if meta.get("status") != "finished" or not meta.get("demo"):
        return None
    if any(demo.get(k) != v for k, v in _wanted_demo().items()):
        return None
    return best


def train_demo_teacher(
    dataset: Dataset,
    out: Path,
    seed: int = 0,
    steps: int = 120,
    fps: float = 2.0,
    batch_size: int = 64,
    show_progress: bool = True,
) -> TeacherSpec:
    """Fit the tiny CLIP so training frames match their label's captions; returns its spec.

    Each step embeds a batch of frames and every (label, template) caption; each frame is
    classified among the labels' captions of every template (cross-entropy), so both towers learn.
    """
    clips = [c for c in dataset.clips if c.split == "train" and c.extra.get("video", True)]
    frames, labels = [], []
    with progress_bar("demo teacher: frames", len(clips), show_progress) as advance:
        for clip in clips:
            try:
                fr = read_frames(clip.path, fps=fps)
            except Exception:  # an unreadable demo video just contributes nothing
                advance(1)
                continue
            frames.append(fr)
            labels += [int(clip.target or 0)] * len(fr)
            advance(1)
    y = torch.tensor(labels)
    n_cls, n_tmpl = len(dataset.classes), len(CAPTION_TEMPLATES)
    teacher = CLIPTeacher(TeacherSpec.tiny(seed))
    model = teacher.load()  # the seeded random start
    pixels = teacher.preprocess(np.concatenate(frames))
    tokens = teacher.tokenize([t.format(label=name) for name in dataset.classes for t in CAPTION_TEMPLATES])
    gen = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        p.requires_grad_(True)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    model.train()
    with progress_bar("demo teacher: training", steps, show_progress) as advance:
        for _ in range(steps):
            idx = torch.randint(len(pixels), (batch_size,), generator=gen)
            img = F.normalize(model.encode_image(pixels[idx]), dim=-1)
            txt = F.normalize(model.encode_text(tokens), dim=-1).view(n_cls, n_tmpl, -1)
            logits = model.logit_scale.exp() * torch.einsum("bd,ctd->btc", img, txt)
            loss = F.cross_entropy(logits.reshape(-1, n_cls), y[idx].repeat_interleave(n_tmpl))
            opt.zero_grad()
            loss.backward()
            opt.step()
            advance(1)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    out.parent.mkdir(parents=True, exist_ok=True)
    teacher.save(out)
    return TeacherSpec(TINY, str(out), seed)


def demo_teacher(out_dir: Path, dataset: Dataset, show_progress: bool = True) -> TeacherSpec:
    """The demo teacher stored in ``out_dir`` (trained now if absent or made for another demo set)."""
    path = out_dir / TEACHER_FILE
    marker = out_dir / "teacher.json"
    wanted = {"version": DEMO_TEACHER_VERSION, "data": dataset.checksum()}
    if not (path.is_file() and marker.is_file() and json.loads(marker.read_text()) == wanted):
        print(f"demo teacher: fitting {TINY} to the demo training videos -> {path}", file=sys.stderr, flush=True)
        train_demo_teacher(dataset, path, show_progress=show_progress)
        atomic_write_json(marker, wanted)
    return TeacherSpec(TINY, str(path), 0)


def ensure_demo_model(device: str = "cpu", show_progress: bool = True) -> Path:
    """The demo model's ``best.pt``: reused when present, else distilled now (resuming a killed run)."""
    found = find_demo_model()
    if found is not None:
        return found
    from encoders.wav2clip.encoder import run_metadata
    from encoders.wav2clip.train import preset, train

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise RuntimeError(
            "no demo Wav2CLIP yet: train it once before a torchrun job (`bench train wav2clip`), "
            "so the ranks do not all distil one at the same time"
        )
    out = demo_model_dir()
    recorded = run_metadata(out / "best.pt").get("data", {}).get("demo")
    if recorded is not None and any(recorded.get(k) != v for k, v in _wanted_demo().items()):
        shutil.rmtree(out)  # made for another demo suite (scale, version): start over
    print(
        f"wav2clip: no weights given and none fetched; distilling a demo model into {out} "
        "(first use only, about 20 minutes on 2 CPU cores)",
        file=sys.stderr,
        flush=True,
    )
    result = train(preset("demo", out_dir=out, device=device, show_progress=show_progress))
    if result.best_path is None or result.status != "finished":
        raise RuntimeError(f"demo distillation in {out} did not finish ({result.status}); run it again to resume")
    return result.best_path
