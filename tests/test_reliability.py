"""Issue 15: no stale or poisoned numbers, no tracebacks for a user's mistake, a store that cleans up.

One test (or a few) per numbered failure of the issue. Each asserts against something the
code under test does not produce itself: a fresh store computed from scratch, the files on
disk, the exit status and text a user sees.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fixtures import write_esc50, write_us8k
from helpers import CountingEncoder, EmbedCounter
from typer.testing import CliRunner

from bench.audio import ClipPolicy
from bench.cli import app
from bench.encoder import get_encoder
from bench.extract import extract
from bench.results import ResultsStore
from bench.runner import RunOptions, run
from bench.store import EmbeddingStore
from bench.sweep import sweep_fractions
from bench.task import Clip, Dataset, get_task

TARGETS = {0: "dog", 1: "rooster", 2: "pig"}
TESTS = Path(__file__).parent
cli = CliRunner()


@pytest.fixture()
def dataset(tmp_path: Path) -> Dataset:
    root = write_esc50(tmp_path / "ESC-50-master", TARGETS, per_fold=2)
    return get_task("esc50").loader(root)


def overwrite_same_size(clips: list[Clip], seed: int) -> None:
    """New audio (white noise) in place of each clip's, in the same format: the size does not change."""
    rng = np.random.default_rng(seed)
    for clip in clips:
        info = sf.info(str(clip.path))
        size = clip.path.stat().st_size
        noise = (0.3 * rng.standard_normal(info.frames)).astype(np.float32)
        sf.write(clip.path, noise, info.samplerate, subtype=info.subtype)
        assert clip.path.stat().st_size == size


def entry_dirs(cache: Path) -> list[Path]:
    return sorted(p.parent for p in cache.rglob("manifest.json"))


def leftovers(entry: Path) -> list[str]:
    """Files a finished entry must not keep: parts already consolidated, temporary files."""
    return sorted(p.name for p in entry.iterdir() if p.name.startswith(("part-", ".")))


def matrix(view, clips: list[Clip]) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.asarray(view.matrix([c.id for c in clips]))


