"""SlowFast ResNet-50 (Feichtenhofer et al., 2019) as PaddleVideo's `ResNetSlowFast` + `SlowFastHead`.

Two pathways share the ResNet-50 layout: a Slow pathway (T/alpha frames, 64..2048 channels) and a Fast pathway (T frames,
1/beta of the channels). After the stem and after stages 2-4 a lateral connection (conv (k,1,1), temporal stride alpha,
2x the fast channels, BN, ReLU) is concatenated to the Slow features. Temporal kernels of the first bottleneck conv:
stem slow 1 / fast 5, res2-res3 slow 1 / fast 3, res4-res5 3 / 3; spatial stride sits on the 3x3 conv. Batch norm
epsilon 1e-5. Attribute names reproduce PaddleVideo's structured keys (`backbone.s2.pathway0_res0.branch2.a_bn._mean`,
`head.projection.weight` ...) so an official `.pdparams` loads without renaming.

Head: per-pathway average pooling with kernel [num_frames/alpha | num_frames, crop/32, crop/32] and stride 1 (or a
global average when `multigrid_short`), concat (2048 + 256 channels), Linear to the classes applied at every remaining
position. In eval mode PaddleVideo softmaxes each position and averages the probabilities; that is `output`. The
pre-softmax projection `[N, T', H', W', classes]` is returned as `logits_projection`, since on random or confident
weights the probabilities saturate and hide differences.

Variants (builder kwargs):
  * 4x16 (`slowfast.yaml`, the default): alpha 8, beta 8, fusion_kernel_size 5, num_frames 32, crop_size 224.
  * 8x8 multigrid (`slowfast_multigrid.yaml`): alpha 4, fusion_kernel_size 7 and, as that yaml declares,
    multigrid_short=True (the head averages globally); see `MULTIGRID_8X8`.
`crop_size` only sets the head's spatial pooling kernel (crop // 32). PaddleVideo's exported model keeps the yaml value
224 (kernel 7) while its predictor feeds 256x256 crops, so an 8x8 map is pooled to 2x2 positions whose softmaxes are
averaged; build with crop_size=224 to reproduce that and with crop_size=256 for a single global position.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from videohub.models import register_architecture

_BN_EPS = 1e-5
_STAGE_BLOCKS = {50: (3, 4, 6, 3)}
# Temporal kernel of conv `a` in every block of stages 2..5, (slow, fast).
_STAGE_TEMPORAL_KERNELS = ((1, 3), (1, 3), (3, 3), (3, 3))
_STAGE_SPATIAL_STRIDES = (1, 2, 2, 2)

# Builder kwargs of PaddleVideo's slowfast_multigrid.yaml (SlowFast 8x8, "SlowFast_8*8.pdparams").
MULTIGRID_8X8 = {"alpha": 4, "beta": 8, "fusion_kernel_size": 7, "num_frames": 32, "multigrid_short": True}


def _bn(channels: int) -> nn.BatchNorm3D:
    return nn.BatchNorm3D(channels, epsilon=_BN_EPS)


class Bottleneck(nn.Layer):
    """Conv (t,1,1) -> BN -> ReLU -> conv (1,3,3) stride s -> BN -> ReLU -> conv 1x1x1 -> BN (no ReLU)."""

    def __init__(self, in_channels: int, out_channels: int, inner_channels: int, temporal_kernel: int,
                 stride: int):
        super().__init__()
        self.a = nn.Conv3D(in_channels, inner_channels, (temporal_kernel, 1, 1),
                           padding=(temporal_kernel // 2, 0, 0), bias_attr=False)
        self.a_bn = _bn(inner_channels)
        self.b = nn.Conv3D(inner_channels, inner_channels, (1, 3, 3), stride=(1, stride, stride),
                           padding=(0, 1, 1), bias_attr=False)
        self.b_bn = _bn(inner_channels)
        self.c = nn.Conv3D(inner_channels, out_channels, 1, bias_attr=False)
        self.c_bn = _bn(out_channels)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = F.relu(self.a_bn(self.a(x)))
        x = F.relu(self.b_bn(self.b(x)))
        return self.c_bn(self.c(x))


class ResBlock(nn.Layer):
    """Bottleneck residual block; `branch1` (1x1x1 conv + BN) projects the shortcut when shape changes."""

    def __init__(self, in_channels: int, out_channels: int, inner_channels: int, temporal_kernel: int,
                 stride: int):
        super().__init__()
        self.has_projection = in_channels != out_channels or stride != 1
        if self.has_projection:
            self.branch1 = nn.Conv3D(in_channels, out_channels, 1, stride=(1, stride, stride), bias_attr=False)
            self.branch1_bn = _bn(out_channels)
        self.branch2 = Bottleneck(in_channels, out_channels, inner_channels, temporal_kernel, stride)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        shortcut = self.branch1_bn(self.branch1(x)) if self.has_projection else x
        return F.relu(shortcut + self.branch2(x))


class ResStage(nn.Layer):
    """One ResNet stage for both pathways; blocks are named `pathway{p}_res{i}`."""

    def __init__(self, in_channels: Sequence[int], out_channels: Sequence[int], inner_channels: Sequence[int],
                 temporal_kernels: Sequence[int], num_blocks: int, stride: int):
        super().__init__()
        self.num_blocks = num_blocks
        for p in range(2):
            for i in range(num_blocks):
                block = ResBlock(in_channels[p] if i == 0 else out_channels[p], out_channels[p],
                                 inner_channels[p], temporal_kernels[p], stride if i == 0 else 1)
                self.add_sublayer(f"pathway{p}_res{i}", block)

    def forward(self, slow: paddle.Tensor, fast: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor]:
        outs = []
        for p, x in enumerate((slow, fast)):
            for i in range(self.num_blocks):
                x = getattr(self, f"pathway{p}_res{i}")(x)
            outs.append(x)
        return outs[0], outs[1]


class StemPath(nn.Layer):
    """Conv (t,7,7) stride (1,2,2) -> BN -> ReLU -> max-pool (1,3,3) stride (1,2,2) pad (0,1,1)."""

    def __init__(self, in_channels: int, out_channels: int, temporal_kernel: int):
        super().__init__()
        self._conv = nn.Conv3D(in_channels, out_channels, (temporal_kernel, 7, 7), stride=(1, 2, 2),
                               padding=(temporal_kernel // 2, 3, 3), bias_attr=False)
        self._bn = _bn(out_channels)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = F.relu(self._bn(self._conv(x)))
        return F.max_pool3d(x, kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))


class Stem(nn.Layer):
    def __init__(self, in_channels: int, slow_channels: int, fast_channels: int):
        super().__init__()
        self.pathway0_stem = StemPath(in_channels, slow_channels, 1)
        self.pathway1_stem = StemPath(in_channels, fast_channels, 5)

    def forward(self, slow: paddle.Tensor, fast: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor]:
        return self.pathway0_stem(slow), self.pathway1_stem(fast)


class FuseFastToSlow(nn.Layer):
    """Lateral connection: conv (k,1,1) stride (alpha,1,1) on Fast -> BN -> ReLU, concatenated to Slow."""

    def __init__(self, fast_channels: int, channel_ratio: int, kernel_size: int, alpha: int):
        super().__init__()
        self._conv_f2s = nn.Conv3D(fast_channels, fast_channels * channel_ratio, (kernel_size, 1, 1),
                                   stride=(alpha, 1, 1), padding=(kernel_size // 2, 0, 0), bias_attr=False)
        self._bn = _bn(fast_channels * channel_ratio)

    def forward(self, slow: paddle.Tensor, fast: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor]:
        lateral = F.relu(self._bn(self._conv_f2s(fast)))
        return paddle.concat([slow, lateral], axis=1), fast


class ResNetSlowFast(nn.Layer):
    """Backbone; returns the Slow (N x 2048 x T/alpha x H/32 x W/32) and Fast (N x 256 x T x ...) feature maps."""

    def __init__(self, alpha: int = 8, beta: int = 8, depth: int = 50, width_per_group: int = 64,
                 fusion_conv_channel_ratio: int = 2, fusion_kernel_size: int = 5, in_channels: int = 3):
        super().__init__()
        if depth not in _STAGE_BLOCKS:
            raise ValueError(f"SlowFast depth {depth} is not supported (only {sorted(_STAGE_BLOCKS)})")
        w, ratio = width_per_group, fusion_conv_channel_ratio
        self.s1 = Stem(in_channels, w, w // beta)
        self.s1_fuse = FuseFastToSlow(w // beta, ratio, fusion_kernel_size, alpha)
        slow_in, fast_in = w + (w // beta) * ratio, w // beta
        for s, (blocks, kernels, stride) in enumerate(
                zip(_STAGE_BLOCKS[depth], _STAGE_TEMPORAL_KERNELS, _STAGE_SPATIAL_STRIDES)):
            out = w * 4 * 2 ** s
            inner = w * 2 ** s
            stage = ResStage((slow_in, fast_in), (out, out // beta), (inner, inner // beta), kernels, blocks, stride)
            self.add_sublayer(f"s{s + 2}", stage)
            if s < 3:  # lateral connections after s2, s3, s4 (none after s5)
                self.add_sublayer(f"s{s + 2}_fuse", FuseFastToSlow(out // beta, ratio, fusion_kernel_size, alpha))
                slow_in, fast_in = out + (out // beta) * ratio, out // beta
        self.out_channels = (w * 32, w * 32 // beta)

    def forward(self, slow: paddle.Tensor, fast: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor]:
        slow, fast = self.s1(slow, fast)
        slow, fast = self.s1_fuse(slow, fast)
        # PaddleVideo max-pools both pathways after s2_fuse with kernel = stride = pool_size_ratio = (1, 1, 1):
        # an identity, left out here.
        for name in ("s2", "s2_fuse", "s3", "s3_fuse", "s4", "s4_fuse", "s5"):
            slow, fast = getattr(self, name)(slow, fast)
        return slow, fast


class SlowFastHead(nn.Layer):
    """Pool each pathway, concat, dropout, Linear per position; eval: softmax per position then mean."""

    def __init__(self, in_channels: Sequence[int], num_classes: int, pool_sizes: Sequence[Sequence[int]] = None,
                 dropout_rate: float = 0.5):
        super().__init__()
        self.pool_sizes = None if pool_sizes is None else [tuple(int(k) for k in p) for p in pool_sizes]
        self.dropout = nn.Dropout(p=dropout_rate)
        self.projection = nn.Linear(sum(in_channels), num_classes)

    def forward(self, slow: paddle.Tensor, fast: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor]:
        pooled = []
        for p, x in enumerate((slow, fast)):
            if self.pool_sizes is None:
                pooled.append(F.adaptive_avg_pool3d(x, output_size=1))
            else:
                pooled.append(F.avg_pool3d(x, kernel_size=self.pool_sizes[p], stride=1))
        x = paddle.transpose(paddle.concat(pooled, axis=1), perm=(0, 2, 3, 4, 1))  # N, T', H', W', C
        x = self.dropout(x)
        logits = self.projection(x)
        if self.training:
            return paddle.flatten(logits, start_axis=1), logits
        probs = paddle.mean(F.softmax(logits, axis=4), axis=[1, 2, 3])
        return probs, logits


class SlowFast(nn.Layer):
    """Recognizer: `forward(slow_input, fast_input) -> (output, logits_projection)`.

    slow_input: N x 3 x num_frames/alpha x S x S, fast_input: N x 3 x num_frames x S x S (normalised RGB).
    output: N x classes probabilities (eval); logits_projection: N x T' x H' x W' x classes (pre-softmax).
    """

    input_names = ("slow_input", "fast_input")
    output_names = ("output", "logits_projection")
    head_keys = ("head.projection",)  # classifier layer (videohub.train.trainer)
    logits_output = 0  # in training mode the head returns the flattened logits first

    def __init__(self, num_classes: int = 400, alpha: int = 8, beta: int = 8, depth: int = 50,
                 width_per_group: int = 64, fusion_kernel_size: int = 5, num_frames: int = 32,
                 crop_size: int = 224, dropout_rate: float = 0.5, multigrid_short: bool = False):
        super().__init__()
        self.alpha, self.num_frames, self.crop_size = alpha, num_frames, crop_size
        self.backbone = ResNetSlowFast(alpha=alpha, beta=beta, depth=depth, width_per_group=width_per_group,
                                       fusion_kernel_size=fusion_kernel_size)
        pool_sizes = None if multigrid_short else [
            (num_frames // alpha, crop_size // 32, crop_size // 32),
            (num_frames, crop_size // 32, crop_size // 32),
        ]
        self.head = SlowFastHead(self.backbone.out_channels, num_classes, pool_sizes, dropout_rate)

    def forward(self, slow_input: paddle.Tensor, fast_input: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor]:
        slow, fast = self.backbone(slow_input, fast_input)
        return self.head(slow, fast)

    def input_spec(self, size: int = None) -> List[paddle.static.InputSpec]:
        """InputSpecs for `paddle.jit.to_static`: dynamic batch, fixed frame counts, spatial size `size` (None = any)."""
        s = size
        return [
            paddle.static.InputSpec([None, 3, self.num_frames // self.alpha, s, s], "float32", self.input_names[0]),
            paddle.static.InputSpec([None, 3, self.num_frames, s, s], "float32", self.input_names[1]),
        ]


@register_architecture("slowfast_r50")
def slowfast_r50(num_classes: int = 400, alpha: int = 8, beta: int = 8, fusion_kernel_size: int = 5,
                 num_frames: int = 32, crop_size: int = 224, multigrid_short: bool = False,
                 width_per_group: int = 64, dropout_rate: float = 0.5) -> SlowFast:
    """SlowFast-R50. Defaults = 4x16 (`slowfast.yaml`); `**MULTIGRID_8X8` gives the 8x8 multigrid variant."""
    return SlowFast(num_classes=num_classes, alpha=alpha, beta=beta, depth=50, width_per_group=width_per_group,
                    fusion_kernel_size=fusion_kernel_size, num_frames=num_frames, crop_size=crop_size,
                    dropout_rate=dropout_rate, multigrid_short=multigrid_short)
