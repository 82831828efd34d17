"""The demo Wav2CLIP: distilled on the demo suite's VGGSound when no weights are on the machine.

With no weights, ``bench run --encoder wav2clip`` distils a model on the demo VGGSound set
(``bench train wav2clip``'s demo preset, with the demo teacher of
:mod:`encoders.wav2clip.demo_teacher`) so the whole pipeline runs offline. The result lives in
``$BENCH_HOME/models/wav2clip-demo`` and is reused while the demo suite is unchanged (its
``model.json`` records the demo suite's generator, version, seed and scale). It is labelled
``wav2clip[demo]`` and refused on real data.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from bench.demo import demo_identity
from encoders.wav2clip.run_meta import demo_model_dir, run_metadata
from encoders.wav2clip.train import preset, train


def find_demo_model() -> Path | None:
    """The finished demo model for the current demo suite settings, if one was trained."""
    best = demo_model_dir() / "best.pt"
    if not best.is_file():
        return None
    meta = run_metadata(best)
    demo = meta.get("data", {}).get("demo", {})
    if meta.get("status") != "finished" or not meta.get("demo"):
        return None
    if any(demo.get(k) != v for k, v in demo_identity("vggsound").items()):
        return None
    return best


def ensure_demo_model(device: str = "cpu", show_progress: bool = True) -> Path:
    """The demo model's ``best.pt``: reused when present, else distilled now (resuming a killed run)."""
    found = find_demo_model()
    if found is not None:
        return found
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise RuntimeError(
            "no demo Wav2CLIP yet: train it once before a torchrun job (`bench train wav2clip`), "
            "so the ranks do not all distil one at the same time"
        )
    out = demo_model_dir()
    recorded = run_metadata(out / "best.pt").get("data", {}).get("demo")
    if recorded is not None and any(recorded.get(k) != v for k, v in demo_identity("vggsound").items()):
        shutil.rmtree(out)  # made for another demo suite (scale, version): start over
    print(
        f"wav2clip: no weights given and none fetched; distilling a demo model into {out} "
        "(first use only: a tiny teacher, then 5 short epochs; minutes on 2 CPU cores)",
        file=sys.stderr,
        flush=True,
    )
    result = train(preset("demo", out_dir=out, device=device, show_progress=show_progress))
    if result.best_path is None or result.status != "finished":
        raise RuntimeError(f"demo distillation in {out} did not finish ({result.status}); run it again to resume")
    return result.best_path
