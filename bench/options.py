"""``KEY=VALUE`` options as users type them (``--opt``, ``--popt``, ``--root``, ``BENCH_HEAR_OPTS``).

Values become ``int``, ``float`` or ``bool`` when they read as one, otherwise stay text, so
``--popt max_epochs=100`` and ``BENCH_HEAR_OPTS="hop_s=0.5"`` reach the code with one rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


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
            raise ValueError(f"{what} {item!r}: expected KEY=VALUE")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def typed_pairs(items: Iterable[str], what: str) -> dict[str, Any]:
    """:func:`parse_pairs` with each value through :func:`coerce`."""
    return {k: coerce(v) for k, v in parse_pairs(items, what).items()}
