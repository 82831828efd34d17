"""The key of a result cell: everything its numbers depend on, in one hash.

A stored record is reused (``bench run`` without ``--force``) only when its ``cell_key``
equals the key computed now. The key covers:

* the task definition as run: name, version, kind, metrics, folds, splits, trials, clip
  policy, and the dataset's classes;
* the dataset: its file-list checksum (paths, sizes, labels, folds) and the digest of every
  clip's extra annotations (captions, events, segments), see :class:`bench.task.Dataset`;
* the full encoder fingerprint (adapter version, weights, every option, the teacher);
* the protocol id and its parameters;
* the bootstrap settings of the stored intervals.

Changing any of them (a new clip policy, edited Clotho captions, another teacher) makes the old
record stale, so the cell is recomputed, re-embedding where the embedding store's own key changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.hashing import sha256_json
from bench.task import Dataset, TaskSpec

CELL_KEY_VERSION = 1


def task_definition(task: TaskSpec, dataset: Dataset) -> dict[str, Any]:
    """The parts of a task declaration that change its numbers, with the dataset's classes."""
    return {**task.describe(), "trials": task.trials, "classes": list(dataset.classes)}


def cell_key(
    encoder_fingerprint: str,
    task: TaskSpec,
    dataset: Dataset,
    protocol_id: str,
    params_hash: str,
    bootstrap: Mapping[str, Any],
) -> str:
    return sha256_json(
        {
            "version": CELL_KEY_VERSION,
            "task": task_definition(task, dataset),
            "data": {"files": dataset.checksum(), "annotations": dataset.annotations_checksum()},
            "encoder": encoder_fingerprint,
            "protocol": {"id": protocol_id, "params": params_hash},
            "bootstrap": dict(bootstrap),
        },
        24,
    )
