"""One generic, lazy registry for encoders and tasks.

Entries are ``"module:attr"`` strings resolved on first use, so listing names imports
nothing heavy. Third-party packages add entries through an entry-point group
(``bench.encoders`` / ``bench.tasks``). Duplicates are refused and unknown names get a
"did you mean" hint.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

T = TypeVar("T")


class RegistryError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; we want plain text
        return str(self.args[0])


class Registry(Generic[T]):
    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.group = entry_point_group
        self._targets: dict[str, str | T] = {}
        self._origins: dict[str, str] = {}
        self._loaded_entry_points = False

    def register(self, name: str, target: str | T, origin: str = "code") -> None:
        """Add ``name`` → ``target`` (an object or a lazy ``"module:attr"`` string)."""
        self._load_entry_points()
        self._add(name, target, origin)

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
            raise RegistryError(
                f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(self.names()) or 'none'}."
            )
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


def lazy(factory: Callable[[], T]) -> Callable[[], T]:
    """Memoise a zero-argument factory (used for module-level singletons built on demand)."""
    cache: list[T] = []

    def get() -> T:
        if not cache:
            cache.append(factory())
        return cache[0]

    return get
