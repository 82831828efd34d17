"""The embedded demo suite: small synthetic datasets in the real on-disk layouts.

Generated deterministically on first use under ``$BENCH_DEMO`` (default ``.bench/demo``), so
the real loaders read them and every table can be filled with no data on the machine. Each
dataset folder carries ``BENCH_DEMO.json``; results computed from it are labelled as demo
data everywhere. Generators register here by name (tasks refer to them by ``TaskSpec.demo``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.atomic import atomic_write_json
from bench.paths import demo_dir
from bench.registry import Registry

MARKER = "BENCH_DEMO.json"

Generator = Callable[[Path, int, float], dict[str, Any]]

GENERATORS: Registry[Generator] = Registry("demo dataset", entry_point_group="bench.demo")
for _name, _target in {
    "esc50": "bench.demo.esc50:generate",
    "urbansound8k": "bench.demo.urbansound8k:generate",
    "vggsound": "bench.demo.vggsound:generate",
    "fsd50k": "bench.demo.fsd50k:generate",
    "tau": "bench.demo.tau:generate",
    "desed": "bench.demo.desed:generate",
    "clotho": "bench.demo.clotho:generate",
}.items():
    GENERATORS.register(_name, _target, origin="bench built-in")

# Folder name of each demo dataset inside the demo root (the real archives' top folders).
FOLDERS: dict[str, str] = {"esc50": "ESC-50-master", "urbansound8k": "UrbanSound8K", "vggsound": "VGGSound"}
FOLDERS["fsd50k"] = "FSD50K"
FOLDERS["tau"] = "TAU-urban-audio-visual-scenes-2021-development"
FOLDERS.update({"desed": "DESED", "clotho": "Clotho"})


def register_demo(name: str, target: str, folder: str) -> None:
    GENERATORS.register(name, target, origin="bench built-in")
    FOLDERS[name] = folder


def is_demo(root: Path) -> bool:
    return (Path(root) / MARKER).is_file()


def demo_info(root: Path) -> dict[str, Any]:
    path = Path(root) / MARKER
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def demo_scale() -> float:
    """``BENCH_DEMO_SCALE`` shrinks (<1) or grows (>1) every demo dataset; tests use small scales."""
    return float(os.environ.get("BENCH_DEMO_SCALE", "1"))


def ensure_demo(name: str, base: Path | None = None, seed: int = 0, scale: float | None = None) -> Path:
    """The demo dataset ``name``, generated if absent or made with other settings.

    Generators take ``(root, seed, scale)``; ``scale`` multiplies the number of clips.
    """
    base = Path(base) if base is not None else demo_dir()
    scale = demo_scale() if scale is None else scale
    folder = base / FOLDERS.get(name, name)
    generator = GENERATORS.get(name)
    version = getattr(sys.modules.get(getattr(generator, "__module__", ""), None), "version", "1")
    info = demo_info(folder)
    wanted = {"generator": name, "version": str(version), "seed": seed, "scale": scale}
    if all(info.get(k) == v for k, v in wanted.items()):
        return folder
    tmp = base / f".{folder.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    details = generator(tmp, seed, scale)
    atomic_write_json(tmp / MARKER, {**wanted, "demo": True, **details})
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder
