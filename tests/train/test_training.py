"""Fine-tuning i3d_kinetics400 on a tiny synthetic label set (bars of three colours), on CPU.

Kept small for 2 busy cores: 10 frames per clip (I3D's minimum is 9; its 7x7 final pooling needs 224x224), the
backbone frozen (only the new `logits` layer trains), 12 training and 6 held-out videos, 8 steps.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import REPO, load_script
from videohub.models.checkpoint import read_pdparams
from videohub.weights import weights_installed

BASE = REPO / "modules" / "i3d_kinetics400"
COLOURS = {"blue": (230, 60, 0), "green": (0, 200, 0), "red": (0, 0, 230)}  # BGR, class ids in sorted order
SETTINGS = ["epochs=4", "batch_size=6", "optimizer=adam", "lr=0.02", "weight_decay=0", "schedule=constant",
            "freeze_backbone=true", "crop=center", "eval_every=4", "preprocess.sampler.clip_len=10"]

needs_weights = pytest.mark.skipif(not weights_installed(BASE),
                                   reason="I3D weights not installed: python scripts/fetch_weights.py i3d_kinetics400")


def write_clip(path: Path, colour, rng: np.random.Generator, size=(64, 48), frames=24) -> None:
    """A bar of `colour` sliding over a flat dark background; position, speed and direction vary."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (w, h))
    x0, speed, direction = int(rng.integers(w)), int(rng.integers(2, 5)), int(rng.choice([-1, 1]))
    for i in range(frames):
        frame = np.full((h, w, 3), 40, np.uint8)
        x = (x0 + direction * speed * i) % w
        frame[:, x:x + w // 3] = colour
        writer.write(frame)
    writer.release()


def make_split(root: Path, per_class: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True)
        for j in range(per_class):
            write_clip(root / name / f"{name}_{j}.mp4", colour, rng)
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("colours")
    return {"train": make_split(d / "train", 4, seed=1), "val": make_split(d / "val", 2, seed=2), "dir": d}


def train(data, out: Path, *extra: str, init: str = "module", settings=()) -> dict:
    argv = ["--module", str(BASE), "--train", str(data["train"]), "--val", str(data["val"]), "--out", str(out),
            "--init", init, "--device", "cpu", *extra, "--set", *SETTINGS, *settings]
    assert load_script("train").main(argv) == 0
    return json.loads((out / "result.json").read_text())


def losses(out: Path) -> list:
    lines = [json.loads(ln) for ln in (out / "train_log.jsonl").read_text().splitlines()]
    return [e["loss"] for e in lines if "loss" in e]


@pytest.fixture(scope="module")
def finetuned(data):
    out = data["dir"] / "run_pretrained"
    module = data["dir"] / "modules" / "colours_i3d"
    result = train(data, out, "--export-module", str(module))
    return {"out": out, "result": result, "module": module}


@needs_weights
def test_finetune_loss_falls_and_beats_chance(finetuned):
    loss = losses(finetuned["out"])
    assert len(loss) == 8
    assert np.mean(loss[-2:]) < np.mean(loss[:2]) - 0.2, loss
    assert finetuned["result"]["eval"]["top1"] >= 0.8  # chance is 1/3 (6 held-out videos)


@needs_weights
def test_finetune_starts_from_the_real_weights(finetuned):
    base = read_pdparams(BASE / "weights" / "model.pdparams")
    tuned = read_pdparams(finetuned["module"] / "weights" / "model.pdparams")
    assert set(base) == set(tuned)
    body = [k for k in base if not k.startswith("logits.")]
    assert all(np.array_equal(base[k], tuned[k]) for k in body)  # frozen backbone = the Kinetics weights
    assert tuned["logits.weight"].shape[0] == 3 and base["logits.weight"].shape[0] == 400


@needs_weights
def test_resume_continues_the_same_run(data, finetuned):
    out = data["dir"] / "run_resumed"
    train(data, out, settings=["max_steps=5"])  # stops inside epoch 3, writes last.pdckpt
    assert len(losses(out)) == 5 and (out / "last.pdckpt").exists()
    result = train(data, out, "--resume", "auto")
    assert losses(out) == pytest.approx(losses(finetuned["out"]), rel=1e-4, abs=1e-5)
    assert result["eval"]["top1"] == pytest.approx(finetuned["result"]["eval"]["top1"])


@needs_weights
def test_real_weights_beat_training_from_scratch(data, finetuned):
    scratch = train(data, data["dir"] / "run_scratch", init="none")
    pre = finetuned["result"]["eval"]
    assert pre["top1"] > scratch["eval"]["top1"], (pre, scratch["eval"])


@needs_weights
def test_exported_module_classifies_through_hub_run(data, finetuned, tmp_path):
    module = finetuned["module"]
    card = json.loads((module / "card.json").read_text())
    assert card["architecture"] == {"name": "i3d", "num_classes": 3}
    assert card["preprocess"]["sampler"]["clip_len"] == 10  # the training preprocessing travels with it
    assert (module / "labels.txt").read_text().split() == sorted(COLOURS)
    home, cwd = tmp_path / "hub_home", tmp_path / "cwd"
    cwd.mkdir()
    env = dict(os.environ, HUB_HOME=str(home), PYTHONWARNINGS="ignore")
    hub = str(Path(sys.executable).parent / "hub")
    proc = subprocess.run([hub, "install", str(module)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listing = tmp_path / "val_list.txt"
    listing.write_text("".join(f"{p}\n" for p in sorted(Path(data["val"]).glob("*/*.mp4"))))
    proc = subprocess.run([hub, "run", "colours_i3d", "--input_path", str(listing), "--output", "json",
                           "--top_k", "1"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(proc.stdout[proc.stdout.index("["):])
    truth = [Path(r["path"]).parent.name for r in results]
    predicted = [next(iter(r["prediction"])) for r in results]
    accuracy = np.mean([t == p for t, p in zip(truth, predicted)])
    assert len(results) == 6 and accuracy == pytest.approx(finetuned["result"]["eval"]["top1"])



# ---------------------------------------------------------------------------------------------- cheap parts
def test_file_list_folders_and_multi_label(tmp_path):
    from videohub.train import datasets

    (tmp_path / "a.mp4").write_bytes(b"x")
    listing = tmp_path / "list.txt"
    listing.write_text("# comment\na.mp4 2\n/abs/b.mp4 0 3\n\n")
    samples = datasets.read_file_list(listing)
    assert samples == [datasets.Sample(str(tmp_path / "a.mp4"), (2,)), datasets.Sample("/abs/b.mp4", (0, 3))]
    assert datasets.is_multi_label(samples)
    assert datasets.multi_hot((0, 3), 4).tolist() == [1, 0, 0, 1]
    listing.write_text("a.mp4 cat\n")
    with pytest.raises(ValueError, match="integer"):
        datasets.read_file_list(listing)
    for name in ("zebra", "ant"):
        (tmp_path / "classes" / name).mkdir(parents=True)
        (tmp_path / "classes" / name / "v.mp4").write_bytes(b"x")
    samples, classes = datasets.scan_class_folders(tmp_path / "classes")
    assert classes == ["ant", "zebra"] and [s.labels for s in samples] == [(0,), (1,)]


def test_batch_order_is_seeded_resumable_and_sharded():
    from videohub.train.datasets import EpochBatchSampler

    s = EpochBatchSampler(10, 3, shuffle=True, seed=5)
    s.set_epoch(1)
    full = list(s)
    assert sorted(i for b in full for i in b) == list(range(10)) and len(full) == 4
    s.set_epoch(1, start=2)
    assert list(s) == full[2:]
    s.set_epoch(2)
    assert list(s) != full
    shards = [EpochBatchSampler(10, 3, True, 5, rank=r, world_size=2) for r in (0, 1)]
    for sh in shards:
        sh.set_epoch(1)
    assert list(shards[0]) == full[0::2] and list(shards[1]) == full[1::2]


def test_augmentation_is_a_pure_function_of_the_generator():
    from videohub.train import augment

    for seed in range(20):
        x, y, w, h = augment.multi_scale_crop_box(298, 224, np.random.default_rng(seed), 224)
        assert 0 <= x and x + w <= 298 and 0 <= y and y + h <= 224 and min(w, h) >= int(224 * 0.66)
    frames = np.random.default_rng(0).integers(0, 255, (4, 60, 80, 3)).astype(np.uint8)
    a = augment.multi_scale_crop(frames, augment.sample_rng(1, 2, 3), 32)
    b = augment.multi_scale_crop(frames, augment.sample_rng(1, 2, 3), 32)
    assert a.shape == (4, 32, 32, 3) and np.array_equal(a, b)
    flips = {augment.horizontal_flip(frames, np.random.default_rng(s)) is frames for s in range(20)}
    assert flips == {True, False}


def test_settings_precedence_and_card_overrides():
    from videohub.train import trainer as training
    from videohub.card import load_card

    card = load_card(BASE)
    cfg = training.make_config(card, {"recipe": "pptsm", "epochs": 3, "milestones": [0.5]})
    assert cfg.schedule == "cosine" and cfg.label_smoothing == 0.1 and cfg.epochs == 3
    assert cfg.milestones == (0.5,)
    with pytest.raises(ValueError, match="unknown training settings"):
        training.make_config(card, {"epoch": 3})
    small = training.card_with_overrides(card, {"preprocess.crop_size": 112, "preprocess.sampler.clip_len": 16})
    assert small.preprocess.crop_size == 112 and small.preprocess.sampler.clip_len == 16
    assert small.inputs[0].shape == (-1, 3, -1, 112, 112) and card.preprocess.crop_size == 224
    sched = training.make_schedule(training.TrainConfig(lr=1.0, epochs=3), total_steps=9)
    lrs = []
    for _ in range(9):
        lrs.append(sched())
        sched.step()
    assert lrs == pytest.approx([1.0] * 3 + [0.1] * 3 + [0.01] * 3)


def test_every_classifier_declares_its_head():
    from videohub.train import trainer as training
    from videohub.models import build_network

    net = build_network("i3d", num_classes=5)
    assert training.head_keys(net) == ["logits.weight", "logits.bias"]
    net = build_network("tsn_r50", num_classes=5)
    assert training.head_keys(net) == ["head.fc.weight", "head.fc.bias"]
    assert training.network_num_classes(net, None) == 5
