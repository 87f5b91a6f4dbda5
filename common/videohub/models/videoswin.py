"""Video Swin Transformer (Liu et al., 2022) as PaddleVideo's `SwinTransformer3D` + `I3DHead`.

Swin-S (`videoswin_small_k400_videos.yaml`): patch [2, 4, 4], embed 96, depths [2, 2, 18, 2], heads [3, 6, 12, 24],
window [8, 7, 7], mlp_ratio 4, qkv bias, qk_scale None (= head_dim^-0.5), patch_norm, LayerNorm epsilon 1e-5.
Swin-B (`videoswin_base_k400_videos.yaml`): embed 128, heads [4, 8, 16, 32], the rest equal. drop_path (0.1 / 0.2
in training) and dropout are identities in eval. Attribute names reproduce PaddleVideo's keys
(`backbone.layers.0.blocks.0.attn.relative_position_bias_table`, `head.fc.weight` ...).

Arithmetic, as in PaddleVideo:
  * PatchEmbed3D: Conv3D kernel = stride = patch, then LayerNorm over channels.
  * Each stage (`BasicLayer`): window and shift clipped per `get_window_size` (a dimension not larger than the
    window takes the whole dimension and no shift); blocks alternate W-MSA / SW-MSA (shift = window // 2, cyclic
    roll, the -100 attention mask between regions); then PatchMerging (x[0::2,0::2], x[1::2,0::2],
    x[0::2,1::2], x[1::2,1::2] concatenated over channels -> LayerNorm -> Linear without bias) except after the
    last stage.
  * Window attention: `(q * scale) @ k^T + bias`, bias = `relative_position_bias_table[relative_position_index]`;
    `relative_position_index` is an int64 buffer that is part of the state dict (checkpoints carry it).
  * Final LayerNorm; I3DHead: AdaptiveAvgPool3D(1) -> (dropout) -> Linear -> logits.
  * RecognizerTransformer.infer_step with avg_type 'prob' on one view: output = softmax(logits).

Outputs: `output` (probabilities, as the original) and `logits_head_fc` (the head's logits). Input: one view of
32 frames per batch row, [N, 3, 32, 224, 224]; the batch is dynamic in the export.

Padding of sizes that are not multiples of the window / of 2 reproduces PaddleVideo's `F.pad` calls literally
(their pad tuples are in NDHWC order W, H, D); at 32 x 224 x 224 no padding happens.
"""
from __future__ import annotations

from functools import lru_cache, reduce
from operator import mul
from typing import List, Sequence, Tuple

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from videohub.models import register_architecture

# Builder kwargs of the two PaddleVideo Kinetics-400 configs.
SWIN_S = {"embed_dim": 96, "depths": (2, 2, 18, 2), "num_heads": (3, 6, 12, 24)}
SWIN_B = {"embed_dim": 128, "depths": (2, 2, 18, 2), "num_heads": (4, 8, 16, 32)}


def get_window_size(x_size: Sequence[int], window_size: Sequence[int], shift_size: Sequence[int]):
    use_window, use_shift = list(window_size), list(shift_size)
    for i, s in enumerate(x_size):
        if s <= window_size[i]:
            use_window[i] = s
            use_shift[i] = 0
    return tuple(use_window), tuple(use_shift)


def relative_position_index(window_size: Sequence[int]) -> np.ndarray:
    """Swin's [N, N] int64 table (N = Wd*Wh*Ww) of relative-position rows into the bias table."""
    wd, wh, ww = window_size
    coords = np.stack(np.meshgrid(np.arange(wd), np.arange(wh), np.arange(ww), indexing="ij"))
    flat = coords.reshape(3, -1)
    rel = (flat[:, :, None] - flat[:, None, :]).transpose(1, 2, 0).astype(np.int64)
    rel[:, :, 0] += wd - 1
    rel[:, :, 1] += wh - 1
    rel[:, :, 2] += ww - 1
    rel[:, :, 0] *= (2 * wh - 1) * (2 * ww - 1)
    rel[:, :, 1] *= 2 * ww - 1
    return rel.sum(-1).astype(np.int64)


