"""Sub-commands that packages add to the ``bench`` command line (e.g. ``bench train wav2clip``).

An encoder package that can do more than embed (train, fetch its own files) declares a
:class:`Command` and registers it in the ``bench.commands`` entry-point group; ``bench``
mounts it under its group (``train``, ``weights``, ``data``, ...; an empty group puts it at the
top level). The core therefore never imports an encoder package to build its command line,
and a third-party package's commands appear beside the built-in ones. The command's own
module should import only light things at import time (typer, pathlib): it is imported
every time ``bench`` starts; the heavy work belongs inside the function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import typer

from bench.registry import Registry


@dataclass(frozen=True)
class Command:
    group: str  # the ``bench`` sub-group it belongs to ("" for a top-level command)
    name: str
    callback: Callable[..., Any]  # a typer command function (options as annotated parameters)


COMMANDS: Registry[Command] = Registry("command", entry_point_group="bench.commands")


def fail(msg: str, code: int = 2) -> NoReturn:
    """Print ``msg`` in red on stderr and exit with ``code`` (a user's mistake: no traceback)."""
    typer.secho(msg, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)
