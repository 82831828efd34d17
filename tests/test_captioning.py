"""Clotho loader, COCO scorers against pycocoevalcap called directly, SPICE offline, the decoder."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures_events import write_clotho

from bench.protocols.captioning import metrics as caption_metrics
from bench.protocols.captioning.metrics import CocoScorer, spice_status
from bench.protocols.captioning.model import CaptionConfig, Vocabulary, fit_captioner
from tasks._csv import MetadataError
from tasks.clotho import load

REFS = {
    " Ambience Birds.wav": [
        "Birds are chirping in the trees.",
        "Many birds chirp, loudly.",
        "A flock of birds sing.",
        "Birds tweet in a forest.",
        "Small birds are chirping happily.",
    ],
    "Rain, wind.wav": [
        "Rain is falling on a roof.",
        "Heavy rain falls.",
        "It is raining hard outside.",
        "Rain drops hit the roof.",
        "A storm with heavy rain.",
    ],
    "dog.wav": [
        "A dog barks loudly.",
        "A dog is barking.",
        "The dog barks several times.",
        "A large dog barks.",
        "Dog barking in the distance.",
    ],
}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models train far faster on one thread, and CI shares its 2 cores between jobs."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


CANDS = {
    " Ambience Birds.wav": "birds are chirping in the trees",
    "Rain, wind.wav": "rain is falling",
    "dog.wav": "a cat meows loudly",
}


def test_clotho_loader_reads_the_real_layout(tmp_path: Path) -> None:
    ds = load(write_clotho(tmp_path / "Clotho"))
    ids = [c.id for c in ds.clips]
    assert ids == [
        "development/ Ambience Birds.wav",
        "development/Rain, wind and thunder.wav",
        "validation/Dog (barking) 2.wav",
        "evaluation/Engine idle.wav",
    ]
    first = ds.clips[0]
    assert first.path.name == " Ambience Birds.wav" and first.path.is_file()  # leading space kept
    assert first.extra["captions"][2] == '"Birds, lots of them, chirp."'
    assert first.extra["keywords"] == ("café", "nature")  # latin-1 metadata decoded
    assert [c.split for c in ds.clips] == ["development", "development", "validation", "evaluation"]
    assert [m.id for m in ds.missing] == ["evaluation/Gone.wav"]


def test_clotho_loader_errors(tmp_path: Path) -> None:
    root = write_clotho(tmp_path / "Clotho")
    path = root / "clotho_captions_validation.csv"
    path.write_text("file_name,caption_1,caption_2,caption_3,caption_4,caption_5\nx.wav,a,b,c,d,\n")
    with pytest.raises(MetadataError, match=r"clotho_captions_validation.csv, line 2: caption_5 empty"):
        load(root)
    path.write_bytes(
        "file_name,caption_1,caption_2,caption_3,caption_4,caption_5\nx.wav,caf\xe9,b,c,d,e\n".encode("latin-1")
    )
    with pytest.raises(MetadataError, match="not UTF-8"):
        load(root)


@pytest.fixture()
def no_corenlp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pycocoevalcap whose spice/lib lacks the CoreNLP jars, and a Spice that must never be built."""
    from pycocoevalcap.spice import spice

    fake = tmp_path / "pycocoevalcap"
    (fake / "spice" / "lib").mkdir(parents=True)
    monkeypatch.setattr(caption_metrics, "package_dir", lambda: fake)

    def refuse(self: object) -> None:
        raise AssertionError("Spice() was constructed: it would try to download CoreNLP")

    monkeypatch.setattr(spice.Spice, "__init__", refuse)


