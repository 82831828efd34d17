"""A whole task in one module: loader, declaration, leaderboard column and demo generator.

``tests/test_toy_task.py`` registers it (``TASKS.registered("toy", "toy_task:TASK")``, what a
package does with one entry point) and runs it end to end; nothing else in the tree names it.
Layout: ``Toy/toy.csv`` (``file,label,fold``) beside ``Toy/audio/*.wav``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from bench.audio import ClipPolicy
from bench.demo import DemoDataset
from bench.task import Clip, Dataset, MissingFile, TableColumn, TaskSpec

LABELS = {"low": 220.0, "mid": 660.0, "high": 1980.0}
RATE = 16000


def generate(root: Path, seed: int, scale: float = 1.0) -> dict[str, Any]:
    """Three tones (one per label) with random level, detuning and noise: 3 folds of 4 clips per label."""
    rng = np.random.default_rng(seed)
    (root / "audio").mkdir(parents=True)
    rows = []
    for fold in (1, 2, 3):
        for label, freq in LABELS.items():
            for k in range(max(2, round(4 * scale))):
                t = np.arange(int(0.5 * RATE)) / RATE
                f = freq * rng.uniform(0.97, 1.03)
                wave = rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * f * t) + 0.02 * rng.standard_normal(len(t))
                name = f"{fold}-{label}-{k}.wav"
                sf.write(root / "audio" / name, wave.astype(np.float32), RATE)
                rows.append([name, label, fold])
    with (root / "toy.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows([["file", "label", "fold"], *rows])
    return {"clips": len(rows)}


def load(root: Path) -> Dataset:
    with (root / "toy.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    classes = sorted({r["label"] for r in rows})
    clips, missing = [], []
    for r in rows:
        path = root / "audio" / r["file"]
        if not path.is_file():
            missing.append(MissingFile(r["file"], path, "listed in toy.csv but absent"))
            continue
        clips.append(Clip(id=r["file"], path=path, target=classes.index(r["label"]), fold=int(r["fold"])))
    return Dataset(task="toy", root=root, clips=clips, classes=classes, missing=missing)


TASK = TaskSpec(
    name="toy",
    title="Toy tones",
    kind="multiclass",
    loader=load,
    root_names=("Toy",),
    marker="toy.csv",
    metrics=("accuracy",),
    clip_policy=ClipPolicy(duration_s=0.5),
    folds=(1, 2, 3),
    zero_shot=None,
    table_columns=(TableColumn("table2", "Toy<br>ACC", "accuracy"),),
    demo=DemoDataset("toy", folder="Toy", version="1", generate=generate),
    order=95,
    description="Three pure tones; 3-fold cross-validation.",
)
