"""PP-TSMv2: PaddleVideo `PPTSM_v2` (PP-LCNetV2 base with one temporal shift) + `MoViNetHead` (identity).

PaddleVideo's `PPTSM_v2_LCNet` with scale 1.0, depths [2, 2, 6, 2], dropout 0.2, class_expand 1280:

* stem: 3x3 conv s2 (32) + BN + ReLU, then a depthwise-separable block (dw 3x3 + BN + ReLU, pw 1x1 → 64);
* four stages of depthwise-separable blocks (first block of each stride 2); stage settings
  (in channels, dw kernel, split pw, rep, SE, shortcut): (64, 3, -, -, -, -), (128, 3, -, -, -, -),
  (256, 5, split, rep, SE, -), (512, 5, -, rep, -, shortcut);
* "rep" blocks sum BN(depthwise conv) over kernels 5, 3 and 1 (1 skipped when strided) and apply ReLU. Their
  `dw_conv` (a plain biased conv) is what PaddleVideo's `rep()` overwrites with the fused kernel before export;
  it is a parameter of the checkpoint but unused until then. `rep()` here does the same fusion (optional);
* before stage 3 (stages[2]): optional temporal attention (`use_temporal_att`, the 16-frame DML student: a
  num_seg x num_seg FC over the per-frame means, sigmoid, per-frame scaling), then `temporal_shift` 1/num_seg;
* global average pool → 1x1 conv 1024→1280 (no bias) → ReLU → Dropout(0.2, `downscale_in_infer`: ×0.8 in eval)
  → mean over the num_seg frames → FC 1280→num_classes (logits).

Structured parameter names equal the official state dict (`backbone.stem.0.conv.weight`, `backbone.stages.2.0.
pw_conv_1.bn._mean`, `backbone.stages.3.1.dw_conv_list.2.conv.weight`, `backbone.fc.bias`, ...).
"""
from __future__ import annotations

from typing import List

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from videohub.models import register_architecture
from videohub.models.resnet import Recognizer2D

# in_channels, dw kernel, split_pw, use_rep, use_se, use_shortcut (PaddleVideo NET_CONFIG)
_STAGES = ((64, 3, False, False, False, False),
           (128, 3, False, False, False, False),
           (256, 5, True, True, True, False),
           (512, 5, False, True, False, True))


