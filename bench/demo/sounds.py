"""Procedural sounds with class-dependent structure and random nuisance, for the demo suite.

Each class gets a :class:`Recipe` drawn from a seeded generator: a source type (harmonic
tone, band noise, impulse train, chirp, amplitude-modulated tone), its spectral parameters
and a temporal pattern. Every clip then varies pitch, level, timing, background noise and,
sometimes, a quieter event from another class. Classes overlap on purpose (several share a
spectral region and differ only in temporal structure), so simple spectral statistics
cannot solve the demo and a better encoder can still show it is better.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
from scipy.fft import next_fast_len

SOURCE_TYPES = ("harmonic", "noise", "impulses", "chirp", "am_tone", "harmonic_noise")


@dataclass(frozen=True)
class Recipe:
    source: str
    f0: float
    n_harm: int
    tilt: float
    band_lo: float
    band_hi: float
    rate: float
    decay: float
    chirp_ratio: float
    pattern: str  # "sustained", "bursts", "swell", "single"


@dataclass(frozen=True)
class Nuisance:
    """How much clips of one class vary. ``difficulty`` scales every range."""

    pitch_semitones: float = 3.0
    level_db: float = 12.0
    snr_db: tuple[float, float] = (0.0, 20.0)
    distractor_prob: float = 0.5
    distractor_db: tuple[float, float] = (-14.0, -4.0)
    rate_jitter: float = 0.25


def class_recipes(n_classes: int, seed: int) -> list[Recipe]:
    """Recipes for ``n_classes``; pairs of classes share a source type and spectral region."""
    rng = np.random.default_rng(seed)
    recipes: list[Recipe] = []
    for k in range(n_classes):
        if k % 2 == 1 and rng.random() < 0.6:
            # a sibling of the previous class: same source and region, different time structure
            prev = recipes[-1]
            pattern = str(rng.choice([p for p in ("sustained", "bursts", "swell", "single") if p != prev.pattern]))
            recipes.append(
                replace(
                    prev,
                    pattern=pattern,
                    rate=float(prev.rate * rng.choice([0.5, 2.0, 3.0])),
                    decay=float(rng.uniform(0.02, 0.3)),
                )
            )
            continue
        source = str(rng.choice(SOURCE_TYPES))
        lo = float(np.exp(rng.uniform(np.log(150), np.log(3000))))
        recipes.append(
            Recipe(
                source=source,
                f0=float(np.exp(rng.uniform(np.log(90), np.log(1200)))),
                n_harm=int(rng.integers(1, 12)),
                tilt=float(rng.uniform(0.3, 1.5)),
                band_lo=lo,
                band_hi=float(min(7500.0, lo * rng.uniform(1.3, 4.0))),
                rate=float(rng.uniform(1.5, 12.0)),
                decay=float(rng.uniform(0.02, 0.3)),
                chirp_ratio=float(rng.choice([-1, 1]) * rng.uniform(1.3, 3.0)),
                pattern=str(rng.choice(["sustained", "bursts", "swell", "single"])),
            )
        )
    return recipes


def _band_noise(rng: np.random.Generator, n: int, sr: int, lo: float, hi: float) -> np.ndarray:
    m = next_fast_len(n)
    spec = np.fft.rfft(rng.standard_normal(m))
    f = np.fft.rfftfreq(m, 1 / sr)
    spec[(f < lo) | (f > hi)] = 0
    out = np.fft.irfft(spec, m)[:n]
    return out / (np.std(out) + 1e-9)


def _colored_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    m = next_fast_len(n)
    spec = np.fft.rfft(rng.standard_normal(m))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    out = np.fft.irfft(spec / f ** (exponent / 2), m)[:n]
    return out / (np.std(out) + 1e-9)


def _envelope(rng: np.random.Generator, n: int, sr: int, pattern: str, rate: float, decay: float) -> np.ndarray:
    t = np.arange(n) / sr
    if pattern == "sustained":
        env = np.ones(n)
    elif pattern == "swell":
        env = np.sin(np.pi * np.clip(t / max(t[-1], 1e-6), 0, 1)) ** 2
    elif pattern == "single":
        onset = rng.uniform(0, 0.4) * t[-1]
        env = np.where(t >= onset, np.exp(-(t - onset) / max(decay * 4, 1e-3)), 0.0)
    else:  # bursts: decaying hits at a jittered rate
        env = np.zeros(n)
        pos = rng.uniform(0, 1 / rate)
        tail = np.exp(-np.arange(min(n, int(8 * decay * sr) + 1)) / sr / decay)
        while pos < t[-1]:
            i = int(pos * sr)
            m = min(len(tail), n - i)
            env[i : i + m] += tail[:m]
            pos += (1 / rate) * rng.uniform(0.7, 1.3)
        env = np.minimum(env, 1.5)
    fade = min(n // 2, int(0.005 * sr))
    if fade > 0:
        env[:fade] *= np.linspace(0, 1, fade)
        env[-fade:] *= np.linspace(1, 0, fade)
    return env


def render_source(
    recipe: Recipe, rng: np.random.Generator, sr: int, n: int, pitch: float, rate_scale: float
) -> np.ndarray:
    t = np.arange(n) / sr
    nyq = sr / 2 - 100
    f0 = recipe.f0 * pitch
    rate = recipe.rate * rate_scale
    if recipe.source in ("harmonic", "harmonic_noise", "am_tone"):
        sig = np.zeros(n)
        base_phase = 2 * np.pi * f0 * t * (1 + 0.003 * np.sin(2 * np.pi * rng.uniform(3, 6) * t))
        for h in range(1, recipe.n_harm + 1):
            if f0 * h >= nyq:
                break
            sig += np.sin(h * base_phase + rng.uniform(0, 2 * np.pi)) / h**recipe.tilt
        if recipe.source == "am_tone":
            sig *= 0.55 + 0.45 * np.sin(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
        if recipe.source == "harmonic_noise":
            sig = sig / (np.std(sig) + 1e-9) + 0.7 * _band_noise(
                rng, n, sr, recipe.band_lo * pitch, min(nyq, recipe.band_hi * pitch)
            )
    elif recipe.source == "noise":
        sig = _band_noise(rng, n, sr, recipe.band_lo * pitch, min(nyq, recipe.band_hi * pitch))
    elif recipe.source == "impulses":
        sig = np.zeros(n)
        pos = rng.uniform(0, 1 / rate)
        ring = np.exp(-np.arange(int(0.05 * sr)) / sr / max(recipe.decay / 6, 1e-3))
        ring = ring * np.sin(2 * np.pi * min(nyq, f0 * 3) * np.arange(len(ring)) / sr)
        while pos < t[-1]:
            i = int(pos * sr)
            m = min(len(ring), n - i)
            sig[i : i + m] += ring[:m] * rng.uniform(0.6, 1.0)
            pos += (1 / rate) * rng.uniform(0.8, 1.2)
    elif recipe.source == "chirp":
        f_start = min(nyq * 0.8, max(60.0, recipe.band_lo * pitch))
        f_end = min(nyq * 0.9, max(60.0, f_start * abs(recipe.chirp_ratio) ** np.sign(recipe.chirp_ratio)))
        period = 1 / max(rate / 3, 0.3)
        local = (t % period) / period
        freq = f_start * (f_end / f_start) ** local
        sig = np.sin(2 * np.pi * np.cumsum(freq) / sr)
    else:
        raise ValueError(f"unknown source type {recipe.source!r}")
    sig = sig / (np.std(sig) + 1e-9)
    env = _envelope(rng, n, sr, recipe.pattern if recipe.source != "impulses" else "sustained", rate, recipe.decay)
    return sig * env


def render_clip(
    recipes: list[Recipe],
    label: int | list[int],
    rng: np.random.Generator,
    sr: int,
    duration_s: float,
    nuisance: Nuisance = Nuisance(),
    event_span: tuple[float, float] = (0.5, 1.0),
) -> np.ndarray:
    """One clip: the labelled event(s) over background noise, peak-normalised below 0 dBFS."""
    n = max(1, int(round(duration_s * sr)))
    labels = [label] if isinstance(label, int) else list(label)
    out = np.zeros(n)
    for lab in labels:
        out += _event(recipes[lab], rng, sr, n, nuisance, event_span)
    if rng.random() < nuisance.distractor_prob and len(recipes) > 1:
        other = int(rng.choice([k for k in range(len(recipes)) if k not in labels]))
        out += _event(recipes[other], rng, sr, n, nuisance, (0.2, 0.6)) * 10 ** (
            rng.uniform(*nuisance.distractor_db) / 20
        )
    snr = rng.uniform(*nuisance.snr_db)
    bg = _colored_noise(rng, n, rng.uniform(0.0, 2.0))
    out += bg * (np.std(out) + 1e-9) * 10 ** (-snr / 20)
    level = 10 ** ((-6.0 - rng.uniform(0, nuisance.level_db)) / 20)
    return (out / (np.max(np.abs(out)) + 1e-9) * level).astype(np.float32)


def _event(
    recipe: Recipe, rng: np.random.Generator, sr: int, n: int, nz: Nuisance, span: tuple[float, float]
) -> np.ndarray:
    length = max(1, int(n * rng.uniform(*span)))
    start = int(rng.integers(0, n - length + 1))
    pitch = 2 ** (rng.uniform(-nz.pitch_semitones, nz.pitch_semitones) / 12)
    rate_scale = 1 + rng.uniform(-nz.rate_jitter, nz.rate_jitter)
    ev = np.zeros(n)
    ev[start : start + length] = render_source(recipe, rng, sr, length, pitch, rate_scale)
    return ev


# One synthetic "world" of sound concepts shared by the demo datasets, the way real datasets
# share categories (VGGSound's "dog barking" and ESC-50's "dog" are the same kind of sound).
# Each dataset maps its labels to concepts; a concept has one recipe everywhere. Without this
# the demo datasets would share no sound at all, unlike real ones, and pre-training on the
# demo VGGSound could not transfer to the demo ESC-50 the way the paper's pre-training does.
CONCEPTS: tuple[str, ...] = (
    "dog",
    "rooster",
    "rain",
    "sea_waves",
    "crackling_fire",
    "crying_baby",
    "sneezing",
    "clock_tick",
    "helicopter",
    "chainsaw",
    "frog",
    "cat",
    "crow",
    "wind",
    "coughing",
    "door_wood_knock",
    "keyboard_typing",
    "vacuum_cleaner",
    "siren",
    "church_bells",
    "heartbeat",
    "engine",
    "cowbell",
    "marching",
    "air_conditioner",
    "car_horn",
    "children_playing",
    "drilling",
    "gun_shot",
    "jackhammer",
    "street_music",
    "alarm_bell",
    "blender",
    "dishes",
    "electric_shaver",
    "frying",
    "running_water",
    "speech",
)
WORLD_SEED = 2022


@functools.cache
def _world() -> dict[str, Recipe]:
    return dict(zip(CONCEPTS, class_recipes(len(CONCEPTS), seed=WORLD_SEED), strict=True))


def concept_recipes(concepts: list[str]) -> list[Recipe]:
    """The shared recipe of each named concept (see :data:`CONCEPTS`); built once per process."""
    world = _world()
    unknown = [c for c in concepts if c not in world]
    if unknown:
        raise KeyError(f"unknown demo sound concept(s) {unknown}; add them to CONCEPTS")
    return [world[c] for c in concepts]
