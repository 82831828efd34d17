"""The demo CLIP teacher: the tiny open_clip model, fitted briefly to the demo suite's videos.

A *randomly initialised* tiny CLIP separates the demo's classes too weakly to teach anything
(measured: even a perfect class-level audio model would reach only ~3× chance audio→image MRR
against its embeddings), so the demo teacher is first trained briefly on frames of the demo's
*training* videos against captions of their labels (cross-entropy of each frame over the
label prompts, through both towers): a stand-in for the world knowledge real CLIP brings.
Distillation itself never sees a label. Everything is seeded; the teacher's weights are
stored in the run folder (``teacher.pt``) so zero-shot uses exactly the distillation teacher.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.atomic import atomic_write_json
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
