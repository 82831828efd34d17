"""One generic, lazy registry: encoders, tasks, protocols, metrics, demo datasets, commands.

Entries are ``"module:attr"`` strings resolved on first use, so listing names imports
nothing heavy. Packages (this one included) add entries through an entry-point group
(``bench.encoders``, ``bench.tasks``, ...) declared in their ``pyproject.toml``; that is how
the core finds every encoder and task without importing ``encoders/`` or ``tasks/`` itself.
Duplicates are refused and unknown names get a "did you mean" hint. Tests add entries for
one block only (:meth:`Registry.registered`), so no test leaves an entry behind.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Generic, TypeVar

T = TypeVar("T")


class RegistryError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; we want plain text
        return str(self.args[0])


class Registry(Generic[T]):
    """``name → target`` with lazy imports; ``builtins`` are this package's own entries."""

    def __init__(
        self, kind: str, entry_point_group: str | None = None, builtins: Mapping[str, str | T] | None = None
    ) -> None:
        self.kind = kind
        self.group = entry_point_group
        self._targets: dict[str, str | T] = {}
        self._origins: dict[str, str] = {}
        self._loaded_entry_points = False
        for name, target in (builtins or {}).items():
            self._add(name, target, "bench built-in")

    def register(self, name: str, target: str | T, origin: str = "code") -> None:
        """Add ``name`` → ``target`` (an object or a lazy ``"module:attr"`` string)."""
        self._load_entry_points()
        self._add(name, target, origin)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (an unknown name is an error, so a typo cannot pass silently)."""
        self._load_entry_points()
        if name not in self._targets:
            raise RegistryError(f"{self.kind} {name!r} is not registered")
        del self._targets[name]
        del self._origins[name]

    @contextmanager
    def registered(self, name: str, target: str | T, origin: str = "code") -> Iterator[None]:
        """``name`` → ``target`` for the duration of a block (tests, notebooks), then removed."""
        self.register(name, target, origin)
        try:
            yield
        finally:
            self.unregister(name)

    def _add(self, name: str, target: str | T, origin: str) -> None:
        if name in self._targets and self._targets[name] != target:
            raise RegistryError(
                f"{self.kind} {name!r} is already registered (from {self._origins[name]}); "
                f"refusing a second definition from {origin}. Pick another name."
            )
        self._targets[name] = target
        self._origins[name] = origin

    def _load_entry_points(self) -> None:
        if self._loaded_entry_points or self.group is None:
            return
        self._loaded_entry_points = True
        for ep in entry_points(group=self.group):
            dist = ep.dist.name if ep.dist is not None else "?"
            if self._targets.get(ep.name) == ep.value:
                continue  # this package's own built-in, declared in pyproject.toml as well
            self._add(ep.name, ep.value, f"entry point of {dist}")

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._targets)

    def __contains__(self, name: object) -> bool:
        self._load_entry_points()
        return name in self._targets

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> T:
        self._load_entry_points()
        if name not in self._targets:
            close = difflib.get_close_matches(name, list(self._targets), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise RegistryError(f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(self.names()) or 'none'}.")
        target = self._targets[name]
        if isinstance(target, str):
            target = _import_target(target, self.kind, name)
            self._targets[name] = target
        return target

    def origin(self, name: str) -> str:
        self._load_entry_points()
        return self._origins[name]


def _import_target(spec: str, kind: str, name: str) -> T:  # type: ignore[type-var]
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RegistryError(f"{kind} {name!r}: cannot import {module_name!r} ({exc})") from exc
    obj: object = module
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj  # type: ignore[return-value]
