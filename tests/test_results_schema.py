"""Result records: typed in memory, the same JSON on disk (schema 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.results import ResultRecord, ResultsStore

ROOT = Path(__file__).resolve().parents[1]


def test_committed_records_load_typed_and_rewrite_byte_for_byte() -> None:
    store = ResultsStore(ROOT / "results")
    paths = sorted((ROOT / "results").glob("*/*/*.json"))
    assert len(paths) >= 48  # the committed demo results
    for path in paths:
        record = store.read(path)
        assert store.path_for(record.data_kind, record.encoder.label, record.task.name, record.protocol.id) == path
        assert record.status in ("ok", "n/a")
        if record.status == "ok":
            assert (
                record.primary_metric in record.summary and len(record.folds) == record.summary[record.primary_metric].n
            )
        # what `bench run` would write for this record is the file as committed, byte for byte
        assert json.dumps(record.to_json(), indent=1, sort_keys=True, default=str) == path.read_text(), path


def test_unknown_keys_travel_through_and_other_schemas_are_refused(tmp_path: Path) -> None:
    raw = json.loads((ROOT / "results/demo/logmel/vggsound_cmr.cmr-mrr-v1.json").read_text())
    raw["encoder"]["from_a_plugin"] = {"x": 1}
    raw["protocol"]["new_protocol_field"] = [1, 2]
    record = ResultRecord.from_json(raw)
    assert record.encoder.extra["from_a_plugin"] == {"x": 1} and record.protocol.extra["new_protocol_field"] == [1, 2]
    assert record.to_json()["protocol"]["new_protocol_field"] == [1, 2]
    raw["schema_version"] = 2
    path = tmp_path / "real" / "x" / "t.p.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="schema version 2"):
        ResultsStore(tmp_path).read(path)
