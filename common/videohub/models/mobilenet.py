"""PP-TSM's lightweight backbones: PaddleVideo `PPTSM_MobileNetV2` and `PPTSM_MobileNetV3` (large), with TSM.

The backbone ends in its own classifier (features averaged over the num_seg frames, then FC) and the head
(`MoViNetHead`) is the identity. Inverted residual units with an identity shortcut shift 1/num_seg of their input
channels each way in time (TSM) before the expand conv.
"""
from __future__ import annotations

from typing import Optional

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import ParamAttr

from videohub.models import register_architecture
from videohub.models.resnet import Recognizer2D, apply_activation, fluid_bn


class _MV2ConvBN(nn.Layer):
    """conv (no bias) → BN → optional ReLU6; fluid names <name>_weights, <name>_bn_scale …"""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, groups: int,
                 name: str):
        super().__init__()
        self._conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                               padding=(kernel_size - 1) // 2, groups=groups,
                               weight_attr=ParamAttr(name=name + "_weights"), bias_attr=False)
        self._batch_norm = fluid_bn(out_channels, name + "_bn")

    def forward(self, x: paddle.Tensor, act: bool = True) -> paddle.Tensor:
        y = self._batch_norm(self._conv(x))
        return F.relu6(y) if act else y


class _MV2Unit(nn.Layer):
    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: float, name: str,
                 num_seg: int, residual: bool):
        super().__init__()
        mid = int(round(in_channels * expansion))
        self.num_seg, self.residual = num_seg, residual
        self._expand_conv = _MV2ConvBN(in_channels, mid, 1, 1, 1, name + "_expand")
        self._bottleneck_conv = _MV2ConvBN(mid, mid, 3, stride, mid, name + "_dwise")
        self._linear_conv = _MV2ConvBN(mid, out_channels, 1, 1, 1, name + "_linear")

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = F.temporal_shift(x, self.num_seg, 1.0 / self.num_seg) if self.residual else x
        y = self._linear_conv(self._bottleneck_conv(self._expand_conv(y)), act=False)
        return paddle.add(x, y) if self.residual else y


class _MV2Stage(nn.Layer):
    def __init__(self, in_channels: int, expansion: int, out_channels: int, n: int, stride: int, name: str,
                 num_seg: int):
        super().__init__()
        self._first_block = _MV2Unit(in_channels, out_channels, stride, expansion, name + "_1", num_seg, False)
        self._rest = []
        for i in range(2, n + 1):
            unit = _MV2Unit(out_channels, out_channels, 1, expansion, f"{name}_{i}", num_seg, True)
            self.add_sublayer(f"{name}_{i}", unit)
            self._rest.append(unit)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self._first_block(x)
        for unit in self._rest:
            x = unit(x)
        return x


class PPTSMMobileNetV2(nn.Layer):
    """MobileNetV2 (x1.0) with TSM and segment consensus: [N*num_seg, 3, H, W] → [N, num_classes] logits."""

    head_keys = ("out",)
    _SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                 (6, 320, 1, 1))  # expansion t, channels c, units n, stride s

    def __init__(self, num_classes: int = 400, num_seg: int = 8):
        super().__init__()
        self.num_seg = num_seg
        self.conv1 = _MV2ConvBN(3, 32, 3, 2, 1, "conv1_1")
        self._stages = []
        channels = 32
        for i, (t, c, n, stride) in enumerate(self._SETTINGS):
            stage = _MV2Stage(channels, t, c, n, stride, f"conv{i + 2}", num_seg)
            self.add_sublayer(f"conv{i + 2}", stage)
            self._stages.append(stage)
            channels = c
        self.out_channels = 1280
        self.conv9 = _MV2ConvBN(channels, self.out_channels, 1, 1, 1, "conv9")
        self.out = nn.Linear(self.out_channels, num_classes, weight_attr=ParamAttr(name="fc10_weights"),
                             bias_attr=ParamAttr(name="fc10_offset"))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.conv1(x)
        for stage in self._stages:
            x = stage(x)
        x = paddle.mean(self.conv9(x), axis=[2, 3])
        x = paddle.mean(paddle.reshape(x, [-1, self.num_seg, self.out_channels]), axis=1)
        return self.out(x)


def _hardswish_or_relu(x: paddle.Tensor, act: Optional[str]) -> paddle.Tensor:
    if act == "hardswish":
        return F.hardswish(x)
    return apply_activation(x, act)


class _MV3ConvBN(nn.Layer):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1,
                 act: Optional[str] = None):
        super().__init__()
        self.act = act
        self.conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                              padding=(kernel_size - 1) // 2, groups=groups, bias_attr=False)
        self.bn = nn.BatchNorm(out_channels)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return _hardswish_or_relu(self.bn(self.conv(x)), self.act)


