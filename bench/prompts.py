"""Label-to-text rules and prompt templates for zero-shot classification.

Dataset vocabularies are identifiers, not phrases: FSD50K writes AudioSet's
"Zipper (clothing)" as ``Zipper_(clothing)`` and "Accelerating, revving, vroom" as
``Accelerating_and_revving_and_vroom``. A text encoder scores prompts better, and
reproducibly, when a named rule turns them back into words; the rule and the templates are
recorded with every zero-shot result (prompt sensitivity is large, see
reference/harness-anchors.md §7.4).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path


def _verbatim(label: str) -> str:
    return label


def _spaces(label: str) -> str:
    return re.sub(r"\s+", " ", label.replace("_", " ")).strip()


def _spaces_lower(label: str) -> str:
    return _spaces(label).lower()


def _audioset(label: str) -> str:
    """FSD50K/AudioSet identifiers back to AudioSet display names, lower case.

    FSD50K built its identifiers from AudioSet names by writing ", " as "_and_" and spaces as
    "_"; none of its 200 names contains a genuine " and ", so the mapping inverts cleanly:
    ``Accelerating_and_revving_and_vroom`` → "accelerating, revving, vroom",
    ``Zipper_(clothing)`` → "zipper (clothing)". Qualifiers stay: they separate
    ``Rattle`` from ``Rattle_(instrument)``.
    """
    return _spaces_lower(label).replace(" and ", ", ")


LABEL_RULES: dict[str, Callable[[str], str]] = {
    "verbatim": _verbatim,
    "underscores_to_spaces": _spaces,
    "underscores_to_spaces_lower": _spaces_lower,
    "audioset": _audioset,
}


def label_text(rule: str, label: str) -> str:
    if rule not in LABEL_RULES:
        raise ValueError(f"unknown zero-shot label rule {rule!r}; known rules: {', '.join(sorted(LABEL_RULES))}")
    return LABEL_RULES[rule](label)


def parse_templates(value: object) -> tuple[str, ...]:
    """Templates from a protocol option: a list, ``"t1|t2"``, or ``"@file"`` (one per line).

    Each template must contain ``{label}`` exactly where the label text goes.
    """
    if isinstance(value, str):
        if value.startswith("@"):
            path = Path(value[1:]).expanduser()
            if not path.is_file():
                raise ValueError(f"zs_templates: template file {path} not found")
            items = [line.strip() for line in path.read_text().splitlines()]
            items = [t for t in items if t and not t.startswith("#")]
        else:
            items = [t.strip() for t in value.split("|")]
    elif isinstance(value, Sequence):
        items = [str(t).strip() for t in value]
    else:
        items = [str(value).strip()]
    items = [t for t in items if t]
    if not items:
        raise ValueError("zs_templates: no template given; use e.g. zs_templates='this is a sound of {label}.'")
    for t in items:
        if "{label}" not in t:
            raise ValueError(f"zs_templates: template {t!r} has no {{label}} placeholder")
        try:
            t.format(label="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"zs_templates: template {t!r} is not a valid format string ({exc}); only {{label}} is allowed"
            ) from None
    return tuple(items)
