"""VGGSound cross-modal retrieval (the paper's CMR column): audio ↔ video frames on the test split.

Same files and loader as the ``vggsound`` task: the dataset keeps its name, so the clip-level
audio embeddings in the store are shared with the classification probe (embedded once). Only
test-split clips with a video take part; the image side is the encoder's own
(``embed_images``), and encoders without one get "n/a".
"""

from __future__ import annotations

from bench.task import TableColumn, TaskSpec
from tasks.vggsound import TASK as VGGSOUND
from tasks.vggsound import load

TASK = TaskSpec(
    name="vggsound_cmr",
    title="VGGSound (CMR)",
    kind="cross_modal_retrieval",
    loader=load,
    root_names=VGGSOUND.root_names,
    marker=VGGSOUND.marker,
    metrics=("mrr_a2i", "mrr_i2a"),
    clip_policy=VGGSOUND.clip_policy,  # identical policy: the probe's audio embeddings are reused
    train_splits=(),
    test_splits=("test",),
    trials=1,
    zero_shot=None,
    table_columns=(
        TableColumn("table2", "VGGSound (CMR)<br>A→I MRR", "mrr_a2i", protocol="cmr", paper_key="cmr_a2i"),
        TableColumn("table2", "VGGSound (CMR)<br>I→A MRR", "mrr_i2a", protocol="cmr", paper_key="cmr_i2a"),
    ),
    demo="vggsound",
    expected_clips=VGGSOUND.expected_clips,
    order=70,
    description=(
        "Audio→image and image→audio retrieval on the test split "
        "(mean-pooled frame embeddings); MRR, same label = relevant."
    ),
    citation=VGGSOUND.citation,
    downloads=VGGSOUND.downloads,
)
