"""Stored scores re-scored by scikit-learn (multi-label and multi-class), and zero-shot prompts."""

from __future__ import annotations

import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fixtures_suite import write_fsd50k, write_vggsound
from helpers import TextEncoder
from sklearn.metrics import accuracy_score, average_precision_score
from typer.testing import CliRunner

from bench.audio import load_audio
from bench.cli import app
from bench.prompts import label_text, parse_templates
from bench.results import ResultsStore
from bench.runner import RunOptions, run

TONES = {"Tone_300": 300.0, "Tone_700": 700.0, "Tone_1100": 1100.0, "Tone_1900": 1900.0, "Tone_2900": 2900.0}
VOCAB = [(label, f"/m/0t{i}") for i, label in enumerate(TONES)]


def _fsd_tones(root: Path) -> dict[str, set[str]]:
    """A multi-label FSD50K tree whose labels are tone frequencies; returns id → labels."""
    rng = np.random.default_rng(0)
    names = list(TONES)
    truth: dict[str, set[str]] = {}
    dev, evaluation = [], []
    fname = 1000
    for split, n in (("train", 40), ("val", 12), ("eval", 25)):
        for _ in range(n):
            fname += 7
            labels = [names[int(k)] for k in rng.choice(len(names), size=int(rng.integers(1, 3)), replace=False)]
            if split == "eval":
                evaluation.append((fname, labels))
                truth[f"eval/{fname}"] = set(labels)
            else:
                dev.append((fname, labels, split))
    write_fsd50k(root, VOCAB, dev, evaluation, TONES, seconds=[0.6, 1.0, 1.5])
    return truth


def _opts(tmp_path: Path, **kw):  # type: ignore[no-untyped-def]
    """Run options; ``probe_opts={}`` for a run without the MLP probe (its options would be refused)."""
    return RunOptions(
        results_dir=tmp_path / "results",
        cache_dir=tmp_path / "cache",
        show_progress=False,
        protocol_options={**kw.pop("probe_opts", {"max_epochs": 30, "patience": 6}), **kw.pop("popt", {})},
        log=lambda m: None,
        **kw,
    )


def _by_fold(pred: dict, scores: np.ndarray) -> dict[str, tuple[list[str], np.ndarray]]:  # type: ignore[type-arg]
    out: dict[str, tuple[list[str], list[int]]] = {}
    for i, (cid, fold) in enumerate(zip(pred["ids"], pred["fold"], strict=True)):
        out.setdefault(fold, ([], []))[0].append(cid)
        out[fold][1].append(i)
    return {f: (ids, scores[rows]) for f, (ids, rows) in out.items()}


@pytest.mark.usefixtures("with_test_encoders")
def test_multilabel_probe_and_zero_shot_map_equal_sklearn_on_stored_scores(tmp_path: Path) -> None:
    truth = _fsd_tones(tmp_path / "FSD50K")
    classes = list(TONES)
    out = run(["texty"], ["fsd50k"], _opts(tmp_path, roots={"fsd50k": tmp_path / "FSD50K"}))
    assert [(o.protocol, o.status) for o in out] == [
        ("probe", "ok"),
        ("linear", "ok"),
        ("knn", "ok"),
        ("zeroshot", "ok"),
    ]
    store = ResultsStore(tmp_path / "results")
    for proto in ("probe-mlp-v1", "zeroshot-v1"):
        rec = store.find("real", "texty", "fsd50k", proto)
        assert rec is not None
        scores = store.scores(store.find_path("real", "texty", "fsd50k", proto))["scores"]
        groups = _by_fold(rec.predictions, scores)
        assert set(groups) == {f.fold for f in rec.folds}
        for f in rec.folds:
            ids, s = groups[f.fold]
            assert set(ids) == set(truth) and f.n_test == len(truth)  # every eval clip, once per trial
            y = np.array([[c in truth[i] for c in classes] for i in ids], dtype=int)  # from the fixture, not the record
            expected = np.mean(
                [average_precision_score(y[:, k], s[:, k]) for k in range(len(classes)) if y[:, k].any()]
            )
            assert f.metrics["mAP"] == pytest.approx(expected, abs=1e-6)
        if proto == "probe-mlp-v1":
            assert len(rec.folds) == 3 and all(f.n_val == 12 for f in rec.folds)  # official val split, 3 trials
            assert rec.summary["mAP"].mean > 0.6
    zs = store.find("real", "texty", "fsd50k", "zeroshot-v1")
    assert zs is not None and zs.protocol.params["label_rule"] == "audioset"
    assert zs.protocol.params["prompts"]["Tone_700"] == ["this is a sound of tone 700."]
    # the stored zero-shot scores are the cosines, recomputed here from raw embeddings
    enc = TextEncoder()
    text = enc.embed_text([f"this is a sound of {c.lower().replace('_', ' ')}." for c in classes])
    text = text / np.linalg.norm(text, axis=1, keepdims=True)
    ids, s = _by_fold(
        zs.predictions, store.scores(store.find_path("real", "texty", "fsd50k", "zeroshot-v1"))["scores"]
    )["test"]
    audio = np.stack(
        [
            enc.embed([load_audio(tmp_path / "FSD50K" / "FSD50K.eval_audio" / f"{i.split('/')[1]}.wav", 8000)[0]])[0]
            for i in ids[:5]
        ]
    )
    audio = audio / np.linalg.norm(audio, axis=1, keepdims=True)
    np.testing.assert_allclose(s[:5], audio @ text.T, atol=1e-4)


