"""The CLIP teacher through open_clip: tiny config, seeded identity, local weights, preprocessing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from wav2clip_demo import small_demo

from encoders.wav2clip.teacher import TINY, CLIPTeacher, TeacherSpec, TeacherUnavailable


def frames(n: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:48, 0:80] / 48.0
    out = []
    for i in range(n):
        img = np.stack([np.sin(xx * (i + 1)), np.cos(yy * (i + 2)), xx * yy], axis=-1) * 0.5 + 0.5
        out.append(np.clip(img + rng.normal(0, 0.05, img.shape), 0, 1) * 255)
    return np.asarray(out, dtype=np.uint8)


def test_tiny_teacher_is_seeded_and_round_trips_through_a_local_file(tmp_path: Path) -> None:
    a, b, c = CLIPTeacher(TeacherSpec.tiny(0)), CLIPTeacher(TeacherSpec.tiny(0)), CLIPTeacher(TeacherSpec.tiny(1))
    imgs = frames()
    ea = a.embed_images(imgs)
    assert ea.shape == (6, 512) and a.embed_text(["a dog", "rain on surface"]).shape == (2, 512)
    np.testing.assert_array_equal(ea, b.embed_images(imgs))
    assert np.abs(ea - c.embed_images(imgs)).max() > 1e-3
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    saved = a.save(tmp_path / "teacher.pt")
    d = CLIPTeacher(TeacherSpec(TINY, str(saved)))
    np.testing.assert_allclose(d.embed_images(imgs), ea, atol=1e-6)
    identity = d.spec.identity()
    assert identity["weights"]["sha256"] != "missing" and identity["model"] == TINY


def test_preprocessing_matches_open_clips_own_transform() -> None:
    import open_clip
    from PIL import Image

    teacher = CLIPTeacher(TeacherSpec.tiny(0))
    model = teacher.load()
    transform = open_clip.image_transform(model.visual.image_size, is_train=False)
    imgs = frames(4, seed=2)
    theirs = torch.stack([transform(Image.fromarray(im)) for im in imgs])
    ours = teacher.preprocess(imgs)
    assert ours.shape == theirs.shape
    assert float((ours - theirs).abs().mean()) < 0.02  # PIL vs torch bicubic resampling
    with torch.no_grad():
        e_theirs = model.encode_image(theirs).numpy()
    e_ours = teacher.embed_images(imgs)
    cos = (e_ours * e_theirs).sum(1) / np.linalg.norm(e_ours, axis=1) / np.linalg.norm(e_theirs, axis=1)
    assert cos.min() > 0.999


def test_unavailable_teacher_weights_raise_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TeacherUnavailable, match="not found"):
        CLIPTeacher(TeacherSpec(TINY, str(tmp_path / "missing.pt"))).embed_text(["x"])
    with pytest.raises(TeacherUnavailable, match="teacher_pretrained=PATH"):
        CLIPTeacher(TeacherSpec(TINY, "no-such-tag")).embed_text(["x"])


def test_demo_teacher_learns_the_demo_classes(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    from bench.video import read_frames
    from encoders.wav2clip.demo_teacher import train_demo_teacher
    from tasks.vggsound import load

    dataset = load(small_demo(tmp_path_factory, "vggsound") / "VGGSound")
    spec = train_demo_teacher(dataset, tmp_path / "teacher.pt", steps=40, show_progress=False)
    test = [c for c in dataset.clips if c.split == "test"]  # frames the teacher never saw
    clips = [read_frames(c.path, fps=1) for c in test]
    imgs = np.concatenate(clips)
    y = np.concatenate([[c.target] * len(f) for c, f in zip(test, clips, strict=True)])
    accuracy = {}
    for name, s in (("random", TeacherSpec.tiny(0)), ("trained", spec)):
        t = CLIPTeacher(s)
        img, txt = t.embed_images(imgs), t.embed_text([f"a video of {c}." for c in dataset.classes])
        sims = (img / np.linalg.norm(img, axis=1, keepdims=True)) @ (txt / np.linalg.norm(txt, axis=1, keepdims=True)).T
        accuracy[name] = float((sims.argmax(1) == y).mean())
    chance = 1 / len(dataset.classes)  # 22 demo classes: 0.045
    assert accuracy["trained"] > 5 * chance and accuracy["trained"] > accuracy["random"] + 0.2, (accuracy, chance)
