"""bench: a benchmark harness for audio representations (Wav2CLIP's evaluation and beyond).

Importing ``bench`` is cheap: no registry scan, no disk or GPU work, no torch or TensorFlow.
It does check the TensorFlow/triton import order (see :mod:`bench.frameworks`).
"""

from bench.frameworks import guard_import_order as _guard_import_order

__version__ = "0.1.0"

_guard_import_order()