def _make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class _ConvBN(nn.Layer):
    """conv (no bias) → BatchNorm2D (eps 1e-5) → optional ReLU; keys `conv.weight`, `bn.{weight,bias,_mean,_variance}`."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1,
                 act: bool = True):
        super().__init__()
        self.act = act
        self.conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                              padding=(kernel_size - 1) // 2, groups=groups, bias_attr=False)
        self.bn = nn.BatchNorm2D(out_channels)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.bn(self.conv(x))
        return F.relu(x) if self.act else x


class _SE(nn.Layer):
    """Squeeze-excite with a plain sigmoid gate (PaddleVideo names it `hardsigmoid` but uses nn.Sigmoid)."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        self.conv1 = nn.Conv2D(channels, channels // reduction, 1)
        self.conv2 = nn.Conv2D(channels // reduction, channels, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        w = F.sigmoid(self.conv2(F.relu(self.conv1(F.adaptive_avg_pool2d(x, 1)))))
        return paddle.multiply(x, w)


class _RepDepthwiseSeparable(nn.Layer):
    def __init__(self, in_channels: int, out_channels: int, stride: int, dw_size: int = 3,
                 split_pw: bool = False, use_rep: bool = False, use_se: bool = False, use_shortcut: bool = False):
        super().__init__()
        self.dw_size, self.split_pw, self.use_rep, self.use_se = dw_size, split_pw, use_rep, use_se
        self.use_shortcut = bool(use_shortcut and stride == 1 and in_channels == out_channels)
        self.is_repped = False
        if use_rep:
            self.dw_conv_list = nn.LayerList([
                _ConvBN(in_channels, in_channels, k, stride, groups=in_channels, act=False)
                for k in range(dw_size, 0, -2) if not (k == 1 and stride != 1)])
            self.dw_conv = nn.Conv2D(in_channels, in_channels, dw_size, stride=stride,
                                     padding=(dw_size - 1) // 2, groups=in_channels)  # filled by rep()
        else:
            self.dw_conv = _ConvBN(in_channels, in_channels, dw_size, stride, groups=in_channels)
        if use_se:
            self.se = _SE(in_channels)
        if split_pw:
            half = int(out_channels * 0.5)
            self.pw_conv_1 = _ConvBN(in_channels, half, 1)
            self.pw_conv_2 = _ConvBN(half, out_channels, 1)
        else:
            self.pw_conv = _ConvBN(in_channels, out_channels, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        identity = x
        if self.use_rep:
            if self.is_repped:
                y = self.dw_conv(x)
            else:
                y = self.dw_conv_list[0](x)
                for branch in self.dw_conv_list[1:]:
                    y = y + branch(x)
            x = F.relu(y)
        else:
            x = self.dw_conv(x)
        if self.use_se:
            x = self.se(x)
        x = self.pw_conv_2(self.pw_conv_1(x)) if self.split_pw else self.pw_conv(x)
        return x + identity if self.use_shortcut else x

    def rep(self) -> None:
        """PaddleVideo's re-parameterisation: fold every BN(depthwise conv) branch into `dw_conv`."""
        if not self.use_rep:
            return
        kernel_sum, bias_sum = 0, 0
        for branch in self.dw_conv_list:
            bn = branch.bn
            std = (bn._variance + bn._epsilon).sqrt()
            kernel = branch.conv.weight * (bn.weight / std).reshape((-1, 1, 1, 1))
            pad = (self.dw_size - kernel.shape[-1]) // 2
            if pad:
                kernel = F.pad(kernel, [pad, pad, pad, pad])
            kernel_sum = kernel_sum + kernel
            bias_sum = bias_sum + (bn.bias - bn._mean * bn.weight / std)
        self.dw_conv.weight.set_value(kernel_sum)
        self.dw_conv.bias.set_value(bias_sum)
        self.is_repped = True


class _GlobalAttention(nn.Layer):
    """Temporal attention of the DML student: per-frame mean → FC(num_seg, num_seg) → sigmoid → frame scale."""

    def __init__(self, num_seg: int):
        super().__init__()
        self.num_seg = num_seg
        self.fc = nn.Linear(num_seg, num_seg)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        _, c, h, w = x.shape
        att = F.adaptive_avg_pool1d(paddle.reshape(x, [-1, self.num_seg, c * h * w]), 1)
        att = F.sigmoid(self.fc(paddle.squeeze(att, axis=-1)))
        y = paddle.multiply(paddle.reshape(x, [-1, self.num_seg, c, h, w]),
                            paddle.reshape(att, [-1, self.num_seg, 1, 1, 1]))
        return paddle.reshape(y, [-1, c, h, w])


class PPTSMv2LCNet(nn.Layer):
    """[N*num_seg, 3, H, W] → [N, num_classes] logits (PaddleVideo `PPTSM_v2_LCNet`, scale 1.0)."""

    head_keys = ("fc",)

    def __init__(self, num_classes: int = 400, num_seg: int = 8, depths=(2, 2, 6, 2), scale: float = 1.0,
                 dropout_prob: float = 0.2, class_expand: int = 1280, use_temporal_att: bool = False):
        super().__init__()
        self.num_seg, self.class_expand, self.use_temporal_att = num_seg, class_expand, use_temporal_att
        c32, c64 = _make_divisible(32 * scale), _make_divisible(64 * scale)
        self.stem = nn.Sequential(_ConvBN(3, c32, 3, stride=2),
                                  _RepDepthwiseSeparable(c32, c64, stride=1, dw_size=3))
        stages: List[nn.Layer] = []
        for (channels, kernel, split_pw, use_rep, use_se, shortcut), depth in zip(_STAGES, depths):
            stages.append(nn.Sequential(*[
                _RepDepthwiseSeparable(_make_divisible((channels if i == 0 else channels * 2) * scale),
                                       _make_divisible(channels * 2 * scale), stride=2 if i == 0 else 1,
                                       dw_size=kernel, split_pw=split_pw, use_rep=use_rep, use_se=use_se,
                                       use_shortcut=shortcut)
                for i in range(depth)]))
        self.stages = nn.LayerList(stages)
        self.last_conv = nn.Conv2D(_make_divisible(_STAGES[-1][0] * 2 * scale), class_expand, 1, bias_attr=False)
        self.dropout = nn.Dropout(p=dropout_prob, mode="downscale_in_infer")
        self.fc = nn.Linear(class_expand, num_classes)
        if use_temporal_att:
            self.global_attention = _GlobalAttention(num_seg)

    def rep(self) -> None:
        """Fuse the depthwise branches of every rep block (what PaddleVideo's export does); optional here."""
        for layer in self.sublayers():
            if isinstance(layer, _RepDepthwiseSeparable):
                layer.rep()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.stem(x)
        for i, stage in enumerate(self.stages):
            if i == 2:  # attention and TSM only before stage 3
                if self.use_temporal_att:
                    x = self.global_attention(x)
                x = F.temporal_shift(x, self.num_seg, 1.0 / self.num_seg)
            x = stage(x)
        x = F.relu(self.last_conv(F.adaptive_avg_pool2d(x, 1)))
        x = self.dropout(x)  # eval: x * (1 - p)
        x = paddle.mean(paddle.reshape(x, [-1, self.num_seg, self.class_expand]), axis=1)
        return self.fc(x)


@register_architecture("pptsmv2_lcnetv2")
def pptsmv2_lcnetv2(num_classes: int = 400, num_seg: int = 8, use_temporal_att: bool = False) -> Recognizer2D:
    """PP-TSMv2 (PaddleVideo Recognizer2D + PPTSM_v2 + MoViNetHead). Input [N, num_seg, 3, H, W] (T fixed).

    `use_temporal_att=True` is the 16-frame DML student's variant (adds `backbone.global_attention.fc.*`)."""
    return Recognizer2D(PPTSMv2LCNet(num_classes, num_seg, use_temporal_att=use_temporal_att), None,
                        fixed_num_seg=num_seg)
