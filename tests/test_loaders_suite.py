"""FSD50K, VGGSound and TAU loaders on hand-written trees in the real layouts, awkward parts included."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
from fixtures_suite import TAU_SCENES, write_fsd50k, write_tau, write_vggsound

from bench.audio import load_audio
from bench.datasets import resolve_dataset
from bench.task import get_task
from tasks._csv import MetadataError

FSD_VOCAB = [
    ("Accelerating_and_revving_and_vroom", "/m/07q2z82"),
    ("Crushing", "/m/07plct2"),
    ("Electric_guitar", "/m/02sgy"),
    ("Guitar", "/m/0342h"),
    ("Music", "/m/04rlf"),
    ("Zipper_(clothing)", "/m/01s0vc"),
]
FSD_FREQS = {
    "Accelerating_and_revving_and_vroom": 300.0,
    "Crushing": 700.0,
    "Electric_guitar": 1100.0,
    "Zipper_(clothing)": 1900.0,
}
GUITAR = ["Electric_guitar", "Guitar", "Music"]


def _fsd(root: Path, **kw) -> Path:  # type: ignore[no-untyped-def]
    dev = [
        (64760, ["Music", "Electric_guitar", "Guitar"], "train"),
        (16399, ["Crushing"], "train"),
        (345111, [*GUITAR, "Zipper_(clothing)"], "val"),
        (5, ["Accelerating_and_revving_and_vroom"], "train"),
    ]
    evaluation = [(37199, GUITAR), (99, ["Zipper_(clothing)", "Crushing"])]
    return write_fsd50k(root, FSD_VOCAB, dev, evaluation, FSD_FREQS, **kw)


def test_fsd50k_quoted_lists_headerless_vocabulary_splits_and_a_missing_clip(tmp_path: Path) -> None:
    root = _fsd(tmp_path / "FSD50K", missing=frozenset({16399}))
    ds = get_task("fsd50k").loader(root)
    assert ds.classes == [label for label, _ in FSD_VOCAB]  # vocabulary order, its first line is data
    by_id = {c.id: c for c in ds.clips}
    names = lambda c: {ds.classes[k] for k in c.targets}  # noqa: E731
    assert names(by_id["dev/64760"]) == {"Electric_guitar", "Guitar", "Music"}  # a quoted comma list
    assert names(by_id["dev/345111"]) == {*GUITAR, "Zipper_(clothing)"}
    assert names(by_id["eval/99"]) == {"Zipper_(clothing)", "Crushing"}
    assert {c.id: c.split for c in ds.clips} == {
        "dev/64760": "train",
        "dev/345111": "val",
        "dev/5": "train",
        "eval/37199": "eval",
        "eval/99": "eval",
    }
    assert by_id["dev/5"].path == root / "FSD50K.dev_audio" / "5.wav"
    assert by_id["eval/99"].path == root / "FSD50K.eval_audio" / "99.wav"
    assert [m.id for m in ds.missing] == ["dev/16399"] and "train" in ds.missing[0].reason
    assert all(c.target is None for c in ds.clips)  # multi-label: targets only


def test_fsd50k_errors_name_file_and_line(tmp_path: Path) -> None:
    root = _fsd(tmp_path / "a")
    dev = root / "FSD50K.ground_truth" / "dev.csv"
    dev.write_text(dev.read_text() + '77,"Guitar,Banjo","/m/0342h,/m/0xxx",train\n')
    with pytest.raises(MetadataError, match=r"dev\.csv, line 6: label\(s\) \['Banjo'\]"):
        get_task("fsd50k").loader(root)
    root = _fsd(tmp_path / "b")
    dev = root / "FSD50K.ground_truth" / "dev.csv"
    dev.write_text(dev.read_text() + '78,"Guitar,Music","/m/04rlf,/m/02sgy",train\n')  # mids of other labels
    with pytest.raises(MetadataError, match=r"line 6: the mids"):
        get_task("fsd50k").loader(root)
    root = _fsd(tmp_path / "c")
    dev = root / "FSD50K.ground_truth" / "dev.csv"
    dev.write_text(dev.read_text() + "79,Guitar,/m/0342h,test\n")
    with pytest.raises(MetadataError, match="split must be 'train' or 'val'"):
        get_task("fsd50k").loader(root)
    root = _fsd(tmp_path / "d")
    (root / "FSD50K.ground_truth" / "eval.csv").write_text("fname,labels\n1,Guitar\n")
    with pytest.raises(MetadataError, match=r"lacks column\(s\) \['mids'\]"):
        get_task("fsd50k").loader(root)


def test_fsd50k_is_found_under_a_data_root(tmp_path: Path) -> None:
    _fsd(tmp_path / "data" / "FSD50K")
    ds = resolve_dataset(get_task("fsd50k"), data_root=tmp_path / "data")
    assert ds.root == tmp_path / "data" / "FSD50K" and len(ds.clips) == 6


VGG_FREQS = {"people marching": 300.0, "heart sounds, heartbeat": 600.0, "engine accelerating, revving, vroom": 900.0}
VGG_ROWS = [
    ("---g-f_I2yQ", 1, "people marching", "test"),
    ("--0PQM4-hqg", 30, "people marching", "train"),
    ("0_8-g2rof7E", 49, "heart sounds, heartbeat", "test"),
    ("-aB3dE5fG7h", 300, "heart sounds, heartbeat", "train"),
    ("xY9_-zz0011", 12, "engine accelerating, revving, vroom", "train"),
    ("gone0000000", 0, "engine accelerating, revving, vroom", "test"),
]


def test_vggsound_headerless_quoted_labels_dash_ids_and_missing_media(tmp_path: Path) -> None:
    root = write_vggsound(tmp_path / "VGGSound", VGG_ROWS, VGG_FREQS, missing=frozenset({"gone0000000_000000"}))
    ds = get_task("vggsound").loader(root)
    assert ds.classes == sorted(VGG_FREQS)  # the first line is a clip, not a header
    by_id = {c.id: c for c in ds.clips}
    assert set(by_id) == {
        "---g-f_I2yQ_000001",
        "--0PQM4-hqg_000030",
        "0_8-g2rof7E_000049",
        "-aB3dE5fG7h_000300",
        "xY9_-zz0011_000012",
    }
    assert ds.classes[by_id["0_8-g2rof7E_000049"].target] == "heart sounds, heartbeat"  # type: ignore[index]
    assert ds.classes[by_id["xY9_-zz0011_000012"].target] == "engine accelerating, revving, vroom"  # type: ignore[index]
    assert by_id["---g-f_I2yQ_000001"].split == "test" and by_id["---g-f_I2yQ_000001"].group == "---g-f_I2yQ"
    assert by_id["--0PQM4-hqg_000030"].path.name == "--0PQM4-hqg_000030.wav"
    assert [m.id for m in ds.missing] == ["gone0000000_000000"] and "test clip" in ds.missing[0].reason
    assert ds.info["missing_by_split"] == {"test": 1} and ds.info["listed"] == {"test": 3, "train": 3}
    assert load_audio(by_id["---g-f_I2yQ_000001"].path, 8000)[0].shape == (8000,)  # a '-' path decodes


def test_vggsound_repeated_rows_load_and_conflicting_clips_are_left_out(tmp_path: Path) -> None:
    # regression: a clip listed twice used to stop the whole loader
    extra = ["--0PQM4-hqg,30,people marching,train", '-aB3dE5fG7h,300,"engine accelerating, revving, vroom",train']
    root = write_vggsound(tmp_path / "V", VGG_ROWS, VGG_FREQS, extra_lines=extra)
    ds = get_task("vggsound").loader(root)
    ids = {c.id for c in ds.clips}
    assert "--0PQM4-hqg_000030" in ids and "-aB3dE5fG7h_000300" not in ids
    assert ds.info["repeated_rows"] == 1 and ds.info["conflicting_clips"] == 1
    assert len(ds.clips) == 5


def test_vggsound_media_in_nested_folders_and_csv_errors(tmp_path: Path) -> None:
    root = write_vggsound(tmp_path / "V", VGG_ROWS, VGG_FREQS, media_dir="scratch/shared/VGGSound_final/video")
    assert len(get_task("vggsound").loader(root).clips) == 6
    root = write_vggsound(tmp_path / "W", VGG_ROWS, VGG_FREQS, extra_lines=["abc,5,heart sounds, heartbeat,test"])
    with pytest.raises(MetadataError, match=r"line 7: more fields than columns.*unquoted"):
        get_task("vggsound").loader(root)
    root = write_vggsound(tmp_path / "X", VGG_ROWS, VGG_FREQS, extra_lines=["abc,5,people marching,val"])
    with pytest.raises(MetadataError, match="line 7: split must be 'train' or 'test'"):
        get_task("vggsound").loader(root)


TAU_FREQS = dict(zip(TAU_SCENES, [300.0, 500.0, 800.0, 1200.0, 1700.0], strict=True))


@pytest.mark.parametrize("meta_folder", [None, "TAU-urban-audio-visual-scenes-2021-development.meta"])
def test_tau_tab_separated_setup_in_root_or_meta_folder(tmp_path: Path, meta_folder: str | None) -> None:
    base = tmp_path / "data" / "TAU-urban-audio-visual-scenes-2021-development"
    root = write_tau(base, TAU_SCENES, TAU_FREQS, meta_folder=meta_folder)
    gone = sorted((root / "audio").glob("park-*.wav"))[0]
    gone.unlink()
    task = get_task("tau")
    ds = resolve_dataset(task, data_root=tmp_path / "data")
    assert ds.root == root
    assert ds.classes == sorted(TAU_SCENES)
    assert len(ds.clips) == 5 * 3 * 2 - 1 and [m.id for m in ds.missing] == [f"audio/{gone.name}"]
    assert {c.split for c in ds.clips} == {"train", "evaluate"}
    for c in ds.clips:
        scene, city, loc, _seg = c.path.stem.split("-")
        assert ds.classes[c.target] == scene and c.group == f"{city}-{loc}"  # type: ignore[index]
        assert c.id == f"audio/{c.path.name}"
    assert not {c.group for c in ds.clips if c.split == "train"} & {c.group for c in ds.clips if c.split == "evaluate"}
    info = sf.info(str(ds.clips[0].path))
    assert (info.samplerate, info.channels, info.subtype) == (48000, 2, "PCM_24")
    wave, rate = load_audio(ds.clips[0].path, 16000)
    assert rate == 16000 and wave.ndim == 1 and len(wave) == 8000  # stereo 48 kHz → mono 16 kHz


def test_tau_rejects_comma_separated_setup_files(tmp_path: Path) -> None:
    root = write_tau(tmp_path / "T", TAU_SCENES, TAU_FREQS)
    path = root / "evaluation_setup" / "fold1_train.csv"
    path.write_text(path.read_text().replace("\t", ","))
    with pytest.raises(MetadataError, match="not tab-separated"):
        get_task("tau").loader(root)
    with pytest.raises(MetadataError, match=r"no evaluation_setup/fold1_train\.csv"):
        get_task("tau").loader(tmp_path)


def test_fsd50k_and_tau_list_every_row_problem_in_one_pass(tmp_path: Path) -> None:
    root = _fsd(tmp_path / "FSD50K")
    dev = root / "FSD50K.ground_truth" / "dev.csv"
    lines = dev.read_text().splitlines()
    dev.write_text(
        "\n".join([*lines, lines[1], '77,"Guitar,Banjo","/m/0342h,/m/0xxx",train', "79,Guitar,/m/0342h,test"]) + "\n"
    )
    with pytest.raises(MetadataError) as info:
        get_task("fsd50k").loader(root)
    assert [(p.kind, p.line) for p in info.value.problems] == [
        ("unknown label", 7),  # collected in file order: read_ground_truth first, then the duplicate check
        ("malformed row", 8),
        ("duplicate row", 6),
    ]
    base = tmp_path / "TAU-urban-audio-visual-scenes-2021-development"
    tau = write_tau(base, TAU_SCENES, TAU_FREQS, meta_folder=None)
    train = tau / "evaluation_setup" / "fold1_train.csv"
    evaluate = tau / "evaluation_setup" / "fold1_evaluate.csv"
    leaked = train.read_text().splitlines()[1]
    evaluate.write_text(evaluate.read_text() + leaked + "\n")
    with pytest.raises(
        MetadataError, match=r"fold1_evaluate\.csv, line \d+: \S+ is already listed in fold1_train"
    ) as e:
        get_task("tau").loader(tau)
    assert [p.kind for p in e.value.problems] == ["file in several folds"]