def window_partition(x: paddle.Tensor, ws: Sequence[int]) -> paddle.Tensor:
    """[B, D, H, W, C] -> [nW * B, Wd*Wh*Ww, C], windows ordered window-major, batch-minor.

    PaddleVideo orders them batch-major; every window is computed independently, so the order changes no value.
    Window-major lets the shifted-window mask [nW, N, N] be added to [nW, B * heads, N, N] with a broadcast over
    one axis: with PaddleVideo's [B, nW, heads, N, N] + [1, nW, 1, N, N], oneDNN's add (broadcast over two
    axes) took minutes for a batch of 2 on paddle 3.3.1.
    """
    _, d, h, w, c = x.shape
    x = x.reshape([-1, d // ws[0], ws[0], h // ws[1], ws[1], w // ws[2], ws[2], c])
    return x.transpose([1, 3, 5, 0, 2, 4, 6, 7]).reshape([-1, reduce(mul, ws), c])


def window_reverse(windows: paddle.Tensor, ws: Sequence[int], d: int, h: int, w: int) -> paddle.Tensor:
    """[nW * B, Wd*Wh*Ww, C] (window-major, as `window_partition`) -> [B, D, H, W, C]."""
    c = windows.shape[-1]
    x = windows.reshape([d // ws[0], h // ws[1], w // ws[2], -1, ws[0], ws[1], ws[2], c])
    return x.transpose([3, 0, 4, 1, 5, 2, 6, 7]).reshape([-1, d, h, w, c])


@lru_cache(maxsize=None)
def _mask_regions(d: int, h: int, w: int, window_size: Tuple[int, ...], shift_size: Tuple[int, ...]) -> np.ndarray:
    """PaddleVideo `compute_mask`'s region labels per window token, [nW, Wd*Wh*Ww] float32 (numpy: small)."""
    img = np.zeros((1, d, h, w, 1), dtype=np.float32)
    cnt = 0
    for ds in (slice(-window_size[0]), slice(-window_size[0], -shift_size[0]), slice(-shift_size[0], None)):
        for hs in (slice(-window_size[1]), slice(-window_size[1], -shift_size[1]), slice(-shift_size[1], None)):
            for wsl in (slice(-window_size[2]), slice(-window_size[2], -shift_size[2]),
                        slice(-shift_size[2], None)):
                img[:, ds, hs, wsl, :] = cnt
                cnt += 1
    wd, wh, ww = window_size
    img = img.reshape(1, d // wd, wd, h // wh, wh, w // ww, ww, 1).transpose(0, 1, 3, 5, 2, 4, 6, 7)
    return np.ascontiguousarray(img.reshape(-1, wd * wh * ww))


def compute_mask(d: int, h: int, w: int, window_size, shift_size) -> paddle.Tensor:
    """The shifted-window attention mask [nW, N, N]: 0 within a region, -100 across regions."""
    regions = paddle.to_tensor(_mask_regions(d, h, w, tuple(window_size), tuple(shift_size)))
    mask = regions.unsqueeze(1) - regions.unsqueeze(2)
    mask = paddle.where(mask != 0, paddle.full_like(mask, -100.0), mask)
    return paddle.where(mask == 0, paddle.zeros_like(mask), mask)


class Mlp(nn.Layer):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # exact (erf) GELU
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class WindowAttention3D(nn.Layer):
    def __init__(self, dim: int, window_size: Sequence[int], num_heads: int, qkv_bias: bool = True,
                 qk_scale: float = None):
        super().__init__()
        self.window_size = tuple(window_size)
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        wd, wh, ww = self.window_size
        # Parameter, then buffer, then sublayers: PaddleVideo's state-dict order.
        self.relative_position_bias_table = self.create_parameter(
            [(2 * wd - 1) * (2 * wh - 1) * (2 * ww - 1), num_heads],
            default_initializer=nn.initializer.Constant(0.0))
        self.register_buffer("relative_position_index",
                             paddle.to_tensor(relative_position_index(self.window_size)), persistable=True)
        self.qkv = nn.Linear(dim, dim * 3, bias_attr=None if qkv_bias else False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor = None) -> paddle.Tensor:
        n, c = x.shape[1], x.shape[2]
        qkv = self.qkv(x).reshape([-1, n, 3, self.num_heads, c // self.num_heads]).transpose([2, 0, 3, 1, 4])
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = q * self.scale
        attn = paddle.matmul(q, k.transpose([0, 1, 3, 2]))
        index = self.relative_position_index[:n, :n].reshape([-1])
        bias = paddle.gather(self.relative_position_bias_table, index, axis=0).reshape([n, n, -1])
        attn = attn + bias.transpose([2, 0, 1]).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]  # windows are window-major (see window_partition): [nW, B * heads, N, N]
            attn = attn.reshape([nw, -1, n, n]) + mask.unsqueeze(1)
            attn = attn.reshape([-1, self.num_heads, n, n])
        attn = F.softmax(attn, axis=-1)
        x = paddle.matmul(attn, v).transpose([0, 2, 1, 3]).reshape([-1, n, c])
        return self.proj(x)


class SwinTransformerBlock3D(nn.Layer):
    def __init__(self, dim: int, num_heads: int, window_size: Sequence[int], shift_size: Sequence[int],
                 mlp_ratio: float, qkv_bias: bool, qk_scale: float, epsilon: float):
        super().__init__()
        self.window_size, self.shift_size = tuple(window_size), tuple(shift_size)
        self.norm1 = nn.LayerNorm(dim, epsilon=epsilon)
        self.attn = WindowAttention3D(dim, self.window_size, num_heads, qkv_bias, qk_scale)
        self.norm2 = nn.LayerNorm(dim, epsilon=epsilon)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward_part1(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        _, d, h, w, c = x.shape
        window_size, shift_size = get_window_size((d, h, w), self.window_size, self.shift_size)
        x = self.norm1(x)
        pad_d1 = (window_size[0] - d % window_size[0]) % window_size[0]
        pad_b = (window_size[1] - h % window_size[1]) % window_size[1]
        pad_r = (window_size[2] - w % window_size[2]) % window_size[2]
        if pad_d1 or pad_b or pad_r:  # PaddleVideo's call, tuple order as it wrote it
            x = F.pad(x, (0, pad_d1, 0, pad_r, 0, pad_b), data_format="NDHWC")
        _, dp, hp, wp, _ = x.shape
        shifted = any(s > 0 for s in shift_size)
        if shifted:
            x = paddle.roll(x, shifts=(-shift_size[0], -shift_size[1], -shift_size[2]), axis=(1, 2, 3))
        windows = self.attn(window_partition(x, window_size), mask=mask if shifted else None)
        x = window_reverse(windows, window_size, dp, hp, wp)
        if shifted:
            x = paddle.roll(x, shifts=shift_size, axis=(1, 2, 3))
        if pad_d1 > 0 or pad_r > 0 or pad_b > 0:
            x = x[:, :d, :h, :w, :]
        return x

    def forward(self, x: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        x = x + self.forward_part1(x, mask)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Layer):
    def __init__(self, dim: int, epsilon: float):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias_attr=False)
        self.norm = nn.LayerNorm(4 * dim, epsilon=epsilon)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        _, _, h, w, _ = x.shape
        if h % 2 == 1 or w % 2 == 1:  # PaddleVideo's call, tuple order as it wrote it
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2), data_format="NDHWC")
        x0 = x[:, :, 0::2, 0::2, :]
        x1 = x[:, :, 1::2, 0::2, :]
        x2 = x[:, :, 0::2, 1::2, :]
        x3 = x[:, :, 1::2, 1::2, :]
        return self.reduction(self.norm(paddle.concat([x0, x1, x2, x3], axis=-1)))


class BasicLayer(nn.Layer):
    """One stage: `depth` blocks (odd ones shifted) and an optional PatchMerging; [B, C, D, H, W] in and out."""

    def __init__(self, dim: int, depth: int, num_heads: int, window_size: Sequence[int], mlp_ratio: float,
                 qkv_bias: bool, qk_scale: float, epsilon: float, downsample: bool):
        super().__init__()
        self.window_size = tuple(window_size)
        self.shift_size = tuple(i // 2 for i in window_size)
        self.blocks = nn.LayerList([
            SwinTransformerBlock3D(dim, num_heads, self.window_size, (0, 0, 0) if i % 2 == 0 else self.shift_size,
                                   mlp_ratio, qkv_bias, qk_scale, epsilon)
            for i in range(depth)])
        self.downsample = PatchMerging(dim, epsilon) if downsample else None

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        _, c, d, h, w = x.shape
        window_size, shift_size = get_window_size((d, h, w), self.window_size, self.shift_size)
        x = x.transpose([0, 2, 3, 4, 1])
        dp = int(np.ceil(d / window_size[0])) * window_size[0]
        hp = int(np.ceil(h / window_size[1])) * window_size[1]
        wp = int(np.ceil(w / window_size[2])) * window_size[2]
        mask = compute_mask(dp, hp, wp, window_size, shift_size)
        for blk in self.blocks:
            x = blk(x, mask)
        if self.downsample is not None:
            x = self.downsample(x)
        return x.transpose([0, 4, 1, 2, 3])


class PatchEmbed3D(nn.Layer):
    def __init__(self, patch_size: Sequence[int], in_chans: int, embed_dim: int, epsilon: float):
        super().__init__()
        self.patch_size = tuple(patch_size)
        self.embed_dim = embed_dim
        self.proj = nn.Conv3D(in_chans, embed_dim, kernel_size=self.patch_size, stride=self.patch_size)
        self.norm = nn.LayerNorm(embed_dim, epsilon=epsilon)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        _, _, d, h, w = x.shape
        if d % self.patch_size[0] or h % self.patch_size[1] or w % self.patch_size[2]:
            raise ValueError(f"VideoSwin input T x H x W = {d}x{h}x{w} must be a multiple of the patch "
                             f"{self.patch_size}")
        x = self.proj(x)
        d, wh, ww = x.shape[2], x.shape[3], x.shape[4]
        x = self.norm(x.flatten(2).transpose([0, 2, 1]))
        return x.transpose([0, 2, 1]).reshape([-1, self.embed_dim, d, wh, ww])


class SwinTransformer3D(nn.Layer):
    """PaddleVideo `SwinTransformer3D` (eval); returns the normed feature map [B, C, D', H', W']."""

    def __init__(self, patch_size=(2, 4, 4), in_chans: int = 3, embed_dim: int = 96, depths=(2, 2, 18, 2),
                 num_heads=(3, 6, 12, 24), window_size=(8, 7, 7), mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 qk_scale: float = None, epsilon: float = 1e-5):
        super().__init__()
        self.patch_embed = PatchEmbed3D(patch_size, in_chans, embed_dim, epsilon)
        self.layers = nn.LayerList([
            BasicLayer(embed_dim * 2 ** i, depths[i], num_heads[i], window_size, mlp_ratio, qkv_bias, qk_scale,
                       epsilon, downsample=i < len(depths) - 1)
            for i in range(len(depths))])
        self.num_features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = nn.LayerNorm(self.num_features, epsilon=epsilon)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        x = self.norm(x.transpose([0, 2, 3, 4, 1]))
        return x.transpose([0, 4, 1, 2, 3])


class I3DHead(nn.Layer):
    """PaddleVideo `I3DHead` (spatial_type 'avg'): AdaptiveAvgPool3D(1) -> dropout (eval: identity) -> Linear."""

    def __init__(self, num_classes: int, in_channels: int, drop_ratio: float = 0.5):
        super().__init__()
        self.dropout = nn.Dropout(p=drop_ratio) if drop_ratio else None
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = F.adaptive_avg_pool3d(x, output_size=(1, 1, 1))
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc(x.reshape([-1, x.shape[1]]))


class VideoSwin(nn.Layer):
    """Recognizer: `forward(imgs) -> (output, logits_head_fc)`; imgs [N, 3, 32, 224, 224], one view per row.

    output: softmax of the logits (PaddleVideo infer_step, avg_type 'prob', one view); logits_head_fc: the
    head's logits (`logits_output` = 1, in training as in eval).
    """

    input_names = ("imgs",)
    output_names = ("output", "logits_head_fc")
    head_keys = ("head.fc",)
    logits_output = 1

    def __init__(self, num_classes: int = 400, num_frames: int = 32, crop_size: int = 224,
                 patch_size=(2, 4, 4), embed_dim: int = 96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24),
                 window_size=(8, 7, 7), mlp_ratio: float = 4.0, drop_ratio: float = 0.5):
        super().__init__()
        self.num_frames, self.crop_size = num_frames, crop_size
        self.backbone = SwinTransformer3D(patch_size=patch_size, embed_dim=embed_dim, depths=depths,
                                          num_heads=num_heads, window_size=window_size, mlp_ratio=mlp_ratio)
        self.head = I3DHead(num_classes, self.backbone.num_features, drop_ratio)

    def forward(self, imgs: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor]:
        logits = self.head(self.backbone(imgs))
        return F.softmax(logits, axis=-1), logits

    def input_spec(self) -> List[paddle.static.InputSpec]:
        """Dynamic batch; frames and crop size fixed (the attention windows and masks depend on them)."""
        return [paddle.static.InputSpec([None, 3, self.num_frames, self.crop_size, self.crop_size], "float32",
                                        self.input_names[0])]


@register_architecture("videoswin_s")
def videoswin_s(num_classes: int = 400, num_frames: int = 32, crop_size: int = 224, embed_dim: int = 96,
                num_heads: Sequence[int] = (3, 6, 12, 24), depths: Sequence[int] = (2, 2, 18, 2)) -> VideoSwin:
    """Video Swin-S (`videoswin_small_k400_videos.yaml`); embed_dim / num_heads / depths select other sizes."""
    return VideoSwin(num_classes=num_classes, num_frames=num_frames, crop_size=crop_size, embed_dim=embed_dim,
                     depths=tuple(depths), num_heads=tuple(num_heads))


@register_architecture("videoswin_b")
def videoswin_b(num_classes: int = 400, num_frames: int = 32, crop_size: int = 224) -> VideoSwin:
    """Video Swin-B (`videoswin_base_k400_videos.yaml`): embed 128, heads [4, 8, 16, 32]."""
    return VideoSwin(num_classes=num_classes, num_frames=num_frames, crop_size=crop_size, **SWIN_B)
