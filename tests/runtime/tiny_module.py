"""Helpers of the runtime tests (imported by them): a tiny conv network exported into a module folder, its card,
and passing verdicts recorded for engines (the check against dygraph itself is tested in test_verify_outputs)."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, List

import paddle

from videohub.card import InputSpec, ModelCard, card_from_dict
from videohub.runtime import predictor, verify
from videohub.runtime.export import export_network
from videohub.runtime.files import weights_dir

INPUT = InputSpec("x", (-1, 4, 3, 16, 16))


class TinyConvNet(paddle.nn.Layer):
    def __init__(self):
        super(TinyConvNet, self).__init__()
        self.conv = paddle.nn.Conv2D(3, 4, 3, padding=1)

    def forward(self, x):  # [N, T, 3, H, W] -> [N, 4]
        n, t = x.shape[0], x.shape[1]
        y = paddle.nn.functional.relu(self.conv(x.reshape([-1, 3, 16, 16])))
        return y.mean(axis=[2, 3]).reshape([n, t, 4]).mean(axis=1)


def tiny_card(name: str, engines: Dict[str, List[str]], std: float = 1.0) -> ModelCard:
    return card_from_dict({
        "name": name, "task": "video/classification", "architecture": {"name": f"{name}_net"},
        "inputs": [{"name": INPUT.name, "shape": list(INPUT.shape)}],
        "preprocess": {"sampler": {"type": "segments", "num_segments": 4}, "scale_size": 16, "crop": "center",
                       "crop_size": 16, "mean": [0.0, 0.0, 0.0], "std": [std] * 3, "layout": "TCHW"},
        "labels": "none", "engines": {"verified": engines}})


def export_tiny_net(folder: Path, seed: int = 0) -> None:
    """A freshly initialised TinyConvNet (paddle seed `seed`) exported as the module's inference files."""
    paddle.seed(seed)
    export_network(TinyConvNet(), [INPUT], weights_dir(folder) / "inference")


def record_passing_verdicts(folder: Path, engines: Iterable[str]) -> None:
    """fp32 verdicts that pass for the files now in `folder`, as the export-time check records them."""
    for engine in engines:
        verify._record_verdict(folder, {"engine": engine, "precision": "fp32", "passed": True,
                                        "engine_version": predictor.engine_version(engine),
                                        "source_sha256": verify._source_digest(folder)})
