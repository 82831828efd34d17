"""CSV helpers shared by loaders: tolerant of what real copies contain, strict where a guess would matter.

Accepted without a word, because the meaning is unambiguous: a UTF-8 byte-order mark, CRLF
line ends, a missing final newline, spaces around fields and header names, header names in
another case, extra columns, and booleans written by spreadsheets (``TRUE``/``FALSE``, ``1``/``0``).
Refused with the file, line and fix: an undecodable file (``--encoding`` or re-save as UTF-8),
a header without the columns the layout needs, rows with the wrong number of fields,
non-integer numbers.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.metadata import MetadataError, Problem, Problems, read_text

__all__ = ["MetadataError", "Problems", "parse_bool", "parse_int", "read_int", "read_rows"]

TRUE = frozenset({"true", "1"})
FALSE = frozenset({"false", "0"})


def read_rows(
    path: Path,
    required: Sequence[str] = (),
    delimiter: str = ",",
    encoding: str | None = None,
    header: bool = True,
    fieldnames: Sequence[str] | None = None,
    problems: Problems | None = None,
    strip: bool = True,
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) with a real CSV parser (quoted commas); fields are stripped unless ``strip`` is False
    (a layout whose values may begin with a space, e.g. Clotho's file names).

    ``encoding`` None: the user's ``--encoding`` or UTF-8. With ``problems`` given, a
    malformed row is recorded there and skipped; without, it raises :class:`MetadataError`.
    """
    if not path.is_file():
        raise MetadataError(f"{path}: metadata file not found; is the dataset root right?")
    text = read_text(path, encoding)
    reader = csv.DictReader(
        io.StringIO(text, newline=""), delimiter=delimiter, fieldnames=None if header else list(fieldnames or [])
    )
    if header:
        reader.fieldnames = _header(path, reader.fieldnames or [], required)
    for row in reader:
        line = reader.line_num
        if None in row:
            _malformed(
                problems,
                path,
                line,
                f"more fields than columns ({row[None]}); is a label with a comma unquoted?",
                "quote a field that contains the delimiter, or remove the extra fields",
            )
            continue
        if any(v is None for k, v in row.items() if k in required):
            absent = [k for k, v in row.items() if v is None and k in required]
            _malformed(problems, path, line, f"missing field(s) {absent}", "complete the row or remove it")
            continue
        yield line, {k: (v.strip() if strip and isinstance(v, str) else v) for k, v in row.items()}


def _header(path: Path, names: Sequence[str], required: Sequence[str]) -> list[str]:
    """The header names stripped and, where they match a required column but for case, renamed to it."""
    by_lower = {r.lower(): r for r in required}
    out = [by_lower.get(n.strip().lower(), n.strip()) for n in names]
    missing = [c for c in required if c not in out]
    if not missing:
        return out
    hints = []
    if out and out[0].startswith("ï»¿"):
        hints.append(
            "the header starts with a UTF-8 byte-order mark read in another encoding: the file is UTF-8, "
            "drop --encoding"
        )
    if out and out[0].startswith("\ufeff"):
        hints.append("the header starts with a byte-order mark; re-save the file without it")
    for col in missing:
        close = difflib.get_close_matches(col, out, n=1, cutoff=0.6)
        if close:
            hints.append(f"is {close[0]!r} meant to be {col!r}?")
    raise MetadataError(
        [
            Problem(
                "header",
                str(path),
                1,
                f"header {out} lacks column(s) {missing}",
                "; ".join([*hints, f"expected the official layout ({', '.join(required)})"]),
            )
        ]
    )


def _malformed(problems: Problems | None, path: Path, line: int, message: str, fix: str) -> None:
    if problems is None:
        raise MetadataError(f"{path}, line {line}: {message}; {fix}")
    problems.add("malformed row", path, line, message, fix)


def parse_int(value: str, path: Path, line: int, column: str) -> int:
    """``value`` as an integer, or an error naming the file, line and column."""
    try:
        return int(value.strip())
    except (TypeError, ValueError, AttributeError):
        raise MetadataError(f"{path}, line {line}: column {column!r} should be an integer, got {value!r}") from None


