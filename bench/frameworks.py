"""Living with TensorFlow and torch in one process.

Measured here (tensorflow 2.21, torch 2.14.1, triton 3.8): once TensorFlow's native
libraries are loaded, loading triton's native library segfaults the process (exit 139).
torchvision, timm, open_clip and ``torch._dynamo`` all import triton, so
``import tensorflow`` followed by any of them crashes, even when torch itself came first.
Two guards, both cheap:

* :func:`import_tensorflow` (the only way bench code imports TF) and :func:`preload_triton`
  (called before importing a HEAR module, which may import TF itself) load torch and triton
  *before* TensorFlow, which is a safe order;
* :func:`guard_import_order` — called when bench is imported and before every encoder is
  built — notices a TensorFlow that someone else imported first (a notebook, a HEAR
  module) while triton is not loaded yet, and marks triton unavailable
  (``sys.modules["triton"] = None``), so torch takes its no-triton paths instead of crashing.
  Triton only serves GPU kernels of ``torch.compile``; CPU work is unaffected.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from types import ModuleType

_BLOCKED_NOTE = "bench: TensorFlow was imported before triton; triton is disabled for this process"


def guard_import_order() -> bool:
    """Block triton if TensorFlow is already loaded and triton is not. True if it blocked."""
    if "tensorflow" in sys.modules and "triton" not in sys.modules and importlib.util.find_spec("triton") is not None:
        sys.modules["triton"] = None  # type: ignore[assignment]
        warnings.warn(
            f"{_BLOCKED_NOTE} (loading it after TensorFlow segfaults). Import torch/bench before "
            "tensorflow to keep torch.compile's GPU kernels.",
            RuntimeWarning,
            stacklevel=2,
        )
        return True
    return False


def preload_triton() -> None:
    """Load torch and triton's native library now, before anything may load TensorFlow.

    Call before importing code that imports TensorFlow (a TF HEAR module, YAMNet). If
    TensorFlow is already loaded, triton is blocked instead (:func:`guard_import_order`).
    """
    import torch  # noqa: F401  (must precede tensorflow)

    if "tensorflow" in sys.modules:
        guard_import_order()
    elif "triton" not in sys.modules and importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401  (its import loads libtriton; must precede tensorflow)


def import_tensorflow() -> ModuleType:
    """``import tensorflow`` in the order that does not crash; quiet C++ logging by default.

    Raises ImportError with the install command when TensorFlow is missing.
    """
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    preload_triton()
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise ImportError(
            f"TensorFlow is not installed ({exc}). Install the TF extra: "
            "pip install 'bench-audio[tf]' (or: pip install tensorflow-cpu==2.21.0 && "
            "pip install --no-deps tf-keras==2.21.0 tensorflow-hub==0.16.1 'setuptools<81')"
        ) from exc
    return tf


def import_tensorflow_hub() -> ModuleType:
    """``import tensorflow_hub`` after :func:`import_tensorflow`, with a fixing command on failure."""
    import_tensorflow()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # pkg_resources deprecation notice
            warnings.simplefilter("ignore", DeprecationWarning)
            import tensorflow_hub as hub
    except ImportError as exc:
        raise ImportError(
            f"tensorflow_hub cannot be imported ({exc}). Install it with: "
            "pip install --no-deps tensorflow-hub==0.16.1 tf-keras==<your tensorflow version> 'setuptools<81' "
            "(tensorflow-hub needs tf-keras and pkg_resources)"
        ) from exc
    return hub


def module_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
