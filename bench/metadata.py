"""Metadata problems: everything a loader found wrong in a dataset's metadata, each with its fix.

Loaders collect problems row by row instead of stopping at the first one, so ``bench data
verify`` lists every problem in one pass (per kind, with counts) and ``bench run`` refuses
with the same message. A problem names the file, the line and what to do about it.

Metadata files are decoded here too: UTF-8 by default (a byte-order mark accepted), or the
encoding the user chose with ``--encoding`` (a context variable set around the loader, so
loaders keep their ``load(root)`` signature); an undecodable file names the first bad byte.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.task import Dataset

# What ``bench data verify`` groups by. Loaders may use other kinds; these are the usual ones.
KINDS: dict[str, str] = {
    "encoding": "file not decodable in the expected encoding",
    "header": "header lacks a column the layout needs",
    "malformed row": "a row that cannot be parsed (field count, a non-integer, an empty field)",
    "fold out of range": "a fold outside the dataset's official folds",
    "unknown label": "a label outside the vocabulary, or one class id under two names",
    "duplicate row": "a row repeated exactly (it would be scored twice)",
    "file in several folds": "one file listed in two folds or splits (train/test leakage)",
    "file with several labels": "one file listed with two different labels",
    "metadata": "other metadata problems",
}

_ENCODING: ContextVar[str | None] = ContextVar("bench_metadata_encoding", default=None)


@dataclass(frozen=True)
class Problem:
    """One defect in a metadata file. ``line`` is the 1-based line of the file (None: the whole file)."""

    kind: str
    file: str
    line: int | None
    message: str
    fix: str = ""

    def text(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}" + (f"; {self.fix}" if self.fix else "")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "file": self.file, "line": self.line, "message": self.message, "fix": self.fix}


class MetadataError(ValueError):
    """Metadata that does not match the documented layout: every problem found, file and row named.

    ``dataset`` is what the loader could still build from the rows without problems (``bench
    data verify`` checks their audio too); None where nothing could be read.
    """

    MAX_SHOWN = 20

    def __init__(self, problems: str | Sequence[Problem], dataset: Dataset | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem("metadata", "", None, problems)]
        self.problems: list[Problem] = list(problems)
        self.dataset = dataset
        super().__init__(self._message())

    def _message(self) -> str:
        texts = [p.message if not p.file else p.text() for p in self.problems]
        if len(texts) == 1:
            return texts[0]
        shown = texts[: self.MAX_SHOWN]
        more = len(texts) - len(shown)
        tail = [f"  ... and {more} more (`bench data verify` lists them by kind)"] if more else []
        return "\n".join([f"{len(texts)} problems in the metadata:", *(f"  {t}" for t in shown), *tail])


class Problems:
    """Collects a loader's problems; :meth:`raise_if_any` ends the load with all of them."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, kind: str, path: Path | str, line: int | None, message: str, fix: str = "") -> None:
        self.items.append(Problem(kind, str(path), line, message, fix))

    def extend(self, other: Sequence[Problem]) -> None:
        self.items.extend(other)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self, dataset: Dataset | None = None) -> None:
        if self.items:
            raise MetadataError(self.items, dataset)


def check_encoding(name: str) -> str:
    """``name`` if Python knows the codec, else a ValueError naming the option and examples."""
    try:
        codecs.lookup(name)
    except LookupError:
        raise ValueError(
            f"--encoding {name!r} is not a known text encoding; e.g. utf-8, latin-1, cp1252, cp949, shift_jis"
        ) from None
    return name


@contextmanager
def metadata_encoding(name: str | None) -> Iterator[None]:
    """Metadata files read inside the block use ``name`` (None: UTF-8, the default)."""
    token = _ENCODING.set(check_encoding(name) if name else None)
    try:
        yield
    finally:
        _ENCODING.reset(token)


def chosen_encoding() -> str | None:
    """The encoding the user chose for metadata files (``--encoding``), or None."""
    return _ENCODING.get()


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def read_text(path: Path, encoding: str | None = None) -> str:
    """A metadata file's text: ``encoding`` if the layout fixes one, else ``--encoding``, else UTF-8.

    A UTF-8 byte-order mark (spreadsheets write one) is dropped. A file that does not decode
    raises :class:`MetadataError` naming the first bad byte, its line and column, and the fix.
    """
    data = path.read_bytes()
    enc = encoding or chosen_encoding() or "utf-8"
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as exc:
        raise MetadataError([decode_problem(path, data, exc, enc, chosen=encoding is None)]) from None
    if _is_utf8(enc) and text.startswith("\ufeff"):
        text = text[1:]
    return text


def decode_problem(path: Path, data: bytes, exc: UnicodeDecodeError, encoding: str, chosen: bool) -> Problem:
    """The problem for an undecodable file: the first bad byte's offset, line and column, and the fix."""
    line = data.count(b"\n", 0, exc.start) + 1
    column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
    bad = data[exc.start : exc.start + 1].hex()
    fix = (
        "pass --encoding NAME with the file's encoding (e.g. --encoding cp949 or --encoding latin-1), "
        "or re-save the file as UTF-8"
        if chosen
        else "the file's own layout is in this encoding; is the file damaged or from another release?"
    )
    name = "UTF-8" if _is_utf8(encoding) else encoding
    return Problem(
        "encoding",
        str(path),
        line,
        f"not {name}: byte 0x{bad} at offset {exc.start} (column {column}) cannot be decoded",
        fix,
    )
