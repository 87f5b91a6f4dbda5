"""Fixtures of the task tests (imported by them): a module over a tiny exported network, and tiny synthetic clips."""
from __future__ import annotations

import json

import pytest

from synthetic import write_video
from videohub.hub import VideoClassifierModule
from videohub.runtime.export import export_network

FPS = 25.0


def toy_card(sampler: dict) -> dict:
    return {
        "name": "toy_windows", "task": "video/classification", "architecture": {"name": "toy"},
        "inputs": [{"name": "x", "shape": [-1, -1, 3, 32, 32]}],
        "preprocess": {"sampler": sampler, "scale_size": 40, "crop": "center", "crop_size": 32,
                       "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "layout": "TCHW", "min_frames": 4},
        "preprocess_variants": {"dense": {"sampler": {"type": "dense", "clip_len": 8, "frame_interval": 2,
                                                      "target_fps": None, "num_clips": 1}}},
        "activation": "softmax", "labels": "labels.txt", "onednn": False,
    }


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A module over a tiny exported network whose 4 logits depend on the frames' stripes and their order."""
    import paddle

    d = tmp_path_factory.mktemp("toy_module")
    (d / "card.json").write_text(json.dumps(toy_card({"type": "segments", "num_segments": 4})))
    (d / "labels.txt").write_text("a\nb\nc\nd\n")

    class Toy(paddle.nn.Layer):
        def __init__(self):
            super(Toy, self).__init__()
            self.fc = paddle.nn.Linear(3 * 4, 4)

        def forward(self, x):  # [B, T, 3, 32, 32] -> mean over time and 4 column bands -> 4 logits
            cols = x.mean(axis=[1, 3]).reshape([x.shape[0], 3, 4, 8]).mean(axis=-1)
            return self.fc(cols.reshape([x.shape[0], 12]) * 3.0)

    paddle.seed(0)
    from videohub.card import InputSpec

    export_network(Toy(), [InputSpec("x", (-1, -1, 3, 32, 32))], d / "weights" / "inference")
    (d / "weights" / "meta.json").write_text("{}")

    class ToyModule(VideoClassifierModule):
        directory = str(d)
        name = "toy_windows"

    return ToyModule(decode_workers=2)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    return [write_video(d / f"c{i}.mp4", num_frames=30 + 7 * i, size=(64, 48), fps=FPS) for i in range(5)]


