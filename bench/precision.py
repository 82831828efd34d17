"""Reduced precision for torch encoders and trainers: ``--precision fp32|bf16|fp16``.

``bf16`` and ``fp16`` run the forward pass under ``torch.autocast`` (convolutions and matrix
products in the low precision; reductions, normalisation and the loss in fp32, as autocast's
op lists decide) and hand float32 back. An encoder that offers the option reports it in
``options()`` when it is not ``fp32``, so it enters the fingerprint and the label: fp32 and bf16
embeddings never share a store entry or a result record, and fp32 keeps the fingerprint it had
before the option existed.

On CPU the low precisions only pay with instructions for them: bf16 with AVX512-BF16 or AMX,
fp16 with AVX512-FP16 or AMX-FP16. Without them autocast still gives the right numbers but runs
slower than fp32; :func:`slow_on_this_cpu` says so, and encoders warn when they are built.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

PRECISIONS = ("fp32", "bf16", "fp16")
AUTOCAST_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}  # torch dtype names; torch is imported when used
NATIVE_CPU_FLAGS = {"bf16": ("avx512_bf16", "amx_bf16"), "fp16": ("avx512_fp16", "amx_fp16")}


def check_precision(value: str, owner: str) -> str:
    """``value`` if it names a precision, else a ValueError naming ``owner`` and the choices."""
    if value not in PRECISIONS:
        raise ValueError(f"{owner}: precision must be one of {', '.join(PRECISIONS)}, got {value!r}")
    return value


def cpu_flags() -> frozenset[str]:
    """The CPU feature flags the kernel reports (empty where /proc/cpuinfo does not exist)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def slow_on_this_cpu(precision: str, device: str) -> str | None:
    """Why ``precision`` would run slower than fp32 on ``device`` here, or None."""
    if precision == "fp32" or device.startswith("cuda"):
        return None
    wanted = NATIVE_CPU_FLAGS[precision]
    flags = cpu_flags()
    if not flags or flags & set(wanted):
        return None
    return (
        f"this CPU has no {' / '.join(wanted)} instructions: --precision {precision} is emulated here and runs "
        "slower than fp32 (the numbers are still bf16/fp16 numbers)"
    )


@contextlib.contextmanager
def autocast(precision: str, device: str) -> Iterator[None]:
    """``torch.autocast`` for ``precision`` on ``device`` (a no-op for fp32)."""
    if precision == "fp32":
        yield
        return
    import torch

    with torch.autocast(
        "cuda" if device.startswith("cuda") else "cpu", dtype=getattr(torch, AUTOCAST_DTYPES[precision])
    ):
        yield
