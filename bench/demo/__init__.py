"""The embedded demo suite: small synthetic datasets in the real on-disk layouts.

Generated deterministically on first use under ``$BENCH_DEMO`` (default ``.bench/demo``), so
the real loaders read them and every table can be filled with no data on the machine. Each
dataset folder carries ``BENCH_DEMO.json``; results computed from it are labelled as demo
data everywhere. Each generator module declares a :class:`DemoDataset` (its folder: the real
archive's top folder, and a version that regenerates the data when bumped); tasks name one
(``TaskSpec.demo = "esc50"``, looked up in :data:`DEMOS`) or carry their own declaration.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_json
from bench.paths import demo_dir
from bench.registry import Registry

MARKER = "BENCH_DEMO.json"

Generator = Callable[[Path, int, float], dict[str, Any]]


@dataclass(frozen=True)
class DemoDataset:
    """A demo dataset: ``generate(root, seed, scale) -> details`` writes it into ``root``."""

    name: str
    folder: str  # the folder inside the demo root (the real archive's top folder)
    version: str  # bump when the generator's output changes: existing copies are regenerated
    generate: Generator


DEMOS: Registry[DemoDataset] = Registry(
    "demo dataset",
    entry_point_group="bench.demo",
    builtins={
        name: f"bench.demo.{name}:DEMO"
        for name in ("esc50", "urbansound8k", "vggsound", "fsd50k", "tau", "desed", "clotho")
    },
)


def is_demo(root: Path) -> bool:
    return (Path(root) / MARKER).is_file()


def demo_info(root: Path) -> dict[str, Any]:
    path = Path(root) / MARKER
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def demo_scale() -> float:
    """``BENCH_DEMO_SCALE`` shrinks (<1) or grows (>1) every demo dataset; tests use small scales."""
    return float(os.environ.get("BENCH_DEMO_SCALE", "1"))


def demo_dataset(demo: str | DemoDataset) -> DemoDataset:
    return DEMOS.get(demo) if isinstance(demo, str) else demo


def demo_identity(demo: str | DemoDataset, seed: int = 0, scale: float | None = None) -> dict[str, Any]:
    """What a generated copy must match to be reused (recorded in its ``BENCH_DEMO.json``)."""
    spec = demo_dataset(demo)
    return {
        "generator": spec.name,
        "version": spec.version,
        "seed": seed,
        "scale": demo_scale() if scale is None else scale,
    }


def ensure_demo(demo: str | DemoDataset, base: Path | None = None, seed: int = 0, scale: float | None = None) -> Path:
    """The demo dataset ``demo``, generated if absent or made with other settings.

    ``scale`` multiplies the number of clips (default ``BENCH_DEMO_SCALE``).
    """
    spec = demo_dataset(demo)
    base = Path(base) if base is not None else demo_dir()
    folder = base / spec.folder
    wanted = demo_identity(spec, seed, scale)
    info = demo_info(folder)
    if all(info.get(k) == v for k, v in wanted.items()):
        return folder
    tmp = base / f".{folder.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    details = spec.generate(tmp, seed, wanted["scale"])
    atomic_write_json(tmp / MARKER, {**wanted, "demo": True, **details})
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder
