"""Embedding store: embed once, resume after a kill, skip or stop on unreadable files."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from fixtures import write_esc50
from helpers import CountingEncoder, EmbedCounter

from bench.audio import ClipPolicy
from bench.extract import ExtractionStopped, extract
from bench.store import EmbeddingStore
from bench.task import get_task

TARGETS = {0: "dog", 1: "rooster", 2: "pig"}


@pytest.fixture()
def dataset(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = write_esc50(tmp_path / "ESC-50-master", TARGETS, per_fold=2)
    return get_task("esc50").loader(root)


def test_second_extraction_calls_encoder_zero_times(tmp_path: Path, dataset, counter: EmbedCounter) -> None:  # type: ignore[no-untyped-def]
    store = EmbeddingStore(tmp_path / "cache")
    counter.calls = counter.clips = 0
    view = extract(CountingEncoder(), dataset, store, ClipPolicy(1.0), show_progress=False)
    assert view is not None and counter.clips == len(dataset.clips) == 30
    first = view.matrix([c.id for c in dataset.clips]).copy()
    counter.calls = 0
    view2 = extract(CountingEncoder(), dataset, store, ClipPolicy(1.0), show_progress=False)
    assert counter.calls == 0
    np.testing.assert_array_equal(view2.matrix([c.id for c in dataset.clips]), first)
    assert isinstance(view2.data, np.memmap)


def test_key_changes_with_fingerprint_policy_and_files(tmp_path: Path, dataset, counter: EmbedCounter) -> None:  # type: ignore[no-untyped-def]
    store = EmbeddingStore(tmp_path / "cache")
    extract(CountingEncoder(), dataset, store, ClipPolicy(1.0), show_progress=False)
    for enc, policy, ds in [
        (CountingEncoder(scale=2.0), ClipPolicy(1.0), dataset),  # other options → other fingerprint
        (CountingEncoder(), ClipPolicy(2.0), dataset),  # other clip policy
        (CountingEncoder(), ClipPolicy(1.0), dataset.subset(lambda c: c.fold != 5)),  # other file list
    ]:
        counter.calls = 0
        extract(enc, ds, store, policy, show_progress=False)
        assert counter.calls > 0
    manifests = [json.loads(p.read_text()) for p in (tmp_path / "cache").rglob("manifest.json")]
    assert len(manifests) == 4 and all(m["complete"] for m in manifests)


def test_killed_run_resumes_without_recomputing(tmp_path: Path, dataset, counter: EmbedCounter) -> None:  # type: ignore[no-untyped-def]
    root = dataset.root
    cache = tmp_path / "cache"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from helpers import CountingEncoder, EmbedCounter
        from bench.audio import ClipPolicy
        from bench.extract import extract
        from bench.store import EmbeddingStore
        from bench.task import get_task
        ds = get_task("esc50").loader({str(root)!r})
        CountingEncoder.counter.kill_after_clips = 17
        extract(CountingEncoder(), ds, EmbeddingStore({str(cache)!r}), ClipPolicy(1.0),
                batch_size=4, flush_every=4, show_progress=False)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr  # SIGKILL
    parts = list(cache.rglob("part-*.json"))
    done = {cid for p in parts for cid in json.loads(p.read_text())["ids"]}
    assert 0 < len(done) <= 16  # finished batches were flushed before the kill
    counter.calls = counter.clips = 0
    view = extract(
        CountingEncoder(), dataset, EmbeddingStore(cache), ClipPolicy(1.0), batch_size=4, show_progress=False
    )
    assert counter.clips == len(dataset.clips) - len(done)
    assert view is not None and len(view.ids) == len(dataset.clips)
    fresh = extract(
        CountingEncoder(), dataset, EmbeddingStore(tmp_path / "fresh"), ClipPolicy(1.0), show_progress=False
    )
    assert fresh is not None
    ids = [c.id for c in dataset.clips]
    np.testing.assert_allclose(view.matrix(ids), fresh.matrix(ids), atol=1e-6)
    assert not list(cache.rglob("part-*"))  # consolidated


def test_corrupt_file_skipped_or_stops(tmp_path: Path, dataset, counter: EmbedCounter) -> None:  # type: ignore[no-untyped-def]
    bad = dataset.clips[7]
    bad.path.write_bytes(b"not audio at all" * 10)
    view = extract(CountingEncoder(), dataset, EmbeddingStore(tmp_path / "a"), ClipPolicy(1.0), show_progress=False)
    assert view is not None and bad.id in view.failed and bad.id not in view
    assert "corrupt" in view.failed[bad.id]
    assert len(view.ids) == len(dataset.clips) - 1
    counter.clips = 0
    store = EmbeddingStore(tmp_path / "b")
    with pytest.raises(ExtractionStopped, match=str(bad.path)):
        extract(CountingEncoder(), dataset, store, ClipPolicy(1.0), on_error="stop", batch_size=2, show_progress=False)
    saved = counter.clips
    assert saved >= 6  # clips before the bad one were embedded and saved
    counter.clips = 0
    view = extract(CountingEncoder(), dataset, store, ClipPolicy(1.0), on_error="skip", show_progress=False)
    assert counter.clips == len(dataset.clips) - 1 - saved  # nothing computed was lost
    assert view is not None and bad.id in view.failed


def test_frame_level_store_keeps_timestamps(tmp_path: Path, dataset) -> None:  # type: ignore[no-untyped-def]
    view = extract(
        CountingEncoder(),
        dataset,
        EmbeddingStore(tmp_path / "c"),
        ClipPolicy(2.5),
        frames_window_s=1.0,
        show_progress=False,
    )
    assert view is not None
    cid = dataset.clips[0].id
    assert view.rows(cid).shape == (3, 16)
    np.testing.assert_array_equal(view.starts_of(cid), [0.0, 1.0, 2.0])
