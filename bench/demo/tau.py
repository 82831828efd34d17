"""TAU Urban Audio-Visual Scenes 2021-like demo: 10 scenes recorded at several city locations.

Real layout: ``audio/<scene>-<city>-<location>-<segment>.wav`` (48 kHz, 24-bit, stereo),
``video/<same>.mp4``, tab-separated ``meta.csv`` (with the city-location ``identifier``) and
``evaluation_setup/fold1_{train,evaluate,test}.csv``. As in the real split, training and
evaluation locations never overlap, and every location colours its recordings (a fixed
filter, echo and stereo image), so a probe must generalise to unseen places. Segments last
2 s (real: 10 s) to keep the demo small; videos are tiny (32×32, 5 fps, no audio track):
audio-only evaluation never opens them, they are there so the layout is the real one.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import av
import numpy as np
import soundfile as sf
from scipy.signal import lfilter

from bench.demo import DemoDataset
from bench.demo.sounds import Nuisance, class_recipes, render_clip

SCENES = [
    "airport",
    "bus",
    "metro",
    "metro_station",
    "park",
    "public_square",
    "shopping_mall",
    "street_pedestrian",
    "street_traffic",
    "tram",
]
CITIES = ["barcelona", "helsinki", "lisbon", "london", "lyon", "milan", "paris", "prague", "stockholm", "vienna"]
SR = 48000
DURATION_S = 2.0
LOCATIONS = {"train": 3, "evaluate": 2}  # per scene
SEGMENTS = {"train": 4, "evaluate": 3}  # per location
VIDEO_FPS = 5
VIDEO_SIZE = 32
HEADER = ["filename_audio", "filename_video", "scene_label"]


def _location_colour(rng: np.random.Generator) -> dict[str, float]:
    return {
        "pole": float(rng.uniform(-0.6, 0.8)),
        "echo_s": float(rng.uniform(0.01, 0.06)),
        "echo_gain": float(rng.uniform(0.1, 0.5)),
        "width": float(rng.uniform(0.0, 0.4)),
        "delay": float(rng.integers(0, 24)),
    }


def _stereo(wave: np.ndarray, colour: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """A location's fixed one-pole tilt and echo, then a binaural-like pair of channels."""
    x = lfilter([1.0 - abs(colour["pole"])], [1.0, -colour["pole"]], wave)
    lag = int(colour["echo_s"] * SR)
    x[lag:] += colour["echo_gain"] * x[:-lag]
    d = int(colour["delay"])
    left = x + colour["width"] * 0.1 * rng.standard_normal(len(x)) * np.std(x)
    right = np.roll(x, d) * (1 - colour["width"] / 2) + colour["width"] * 0.1 * rng.standard_normal(len(x)) * np.std(x)
    out = np.stack([left, right], axis=1)
    return (out / (np.abs(out).max() + 1e-9) * 0.5).astype(np.float32)


def _write_video(path: Path, scene: int, rng: np.random.Generator) -> None:
    base = np.array([0.5 + 0.5 * np.cos(2 * np.pi * (scene / len(SCENES) + k / 3)) for k in range(3)])
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=VIDEO_FPS)
        stream.width = stream.height = VIDEO_SIZE
        stream.pix_fmt = "yuv420p"
        for _ in range(int(DURATION_S * VIDEO_FPS)):
            img = np.clip(base * rng.uniform(0.6, 1.0) + 0.15 * rng.standard_normal((VIDEO_SIZE, VIDEO_SIZE, 3)), 0, 1)
            frame = av.VideoFrame.from_ndarray((img * 255).astype(np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _write_tsv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def generate(root: Path, seed: int, scale: float = 1.0) -> dict[str, Any]:
    recipes = class_recipes(len(SCENES), seed=seed + 2021)
    rng = np.random.default_rng(seed + 4)
    for sub in ("audio", "video", "evaluation_setup"):
        (root / sub).mkdir(parents=True)
    nuisance = Nuisance(pitch_semitones=2.0, snr_db=(3.0, 20.0), distractor_prob=0.8, distractor_db=(-10.0, -2.0))
    folds: dict[str, list[list[str]]] = {"train": [], "evaluate": []}
    meta: list[list[str]] = []
    location_ids: set[int] = set()
    for k, scene in enumerate(SCENES):
        for split in ("train", "evaluate"):
            for _ in range(LOCATIONS[split]):
                city = CITIES[int(rng.integers(len(CITIES)))]
                loc = int(rng.integers(100, 1300))
                while loc in location_ids:
                    loc = int(rng.integers(100, 1300))
                location_ids.add(loc)
                identifier = f"{city}-{loc}"
                colour = _location_colour(rng)
                segment = int(rng.integers(1000, 60000))
                for _s in range(max(1, round(SEGMENTS[split] * scale))):
                    segment += int(rng.integers(1, 40))
                    stem = f"{scene}-{identifier}-{segment}"
                    wave = render_clip(recipes, k, rng, SR, DURATION_S, nuisance, event_span=(0.85, 1.0))
                    sf.write(root / "audio" / f"{stem}.wav", _stereo(wave, colour, rng), SR, subtype="PCM_24")
                    _write_video(root / "video" / f"{stem}.mp4", k, rng)
                    row = [f"audio/{stem}.wav", f"video/{stem}.mp4", scene]
                    folds[split].append(row)
                    meta.append([*row, identifier])
    _write_tsv(root / "meta.csv", [*HEADER, "identifier"], sorted(meta))
    _write_tsv(root / "evaluation_setup" / "fold1_train.csv", HEADER, sorted(folds["train"]))
    _write_tsv(root / "evaluation_setup" / "fold1_evaluate.csv", HEADER, sorted(folds["evaluate"]))
    _write_tsv(root / "evaluation_setup" / "fold1_test.csv", HEADER[:2], [r[:2] for r in sorted(folds["evaluate"])])
    return {
        "clips": len(meta),
        "classes": len(SCENES),
        "locations": len(location_ids),
        "sample_rate": SR,
        "duration_s": DURATION_S,
    }


DEMO = DemoDataset("tau", folder="TAU-urban-audio-visual-scenes-2021-development", version="1", generate=generate)
