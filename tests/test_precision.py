"""``--precision``: bf16 and fp32 embeddings never share a store entry or a record, fp32 keeps its
old fingerprint, and bf16 gives bf16 numbers (close to fp32, not equal)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures import write_esc50

from bench.encoder import get_encoder
from bench.extract import ExtractionStats, extract, store_key
from bench.precision import check_precision
from bench.store import EmbeddingStore
from bench.task import get_task
from encoders.wav2clip.checkpoint import save_official
from encoders.wav2clip.model import Wav2CLIPAudio


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(3)
    return save_official(Wav2CLIPAudio().eval(), tmp_path_factory.mktemp("w") / "Wav2CLIP.pt")


def test_bf16_and_fp32_embeddings_never_share_a_store_entry(weights: Path, tmp_path: Path) -> None:
    task = get_task("esc50")
    dataset = task.loader(write_esc50(tmp_path / "ESC-50-master", {0: "dog", 1: "rooster"}, per_fold=1))
    store = EmbeddingStore(tmp_path / "cache")
    fp32 = get_encoder("wav2clip", weights=str(weights), teacher="none")
    bf16 = get_encoder("wav2clip", weights=str(weights), teacher="none", precision="bf16")
    assert fp32.fingerprint() != bf16.fingerprint()
    assert fp32.label() == "wav2clip@" + fp32.weights_id()[:8] and bf16.label() == fp32.label() + "[bf16]"
    keys = {store_key(e, dataset, task.clip_policy, None).digest() for e in (fp32, bf16)}
    assert len(keys) == 2

    first = extract(fp32, dataset, store, task.clip_policy, show_progress=False)
    stats = ExtractionStats()
    low = extract(bf16, dataset, store, task.clip_policy, show_progress=False, stats=stats)
    assert first is not None and low is not None
    assert stats.embedded == len(dataset.clips) and stats.reused == 0  # nothing taken from the fp32 entry
    again = ExtractionStats()
    cached = extract(fp32, dataset, store, task.clip_policy, show_progress=False, stats=again)
    assert cached is not None and again.embedded == 0  # fp32 is served from its own entry...
    ids = [c.id for c in dataset.clips]
    a, b, c = first.matrix(ids), low.matrix(ids), cached.matrix(ids)
    np.testing.assert_array_equal(c, a)  # ...and it holds fp32 numbers, not the bf16 ones
    assert not np.array_equal(a, b)  # bf16 really ran in bf16
    cos = np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cos.min() > 0.99  # ...and stays close to fp32


def test_fp32_keeps_the_fingerprint_it_had_before_the_option(weights: Path) -> None:
    enc = get_encoder("wav2clip", weights=str(weights), teacher="none", precision="fp32")
    assert "precision" not in enc.options()
    assert enc.fingerprint() == get_encoder("wav2clip", weights=str(weights), teacher="none").fingerprint()


def test_unknown_precision_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="fp32, bf16, fp16"):
        check_precision("int8", "wav2clip")
