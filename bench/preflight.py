"""What a run is asked to do, checked before any work starts: options, encoders, the device.

``bench run`` and ``bench sweep`` (and their Python API) call :func:`check_run` first, so a
typo in ``--popt`` or ``--opt``, a value of the wrong type or out of range, or a device this
machine lacks stops the command in a second with a message naming the flag and the fix, not
after an hour of embedding (or never: a misspelt option used to be ignored).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.devices import check_device
from bench.encoder import check_encoder_options
from bench.options import OptionError, Schema, check_options
from bench.protocols import PROTOCOLS, Protocol, get_protocol
from bench.task import TASKS


def check_run(
    encoder_specs: Sequence[str],
    protocols: Sequence[Protocol],
    *,
    device: str,
    encoder_options: Mapping[str, Any],
    protocol_options: Mapping[str, Any],
    batch_size: int | None = None,
    workers: int = 2,
) -> dict[str, Any]:
    """Raise :class:`OptionError` for anything that cannot run; return the protocol options, typed.

    ``protocols`` are those the run will use; a ``--popt`` key that only another registered
    protocol reads is refused with that protocol named.
    """
    if batch_size is not None and batch_size < 1:
        raise OptionError(f"--batch-size must be at least 1, got {batch_size}")
    if workers < 1:
        raise OptionError(f"--workers must be at least 1, got {workers}")
    check_device(device)
    for spec in encoder_specs:
        check_encoder_options(spec, encoder_options)
    in_run = _schemas(protocols)
    shorts = {p.short for p in protocols}
    others = _schemas([p for p in map(get_protocol, PROTOCOLS.names()) if p.short not in shorts])
    return check_options(protocol_options, in_run, "--popt", others=others, task_names=TASKS.names())


def _schemas(protocols: Sequence[Protocol]) -> list[Schema]:
    seen: dict[str, Schema] = {}
    for p in protocols:
        seen.setdefault(p.short, p.schema())
    return list(seen.values())
