"""StNet (He et al., 2019), the legacy fluid model of PaddlePaddle/models `PaddleCV/video/models/stnet`, in dygraph.

Input ``image`` [N, T, 3*seglen, H, W]: each of the T segments is a "super-image" of seglen consecutive RGB frames
stacked along channels. The trunk is the shared classic ResNet (`videohub.models.resnet.ResNet`, 15 input
channels) with a temporal block after res3 and after res4:

    [N*T, C, H, W] → [N, C, T, H, W] → conv3d (3,1,1) pad (1,0,0) + bias → ReLU → BN → + input → back to [N*T, C, H, W]

After global average pooling the [N, 2048, T, 1] features go through the temporal Xception block
(BN → depthwise (3,1) conv → 1x1 conv to 1024 → BN+ReLU → depthwise (3,1) → 1x1; shortcut 1x1 conv from the first
BN output; add → BN → ReLU), a max over T, and FC 1024→classes with softmax. Outputs: (softmax, pre-softmax logits).

Parameters carry the fluid names of the original program (``conv1_weights`` [64,15,7,7], ``conv3d_0.w_0``,
``batch_norm_24.w_0`` …, ``xception_*``, ``fc_0.w_0``), so official ``STNET.pdparams`` files load with
``load_into(net, state, use_structured_name=False)``. The auto-generated BN names depend on the fluid name counter:
``batch_norm_<k>`` where k counts the batch norms created before (24 and 44 for ResNet-50).
"""
from __future__ import annotations

from typing import Optional, Tuple

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import ParamAttr
from paddle.static import InputSpec

from videohub.models import register_architecture
from videohub.models.resnet import ResNet, dim


def _auto_bn(channels: int, prefix: str, act: Optional[str] = None) -> nn.BatchNorm:
    """BN named like an unnamed fluid `batch_norm`: <prefix>.w_0 (scale), .b_0, .w_1 (mean), .w_2 (variance)."""
    return nn.BatchNorm(channels, act=act,
                        param_attr=ParamAttr(name=prefix + ".w_0"),
                        bias_attr=ParamAttr(name=prefix + ".b_0"),
                        moving_mean_name=prefix + ".w_1",
                        moving_variance_name=prefix + ".w_2")


def _conv_attrs(prefix: str):
    return dict(weight_attr=ParamAttr(name=prefix + ".w_0"), bias_attr=ParamAttr(name=prefix + ".b_0"))


class TemporalConvBN(nn.Layer):
    """Residual temporal block on [N*T, C, H, W] frames: conv3d (3,1,1) + ReLU → BN → + input."""

    def __init__(self, channels: int, conv_name: str, bn_name: str):
        super().__init__()
        self.conv = nn.Conv3D(channels, channels, (3, 1, 1), stride=1, padding=(1, 0, 0),
                              **_conv_attrs(conv_name))
        self.bn = _auto_bn(channels, bn_name)

    def forward(self, x: paddle.Tensor, num_seg) -> paddle.Tensor:
        shape = paddle.shape(x)  # [N*T, C, H, W]
        c = x.shape[1]
        v = paddle.reshape(x, [-1, num_seg, c, shape[2], shape[3]])
        v = paddle.transpose(v, [0, 2, 1, 3, 4])  # [N, C, T, H, W]
        y = self.bn(F.relu(self.conv(v))) + v
        y = paddle.transpose(y, [0, 2, 1, 3, 4])
        return paddle.reshape(y, [-1, c, shape[2], shape[3]])


class TemporalXception(nn.Layer):
    """The temporal Xception block on [N, C, T, 1] segment features → [N, out_channels, T, 1]."""

    def __init__(self, in_channels: int = 2048, out_channels: int = 1024):
        super().__init__()
        self.bn = _auto_bn(in_channels, "xception_bn")
        self.att_conv = nn.Conv2D(in_channels, in_channels, (3, 1), padding=(1, 0), groups=in_channels,
                                  **_conv_attrs("xception_att_conv"))
        self.att_2 = nn.Conv2D(in_channels, out_channels, 1, **_conv_attrs("xception_att_2"))
        self.bndw = _auto_bn(out_channels, "xception_bndw", act="relu")
        self.att1 = nn.Conv2D(out_channels, out_channels, (3, 1), padding=(1, 0), groups=out_channels,
                              **_conv_attrs("xception_att1"))
        self.att1_2 = nn.Conv2D(out_channels, out_channels, 1, **_conv_attrs("xception_att1_2"))
        self.dw = nn.Conv2D(in_channels, out_channels, 1, **_conv_attrs("xception_dw"))
        self.bn2 = _auto_bn(out_channels, "xception_bn2")

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        bn = self.bn(x)
        branch = self.att1_2(self.att1(self.bndw(self.att_2(self.att_conv(bn)))))
        return F.relu(self.bn2(self.dw(bn) + branch))


class StNet(nn.Layer):
    """[N, T, 3*seglen, H, W] super-images → (softmax [N, classes], logits [N, classes]). Any T (≥ 1), any H, W."""

    input_names = ("image",)
    output_names = ("output", "logits_fc_0")
    head_keys = ("fc",)  # classifier layer (videohub.train.trainer); logits_output: which output is pre-softmax
    logits_output = 1

    def __init__(self, num_classes: int = 400, depth: int = 50, seglen: int = 5):
        super().__init__()
        self.seglen = seglen
        self.backbone = ResNet(depth, "classic", "relu", in_channels=3 * seglen)
        # fluid names auto-generated BNs by a global counter: the stem BN, then 3 per block + 1 per projection.
        blocks = [len(stage) for stage in self.backbone.stages]
        bn_before_t1 = 1 + sum(3 * n + 1 for n in blocks[:2])
        bn_before_t2 = bn_before_t1 + 1 + 3 * blocks[2] + 1
        self.temporal1 = TemporalConvBN(512, "conv3d_0", f"batch_norm_{bn_before_t1}")
        self.temporal2 = TemporalConvBN(1024, "conv3d_1", f"batch_norm_{bn_before_t2}")
        self.xception = TemporalXception(self.backbone.out_channels, 1024)
        self.fc = nn.Linear(1024, num_classes, **_conv_attrs("fc_0"))

    def input_spec(self, size: Optional[int] = None) -> list:
        return [InputSpec([None, None, 3 * self.seglen, size, size], "float32", "image")]

    def forward(self, image: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor]:
        num_seg = dim(image, 1)
        x = self.backbone.stem(paddle.flatten(image, 0, 1))
        for s, stage in enumerate(self.backbone.stages):
            for block in stage:
                x = block(x)
            if s == 1:
                x = self.temporal1(x, num_seg)
            elif s == 2:
                x = self.temporal2(x, num_seg)
        feat = paddle.mean(x, axis=[2, 3])  # [N*T, 2048]
        feat = paddle.reshape(feat, [-1, num_seg, self.backbone.out_channels, 1])
        feat = paddle.transpose(feat, [0, 2, 1, 3])  # [N, 2048, T, 1]
        out = paddle.max(self.xception(feat), axis=[2, 3])  # [N, 1024]
        logits = self.fc(out)
        return F.softmax(logits, axis=-1), logits


@register_architecture("stnet_r50")
def stnet_r50(num_classes: int = 400, depth: int = 50, seglen: int = 5) -> StNet:
    return StNet(num_classes=num_classes, depth=depth, seglen=seglen)
