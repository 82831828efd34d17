"""COCO caption metrics (pycocoevalcap), as the DCASE 2020 Task 6 evaluation computes them.

All captions go through the PTB tokenizer first (Java; lower-cased, punctuation removed), then
BLEU-1..4, METEOR (Java), ROUGE-L and CIDEr-D are computed over the whole evaluated set at
once (CIDEr's IDF comes from the references of that set, so per-batch scores must never be
averaged). SPICE needs Stanford CoreNLP 3.6.0 jars that pycocoevalcap would download on first
use; bench never downloads, so SPICE, and SPIDEr = (CIDEr + SPICE) / 2, are computed only when
the jars are already in pycocoevalcap's ``spice/lib/`` and are otherwise reported as
unavailable with the reason. ``Spice()`` is never constructed without the jars.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CORENLP_JARS = ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar")
METRICS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider", "spice", "spider")
# SPICE 1.0's cache serialisation needs this on Java >= 16 (InaccessibleObjectException otherwise).
SPICE_JAVA_OPTIONS = "--add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED"


class CaptionScorerError(FileNotFoundError):
    """The COCO scorers cannot run here (no ``java``); the message says what to install."""


@dataclass
class CaptionScores:
    metrics: dict[str, float]
    unavailable: dict[str, str] = field(default_factory=dict)
    per_item: dict[str, dict[str, float]] = field(default_factory=dict)


def package_dir() -> Path:
    import pycocoevalcap

    return Path(next(iter(pycocoevalcap.__path__)))


def spice_status(lib_dir: Path | None = None) -> tuple[bool, str]:
    """Whether SPICE can run here without downloading anything, and why not."""
    lib = lib_dir if lib_dir is not None else package_dir() / "spice" / "lib"
    missing = [j for j in CORENLP_JARS if not (lib / j).is_file()]
    if missing:
        return False, (
            f"SPICE needs Stanford CoreNLP 3.6.0 ({', '.join(missing)}) in {lib}; pycocoevalcap would download "
            "stanford-corenlp-full-2015-12-09.zip on first use and bench never downloads. Copy the two jars "
            "there to enable SPICE and SPIDEr."
        )
    if shutil.which("java") is None:
        return False, "SPICE needs java on PATH"
    return True, f"CoreNLP 3.6.0 jars found in {lib}"


def require_java() -> None:
    if shutil.which("java") is None:
        raise CaptionScorerError(
            "the COCO caption metrics need Java for the PTB tokenizer and METEOR, and `java` is not on PATH; "
            "install a JRE (e.g. `apt-get install openjdk-17-jre-headless`) and run again"
        )


class CocoScorer:
    """Scores candidate captions against references; one METEOR process serves several calls.

    ``spice=None`` decides by :func:`spice_status`; ``spice=False`` never runs it.
    """

    def __init__(self, spice: bool | None = None) -> None:
        require_java()
        ok, why = spice_status()
        self.spice_enabled = ok if spice is None else (spice and ok)
        self.spice_reason = why if not ok else ("disabled by the caller" if spice is False else "")
        self._meteor: Any = None

    def __enter__(self) -> CocoScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._meteor is not None:
            proc = self._meteor.meteor_p
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.close()
            proc.kill()
            proc.wait()
            self._meteor = None

    def tokenize(
        self, refs: Mapping[str, Sequence[str]], cands: Mapping[str, str]
    ) -> tuple[dict[int, list[str]], dict[int, list[str]], list[str]]:
        """PTB-tokenize references and candidates in one Java call; keys become 0..N-1 (sorted ids)."""
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        if set(refs) != set(cands):
            only_r, only_c = sorted(set(refs) - set(cands))[:3], sorted(set(cands) - set(refs))[:3]
            raise ValueError(
                "references and candidates name different items (only "
                f"in references: {only_r}, only in candidates: {only_c})"
            )
        ids = sorted(refs)
        for i in ids:
            if not refs[i]:
                raise ValueError(f"item {i!r} has no reference caption")
        payload: dict[str, list[dict[str, str]]] = {}
        for k, i in enumerate(ids):
            payload[f"r{k}"] = [{"caption": r} for r in refs[i]]
            payload[f"c{k}"] = [{"caption": cands[i]}]
        tokens = PTBTokenizer().tokenize(payload)
        gts = {k: tokens[f"r{k}"] for k in range(len(ids))}
        res = {k: tokens[f"c{k}"] for k in range(len(ids))}
        return gts, res, ids

    def score(self, refs: Mapping[str, Sequence[str]], cands: Mapping[str, str]) -> CaptionScores:
        """Corpus-level metrics over all items, plus per-item CIDEr/BLEU-4/METEOR/ROUGE-L (and SPICE)."""
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.meteor.meteor import Meteor
        from pycocoevalcap.rouge.rouge import Rouge

        gts, res, ids = self.tokenize(refs, cands)
        metrics: dict[str, float] = {}
        per: dict[str, list[float]] = {}
        with contextlib.redirect_stdout(io.StringIO()):  # Bleu prints its n-gram statistics
            bleu, bleu_items = Bleu(4).compute_score(gts, res, verbose=0)
        for n in range(4):
            metrics[f"bleu_{n + 1}"] = float(bleu[n])
        per["bleu_4"] = [float(v) for v in bleu_items[3]]
        if self._meteor is None:
            self._meteor = Meteor()
        metrics["meteor"], meteor_items = self._meteor.compute_score(gts, res)
        per["meteor"] = [float(v) for v in meteor_items]
        metrics["rouge_l"], rouge_items = Rouge().compute_score(gts, res)
        per["rouge_l"] = [float(v) for v in rouge_items]
        metrics["cider"], cider_items = Cider().compute_score(gts, res)
        per["cider"] = [float(v) for v in cider_items]
        unavailable: dict[str, str] = {}
        if self.spice_enabled:
            try:
                spice, spice_items = run_spice(gts, res)
                metrics["spice"] = spice
                metrics["spider"] = (metrics["cider"] + spice) / 2
                per["spice"] = spice_items
                per["spider"] = [(c + s) / 2 for c, s in zip(per["cider"], spice_items, strict=True)]
            except (subprocess.CalledProcessError, OSError, ValueError, KeyError) as exc:
                unavailable = {"spice": f"SPICE failed: {type(exc).__name__}: {exc}", "spider": "needs SPICE"}
        else:
            unavailable = {
                "spice": self.spice_reason,
                "spider": "SPIDEr = (CIDEr + SPICE) / 2 needs SPICE, which is unavailable",
            }
        metrics = {k: float(v) for k, v in metrics.items()}
        per_item = {ids[k]: {m: vals[k] for m, vals in per.items()} for k in range(len(ids))}
        return CaptionScores(metrics=metrics, unavailable=unavailable, per_item=per_item)


def run_spice(gts: dict[int, list[str]], res: dict[int, list[str]]) -> tuple[float, list[float]]:
    """pycocoevalcap's SPICE, with the Java module opening SPICE 1.0 needs on Java >= 16."""
    from pycocoevalcap.spice.spice import Spice

    previous = os.environ.get("JDK_JAVA_OPTIONS")
    os.environ["JDK_JAVA_OPTIONS"] = f"{previous} {SPICE_JAVA_OPTIONS}" if previous else SPICE_JAVA_OPTIONS
    try:
        score, items = Spice().compute_score(gts, res)
    finally:
        if previous is None:
            os.environ.pop("JDK_JAVA_OPTIONS", None)
        else:
            os.environ["JDK_JAVA_OPTIONS"] = previous
    return float(score), [float(it["All"]["f"]) for it in items]