@pytest.mark.usefixtures("with_test_encoders")
def test_multiclass_map_and_accuracy_equal_sklearn_on_stored_scores(tmp_path: Path) -> None:
    labels = {"dog barking": 300.0, "heart sounds, heartbeat": 800.0, "cattle, bovinae cowbell": 1500.0, "rain": 2500.0}
    rows = []
    for k, lab in enumerate(labels):
        rows += [(f"{'-' if i % 4 == 0 else 'y'}{k}q{i:08d}", 10 + i, lab, "train") for i in range(12)]
        rows += [(f"t{k}q{i:08d}", 10 + i, lab, "test") for i in range(4)]
    write_vggsound(tmp_path / "VGGSound", rows, labels, missing=frozenset({f"t0q{0:08d}_000010"}))
    run(["counting"], ["vggsound"], _opts(tmp_path, roots={"vggsound": tmp_path / "VGGSound"}, protocols=["probe"]))
    store = ResultsStore(tmp_path / "results")
    rec = store.find("real", "counting", "vggsound", "probe-mlp-v1")
    assert rec is not None and list(rec.missing_files) == ["t0q00000000_000010"] and rec.data.n_missing == 1
    truth = {f"{y}_{st:06d}": sorted(labels).index(lab) for y, st, lab, s in rows if s == "test"}
    groups = _by_fold(
        rec.predictions, store.scores(store.find_path("real", "counting", "vggsound", "probe-mlp-v1"))["scores"]
    )
    for f in rec.folds:
        ids, s = groups[f.fold]
        assert f.n_test == len(truth) - 1 == len(ids)  # the missing test clip is not scored
        y = np.array([truth[i] for i in ids])
        onehot = np.eye(len(labels), dtype=int)[y]
        assert f.metrics["mAP"] == pytest.approx(average_precision_score(onehot, s, average="macro"), abs=1e-6)
        assert f.metrics["accuracy"] == pytest.approx(accuracy_score(y, s.argmax(1)))
    assert set(rec.summary) == {"mAP", "accuracy"} and rec.primary_metric == "mAP"


@pytest.mark.parametrize(
    ("label", "text"),
    [
        ("Zipper_(clothing)", "zipper (clothing)"),
        ("Accelerating_and_revving_and_vroom", "accelerating, revving, vroom"),
        ("Boat_and_Water_vehicle", "boat, water vehicle"),
        ("Cupboard_open_or_close", "cupboard open or close"),
        ("Fixed-wing_aircraft_and_airplane", "fixed-wing aircraft, airplane"),
        ("Hi-hat", "hi-hat"),
    ],
)
def test_audioset_label_rule_gives_readable_text(label: str, text: str) -> None:
    assert label_text("audioset", label) == text


def test_templates_from_options_and_their_errors(tmp_path: Path) -> None:
    assert parse_templates("a {label}.| the sound of {label} ") == ("a {label}.", "the sound of {label}")
    f = tmp_path / "t.txt"
    f.write_text("# comment\nthis is {label}.\n\nthe sound of {label}\n")
    assert parse_templates(f"@{f}") == ("this is {label}.", "the sound of {label}")
    for bad, why in (
        ("a sound", "no {label}"),
        ("{label} {x}", "not a valid format"),
        ("@/nope.txt", "not found"),
        ("|", "no template"),
    ):
        with pytest.raises(ValueError, match=why):
            parse_templates(bad)
    with pytest.raises(ValueError, match="known rules: audioset"):
        label_text("camel", "x")


