"""``KEY=VALUE`` options as users type them, and the schemas that check them before any work.

``--opt``, ``--popt`` and ``--root`` arrive as text. Protocols and encoders declare their
options as :class:`Option` records (type, default, allowed range, help); :func:`check_options`
turns the text into typed values and refuses, before anything is embedded or trained, an
unknown key (listing the valid ones, with a did-you-mean), a value of the wrong type, or one
outside its range, with a message naming the flag, the option and what is allowed. Values
given from Python (already typed) go through the same checks.

``BENCH_HEAR_OPTS`` and options of adapters that declare no schema keep the one loose rule of
:func:`coerce`: ``int``, ``float`` or ``bool`` when the text reads as one, otherwise text.
"""

from __future__ import annotations

import difflib
import inspect
import math
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class OptionError(ValueError):
    """An option a user gave that cannot be used (the message names the flag and the fix)."""


def coerce(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_pairs(items: Iterable[str], what: str) -> dict[str, str]:
    """``["a=1", "b=x"]`` → ``{"a": "1", "b": "x"}``; ``what`` names the option in the error."""
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise OptionError(f"{what} {item!r}: expected KEY=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def typed_pairs(items: Iterable[str], what: str) -> dict[str, Any]:
    """:func:`parse_pairs` with each value through :func:`coerce`."""
    return {k: coerce(v) for k, v in parse_pairs(items, what).items()}


_TYPE_WORDS = {int: "a whole number", float: "a number", bool: "true or false", str: "text"}
_TRUE, _FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


@dataclass(frozen=True)
class Option:
    """One option: its type (int, float, bool or str), default, allowed values and what it does.

    ``low``/``high`` bound numbers (inclusive unless ``*_open``); ``choices`` lists the
    allowed texts; ``nullable`` accepts ``none``; ``per_task`` also accepts ``TASK.name``.
    """

    name: str
    type: type
    default: Any = None
    help: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    nullable: bool = False
    per_task: bool = False
    parse: Callable[[Any], Any] | None = None  # further check of the typed value (ValueError: refused)

    def convert(self, value: Any, flag: str, key: str | None = None) -> Any:
        """``value`` (text from the command line, or a typed value) as this option's type, checked."""
        key = key or self.name
        if value is None or (self.nullable and isinstance(value, str) and value.strip().lower() in ("none", "null")):
            if self.nullable:
                return None
            raise OptionError(f"{flag} {key} must be {_TYPE_WORDS.get(self.type, self.type.__name__)}, got none")
        typed = self._typed(value, flag, key)
        if isinstance(typed, (int, float)) and not isinstance(typed, bool):
            self._check_range(typed, flag, key)
        if self.choices and typed not in self.choices:
            raise OptionError(f"{flag} {key} must be one of {', '.join(self.choices)}; got {typed!r}")
        if self.parse is not None:
            try:
                self.parse(typed)
            except ValueError as exc:
                raise OptionError(f"{flag} {key}: {exc}") from None
        return typed

    def _typed(self, value: Any, flag: str, key: str) -> Any:
        wrong = OptionError(f"{flag} {key} must be {_TYPE_WORDS.get(self.type, self.type.__name__)}, got {value!r}")
        if self.type is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE
            raise wrong
        if self.type is int:
            if isinstance(value, bool):
                raise wrong
            if isinstance(value, int):
                return value
            try:
                return int(str(value).strip())
            except ValueError:
                raise wrong from None
        if self.type is float:
            if isinstance(value, bool):
                raise wrong
            try:
                number = float(value) if isinstance(value, (int, float)) else float(str(value).strip())
            except ValueError:
                raise wrong from None
            if not math.isfinite(number):
                raise OptionError(f"{flag} {key} must be a finite number, got {value!r}")
            return number
        if self.type is str:
            return str(value)
        return coerce(value) if isinstance(value, str) else value  # a type this module does not check

    def _check_range(self, number: float, flag: str, key: str) -> None:
        shown = f"{number:g}"
        integral = self.type is int
        if self.low is not None and (number <= self.low if self.low_open else number < self.low):
            bound = f"{self.low:g}"
            need = f"greater than {bound}" if self.low_open else f"at least {bound}"
            raise OptionError(f"{flag} {key} must be {need}, got {shown}{self.range_hint(integral)}")
        if self.high is not None and (number >= self.high if self.high_open else number > self.high):
            bound = f"{self.high:g}"
            need = f"less than {bound}" if self.high_open else f"at most {bound}"
            raise OptionError(f"{flag} {key} must be {need}, got {shown}{self.range_hint(integral)}")

    def range_hint(self, integral: bool = False) -> str:
        if self.low is not None and self.high is not None:
            lo, hi = ("(" if self.low_open else "["), (")" if self.high_open else "]")
            return f" (allowed: {lo}{self.low:g}, {self.high:g}{hi})"
        return ""

    def describe(self) -> str:
        """``name (type, default X): help`` for listings."""
        word = {int: "int", float: "float", bool: "bool", str: "text"}.get(self.type, self.type.__name__)
        return f"{self.name} ({word}, default {self.default!r}){': ' + self.help if self.help else ''}"


@dataclass(frozen=True)
class Schema:
    """The options one owner (a protocol, an encoder) takes; ``owner`` names it in messages."""

    owner: str
    options: tuple[Option, ...]

    def get(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)


def check_options(
    values: Mapping[str, Any],
    schemas: Sequence[Schema],
    flag: str,
    *,
    others: Sequence[Schema] = (),
    task_names: Iterable[str] = (),
    reserved: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``values`` converted and checked against ``schemas`` (the owners taking part in this run).

    A key only ``others`` declare (registered owners that do not take part) is refused with
    the owner named; ``reserved`` maps keys to the flag to use instead (``device`` → ``--device``).
    ``TASK.name`` keys are accepted for ``per_task`` options of a task in ``task_names``.
    """
    tasks = set(task_names)
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = key
        if "." in key and key.split(".", 1)[0] in tasks:
            name = key.split(".", 1)[1]
        if reserved and name in reserved:
            raise OptionError(f"{flag} {key}: give it with {reserved[name]} instead")
        option = next((o for s in schemas if (o := s.get(name)) is not None), None)
        if option is None:
            raise OptionError(_unknown(key, name, schemas, others, flag))
        if name != key and not option.per_task:
            raise OptionError(f"{flag} {key}: {name} applies to every task; it cannot be set for one task")
        out[key] = option.convert(value, flag, key)
    return out


def _unknown(key: str, name: str, schemas: Sequence[Schema], others: Sequence[Schema], flag: str) -> str:
    owner = next((s.owner for s in others if s.get(name) is not None), None)
    if owner is not None:
        taking = ", ".join(s.owner for s in schemas) or "nothing that takes options"
        return f"{flag} {key}: an option of {owner}, which this run does not include (it runs {taking})"
    valid = sorted({o.name for s in schemas for o in s.options})
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    owners = ", ".join(s.owner for s in schemas) or "this run"
    listed = ", ".join(valid) if valid else "none"
    return f"{flag} {key}: unknown option.{hint} Options of {owners}: {listed}."


def keyword_parameters(factory: Callable[..., Any]) -> dict[str, inspect.Parameter] | None:
    """The parameters ``factory`` takes by keyword, or None when it takes ``**kwargs`` (or has no signature)."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return {n: p for n, p in sig.parameters.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def signature_schema(factory: Callable[..., Any], owner: str, skip: Iterable[str] = ()) -> Schema | None:
    """The options a factory's keyword parameters declare (types from its annotations), or None.

    None: the factory takes ``**kwargs`` (anything goes, e.g. a HEAR module's own options).
    Parameters whose annotation is not int/float/bool/str (or one of them ``| None``, or a
    ``Literal`` of texts) are accepted unchecked.
    """
    params = keyword_parameters(factory)
    if params is None:
        return None
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # unresolvable annotations: names are still checked, types are not
        hints = {}
    skipped = set(skip)
    options = []
    for name, p in params.items():
        if name in skipped:
            continue
        kind, nullable, choices = _annotation(hints.get(name))
        default = None if p.default is p.empty else p.default
        options.append(Option(name, kind, default, nullable=nullable or default is None, choices=choices))
    return Schema(owner, tuple(options))


def _annotation(hint: Any) -> tuple[type, bool, tuple[str, ...]]:
    """(type, accepts None, allowed texts) of a parameter annotation."""
    args = typing.get_args(hint)
    nullable = type(None) in args
    if typing.get_origin(hint) is typing.Literal:
        return str, False, tuple(str(a) for a in args)
    if nullable:
        rest = [a for a in args if a is not type(None)]
        hint = rest[0] if len(rest) == 1 else object
    if hint in (int, float, bool, str):
        return hint, nullable, ()
    return object, nullable, ()
