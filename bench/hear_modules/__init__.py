"""HEAR modules for bench encoders: ``bench.hear_modules.<encoder name>``.

The built-in encoders have a file here; any other registered encoder (e.g. one a
third-party package adds through the ``bench.encoders`` entry point) is importable under
the same name through a small import hook, so
``hear-validator bench.hear_modules.<name>`` works for every registered frozen encoder.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType


class _RegisteredEncoderModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``bench.hear_modules.X`` for a registered encoder X that has no file here."""

    prefix = __name__ + "."

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if not fullname.startswith(self.prefix) or "." in fullname[len(self.prefix) :]:
            return None
        from bench.encoder import ENCODERS

        if fullname[len(self.prefix) :] not in ENCODERS:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        from bench.hear_export import make_api

        name = module.__name__[len(self.prefix) :]
        for attr, fn in zip(
            ("load_model", "get_scene_embeddings", "get_timestamp_embeddings"), make_api(name), strict=True
        ):
            setattr(module, attr, fn)


if not any(isinstance(f, _RegisteredEncoderModules) for f in sys.meta_path):
    sys.meta_path.append(_RegisteredEncoderModules())
