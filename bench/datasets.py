"""Where a task's data comes from: an explicit root, the data root, or the embedded demo suite.

One function serves every command that reads a dataset (``bench run``, ``bench sweep``,
``bench train wav2clip``), so they all accept the same folders, refuse the same wrong ones
with the same message, and label demo data alike (``dataset.info["kind"]``, read by every
record and by the adapters that refuse real data).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bench.demo import demo_info, ensure_demo, is_demo
from bench.metadata import metadata_encoding
from bench.task import Dataset, TaskSpec


class DataNotFound(RuntimeError):
    """No dataset where the user pointed (the message names the folders looked at)."""


def dataset_root(
    task: TaskSpec, *, root: Path | None = None, data_root: Path | None = None, demo_dir: Path | None = None
) -> Path:
    """The task's own folder (a bring-your-own dataset), else ``root`` (the dataset folder or its parent),
    else the folder under ``data_root``, else the demo suite."""
    if task.root is not None:
        if not task.root.is_dir():
            raise DataNotFound(f"{task.title}: {task.root} is not a folder")
        return task.root
    if root is not None:
        found = task.find_root(root)
        if not (root / task.marker).exists() and found is None:
            raise DataNotFound(
                f"{task.title}: {root} does not hold {task.marker}; point --root {task.name}=DIR at the dataset folder"
            )
        return found or root
    if data_root is not None:
        found = task.find_root(data_root)
        if found is None:
            looked = ", ".join(str(data_root / n) for n in ("", *task.root_names))
            raise DataNotFound(f"{task.title}: no {task.marker} under {looked}")
        return found
    if task.demo is None:
        raise DataNotFound(f"{task.title}: no data root configured and the task has no demo dataset")
    return ensure_demo(task.demo, demo_dir)


def resolve_dataset(
    task: TaskSpec,
    *,
    roots: Mapping[str, Path] | None = None,
    data_root: Path | None = None,
    demo_dir: Path | None = None,
    encoding: str | None = None,
) -> Dataset:
    """Load ``task``'s dataset: its entry in ``roots``, then the data root, then the demo suite.

    ``encoding``: the text encoding of the metadata files (``--encoding``; default UTF-8).
    """
    root = dataset_root(task, root=(roots or {}).get(task.name), data_root=data_root, demo_dir=demo_dir)
    with metadata_encoding(encoding):
        dataset = task.loader(root)
    dataset.info.setdefault("kind", "demo" if is_demo(root) else "real")
    if is_demo(root):
        dataset.info["demo"] = demo_info(root)
    return dataset
