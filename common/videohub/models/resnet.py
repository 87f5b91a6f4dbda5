"""One ResNet family for the 2D video recognisers: TSN, TSM, PP-TSM, PP-TSN and the VideoTag TSN extractor.

`ResNet` covers both stems and both block layouts that the checkpoints use:

* ``variant="classic"`` — ResNet v1.5 as in PaddleVideo `ResNet`/`ResNetTSM` and the legacy fluid models: a 7x7
  stride-2 stem, stride on the 3x3 conv, a strided 1x1 projection shortcut in the first block of each stage.
  Structured keys: ``conv``, ``res2a`` … ``res5c`` (``res4b1`` … ``res4b22`` for depth 101/152).
* ``variant="vd"`` — ResNet-vd ("bag of tricks" C+D) as in PaddleVideo `ResNetTweaksTSM`/`ResNetTweaksTSN`: a stem
  of three 3x3 convs (3→32 s2, 32→32, 32→64) and, in the first block of stages 3-5, a 2x2 stride-2 average pool
  (ceil mode) before a stride-1 1x1 projection. Structured keys: ``conv1_1``…``conv1_3``, ``bb_<stage>_<i>``.

Options: ``act`` ("relu" or "leaky_relu", slope 0.01, used after every BN with activation and after the residual
add), ``num_seg`` (temporal shift of 1/num_seg channels each way on the residual-branch input of every bottleneck,
TSM style; ``None`` = no shift) and ``in_channels`` (15 for StNet's super-images).

Every conv/BN also carries its fluid parameter name (``conv1_weights``, ``bn_conv1_scale``, ``bn2a_branch2a_mean``,
``res4b22_branch2c_weights`` …), so the same network loads PaddleVideo checkpoints by structured key and legacy fluid
pickles by parameter name (``load_into(..., use_structured_name=False)``). Build networks inside
``paddle.utils.unique_name.guard()`` (``build_network`` does) because parameter names are global in dygraph.
"""
from __future__ import annotations

from typing import List, Optional, Tuple, Union

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import ParamAttr
from paddle.static import InputSpec

from videohub.models import register_architecture

_STAGE_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
_STAGE_WIDTHS = (64, 128, 256, 512)
_ACTS = ("relu", "leaky_relu")


def apply_activation(x: paddle.Tensor, act: Optional[str]) -> paddle.Tensor:
    if act is None:
        return x
    if act == "relu":
        return F.relu(x)
    if act == "leaky_relu":
        return F.leaky_relu(x, negative_slope=0.01)
    raise ValueError(f"unknown activation {act!r}")


def dim(x: paddle.Tensor, axis: int) -> Union[int, paddle.Tensor]:
    """Size of `x` along `axis`: an int when known, else a 0-D tensor (dynamic dimension under to_static)."""
    size = x.shape[axis]
    if isinstance(size, int) and size >= 0:
        return size
    return paddle.shape(x)[axis]


def fluid_bn(channels: int, name: str, act: Optional[str] = None) -> nn.BatchNorm:
    """BatchNorm (eps 1e-5) whose four tensors are named like fluid's: <name>_scale/_offset/_mean/_variance.

    Structured keys are the usual ``weight``, ``bias``, ``_mean``, ``_variance``.
    """
    return nn.BatchNorm(channels, act=act,
                        param_attr=ParamAttr(name=name + "_scale"),
                        bias_attr=ParamAttr(name=name + "_offset"),
                        moving_mean_name=name + "_mean",
                        moving_variance_name=name + "_variance")