def fresh_view(dataset: Dataset, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The embeddings of ``dataset`` as it is now, computed into an empty store: the reference."""
    return extract(CountingEncoder(), dataset, EmbeddingStore(tmp_path / "fresh"), ClipPolicy(1.0), show_progress=False)


# 1. Stale embeddings ---------------------------------------------------------------------------


def test_files_overwritten_in_place_with_the_same_size_are_embedded_again(
    tmp_path: Path, dataset: Dataset, counter: EmbedCounter
) -> None:
    store = EmbeddingStore(tmp_path / "cache")
    extract(CountingEncoder(), dataset, store, ClipPolicy(1.0), show_progress=False)
    overwrite_same_size(dataset.clips, seed=1)
    counter.clips = 0
    view = extract(CountingEncoder(), dataset, store, ClipPolicy(1.0), show_progress=False)
    assert counter.clips == len(dataset.clips)
    fresh = fresh_view(dataset, tmp_path)
    np.testing.assert_array_equal(matrix(view, dataset.clips), matrix(fresh, dataset.clips))


def test_only_the_changed_clips_are_embedded_again(tmp_path: Path, dataset: Dataset, counter: EmbedCounter) -> None:
    store = EmbeddingStore(tmp_path / "cache")
    extract(CountingEncoder(), dataset, store, ClipPolicy(1.0), show_progress=False)
    overwrite_same_size(dataset.clips[:3], seed=2)
    counter.clips = 0
    view = extract(CountingEncoder(), dataset, store, ClipPolicy(1.0), show_progress=False)
    assert counter.clips == 3
    fresh = fresh_view(dataset, tmp_path)
    np.testing.assert_array_equal(matrix(view, dataset.clips), matrix(fresh, dataset.clips))
    assert leftovers(entry_dirs(tmp_path / "cache")[0]) == []


def test_two_folders_with_the_same_names_and_sizes_do_not_share_embeddings(
    tmp_path: Path, dataset: Dataset, counter: EmbedCounter
) -> None:
    other_root = shutil.copytree(dataset.root, tmp_path / "copy" / "ESC-50-master")
    other = get_task("esc50").loader(other_root)
    overwrite_same_size(other.clips, seed=3)
    for mine, theirs in zip(dataset.clips, other.clips, strict=True):  # same names, sizes and times
        st = mine.path.stat()
        os.utime(theirs.path, ns=(st.st_atime_ns, st.st_mtime_ns))
    store = EmbeddingStore(tmp_path / "cache")
    extract(CountingEncoder(), dataset, store, ClipPolicy(1.0), show_progress=False)
    counter.clips = 0
    view = extract(CountingEncoder(), other, store, ClipPolicy(1.0), show_progress=False)
    assert counter.clips == len(other.clips)
    fresh = fresh_view(other, tmp_path)
    np.testing.assert_array_equal(matrix(view, other.clips), matrix(fresh, other.clips))


def test_an_unreadable_file_is_tried_again_once_it_changed(
    tmp_path: Path, dataset: Dataset, counter: EmbedCounter
) -> None:
    bad = dataset.clips[7]
    good_bytes = bad.path.read_bytes()
    bad.path.write_bytes(b"not audio at all" * 10)
    store = EmbeddingStore(tmp_path / "cache")
    view = extract(CountingEncoder(), dataset, store, ClipPolicy(1.0), show_progress=False)
    assert bad.id in view.failed
    counter.clips = 0
    view = extract(CountingEncoder(), dataset, store, ClipPolicy(1.0), show_progress=False)
    assert counter.clips == 0 and bad.id in view.failed  # unchanged: not tried again
    bad.path.write_bytes(good_bytes)
    view = extract(CountingEncoder(), dataset, store, ClipPolicy(1.0), show_progress=False)
    assert counter.clips == 1 and bad.id in view and bad.id not in view.failed


def test_verify_content_notices_a_change_that_kept_size_and_modification_time(
    tmp_path: Path, dataset: Dataset, counter: EmbedCounter
) -> None:
    store = EmbeddingStore(tmp_path / "cache")
    extract(CountingEncoder(), dataset, store, ClipPolicy(1.0), show_progress=False, verify_content=True)
    changed = dataset.clips[4:6]
    stats = [c.path.stat() for c in changed]
    overwrite_same_size(changed, seed=4)
    for clip, st in zip(changed, stats, strict=True):
        os.utime(clip.path, ns=(st.st_atime_ns, st.st_mtime_ns))
    counter.clips = 0
    view = extract(CountingEncoder(), dataset, store, ClipPolicy(1.0), show_progress=False, verify_content=True)
    assert counter.clips == len(changed)
    fresh = fresh_view(dataset, tmp_path)
    np.testing.assert_array_equal(matrix(view, dataset.clips), matrix(fresh, dataset.clips))


def _run_opts(tmp_path: Path, cache: str = "cache", results: str = "results", **kw) -> RunOptions:  # type: ignore[no-untyped-def]
    return RunOptions(
        data_root=tmp_path / "data",
        results_dir=tmp_path / results,
        cache_dir=tmp_path / cache,
        show_progress=False,
        protocols=["probe"],
        protocol_options={"max_epochs": 30, "patience": 5},
        log=lambda m: None,
        **kw,
    )


@pytest.mark.usefixtures("with_test_encoders")
def test_force_after_overwriting_the_audio_scores_the_new_audio(tmp_path: Path) -> None:
    root = write_esc50(tmp_path / "data" / "ESC-50-master", TARGETS, per_fold=3)
    run(["counting"], ["esc50"], _run_opts(tmp_path))
    overwrite_same_size(get_task("esc50").loader(root).clips, seed=5)
    run(["counting"], ["esc50"], _run_opts(tmp_path, force=True))
    run(["counting"], ["esc50"], _run_opts(tmp_path, cache="fresh-cache", results="fresh-results"))
    again = ResultsStore(tmp_path / "results").find("real", "counting", "esc50", "probe-mlp-v1")
    fresh = ResultsStore(tmp_path / "fresh-results").find("real", "counting", "esc50", "probe-mlp-v1")
    assert again is not None and fresh is not None
    assert [f.metrics for f in again.folds] == [f.metrics for f in fresh.folds]


@pytest.mark.usefixtures("with_test_encoders")
def test_a_plain_rerun_after_overwriting_the_audio_scores_the_new_audio(tmp_path: Path) -> None:
    """No --force: the stored results' dataset checksum (paths, sizes) did not change, the audio did.

    Two cells over one store level (two fractions): the first re-embeds the changed clips, the
    second must not then pass for current.
    """
    root = write_esc50(tmp_path / "data" / "ESC-50-master", TARGETS, per_fold=3)

    def records(results: str) -> list[list[dict[str, float]]]:
        out = []
        for pct in (50, 100):
            rec = ResultsStore(tmp_path / results).find("real", "counting", "esc50", f"probe-mlp-v1-frac{pct}")
            assert rec is not None
            out.append([f.metrics for f in rec.folds])
        return out

    sweep_fractions(["counting"], ["esc50"], [50.0, 100.0], 1, _run_opts(tmp_path), plot=False)
    overwrite_same_size(get_task("esc50").loader(root).clips, seed=6)
    again = sweep_fractions(["counting"], ["esc50"], [50.0, 100.0], 1, _run_opts(tmp_path), plot=False)
    assert [o.status for o in again.outcomes] == ["ok", "ok"]  # recomputed, not served from the old records
    sweep_fractions(["counting"], ["esc50"], [50.0, 100.0], 1, _run_opts(tmp_path, "fresh-cache", "fresh"), plot=False)
    assert records("results") == records("fresh")


def test_reembed_flag_embeds_again_and_force_does_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from encoders.logmel import LogMelEncoder

    calls = {"n": 0}
    original = LogMelEncoder.embed

    def counting(self, waves):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        return original(self, waves)

    monkeypatch.setattr(LogMelEncoder, "embed", counting)
    root = write_esc50(tmp_path / "ESC-50-master", TARGETS, per_fold=2)
    args = ["run", "-e", "logmel", "-t", "esc50", "--root", f"esc50={root}", "--protocol", "probe"]
    args += ["--popt", "max_epochs=3", "--quiet", "--no-leaderboard"]
    assert cli.invoke(app, args).exit_code == 0
    calls["n"] = 0
    assert cli.invoke(app, [*args, "--force"]).exit_code == 0 and calls["n"] == 0
    res = cli.invoke(app, [*args, "--reembed"])
    assert res.exit_code == 0, res.output
    assert calls["n"] > 0
    help_text = cli.invoke(app, ["run", "--help"], terminal_width=200).output
    assert "--reembed" in help_text and "--verify-content" in help_text


# 2. Non-finite audio or embeddings --------------------------------------------------------------


def test_a_clip_whose_embedding_is_not_finite_is_reported_and_never_stored(tmp_path: Path, dataset: Dataset) -> None:
    loud = dataset.clips[5]
    wave, sr = sf.read(str(loud.path), dtype="float32")
    sf.write(loud.path, wave * np.float32(5e29), sr, subtype="FLOAT")  # finite samples, huge values
    assert np.isfinite(sf.read(str(loud.path), dtype="float32")[0]).all()
    view = extract(
        get_encoder("logmel"), dataset, EmbeddingStore(tmp_path / "cache"), ClipPolicy(1.0), show_progress=False
    )
    assert loud.id not in view and "non-finite" in view.failed[loud.id]
    assert np.isfinite(np.asarray(view.data)).all()
    assert len(view.ids) == len(dataset.clips) - 1


# 4 / 5 / 6. Options checked before any work, with a message and no traceback -------------------


def _bad_run(tmp_path: Path, *extra: str) -> str:
    root = tmp_path / "ESC-50-master"
    if not root.exists():
        write_esc50(root, TARGETS, per_fold=2)
    args = ["run", "-e", "logmel", "-t", "esc50", "--root", f"esc50={root}", "--quiet", "--no-leaderboard"]
    res = cli.invoke(app, [*args, "--cache", str(tmp_path / "cache"), *extra], terminal_width=200)
    assert isinstance(res.exception, SystemExit), res.exception  # a message, not a traceback
    assert res.exit_code == 2, res.output
    assert not (tmp_path / "cache").exists()  # refused before anything was embedded
    return " ".join(res.output.split())


@pytest.mark.parametrize(
    ("popt", "expected"),
    [
        ("max_epochs=abc", "max_epochs must be a whole number, got 'abc'"),
        ("max_epochs=2.5", "max_epochs must be a whole number, got '2.5'"),
        ("max_epochs=0", "max_epochs must be at least 1, got 0"),
        ("max_epochs=-1", "max_epochs must be at least 1, got -1"),
        ("lr=abc", "lr must be a number, got 'abc'"),
        ("lr=0", "lr must be greater than 0, got 0"),
        ("val_fraction=0", "val_fraction must be greater than 0, got 0"),
        ("val_fraction=1.5", "val_fraction must be less than 1, got 1.5"),
        ("batch_size=0", "batch_size must be at least 1, got 0"),
        ("max_epoch=5", "Did you mean 'max_epochs'?"),
    ],
)
def test_bad_protocol_options_are_refused_before_work(tmp_path: Path, popt: str, expected: str) -> None:
    out = _bad_run(tmp_path, "--popt", popt)
    assert "--popt" in out and expected in out


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--batch-size", "0", "--batch-size must be at least 1, got 0"),
        ("--workers", "0", "--workers must be at least 1, got 0"),
    ],
)
def test_bad_run_flags_are_refused_before_work(tmp_path: Path, flag: str, value: str, expected: str) -> None:
    assert expected in _bad_run(tmp_path, flag, value)


def test_an_unknown_protocol_option_lists_the_valid_ones(tmp_path: Path) -> None:
    out = _bad_run(tmp_path, "--popt", "max_epoch=5")
    assert "unknown" in out and "max_epochs" in out and "patience" in out and "val_fraction" in out


def test_an_option_of_a_protocol_left_out_of_the_run_is_refused_with_its_owner(tmp_path: Path) -> None:
    out = _bad_run(tmp_path, "--protocol", "zeroshot", "--popt", "max_epochs=5")
    assert "--popt max_epochs: an option of protocol 'probe', which this run does not include" in out


def test_the_sweep_checks_its_options_before_work(tmp_path: Path) -> None:
    root = write_esc50(tmp_path / "ESC-50-master", TARGETS, per_fold=2)
    args = ["sweep", "fractions", "-e", "logmel", "-t", "esc50", "--root", f"esc50={root}", "--quiet"]
    res = cli.invoke(app, [*args, "--cache", str(tmp_path / "cache"), "--popt", "val_fraction=1.5"])
    assert isinstance(res.exception, SystemExit) and res.exit_code == 2, res.output
    assert "val_fraction must be less than 1" in res.output and not (tmp_path / "cache").exists()


def test_an_unknown_encoder_option_gets_a_did_you_mean(tmp_path: Path) -> None:
    out = _bad_run(tmp_path, "--opt", "stat=mean")
    assert "--opt" in out and "Did you mean 'stats'?" in out


def test_a_device_this_machine_lacks_is_refused(tmp_path: Path) -> None:
    out = _bad_run(tmp_path, "--device", "tpu")
    assert "--device 'tpu'" in out and "cpu" in out


def test_cuda_without_a_gpu_is_refused(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    out = _bad_run(tmp_path, "--device", "cuda")
    assert "no CUDA GPU" in out and "--device cpu" in out


def test_check_encoder_refuses_a_device_this_machine_lacks() -> None:
    res = cli.invoke(app, ["check-encoder", "logmel", "--device", "tpu"], terminal_width=200)
    assert isinstance(res.exception, SystemExit) and res.exit_code == 2, res.output
    assert "--device 'tpu' is not a device bench runs on" in " ".join(res.output.split())


def test_verify_of_an_unknown_task_is_a_clear_error(tmp_path: Path) -> None:
    res = cli.invoke(app, ["data", "verify", "foo", "--root", str(tmp_path)])
    assert isinstance(res.exception, SystemExit) and res.exit_code == 2
    assert "unknown task 'foo'" in res.output


@pytest.mark.usefixtures("with_test_encoders")
def test_a_fold_without_usable_clips_fails_that_cell_and_the_others_still_run(tmp_path: Path) -> None:
    root = write_esc50(tmp_path / "data" / "ESC-50-master", TARGETS, per_fold=2)
    write_us8k(tmp_path / "data" / "UrbanSound8K", ["a", "b", "c"], per_fold=2)
    for clip in get_task("esc50").loader(root).clips:
        if clip.fold == 2:
            clip.path.write_bytes(b"garbage" * 20)
    out = run(["counting"], ["esc50", "urbansound8k"], _run_opts(tmp_path))
    status = {(o.task, o.protocol): o for o in out}
    assert status[("esc50", "probe")].status == "failed"
    assert "fold 2" in status[("esc50", "probe")].summary and "no usable" in status[("esc50", "probe")].summary
    assert status[("urbansound8k", "probe")].status == "ok"
    rec = ResultsStore(tmp_path / "results").find("real", "counting", "esc50", "probe-mlp-v1")
    assert rec is not None and rec.status == "failed" and "fold 2" in rec.reason


def test_a_truncated_store_file_names_the_file_and_the_fix(tmp_path: Path) -> None:
    root = write_esc50(tmp_path / "ESC-50-master", TARGETS, per_fold=2)
    args = ["run", "-e", "logmel", "-t", "esc50", "--root", f"esc50={root}", "--protocol", "probe"]
    args += ["--popt", "max_epochs=3", "--quiet", "--no-leaderboard", "--cache", str(tmp_path / "cache")]
    assert cli.invoke(app, args).exit_code == 0
    (entry,) = entry_dirs(tmp_path / "cache")
    data = max(entry.glob("*.npy"), key=lambda p: p.stat().st_size)
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    res = cli.invoke(app, [*args, "--force"], terminal_width=200)
    assert isinstance(res.exception, SystemExit) and res.exit_code == 1
    out = " ".join(res.output.split())
    assert str(data) in out and "--reembed" in out
    assert cli.invoke(app, [*args, "--reembed"]).exit_code == 0


# 7. Leftovers, duplicated work, flush interval, Ctrl-C -------------------------------------------


def _extract_script(root: Path, cache: Path, before: str = "", preamble: str = "", **extract_kw: object) -> str:
    """A script that extracts ``root`` into ``cache``; ``preamble`` runs before bench is imported."""
    kw = "".join(f", {k}={v!r}" for k, v in extract_kw.items())
    return (
        textwrap.dedent("""
        import os, signal, sys, time
    """)
        + textwrap.dedent(preamble)
        + textwrap.dedent(f"""
        sys.path.insert(0, {str(TESTS)!r})
        from helpers import CountingEncoder
        from bench.audio import ClipPolicy
        from bench.extract import extract
        from bench.store import EmbeddingStore
        from bench.task import get_task
        ds = get_task("esc50").loader({str(root)!r})
    """)
        + textwrap.dedent(before)
        + textwrap.dedent(f"""
        extract(CountingEncoder(), ds, EmbeddingStore({str(cache)!r}), ClipPolicy(1.0), show_progress=False{kw})
    """)
    )


def _killed(script: str) -> None:
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr  # SIGKILL


def test_a_kill_while_parts_are_removed_leaves_no_orphans(
    tmp_path: Path, dataset: Dataset, counter: EmbedCounter
) -> None:
    cache = tmp_path / "cache"
    kill_at_first_part_removal = """
        real_unlink = os.unlink
        def unlink(path, *a, **k):
            if os.path.basename(path).startswith("part-"):
                os.kill(os.getpid(), signal.SIGKILL)
            return real_unlink(path, *a, **k)
        os.unlink = unlink
    """
    _killed(_extract_script(dataset.root, cache, kill_at_first_part_removal, batch_size=4, flush_every=4))
    (entry,) = entry_dirs(cache)
    assert [n for n in leftovers(entry) if n.startswith("part-")]  # the kill left parts behind
    counter.clips = 0
    view = extract(CountingEncoder(), dataset, EmbeddingStore(cache), ClipPolicy(1.0), show_progress=False)
    assert counter.clips == 0 and len(view.ids) == len(dataset.clips)
    assert leftovers(entry) == []


def test_a_kill_inside_an_atomic_write_leaves_no_temporary_file(
    tmp_path: Path, dataset: Dataset, counter: EmbedCounter
) -> None:
    cache = tmp_path / "cache"
    kill_when_the_consolidated_rows_are_renamed = """
        real_replace = os.replace
        def replace(src, dst, *a, **k):
            if os.path.basename(dst).startswith("data"):
                os.kill(os.getpid(), signal.SIGKILL)
            return real_replace(src, dst, *a, **k)
        os.replace = replace
    """
    _killed(_extract_script(dataset.root, cache, kill_when_the_consolidated_rows_are_renamed))
    (entry,) = entry_dirs(cache)
    assert [n for n in leftovers(entry) if n.startswith(".")]  # the temporary file of the killed write
    counter.clips = 0
    view = extract(CountingEncoder(), dataset, EmbeddingStore(cache), ClipPolicy(1.0), show_progress=False)
    assert counter.clips == 0 and len(view.ids) == len(dataset.clips)
    assert leftovers(entry) == []


def test_three_processes_on_one_entry_embed_each_clip_once(tmp_path: Path, dataset: Dataset) -> None:
    cache = tmp_path / "cache"
    start_together = f"""
        import json
        from pathlib import Path
        here = Path({str(tmp_path)!r})
        (here / f"ready-{{os.getpid()}}").touch()
        while len(list(here.glob("ready-*"))) < 3:
            time.sleep(0.01)
        slow = CountingEncoder.embed
        def embed(self, waves):
            time.sleep(0.1)
            return slow(self, waves)
        CountingEncoder.embed = embed
        import atexit
        atexit.register(lambda: print(json.dumps({{"clips": CountingEncoder.counter.clips}})))
    """
    script = _extract_script(dataset.root, cache, start_together, batch_size=2)
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    embedded = [json.loads(out.strip().splitlines()[-1])["clips"] for out, _ in outs]
    assert sum(embedded) == len(dataset.clips), embedded  # no clip embedded twice
    (entry,) = entry_dirs(cache)
    assert leftovers(entry) == []
    view = extract(CountingEncoder(), dataset, EmbeddingStore(cache), ClipPolicy(1.0), show_progress=False)
    fresh = fresh_view(dataset, tmp_path)
    np.testing.assert_allclose(matrix(view, dataset.clips), matrix(fresh, dataset.clips), atol=1e-6)


def test_a_kill_loses_at_most_a_few_seconds_of_work(tmp_path: Path, dataset: Dataset) -> None:
    """Default flush settings; a fake clock advances one second per encoder call (one clip each)."""
    cache = tmp_path / "cache"
    fake_clock = """
        clock = [0.0]
        time.monotonic = lambda: clock[0]
    """
    one_second_per_clip = """
        tick = CountingEncoder.embed
        def embed(self, waves):
            clock[0] += 1.0
            return tick(self, waves)
        CountingEncoder.embed = embed
        CountingEncoder.counter.kill_after_clips = 20
    """
    _killed(_extract_script(dataset.root, cache, one_second_per_clip, fake_clock, batch_size=1))
    saved = {cid for p in cache.rglob("part-*.json") for cid in json.loads(p.read_text())["ids"]}
    assert len(saved) >= 20 - 6  # at most ~5 s (one flush interval) plus the clip in flight were lost


def test_ctrl_c_says_what_was_kept_and_that_a_rerun_resumes(tmp_path: Path, dataset: Dataset) -> None:
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(TESTS)!r})
        from helpers import CountingEncoder, registered_test_encoders
        from bench import cli
        CountingEncoder.counter.sigint_after_clips = 12
        sys.argv = ["bench", "run", "-e", "counting", "-t", "esc50", "--root", "esc50={dataset.root}",
                    "--batch-size", "2", "--quiet", "--no-leaderboard", "--cache", {str(tmp_path / "cache")!r}]
        with registered_test_encoders():
            cli.main()
    """)
    env = {**os.environ, "BENCH_RESULTS": str(tmp_path / "results")}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 130, proc.stderr
    err = " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr
    saved = {cid for p in (tmp_path / "cache").rglob("part-*.json") for cid in json.loads(p.read_text())["ids"]}
    assert len(saved) >= 12 and f"{len(saved)} of {len(dataset.clips)} clips" in err
    assert "run the same command again to resume" in err
