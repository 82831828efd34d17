"""sha256 digests: of files (weights, checkpoints) and of JSON-able values (fingerprints, keys).

A value's digest is taken over its JSON with sorted keys, so two equal settings always hash
alike whatever order their dictionaries were built in; ``length`` truncates the hex digest
(identities shown in paths and tables stay short, and 64+ bits never collide in practice).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def sha256_file(path: Path | str, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks (weights files are hundreds of MB)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_json(value: Any, length: int = 64) -> str:
    """Hex sha256 of ``value`` as sorted-key JSON (non-JSON values as ``str``), first ``length`` digits."""
    blob = json.dumps(value, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]