class ConvBN(nn.Layer):
    """[avg-pool 2x2 s2 (ResNet-D shortcut)] → conv (no bias) → BN → [activation].

    ``name`` is the fluid conv name (``res2a_branch2a``); the BN is ``bn2a_branch2a`` (``bn_conv1`` for the stem).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 act: Optional[str] = None, name: str = "conv", avg_down: bool = False):
        super().__init__()
        self.avg_down = avg_down
        self.act = act
        self._conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                               padding=(kernel_size - 1) // 2,
                               weight_attr=ParamAttr(name=name + "_weights"), bias_attr=False)
        bn_name = "bn_" + name if name == "conv1" else "bn" + name[3:]
        self._batch_norm = fluid_bn(out_channels, bn_name)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if self.avg_down:
            x = F.avg_pool2d(x, kernel_size=2, stride=2, padding=0, ceil_mode=True)
        return apply_activation(self._batch_norm(self._conv(x)), self.act)


class Bottleneck(nn.Layer):
    """1x1 → 3x3 (stride) → 1x1 (x4) residual block, optional TSM shift of the branch input."""

    def __init__(self, in_channels: int, width: int, stride: int, project: bool, name: str,
                 act: str = "relu", avg_down_shortcut: bool = False, num_seg: Optional[int] = None):
        super().__init__()
        self.act = act
        self.num_seg = num_seg
        self.conv0 = ConvBN(in_channels, width, 1, act=act, name=name + "_branch2a")
        self.conv1 = ConvBN(width, width, 3, stride=stride, act=act, name=name + "_branch2b")
        self.conv2 = ConvBN(width, width * 4, 1, act=None, name=name + "_branch2c")
        self.has_short = project
        if project:
            if avg_down_shortcut:
                # ResNet-D: the pool does the down-sampling, the projection is stride 1.
                self.short = ConvBN(in_channels, width * 4, 1, stride=1, name=name + "_branch1",
                                    avg_down=stride != 1)
            else:
                self.short = ConvBN(in_channels, width * 4, 1, stride=stride, name=name + "_branch1")

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = x
        if self.num_seg:
            y = F.temporal_shift(y, self.num_seg, 1.0 / self.num_seg)
        y = self.conv2(self.conv1(self.conv0(y)))
        short = self.short(x) if self.has_short else x
        return apply_activation(paddle.add(short, y), self.act)


class ResNet(nn.Layer):
    """ResNet-50/101/152 trunk (no pooling, no classifier): [B, in_channels, H, W] → [B, 2048, H/32, W/32].

    Args:
        depth: 50, 101 or 152.
        variant: "classic" (7x7 stem, strided projection shortcut) or "vd" (3-conv stem, avg-pool shortcut).
        act: "relu" or "leaky_relu".
        num_seg: frames per clip for the TSM temporal shift (None: no shift). The input batch must hold
            whole clips of exactly num_seg frames when it is set.
        in_channels: input channels (3; 15 for StNet).
    """

    def __init__(self, depth: int = 50, variant: str = "classic", act: str = "relu",
                 num_seg: Optional[int] = None, in_channels: int = 3):
        super().__init__()
        if depth not in _STAGE_DEPTHS:
            raise ValueError(f"ResNet depth must be one of {sorted(_STAGE_DEPTHS)}, got {depth}")
        if variant not in ("classic", "vd"):
            raise ValueError(f"ResNet variant must be 'classic' or 'vd', got {variant!r}")
        if act not in _ACTS:
            raise ValueError(f"ResNet act must be one of {_ACTS}, got {act!r}")
        self.depth, self.variant, self.act, self.num_seg = depth, variant, act, num_seg
        if variant == "classic":
            self.conv = ConvBN(in_channels, 64, 7, stride=2, act=act, name="conv1")
            self._stem = [self.conv]
        else:
            self.conv1_1 = ConvBN(in_channels, 32, 3, stride=2, act=act, name="conv1_1")
            self.conv1_2 = ConvBN(32, 32, 3, stride=1, act=act, name="conv1_2")
            self.conv1_3 = ConvBN(32, 64, 3, stride=1, act=act, name="conv1_3")
            self._stem = [self.conv1_1, self.conv1_2, self.conv1_3]

        self.stages: List[List[Bottleneck]] = []
        channels = 64
        for s, (n_blocks, width) in enumerate(zip(_STAGE_DEPTHS[depth], _STAGE_WIDTHS)):
            stage = []
            for i in range(n_blocks):
                fluid_name = self.fluid_block_name(depth, s, i)
                block = Bottleneck(channels if i == 0 else width * 4, width,
                                   stride=2 if (i == 0 and s > 0) else 1, project=i == 0,
                                   name=fluid_name, act=act, avg_down_shortcut=variant == "vd",
                                   num_seg=num_seg)
                key = fluid_name if variant == "classic" else f"bb_{s}_{i}"
                self.add_sublayer(key, block)
                stage.append(block)
            channels = width * 4
            self.stages.append(stage)
        self.out_channels = channels

    @staticmethod
    def fluid_block_name(depth: int, stage: int, index: int) -> str:
        if depth >= 101 and stage == 2:
            return "res4a" if index == 0 else f"res4b{index}"
        return f"res{stage + 2}{chr(ord('a') + index)}"

    def stem(self, x: paddle.Tensor) -> paddle.Tensor:
        for layer in self._stem:
            x = layer(x)
        return F.max_pool2d(x, kernel_size=3, stride=2, padding=1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            for block in stage:
                x = block(x)
        return x


class ClipHead(nn.Layer):
    """Global average pool per frame, then either

    * ``consensus="feature"``: mean of the frame features over T, then FC (TSNHead, ppTSMHead, ppTSNHead), or
    * ``consensus="logits"``: FC per frame, then mean of the frame logits over T (TSMHead).

    Dropout is identity in eval mode (PaddleVideo uses upscale-in-train dropout). Keys: ``fc.weight`` [in, classes],
    ``fc.bias``.
    """

    def __init__(self, in_channels: int = 2048, num_classes: int = 400, consensus: str = "feature",
                 drop_ratio: float = 0.5):
        super().__init__()
        if consensus not in ("feature", "logits"):
            raise ValueError(f"consensus must be 'feature' or 'logits', got {consensus!r}")
        self.consensus = consensus
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.dropout = nn.Dropout(p=drop_ratio) if drop_ratio else None
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: paddle.Tensor, num_seg) -> paddle.Tensor:
        x = paddle.mean(x, axis=[2, 3])  # [B*T, C]
        if self.dropout is not None:
            x = self.dropout(x)
        if self.consensus == "feature":
            x = paddle.mean(paddle.reshape(x, [-1, num_seg, self.in_channels]), axis=1)
            return self.fc(x)
        score = self.fc(x)
        return paddle.mean(paddle.reshape(score, [-1, num_seg, self.num_classes]), axis=1)


class Recognizer2D(nn.Layer):
    """[N, T, 3, H, W] frames → [N, num_classes] logits (no softmax), as PaddleVideo's Recognizer2D in infer mode.

    ``fixed_num_seg``: the frame count the backbone's temporal shift needs (TSM, PP-TSM); ``None`` when any T
    works (TSN, PP-TSN average over the frames).
    """

    input_names = ("imgs",)
    output_names = ("output",)

    def __init__(self, backbone: nn.Layer, head: Optional[ClipHead], fixed_num_seg: Optional[int] = None):
        super().__init__()
        self.backbone = backbone
        self.head = head  # None: the backbone ends in its own classifier (PP-TSM MobileNets, MoViNetHead)
        self.fixed_num_seg = fixed_num_seg

    def input_spec(self, size: Optional[int] = None) -> list:
        """InputSpec for export: dynamic batch, dynamic T unless the backbone shifts over a fixed T."""
        return [InputSpec([None, self.fixed_num_seg, 3, size, size], "float32", "imgs")]

    @property
    def head_keys(self) -> Tuple[str, ...]:
        """The classifier layer (re-initialised for a new label set): the head's FC or the backbone's own."""
        if self.head is None:
            return tuple(f"backbone.{k}" for k in self.backbone.head_keys)
        return ("head.fc",)

    def forward(self, imgs: paddle.Tensor) -> paddle.Tensor:
        num_seg = dim(imgs, 1)
        x = paddle.flatten(imgs, 0, 1)  # [N*T, 3, H, W]
        if self.head is None:
            return self.backbone(x)
        return self.head(self.backbone(x), num_seg)


class FrameFeatureExtractor(nn.Layer):
    """VideoTag TSN: [N, T, 3, H, W] → globally average-pooled ResNet features [N, T, 2048] (no classifier)."""

    input_names = ("image",)
    output_names = ("output",)

    def __init__(self, backbone: ResNet):
        super().__init__()
        self.backbone = backbone

    def input_spec(self, size: Optional[int] = None) -> list:
        return [InputSpec([None, None, 3, size, size], "float32", "image")]

    def forward(self, image: paddle.Tensor) -> paddle.Tensor:
        num_seg = dim(image, 1)
        feat = paddle.mean(self.backbone(paddle.flatten(image, 0, 1)), axis=[2, 3])
        return paddle.reshape(feat, [-1, num_seg, self.backbone.out_channels])


# --------------------------------------------------------------------------------------------------- builders
@register_architecture("tsn_r50")
def tsn_r50(num_classes: int = 400, depth: int = 50) -> Recognizer2D:
    """PaddleVideo TSN: ResNet (classic) + TSNHead (mean of frame features, then FC). Any number of frames."""
    return Recognizer2D(ResNet(depth, "classic", "relu"),
                        ClipHead(2048, num_classes, consensus="feature", drop_ratio=0.4))


@register_architecture("tsm_r50")
def tsm_r50(num_classes: int = 400, num_seg: int = 8, depth: int = 50) -> Recognizer2D:
    """PaddleVideo TSM: ResNetTSM (classic + temporal shift 1/num_seg) + TSMHead (mean of frame logits)."""
    return Recognizer2D(ResNet(depth, "classic", "relu", num_seg=num_seg),
                        ClipHead(2048, num_classes, consensus="logits", drop_ratio=0.5),
                        fixed_num_seg=num_seg)


@register_architecture("pptsm_r50")
def pptsm_r50(num_classes: int = 400, num_seg: int = 8, depth: int = 50) -> Recognizer2D:
    """PP-TSM: ResNetTweaksTSM (vd, leaky ReLU, shift 1/num_seg) + ppTSMHead. depth=101 for the R101 dense model.

    Under oneDNN, paddle 3.3.1's ``conv_activation_onednn_fuse_pass`` segfaults on its conv + leaky ReLU; every
    Paddle predictor switches that one pass off when its graph has conv2d + leaky ReLU and keeps oneDNN
    (``videohub.runtime.engines.paddle_inference.broken_onednn_passes``).
    """
    return Recognizer2D(ResNet(depth, "vd", "leaky_relu", num_seg=num_seg),
                        ClipHead(2048, num_classes, consensus="feature", drop_ratio=0.5),
                        fixed_num_seg=num_seg)


@register_architecture("pptsn_r50")
def pptsn_r50(num_classes: int = 400, depth: int = 50) -> Recognizer2D:
    """PP-TSN: ResNetTweaksTSN (vd, ReLU, no shift) + ppTSNHead (mean of frame features, then FC). Any T."""
    return Recognizer2D(ResNet(depth, "vd", "relu"),
                        ClipHead(2048, num_classes, consensus="feature", drop_ratio=0.4))


@register_architecture("videotag_tsn_r101")
def videotag_tsn_r101(depth: int = 101) -> FrameFeatureExtractor:
    """VideoTag TSN feature extractor (classic ResNet-101, fluid parameter names; load with
    ``use_structured_name=False``)."""
    return FrameFeatureExtractor(ResNet(depth, "classic", "relu"))
