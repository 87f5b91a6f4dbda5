"""MoViNet-A0 (PaddleVideo `MoViNet`, model_type A0, causal False, conv_type "3d") in `MoViNetRecognizerFrame`.

* Input [N, T, 3, H, W] (frames, as PP-TSM); the recognizer transposes it to [N, 3, T, H, W].
* Every conv is a `ConvBlock3D`: `conv_1` = Sequential(Conv3D [, BatchNorm3D eps 1e-5]) and then the activation
  (Swish = x * sigmoid(x)) where the block has one.
* conv1 (1,3,3) s(1,2,2) → 8; 15 `BasicBneck` blocks: 1x1x1 expand (BN, Swish) → depthwise (kt,kh,kw) (BN,
  Swish) → SE (global 3D average → 1x1x1 conv with bias → Swish → 1x1x1 conv with bias → sigmoid, times the
  input) → 1x1x1 project (BN). out = residual + alpha * branch; the residual is the input, or [AvgPool3D
  (1,3,3) over the stride, exclusive padding] + 1x1x1 conv + BN where the shape changes.
* conv7 1x1x1 → 480 (BN, Swish) → adaptive average (1,1,1) → classifier: 1x1x1 conv 480→2048 (bias) → Swish →
  Dropout (identity in eval) → 1x1x1 conv 2048→num_classes (bias) → flatten: logits. Head `MoViNetHead` is the
  identity.

Spatial and temporal sizes are free (the pooling is adaptive): T stays dynamic in the export.
Structured names equal the official state dict (`backbone.blocks.3.se.fc1.conv_1.0.bias`, `backbone.blocks.0.
res.1.conv_1.1._mean`, `backbone.classifier.3.conv_1.0.weight`, ...).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle.static import InputSpec

from videohub.models import register_architecture

Triple = Tuple[int, int, int]

# A0: (in, out, expanded, kernel, stride, padding, avg-pool padding) per block, in PaddleVideo's order
# b2_l0, b3_l0..2, b4_l0..2, b5_l0..3, b6_l0..3.
_A0_CONV1 = (3, 8, (1, 3, 3), (1, 2, 2), (0, 1, 1))
_A0_BLOCKS = (
    (8, 8, 24, (1, 5, 5), (1, 2, 2), (0, 2, 2), (0, 1, 1)),
    (8, 32, 80, (3, 3, 3), (1, 2, 2), (1, 0, 0), (0, 0, 0)),
    (32, 32, 80, (3, 3, 3), (1, 1, 1), (1, 1, 1), (0, 1, 1)),
    (32, 32, 80, (3, 3, 3), (1, 1, 1), (1, 1, 1), (0, 1, 1)),
    (32, 56, 184, (5, 3, 3), (1, 2, 2), (2, 0, 0), (0, 0, 0)),
    (56, 56, 112, (3, 3, 3), (1, 1, 1), (1, 1, 1), (0, 1, 1)),
    (56, 56, 184, (3, 3, 3), (1, 1, 1), (1, 1, 1), (0, 1, 1)),
    (56, 56, 184, (5, 3, 3), (1, 1, 1), (2, 1, 1), (0, 1, 1)),
    (56, 56, 184, (3, 3, 3), (1, 1, 1), (1, 1, 1), (0, 1, 1)),
    (56, 56, 184, (3, 3, 3), (1, 1, 1), (1, 1, 1), (0, 1, 1)),
    (56, 56, 184, (3, 3, 3), (1, 1, 1), (1, 1, 1), (0, 1, 1)),
    (56, 104, 384, (5, 3, 3), (1, 2, 2), (2, 1, 1), (0, 1, 1)),
    (104, 104, 280, (1, 5, 5), (1, 1, 1), (0, 2, 2), (0, 1, 1)),
    (104, 104, 280, (1, 5, 5), (1, 1, 1), (0, 2, 2), (0, 1, 1)),
    (104, 104, 344, (1, 5, 5), (1, 1, 1), (0, 2, 2), (0, 1, 1)),
)
_A0_CONV7 = (104, 480)


def _make_divisible(v: float, divisor: int, min_value: Optional[int] = None) -> int:
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class _ConvBlock3D(nn.Layer):
    """`conv_1` = Sequential(Conv3D [, BatchNorm3D]) then optional Swish (PaddleVideo ConvBlock3D, "3d")."""

    def __init__(self, in_planes: int, out_planes: int, kernel_size: Triple = (1, 1, 1),
                 stride: Triple = (1, 1, 1), padding: Triple = (0, 0, 0), groups: int = 1, bn: bool = False,
                 swish: bool = False, bias: bool = False):
        super().__init__()
        layers = [nn.Conv3D(in_planes, out_planes, kernel_size, stride=stride, padding=padding, groups=groups,
                            bias_attr=None if bias else False)]
        if bn:
            layers.append(nn.BatchNorm3D(out_planes, momentum=0.1))
        self.conv_1 = nn.Sequential(*layers)
        self.swish = swish

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.conv_1(x)
        return F.swish(x) if self.swish else x


class _SqueezeExcitation(nn.Layer):
    def __init__(self, channels: int, squeeze_factor: int = 4):
        super().__init__()
        squeeze = _make_divisible(channels // squeeze_factor, 8)
        self.fc1 = _ConvBlock3D(channels, squeeze, bias=True)
        self.fc2 = _ConvBlock3D(squeeze, channels, bias=True)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        scale = F.swish(self.fc1(F.adaptive_avg_pool3d(x, 1)))
        return F.sigmoid(self.fc2(scale)) * x


class _BasicBneck(nn.Layer):
    def __init__(self, in_channels: int, out_channels: int, expanded: int, kernel_size: Triple, stride: Triple,
                 padding: Triple, padding_avg: Triple):
        super().__init__()
        self.expand = (_ConvBlock3D(in_channels, expanded, bn=True, swish=True)
                       if expanded != out_channels else None)
        self.deep = _ConvBlock3D(expanded, expanded, kernel_size, stride, padding, groups=expanded, bn=True,
                                 swish=True)
        self.se = _SqueezeExcitation(expanded)
        self.project = _ConvBlock3D(expanded, out_channels, bn=True)
        self.res = None
        if not (tuple(stride) == (1, 1, 1) and in_channels == out_channels):
            layers = []
            if tuple(stride) != (1, 1, 1):
                # Paddle's AvgPool3D default: exclusive=True (padding not counted), ceil_mode False
                layers.append(nn.AvgPool3D((1, 3, 3), stride=stride, padding=padding_avg))
            layers.append(_ConvBlock3D(in_channels, out_channels, bn=True))
            self.res = nn.Sequential(*layers)
        self.alpha = self.create_parameter(shape=[1], dtype="float32")

    def forward(self, inputs: paddle.Tensor) -> paddle.Tensor:
        residual = self.res(inputs) if self.res is not None else inputs
        x = self.expand(inputs) if self.expand is not None else inputs
        x = self.project(self.se(self.deep(x)))
        return residual + self.alpha * x


class MoViNetA0(nn.Layer):
    """[N, 3, T, H, W] → [N, num_classes] logits (PaddleVideo `MoViNet`, A0, causal False, conv_type "3d")."""

    def __init__(self, num_classes: int = 400, hidden_dim: int = 2048):
        super().__init__()
        cin, cout, k, s, p = _A0_CONV1
        self.conv1 = _ConvBlock3D(cin, cout, k, s, p, bn=True, swish=True)
        self.blocks = nn.Sequential(*[_BasicBneck(*cfg) for cfg in _A0_BLOCKS])
        self.conv7 = _ConvBlock3D(_A0_CONV7[0], _A0_CONV7[1], bn=True, swish=True)
        self.classifier = nn.Sequential(
            _ConvBlock3D(_A0_CONV7[1], hidden_dim, bias=True),  # dense9
            nn.Swish(),
            nn.Dropout(p=0.2),  # upscale_in_train: identity in eval
            _ConvBlock3D(hidden_dim, num_classes, bias=True),  # dense10
        )

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.conv7(self.blocks(self.conv1(x)))
        x = self.classifier(F.adaptive_avg_pool3d(x, 1))
        return paddle.flatten(x, 1)


class MoViNetRecognizerFrame(nn.Layer):
    """[N, T, 3, H, W] frames → [N, num_classes] logits (PaddleVideo MoViNetRecognizerFrame + MoViNetHead)."""

    input_names = ("imgs",)
    output_names = ("output",)
    head_keys = ("backbone.classifier.3",)

    def __init__(self, backbone: MoViNetA0):
        super().__init__()
        self.backbone = backbone

    def input_spec(self, size: Optional[int] = None) -> list:
        """Dynamic batch and frame count."""
        return [InputSpec([None, None, 3, size, size], "float32", "imgs")]

    def forward(self, imgs: paddle.Tensor) -> paddle.Tensor:
        return self.backbone(paddle.transpose(imgs, perm=[0, 2, 1, 3, 4]))


@register_architecture("movinet_a0")
def movinet_a0(num_classes: int = 400, hidden_dim: int = 2048) -> MoViNetRecognizerFrame:
    """MoViNet-A0 (stream-free 3D variant). Input [N, T, 3, H, W] (PaddleVideo: T=50, 172x172)."""
    return MoViNetRecognizerFrame(MoViNetA0(num_classes, hidden_dim))


__all__: Sequence[str] = ("MoViNetA0", "MoViNetRecognizerFrame", "movinet_a0")