@pytest.mark.usefixtures("with_test_encoders")
def test_cli_prompt_options_are_per_task_and_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _fsd_tones(tmp_path / "FSD50K")
    runner = CliRunner()
    base = [
        "run",
        "--encoder",
        "texty",
        "--task",
        "fsd50k",
        "--root",
        f"fsd50k={tmp_path / 'FSD50K'}",
        "--protocol",
        "zeroshot",
        "--quiet",
        "--no-leaderboard",
    ]
    res = runner.invoke(
        app,
        [
            *base,
            "--popt",
            "zs_templates=a recording of {label}.|the sound of {label}",
            "--popt",
            "fsd50k.zs_label_rule=underscores_to_spaces",
            "--popt",
            "esc50.zs_label_rule=verbatim",
        ],
    )
    assert res.exit_code == 0, res.output
    rec = ResultsStore(tmp_path / "results").find("real", "texty", "fsd50k", "zeroshot-v1")
    assert rec is not None
    assert rec.protocol.params["templates"] == ["a recording of {label}.", "the sound of {label}"]
    assert rec.protocol.params["label_rule"] == "underscores_to_spaces"
    assert rec.protocol.params["prompts"]["Tone_300"] == ["a recording of Tone 300.", "the sound of Tone 300"]
    res = runner.invoke(app, [*base, "--popt", "zs_label_rule=camel"])
    assert res.exit_code == 2 and "zs_label_rule must be one of" in res.output and "'camel'" in res.output


class WordyTextEncoder(TextEncoder):
    """Hears the tone a prompt names only when the prompt says "recording"; other wordings are noisier."""

    name = "wordy"

    def embed_text(self, texts):  # type: ignore[no-untyped-def]
        clean = super().embed_text(texts)
        noise = [np.random.default_rng(zlib.crc32(t.encode())).normal(0, 3.0, clean.shape[1]) for t in texts]
        return np.where(np.array(["recording" in t for t in texts])[:, None], clean, clean + np.float32(noise))


def test_prompt_sensitivity_scores_each_template_alone_and_their_ensemble(tmp_path: Path) -> None:
    from bench.encoder import ENCODERS

    _fsd_tones(tmp_path / "FSD50K")
    templates = ["a recording of {label}.", "the sound of {label}.", "{label}"]
    popt = {"zs_label_rule": "audioset", "zs_sensitivity_templates": "|".join(templates[1:])}
    store = ResultsStore(tmp_path / "results")

    def zero_shot(results: str, zs_templates: str) -> float:
        opts = _opts(
            tmp_path,
            roots={"fsd50k": tmp_path / "FSD50K"},
            protocols=["zeroshot"],
            popt={**popt, "zs_templates": zs_templates},
            probe_opts={},
        )
        run(["wordy"], ["fsd50k"], replace(opts, results_dir=tmp_path / results))
        rec = ResultsStore(tmp_path / results).find("real", "wordy", "fsd50k", "zeroshot-v1")
        assert rec is not None
        return rec.summary["mAP"].mean

    with ENCODERS.registered("wordy", WordyTextEncoder, origin="tests"):
        reported = zero_shot("results", templates[0])
        report = store.find("real", "wordy", "fsd50k", "zeroshot-v1").protocol.extra["prompt_sensitivity"]
        assert report["templates"] == templates  # the task's template first, then the wider set
        # each template alone is what a run with only that template reports; the ensemble likewise
        for k, t in enumerate(templates):
            assert report["per_template"][t]["mAP"] == pytest.approx(zero_shot(f"alone{k}", t), abs=1e-12)
        assert report["ensemble"]["mAP"] == pytest.approx(zero_shot("all", "|".join(templates)), abs=1e-12)
    assert report["per_template"][templates[0]]["mAP"] == pytest.approx(reported)
    values = [v["mAP"] for v in report["per_template"].values()]
    assert report["spread"]["mAP"] == {
        "min": pytest.approx(min(values)),
        "max": pytest.approx(max(values)),
        "std": pytest.approx(float(np.std(values))),
    }
    assert report["spread"]["mAP"]["max"] - report["spread"]["mAP"]["min"] > 0.05  # the wording matters here
