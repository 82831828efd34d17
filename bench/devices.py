"""``--device``: refuse, before any work, a device this machine does not have.

torch's own errors come late (after data was read and models built) and read like bugs
(``Expected one of cpu, cuda, ipu, xpu, ... device type at start of device string: tpu``,
``Found no NVIDIA driver on your system``). bench runs on ``cpu`` and on CUDA GPUs
(``cuda`` or ``cuda:N``); the check imports torch only for a CUDA device.
"""

from __future__ import annotations

import re

from bench.options import OptionError


def check_device(device: str) -> None:
    """Raise :class:`OptionError` naming the device, what this machine has and the fix."""
    if device == "cpu":
        return
    cuda = re.fullmatch(r"cuda(?::(\d+))?", device)
    if cuda is None:
        raise OptionError(f"--device {device!r} is not a device bench runs on; use cpu, or cuda / cuda:N on a GPU")
    import torch

    if not torch.cuda.is_available():
        raise OptionError(
            f"--device {device!r}: no CUDA GPU is visible on this machine (torch {torch.__version__} reports "
            "torch.cuda.is_available() False); use --device cpu"
        )
    count = torch.cuda.device_count()
    if cuda.group(1) is not None and int(cuda.group(1)) >= count:
        raise OptionError(f"--device {device!r}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}")
