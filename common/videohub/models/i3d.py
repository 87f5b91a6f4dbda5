"""I3D: Inception-v1 inflated to 3D (Carreira & Zisserman, 2017), as in DeepMind's kinetics-i3d release.

Every convolution and max-pool uses TensorFlow `SAME` padding (Paddle's `padding="SAME"` computes the same
asymmetric padding). Batch norm has no learned scale (its weight is 1) and epsilon 1e-3. Input: RGB in
[-1, 1], layout N x 3 x T x H x W with T >= 9; output: logits averaged over the remaining time positions.
Layer attribute names follow the TF scopes (`Mixed_3b.branch_1b` = `Mixed_3b/Branch_1/Conv3d_0b_3x3`) so the
weight converter in `videohub.weights.i3d_jax` is a plain renaming.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence, Tuple

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from videohub.models import StateDict, register_architecture, register_converter
from videohub.models.checkpoint import CheckpointError, safe_unpickle


class Unit3D(nn.Layer):
    """Conv3D (SAME, no bias) + BatchNorm without scale + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel: Sequence[int] = (1, 1, 1),
                 stride: Sequence[int] = (1, 1, 1)):
        super().__init__()
        self.conv = nn.Conv3D(in_channels, out_channels, tuple(kernel), stride=tuple(stride),
                              padding="SAME", bias_attr=False)
        # The original BN has no scale; it is kept as a parameter set to 1 by the converter because the
        # oneDNN batch-norm kernel of paddle 3.3.1 crashes without one.
        self.bn = nn.BatchNorm3D(out_channels, epsilon=1e-3)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.relu(self.bn(self.conv(x)))


class InceptionModule(nn.Layer):
    def __init__(self, in_channels: int, widths: Sequence[int]):
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3 = widths
        self.branch_0a = Unit3D(in_channels, w0)
        self.branch_1a = Unit3D(in_channels, w1a)
        self.branch_1b = Unit3D(w1a, w1b, (3, 3, 3))
        self.branch_2a = Unit3D(in_channels, w2a)
        self.branch_2b = Unit3D(w2a, w2b, (3, 3, 3))
        self.branch_3b = Unit3D(in_channels, w3)
        self.out_channels = w0 + w1b + w2b + w3

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        b0 = self.branch_0a(x)
        b1 = self.branch_1b(self.branch_1a(x))
        b2 = self.branch_2b(self.branch_2a(x))
        b3 = self.branch_3b(F.max_pool3d(x, 3, stride=1, padding="SAME"))
        return paddle.concat([b0, b1, b2, b3], axis=1)


# (name, widths) of the inception blocks; max-pools sit before Mixed_3b, Mixed_4b and Mixed_5b.
_BLOCKS: Tuple[Tuple[str, Tuple[int, ...]], ...] = (
    ("Mixed_3b", (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", (384, 192, 384, 48, 128, 128)),
)


class InceptionI3D(nn.Layer):
    input_names = ("video",)
    output_names = ("logits",)
    head_keys = ("logits",)  # the classifier layer, re-initialised for a new label set (videohub.train.trainer)

    def __init__(self, num_classes: int = 400, in_channels: int = 3):
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(in_channels, 64, (7, 7, 7), (2, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        channels = 192
        for name, widths in _BLOCKS:
            block = InceptionModule(channels, widths)
            setattr(self, name, block)
            channels = block.out_channels
        self.feature_dim = channels
        self.logits = nn.Conv3D(channels, num_classes, 1, bias_attr=True)

    def forward_features(self, x: paddle.Tensor) -> paddle.Tensor:
        """N x 1024 x T' x 7 x 7 feature map before the classifier (T' = ceil(T / 8))."""
        x = self.Conv3d_1a_7x7(x)
        x = F.max_pool3d(x, (1, 3, 3), stride=(1, 2, 2), padding="SAME")
        x = self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x))
        x = F.max_pool3d(x, (1, 3, 3), stride=(1, 2, 2), padding="SAME")
        x = self.Mixed_3c(self.Mixed_3b(x))
        x = F.max_pool3d(x, 3, stride=2, padding="SAME")
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            x = getattr(self, name)(x)
        x = F.max_pool3d(x, 2, stride=2, padding="SAME")
        return self.Mixed_5c(self.Mixed_5b(x))

    def forward(self, video: paddle.Tensor) -> paddle.Tensor:
        x = F.avg_pool3d(self.forward_features(video), (2, 7, 7), stride=1, padding="VALID")
        logits = self.logits(x)  # N x classes x T'' x 1 x 1
        return paddle.mean(logits, axis=[2, 3, 4])


@register_architecture("i3d")
def i3d(num_classes: int = 400) -> InceptionI3D:
    return InceptionI3D(num_classes=num_classes)


# ---------------------------------------------------------------------------------------------- checkpoint
def _i3d_target_name(scope: str) -> str:
    """`Mixed_3b/Branch_1/Conv3d_0b_3x3` -> `Mixed_3b.branch_1b`; top-level units keep their names."""
    parts = scope.split("/")
    if len(parts) == 3 and parts[1].startswith("Branch_"):
        branch = parts[1].split("_")[1]
        letter = parts[2].split("_")[1][1]  # Conv3d_0a_1x1 -> 'a'
        return f"{parts[0]}.branch_{branch}{letter}"
    if parts == ["Logits", "Conv3d_0c_1x1"]:
        return "logits"
    if len(parts) == 1:
        return parts[0]
    raise CheckpointError(f"unexpected I3D scope {scope!r}")


def convert_i3d_tree(tree: dict) -> StateDict:
    """Flax I3D variables (`{'params': ..., 'batch_stats': ...}`) -> paddle state dict of `InceptionI3D`."""
    out: StateDict = {}

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + [k])
            return
        coll, *scope, layer, leaf = path
        target = _i3d_target_name("/".join(scope))
        arr = np.asarray(node, dtype=np.float32)
        if layer == "Conv_0" and leaf == "kernel":  # (kt, kh, kw, cin, cout) -> (cout, cin, kt, kh, kw)
            key = "logits.weight" if target == "logits" else f"{target}.conv.weight"
            out[key] = np.ascontiguousarray(arr.transpose(4, 3, 0, 1, 2))
        elif layer == "Conv_0" and leaf == "bias":
            out[f"{target}.bias"] = arr
        elif layer == "BatchNorm_0":
            name = {"bias": "bias", "mean": "_mean", "var": "_variance"}[leaf]
            out[f"{target}.bn.{name}"] = arr.reshape(-1)
            if leaf == "bias":  # Sonnet BN without scale: the paddle layer's scale is 1
                out[f"{target}.bn.weight"] = np.ones_like(arr.reshape(-1))
        else:
            raise CheckpointError(f"unexpected I3D entry {'/'.join(path)}")

    for coll in ("params", "batch_stats"):
        if coll not in tree:
            raise CheckpointError(f"I3D checkpoint lacks the {coll!r} collection")
        walk(tree[coll], [coll])
    return out


@register_converter("i3d_jax")
def convert_i3d_jax(path: Path) -> StateDict:
    with open(path, "rb") as f:
        tree = safe_unpickle(f)
    return convert_i3d_tree(tree)