class _SqueezeExcite(nn.Layer):
    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        self.conv1 = nn.Conv2D(channels, channels // reduction, 1)
        self.conv2 = nn.Conv2D(channels // reduction, channels, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        w = F.relu(self.conv1(F.adaptive_avg_pool2d(x, 1)))
        return x * F.hardsigmoid(self.conv2(w), slope=0.2, offset=0.5)


class _MV3Unit(nn.Layer):
    def __init__(self, in_channels: int, mid: int, out_channels: int, kernel_size: int, stride: int, se: bool,
                 act: str, num_seg: int):
        super().__init__()
        self.residual = stride == 1 and in_channels == out_channels
        self.num_seg = num_seg
        self.expand_conv = _MV3ConvBN(in_channels, mid, 1, act=act)
        self.bottleneck_conv = _MV3ConvBN(mid, mid, kernel_size, stride=stride, groups=mid, act=act)
        self.mid_se = _SqueezeExcite(mid) if se else None
        self.linear_conv = _MV3ConvBN(mid, out_channels, 1, act=None)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = F.temporal_shift(x, self.num_seg, 1.0 / self.num_seg) if self.residual else x
        y = self.bottleneck_conv(self.expand_conv(y))
        if self.mid_se is not None:
            y = self.mid_se(y)
        y = self.linear_conv(y)
        return paddle.add(x, y) if self.residual else y


class PPTSMMobileNetV3(nn.Layer):
    """MobileNetV3-large (x1.0) with TSM and segment consensus: [N*num_seg, 3, H, W] → [N, num_classes] logits.

    The dropout before the FC is fluid-style ``downscale_in_infer``: at inference the features are scaled by 1-p.
    """

    head_keys = ("fc",)
    _LARGE = ((3, 16, 16, False, "relu", 1), (3, 64, 24, False, "relu", 2), (3, 72, 24, False, "relu", 1),
              (5, 72, 40, True, "relu", 2), (5, 120, 40, True, "relu", 1), (5, 120, 40, True, "relu", 1),
              (3, 240, 80, False, "hardswish", 2), (3, 200, 80, False, "hardswish", 1),
              (3, 184, 80, False, "hardswish", 1), (3, 184, 80, False, "hardswish", 1),
              (3, 480, 112, True, "hardswish", 1), (3, 672, 112, True, "hardswish", 1),
              (5, 672, 160, True, "hardswish", 2), (5, 960, 160, True, "hardswish", 1),
              (5, 960, 160, True, "hardswish", 1))  # kernel, expanded, out, SE, activation, stride

    def __init__(self, num_classes: int = 400, num_seg: int = 8, dropout_prob: float = 0.2):
        super().__init__()
        self.num_seg = num_seg
        self.conv = _MV3ConvBN(3, 16, 3, stride=2, act="hardswish")
        units, channels = [], 16
        for k, mid, out, se, act, stride in self._LARGE:
            units.append(_MV3Unit(channels, mid, out, k, stride, se, act, num_seg))
            channels = out
        self.blocks = nn.Sequential(*units)
        self.last_second_conv = _MV3ConvBN(channels, 960, 1, act="hardswish")
        self.out_channels = 1280
        self.last_conv = nn.Conv2D(960, self.out_channels, 1, bias_attr=False)
        self.dropout = nn.Dropout(p=dropout_prob, mode="downscale_in_infer") if dropout_prob else None
        self.fc = nn.Linear(self.out_channels, num_classes)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.last_second_conv(self.blocks(self.conv(x)))
        x = F.hardswish(self.last_conv(F.adaptive_avg_pool2d(x, 1)))
        if self.dropout is not None:
            x = self.dropout(x)
        x = paddle.mean(paddle.reshape(x, [-1, self.num_seg, self.out_channels]), axis=1)
        return self.fc(x)


@register_architecture("pptsm_mv2")
def pptsm_mv2(num_classes: int = 400, num_seg: int = 8) -> Recognizer2D:
    """PP-TSM MobileNetV2 (PaddleVideo PPTSM_MobileNetV2 + MoViNetHead). Input [N, num_seg, 3, H, W]."""
    return Recognizer2D(PPTSMMobileNetV2(num_classes, num_seg), None, fixed_num_seg=num_seg)


@register_architecture("pptsm_mv3")
def pptsm_mv3(num_classes: int = 400, num_seg: int = 8) -> Recognizer2D:
    """PP-TSM MobileNetV3-large (PaddleVideo PPTSM_MobileNetV3 + MoViNetHead). Input [N, num_seg, 3, H, W]."""
    return Recognizer2D(PPTSMMobileNetV3(num_classes, num_seg), None, fixed_num_seg=num_seg)
