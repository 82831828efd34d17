"""VGGSound-like audio-visual demo: mp4 clips whose sound *and* picture depend on the class.

Real layout: a headerless ``vggsound.csv`` (``ytid,start,label,split``; labels with commas are
quoted; some ids start with ``-``) and media named ``{ytid}_{start:06d}.mp4`` under ``video/``.
A few rows have no media, as in every real copy. Clips last 5 s (the real ones 10 s; the paper
distils from a 5-s window anyway), video 64×64 at 30 fps (MPEG-4 Part 2), audio AAC 16 kHz mono.
There are 22 classes (real VGGSound labels) whose sounds are shared with the other demo sets
through :func:`bench.demo.sounds.concept_recipes`. Each class draws a shape with its own colour
and motion; position, size, brightness and background vary per clip, so a frozen image model's
embeddings cluster by class without being constant.
"""

from __future__ import annotations

import csv
import string
from pathlib import Path
from typing import Any

import av
import numpy as np

from bench.demo import DemoDataset
from bench.demo.parallel import map_jobs
from bench.demo.sounds import Nuisance, concept_recipes, render_clip

# Real VGGSound labels (data/stat.csv of the authors' repository), each mapped to a concept of the
# shared demo sound world so that pre-training on this set can transfer to the other demo sets.
LABEL_CONCEPTS = {
    "dog barking": "dog",
    "chicken crowing": "rooster",
    "raining": "rain",
    "sea waves": "sea_waves",
    "fire crackling": "crackling_fire",
    "baby crying": "crying_baby",
    "people sneezing": "sneezing",
    "helicopter": "helicopter",
    "chainsawing trees": "chainsaw",
    "frog croaking": "frog",
    "cat meowing": "cat",
    "crow cawing": "crow",
    "wind noise": "wind",
    "people coughing": "coughing",
    "typing on computer keyboard": "keyboard_typing",
    "vacuum cleaner cleaning floors": "vacuum_cleaner",
    "ambulance siren": "siren",
    "church bell ringing": "church_bells",
    "heart sounds, heartbeat": "heartbeat",
    "engine accelerating, revving, vroom": "engine",
    "cattle, bovinae cowbell": "cowbell",
    "people marching": "marching",
}
LABELS = list(LABEL_CONCEPTS)
SHAPES = ["disc", "square", "hstripes", "vstripes", "checker", "ring", "cross", "diagonal", "dots", "triangle"]
SR = 16000
FPS = 30
SIZE = 64
DURATION_S = 5.0
TRAIN_PER_CLASS = 48
TEST_PER_CLASS = 5
ID_CHARS = string.ascii_letters + string.digits + "-_"


