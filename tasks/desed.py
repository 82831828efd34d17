"""DESED public (real) validation set (Turpault et al. 2019), re-purposed as audio retrieval.

Layout (the ``dataset/`` folder of the DESED download scripts)::

    metadata/validation/validation.tsv            filename<TAB>onset<TAB>offset<TAB>event_label
    metadata/validation/validation_durations.tsv  filename<TAB>duration   (optional, derived)
    audio/validation/validation/*.wav

One row per event; events overlap. A clip with no target event has one row with empty
onset/offset/label fields (or the file name alone): such clips are kept, they are part of the
evaluated audio. The audio comes from YouTube and real copies always miss some files: those
are recorded as missing, never fatal. Durations come from ``validation_durations.tsv`` when
present, else from the audio header, because clips may be shorter than 10 s and the
segment-based metric must know each clip's length.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import soundfile as sf

from bench.audio import ClipPolicy
from bench.metadata import read_text
from bench.remote import DownloadSpec
from bench.task import Clip, Dataset, MissingFile, TableColumn, TaskSpec
from tasks._csv import MetadataError

METADATA = "metadata/validation/validation.tsv"
DURATIONS = "metadata/validation/validation_durations.tsv"
AUDIO_DIR = "audio/validation/validation"
COLUMNS = ("filename", "onset", "offset", "event_label")
CLASSES = (
    "Alarm_bell_ringing",
    "Blender",
    "Cat",
    "Dishes",
    "Dog",
    "Electric_shaver_toothbrush",
    "Frying",
    "Running_water",
    "Speech",
    "Vacuum_cleaner",
)

Event = tuple[float, float, str]


def _float(value: str, path: Path, line: int, column: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise MetadataError(f"{path}, line {line}: {column} should be a number of seconds, got {value!r}") from None


def read_events(path: Path) -> dict[str, list[Event]]:
    """File name → its events, in file order; files listed with empty fields map to ``[]``."""
    if not path.is_file():
        raise MetadataError(
            f"{path}: metadata file not found; point the DESED root at the folder holding metadata/ and audio/"
        )
    out: dict[str, list[Event]] = {}
    with io.StringIO(read_text(path), newline="") as fh:  # UTF-8 (a BOM accepted) or --encoding
        reader = csv.reader(fh, delimiter="\t")
        header = [h.strip() for h in next(reader, [])]
        if header[: len(COLUMNS)] != list(COLUMNS):
            raise MetadataError(
                f"{path}: header {header} is not {'<TAB>'.join(COLUMNS)} (the DESED validation.tsv layout)"
            )
        for row in reader:
            line = reader.line_num
            if not row or not row[0].strip():
                continue
            name = row[0]
            fields = [f.strip() for f in row[1:4]] + [""] * (3 - len(row[1:4]))
            events = out.setdefault(name, [])
            if not any(fields):
                continue  # a clip without target events
            if not all(fields):
                raise MetadataError(
                    f"{path}, line {line}: onset, offset and event_label must be all set or all empty, got {row[1:]}"
                )
            onset, offset = _float(fields[0], path, line, "onset"), _float(fields[1], path, line, "offset")
            if onset < 0 or offset <= onset:
                raise MetadataError(
                    f"{path}, line {line}: event {fields[2]!r} has onset "
                    f"{onset} and offset {offset}; need 0 <= onset < offset"
                )
            events.append((onset, offset, fields[2]))
    return out


def read_durations(path: Path) -> dict[str, float]:
    if not path.is_file():
        return {}
    out: dict[str, float] = {}
    with io.StringIO(read_text(path), newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        for row in reader:
            if len(row) < 2 or row[0] == "filename":
                continue
            out[row[0]] = _float(row[1], path, reader.line_num, "duration")
    return out


def audio_duration(path: Path) -> float | None:
    try:
        return float(sf.info(str(path)).duration)
    except (RuntimeError, OSError):
        return None  # unreadable: extraction reports it


def load(root: Path) -> Dataset:
    root = Path(root)
    events = read_events(root / METADATA)
    durations = read_durations(root / DURATIONS)
    found = sorted({label for evs in events.values() for _, _, label in evs})
    classes = list(CLASSES) if set(found) <= set(CLASSES) else found
    index = {c: i for i, c in enumerate(classes)}
    clips, missing = [], []
    for name, evs in events.items():
        path = root / AUDIO_DIR / name
        if not path.is_file():
            missing.append(
                MissingFile(name, path, f"listed in {METADATA} but absent from {AUDIO_DIR}/ (vanished from YouTube?)")
            )
            continue
        duration = durations.get(name) or audio_duration(path)
        clips.append(
            Clip(
                id=name,
                path=path,
                targets=tuple(sorted({index[label] for _, _, label in evs})),
                split="validation",
                extra={"events": tuple(evs), "duration_s": duration},
            )
        )
    n_events = sum(len(e) for e in events.values())
    info = {
        "listed": len(events),
        "found": len(clips),
        "missing": len(missing),
        "events": n_events,
        "clips_without_events": sum(1 for e in events.values() if not e),
    }
    return Dataset(task="desed", root=root, clips=clips, classes=classes, missing=missing, info=info)


DOWNLOADS = DownloadSpec(
    page="https://github.com/turpaultn/DESED",
    manual=(
        "the DESED real validation set is audio of YouTube videos (AudioSet segments); no archive of it is "
        "published. Take metadata/validation/validation.tsv from the DESED repository (data/real/metadata) or "
        "Zenodo record 4639776 (audioset_metadata.tar.gz), and fetch the clips with the DESED package's YouTube "
        "download script (desed, github.com/turpaultn/DESED; it needs yt-dlp). Videos vanish from YouTube: the "
        "DESED FAQ says how to ask the organisers for missing files. Arrange the result as DESED/metadata/"
        "validation/validation.tsv and DESED/audio/validation/validation/*.wav (docs/datasets.md), then run "
        "`bench data verify desed --root DIR/DESED`; missing clips are counted in every result, never fatal."
    ),
)


TASK = TaskSpec(
    name="desed",
    title="DESED (AR)",
    kind="audio_retrieval",
    loader=load,
    root_names=("DESED", "desed", "dataset", "DESED/dataset"),
    marker=METADATA,
    metrics=("f1", "precision", "recall", "error_rate", "f1_macro"),
    clip_policy=ClipPolicy(),  # whole clips; the protocol cuts 1-s frames
    train_splits=(),
    test_splits=("validation",),
    trials=1,
    zero_shot=None,
    table_columns=(TableColumn("table2", "DESED (AR)<br>F1", "f1", protocol="audio-retrieval", paper_key="desed"),),
    demo="desed",
    expected_clips=1168,
    order=60,
    description=(
        "Segment retrieval on the DESED public validation set: 1-s "
        "frames, 5-fold threshold selection, sed_eval segment F1 at 0.1 s."
    ),
    citation=(
        "Turpault, Serizel, Shah, Salamon, Sound event detection in domestic "
        "environments with weakly labeled data and soundscape synthesis, DCASE 2019"
    ),
    downloads=DOWNLOADS,
)
