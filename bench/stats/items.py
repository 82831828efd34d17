"""A result record's test items, read back for resampling.

Protocols store what each test item contributed: the ids and fold of every scored item in
``predictions`` (targets, ranks) and the matching rows of the ``.scores.npz`` sidecar (class
scores, segment counts, caption statistics). :func:`record_items` turns them into one
:class:`FoldItems` per fold (or trial, or the single test split): per-item arrays that the
weighted metrics of :mod:`bench.stats.weighted` read, with the items sorted by id so that two
records of the same test items line up row for row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.results import ResultRecord


class MissingItemData(KeyError):
    """A metric needs a per-item array the record does not hold (e.g. a record written before it was stored)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "per-item data missing"


@dataclass(frozen=True)
class FoldItems:
    """The test items of one fold (or trial): ids and aligned per-item arrays (first axis = item)."""

    fold: str
    ids: tuple[str, ...]
    arrays: Mapping[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, key: object) -> bool:
        return key in self.arrays

    def __getitem__(self, key: str) -> np.ndarray:
        try:
            return self.arrays[key]
        except KeyError:
            raise MissingItemData(
                f"fold {self.fold}: no per-item {key!r} stored (the record holds {sorted(self.arrays)}); "
                "re-run the cell with --force to store it"
            ) from None

    def take(self, rows: Sequence[int] | np.ndarray) -> FoldItems:
        """The items at ``rows`` (in that order)."""
        idx = np.asarray(rows, dtype=np.int64)
        return FoldItems(self.fold, tuple(self.ids[i] for i in idx), {k: v[idx] for k, v in self.arrays.items()})

    def restricted(self, ids: Sequence[str]) -> FoldItems:
        """The items named in ``ids`` (which must all be present), in that order."""
        pos = {cid: i for i, cid in enumerate(self.ids)}
        return self.take([pos[cid] for cid in ids])


def _item_array(key: str, value: list[Any], n_classes: int) -> np.ndarray | None:
    """A per-item list from ``predictions`` as an array; None for text and ragged lists (events)."""
    if key == "targets":  # multi-label: label index lists → bool matrix
        out = np.zeros((len(value), n_classes), dtype=bool)
        for i, labels in enumerate(value):
            out[i, list(labels)] = True
        return out
    try:
        arr = np.asarray(value)
    except ValueError:
        return None
    return arr if arr.dtype.kind in "biuf" else None


def record_items(
    record: ResultRecord, scores: Mapping[str, np.ndarray], decoding: str | None = None
) -> list[FoldItems]:
    """One :class:`FoldItems` per fold of ``record``'s stored predictions, items sorted by id.

    ``decoding`` picks the per-item arrays of one captioning decoding (sidecar keys
    ``item.<decoding>.<name>``; default: the decoding in the record's summary).
    """
    pred = record.predictions
    ids = [str(i) for i in pred.get("ids", [])]
    n = len(ids)
    if n == 0:
        return []
    sidecar_scores = scores.get("scores")
    n_classes = record.task.n_classes or (int(sidecar_scores.shape[1]) if sidecar_scores is not None else 0)
    arrays: dict[str, np.ndarray] = {}
    for key, value in pred.items():
        if key in ("ids", "fold") or not isinstance(value, list) or len(value) != n:
            continue
        arr = _item_array(key, value, n_classes)
        if arr is not None:
            arrays[key] = arr
    chosen = decoding or record.protocol.decoding
    prefix = f"item.{chosen}."
    for key, arr in scores.items():
        if arr.shape[:1] != (n,):
            continue
        if key.startswith("item."):
            if key.startswith(prefix):
                arrays[key[len(prefix) :]] = arr
        else:
            arrays[key] = arr
    default_fold = record.folds[0].fold if len(record.folds) == 1 else "all"
    folds = [str(f) for f in pred.get("fold", [])] or [default_fold] * n
    rows: dict[str, list[int]] = {}
    for i, fold in enumerate(folds):
        rows.setdefault(fold, []).append(i)
    out = []
    for fold, members in rows.items():
        ordered = sorted(members, key=lambda i: ids[i])
        out.append(
            FoldItems(fold, tuple(ids[i] for i in ordered), {k: v[np.asarray(ordered)] for k, v in arrays.items()})
        )
    return out