def read_int(value: str, path: Path, line: int, column: str, problems: Problems) -> int | None:
    """``value`` as an integer, or None with a "malformed row" problem recorded."""
    try:
        return int(value.strip())
    except (TypeError, ValueError, AttributeError):
        problems.add("malformed row", path, line, f"column {column!r} should be an integer, got {value!r}")
        return None


def parse_bool(value: str, path: Path, line: int, column: str, problems: Problems) -> bool | None:
    """``True/False/TRUE/FALSE/true/false/1/0`` (what spreadsheets write) as a bool; else a problem."""
    low = value.strip().lower()
    if low in TRUE:
        return True
    if low in FALSE:
        return False
    problems.add("malformed row", path, line, f"column {column!r} should be True or False, got {value!r}", "")
    return None


class FileRows:
    """Each file's first row, so that a repeat or a conflicting second row becomes a problem.

    An exact repeat would be scored twice; the same file in two folds (or splits) is trained
    on and tested; the same file under two labels has no single truth. All three are refused
    rather than guessed, with the line of the first row named.
    """

    def __init__(self, path: Path, problems: Problems, fold_name: str = "fold") -> None:
        self.path = path
        self.problems = problems
        self.fold_name = fold_name
        self.first: dict[str, tuple[int, object, object, tuple[object, ...]]] = {}

    def add(self, key: str, line: int, fold: object, label: object, rest: tuple[object, ...] = ()) -> bool:
        """True for a file's first row; False (and a problem recorded) for any later row of it."""
        prev = self.first.get(key)
        if prev is None:
            self.first[key] = (line, fold, label, rest)
            return True
        p_line, p_fold, p_label, p_rest = prev
        if (fold, label, rest) == (p_fold, p_label, p_rest):
            self.problems.add(
                "duplicate row",
                self.path,
                line,
                f"{key} repeats line {p_line} exactly",
                "delete one of the two rows (as it stands the clip would be scored twice)",
            )
        elif fold != p_fold:
            self.problems.add(
                "file in several folds",
                self.path,
                line,
                f"{key} is in {self.fold_name} {fold} here but in {self.fold_name} {p_fold} at line {p_line}",
                f"keep the row with the right {self.fold_name} and delete the other "
                "(a file on both sides of a split is trained on and tested: leakage)",
            )
        elif label != p_label:
            self.problems.add(
                "file with several labels",
                self.path,
                line,
                f"{key} is labelled {label} here but {p_label} at line {p_line}",
                "keep the row with the right label and delete the other",
            )
        else:
            self.problems.add(
                "duplicate row",
                self.path,
                line,
                f"{key} is listed again (first at line {p_line}) with other details",
                "keep one row per file",
            )
        return False


class NumberedFoldRows:
    """The checks shared by layouts with official folds and numbered classes (ESC-50, UrbanSound8K).

    A row is accepted when its file name and class name are set, its fold is an official one,
    its class number has one name throughout, and its file has no earlier row (:class:`FileRows`).
    """

    def __init__(self, path: Path, problems: Problems, folds: Sequence[int], number: str, fold_fix: str) -> None:
        self.path = path
        self.problems = problems
        self.folds = tuple(folds)
        self.number = number
        self.fold_fix = fold_fix
        self.names: dict[int, tuple[str, int]] = {}  # class number → (name, line first seen)
        self.files = FileRows(path, problems)

    def accept(
        self, line: int, filename: str, fold: int, number: int, name: str, rest: tuple[object, ...] = ()
    ) -> bool:
        if not filename or not name:
            self.problems.add("malformed row", self.path, line, "empty file name or class name", "complete the row")
            return False
        if fold not in self.folds:
            official = f"{self.folds[0]}..{self.folds[-1]}"
            message = f"{filename}: fold must be {official} (the official folds), got {fold}"
            self.problems.add("fold out of range", self.path, line, message, self.fold_fix)
            return False
        known, first = self.names.setdefault(number, (name, line))
        if known != name:
            self.problems.add(
                "unknown label",
                self.path,
                line,
                f"{self.number} {number} is {name!r} here but {known!r} at line {first}",
                f"one {self.number} must have one name; fix the row",
            )
            return False
        return self.files.add(filename, line, fold, f"{number} ({name})", rest)

    def class_names(self, numbers: Sequence[int]) -> list[str]:
        return [self.names[n][0] for n in numbers]