def test_scores_equal_pycocoevalcap_called_directly_and_spice_is_unavailable(
    no_corenlp: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    with CocoScorer() as scorer:
        ours = scorer.score(REFS, CANDS)
        # SPICE present (mocked): SPIDEr is the mean of CIDEr and SPICE, corpus and per item
        monkeypatch.setattr(caption_metrics, "run_spice", lambda gts, res: (0.25, [0.1, 0.2, 0.45]))
        scorer.spice_enabled = True
        with_spice = scorer.score(REFS, CANDS)

    ids = sorted(REFS)
    gts = PTBTokenizer().tokenize({i: [{"caption": r} for r in REFS[i]] for i in ids})
    res = PTBTokenizer().tokenize({i: [{"caption": CANDS[i]}] for i in ids})
    with contextlib.redirect_stdout(io.StringIO()):
        bleu, _ = Bleu(4).compute_score(gts, res)
    cider, cider_items = Cider().compute_score(gts, res)
    rouge, _ = Rouge().compute_score(gts, res)
    for n in range(4):
        assert ours.metrics[f"bleu_{n + 1}"] == pytest.approx(bleu[n], abs=1e-12)
    assert ours.metrics["cider"] == pytest.approx(cider, abs=1e-12)
    assert ours.metrics["rouge_l"] == pytest.approx(rouge, abs=1e-12)
    assert [ours.per_item[i]["cider"] for i in ids] == pytest.approx(list(cider_items))
    assert 0.0 < ours.metrics["meteor"] < 1.0
    # a perfect caption for one clip and a wrong one for another: the ordering is by clip, not by position
    assert ours.per_item[" Ambience Birds.wav"]["cider"] > ours.per_item["dog.wav"]["cider"]
    assert "spice" not in ours.metrics and "spider" not in ours.metrics
    assert "stanford-corenlp-3.6.0.jar" in ours.unavailable["spice"] and "spider" in ours.unavailable
    assert with_spice.metrics["spice"] == 0.25
    assert with_spice.metrics["spider"] == pytest.approx((cider + 0.25) / 2)
    assert with_spice.per_item["dog.wav"]["spider"] == pytest.approx(
        (with_spice.per_item["dog.wav"]["cider"] + 0.45) / 2
    )


def test_spice_status_needs_both_jars(tmp_path: Path) -> None:
    ok, why = spice_status(tmp_path)
    assert not ok and "stanford-corenlp-3.6.0-models.jar" in why and "never downloads" in why
    (tmp_path / "stanford-corenlp-3.6.0.jar").write_bytes(b"")
    (tmp_path / "stanford-corenlp-3.6.0-models.jar").write_bytes(b"")
    assert spice_status(tmp_path)[0]


def test_decoder_learns_two_captions_and_beam_of_one_is_greedy() -> None:
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal(8), rng.standard_normal(8)
    frames = [u + 0.05 * rng.standard_normal((3, 8)) for _ in range(4)] + [
        v + 0.05 * rng.standard_normal((5, 8)) for _ in range(4)
    ]
    frames = [f.astype(np.float32) for f in frames]
    caps = [["A dog barks."] * 5] * 4 + [["Rain falls on the roof."] * 5] * 4
    cfg = CaptionConfig(
        d_model=32, nhead=2, dim_ff=64, dropout=0.0, lr=3e-3, batch_size=16, max_epochs=60, patience=60, beam_size=3
    )
    state = torch.random.get_rng_state()
    model = fit_captioner(frames, caps, frames[:1] + frames[-1:], caps[:1] + caps[-1:], cfg)
    assert torch.equal(torch.random.get_rng_state(), state)  # seeding is local
    test = [u[None].astype(np.float32), np.stack([v, v]).astype(np.float32)]
    assert model.greedy(test) == ["a dog barks", "rain falls on the roof"]
    assert model.beam(test) == ["a dog barks", "rain falls on the roof"]
    torch.manual_seed(123)  # a different global state changes nothing
    again = fit_captioner(frames, caps, frames[:1] + frames[-1:], caps[:1] + caps[-1:], cfg)
    assert (again.best_val_loss, again.best_epoch) == (model.best_val_loss, model.best_epoch)
    untrained = fit_captioner(
        frames, caps, frames[:1], caps[:1], CaptionConfig(d_model=16, nhead=2, dim_ff=32, max_epochs=1, max_words=6)
    )
    noise = [rng.standard_normal((4, 8)).astype(np.float32) for _ in range(6)]
    assert untrained.beam(noise, beam_size=1) == untrained.greedy(noise)


def test_vocabulary_round_trip() -> None:
    vocab = Vocabulary.build(["A dog's bark, loud!", "Rain."])
    assert vocab.tokens[4:] == ("a", "bark", "dog's", "loud", "rain")
    ids = vocab.encode("A loud cat.", max_words=10)
    assert vocab.decode(ids[1:]) == "a loud"  # unknown words are dropped when decoding


def test_missing_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(caption_metrics.shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match="openjdk-17-jre-headless"):
        CocoScorer()
