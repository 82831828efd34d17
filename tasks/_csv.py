"""CSV helpers shared by loaders: quote-aware reading with row numbers in every error."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path


class MetadataError(ValueError):
    """A metadata file that does not match the documented layout (file and row named)."""


def read_rows(
    path: Path,
    required: Sequence[str] = (),
    delimiter: str = ",",
    encoding: str = "utf-8",
    header: bool = True,
    fieldnames: Sequence[str] | None = None,
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) with a real CSV parser (quoted commas, leading spaces kept)."""
    if not path.is_file():
        raise MetadataError(f"{path}: metadata file not found; is the dataset root right?")
    with path.open(newline="", encoding=encoding) as fh:
        reader = csv.DictReader(fh, delimiter=delimiter, fieldnames=None if header else list(fieldnames or []))
        if header:
            names = [n.strip() for n in (reader.fieldnames or [])]
            reader.fieldnames = names
            missing = [c for c in required if c not in names]
            if missing:
                raise MetadataError(
                    f"{path}: header {names} lacks column(s) {missing}; expected the official layout "
                    f"({', '.join(required)})"
                )
        for row in reader:
            line = reader.line_num
            if None in row:
                raise MetadataError(
                    f"{path}, line {line}: more fields than columns ({row[None]}); is a label with a comma unquoted?"
                )
            if any(v is None for k, v in row.items() if k in required):
                raise MetadataError(f"{path}, line {line}: missing field(s) in {row}")
            yield line, row


def parse_int(value: str, path: Path, line: int, column: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise MetadataError(f"{path}, line {line}: column {column!r} should be an integer, got {value!r}") from None
