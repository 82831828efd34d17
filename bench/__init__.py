"""bench: a benchmark harness for audio representations (Wav2CLIP's evaluation and beyond).

Importing ``bench`` is cheap: no registry scan, no disk or GPU work, no torch or TensorFlow.
"""

__version__ = "0.1.0"