def frame_for(label: int, t: float, rng_params: dict[str, float]) -> np.ndarray:
    """One RGB frame: class shape and hue, per-clip position/scale/brightness, class motion."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    hue = label / len(LABELS)
    color = np.array([0.5 + 0.5 * np.cos(2 * np.pi * (hue + k / 3)) for k in range(3)], dtype=np.float32)
    speed = 0.15 + 0.05 * (label % 3)
    cx = rng_params["cx"] + speed * np.sin(2 * np.pi * (t * (0.3 + 0.1 * label) + rng_params["phase"]))
    cy = rng_params["cy"] + speed * np.cos(2 * np.pi * (t * 0.25 + rng_params["phase"]))
    r = rng_params["scale"]
    dx, dy = xx - cx, yy - cy
    shape = SHAPES[label % len(SHAPES)]
    if shape == "disc":
        mask = dx**2 + dy**2 < r**2
    elif shape == "square":
        mask = (np.abs(dx) < r) & (np.abs(dy) < r)
    elif shape == "hstripes":
        mask = np.sin(2 * np.pi * (yy * 6 + t * 0.5)) > 0.3
    elif shape == "vstripes":
        mask = np.sin(2 * np.pi * (xx * 6 - t * 0.5)) > 0.3
    elif shape == "checker":
        mask = (np.floor((xx + t * 0.1) * 6) + np.floor(yy * 6)) % 2 == 0
    elif shape == "ring":
        d = np.sqrt(dx**2 + dy**2)
        mask = (d < r) & (d > 0.6 * r)
    elif shape == "cross":
        mask = ((np.abs(dx) < r / 4) & (np.abs(dy) < r)) | ((np.abs(dy) < r / 4) & (np.abs(dx) < r))
    elif shape == "diagonal":
        mask = np.sin(2 * np.pi * ((xx + yy) * 5 + t * 0.4)) > 0.2
    elif shape == "dots":
        mask = (np.sin(2 * np.pi * (xx * 5 + t * 0.2)) * np.sin(2 * np.pi * yy * 5)) > 0.5
    else:  # triangle
        mask = (dy > -r) & (dy < r) & (np.abs(dx) < (dy + r) / 2)
    bg = np.array([rng_params["bg_r"], rng_params["bg_g"], rng_params["bg_b"]], dtype=np.float32)
    img = np.where(mask[..., None], color * rng_params["bright"], bg)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def write_clip(path: Path, audio: np.ndarray, label: int, rng: np.random.Generator) -> None:
    params = {
        "cx": rng.uniform(0.3, 0.7),
        "cy": rng.uniform(0.3, 0.7),
        "phase": rng.uniform(0, 1),
        "scale": rng.uniform(0.15, 0.3),
        "bright": rng.uniform(0.6, 1.0),
        "bg_r": rng.uniform(0, 0.35),
        "bg_g": rng.uniform(0, 0.35),
        "bg_b": rng.uniform(0, 0.35),
    }
    with av.open(str(path), "w") as container:
        vs = container.add_stream("mpeg4", rate=FPS)
        vs.width = vs.height = SIZE
        vs.pix_fmt = "yuv420p"
        vs.bit_rate = 200_000
        aus = container.add_stream("aac", rate=SR)
        aus.layout = "mono"
        for i in range(int(DURATION_S * FPS)):
            frame = av.VideoFrame.from_ndarray(frame_for(label, i / FPS, params), format="rgb24")
            for packet in vs.encode(frame):
                container.mux(packet)
        for packet in vs.encode():
            container.mux(packet)
        hop = 1024
        for i in range(0, len(audio), hop):
            chunk = audio[None, i : i + hop].astype(np.float32)
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="mono")
            af.sample_rate = SR
            af.pts = i
            for packet in aus.encode(af):
                container.mux(packet)
        for packet in aus.encode(None):
            container.mux(packet)


def youtube_id(rng: np.random.Generator, dash: bool) -> str:
    chars = [ID_CHARS[int(rng.integers(len(ID_CHARS)))] for _ in range(11)]
    if dash:
        chars[0] = "-"
    elif chars[0] == "-":
        chars[0] = "a"
    return "".join(chars)


def _render_job(job: tuple[str, int, int, int, int]) -> None:
    path, k, seed, split_index, j = job
    rng = np.random.default_rng([seed, split_index, k, j])
    recipes = concept_recipes([LABEL_CONCEPTS[label] for label in LABELS])
    audio = render_clip(recipes, k, rng, SR, DURATION_S, Nuisance())
    write_clip(Path(path), audio, k, rng)


def generate(root: Path, seed: int, scale: float = 1.0) -> dict[str, Any]:
    rng = np.random.default_rng(seed + 2)
    (root / "video").mkdir(parents=True)
    rows = []
    jobs: list[tuple[str, int, int, int, int]] = []
    missing = 0
    used: set[str] = set()
    for split_index, (split, per_class) in enumerate((("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS))):
        for k, label in enumerate(LABELS):
            for j in range(max(2, round(per_class * scale))):
                ytid = youtube_id(rng, dash=(j % 7 == 3))
                while ytid in used:
                    ytid = youtube_id(rng, dash=False)
                used.add(ytid)
                start = int(rng.integers(0, 300))
                rows.append([ytid, start, label, split])
                if j == 1 and k % 4 == 0:  # vanished from YouTube: listed, no media
                    missing += 1
                    continue
                jobs.append((str(root / "video" / f"{ytid}_{start:06d}.mp4"), k, seed, split_index, j))
    map_jobs(_render_job, jobs)
    with (root / "vggsound.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)  # headerless, quotes only labels that need it
    return {
        "clips": len(rows) - missing,
        "missing_media": missing,
        "classes": len(LABELS),
        "fps": FPS,
        "duration_s": DURATION_S,
    }


DEMO = DemoDataset("vggsound", folder="VGGSound", version="2", generate=generate)
