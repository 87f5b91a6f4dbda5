"""TimeSformer ViT-B (Bertasius et al., 2021) as PaddleVideo's `VisionTransformer` + `TimeSformerHead`.

`RecognizerTransformer` with the backbone `VisionTransformer(attention_type="divided_space_time")`: image 224,
patch 16 (14 x 14 = 196 patches per frame), embed 768, depth 12, 12 heads, mlp_ratio 4, qkv bias, LayerNorm
epsilon 1e-6, `num_seg` frames per view (8 for the Kinetics-400 weights). Attribute names reproduce PaddleVideo's
keys (`backbone.blocks.0.temporal_attn.qkv.weight`, `head.fc.weight` ...), so an official `.pdparams` loads as is.

Arithmetic, step by step as in PaddleVideo (dropout and drop_path are identities in eval):
  * PatchEmbed: the 16x16/16 conv per frame -> tokens [N*T, 196, D]; the cls token is prepended per frame and
    `pos_embed` (197 positions) added. Only the first frame's cls token is kept afterwards; since every frame's is
    `cls_token + pos_embed[0]`, that value is computed once and broadcast over the batch.
  * `time_embed` is added per patch position (nearest-interpolated when T differs from `num_seg`); tokens are
    ordered patch-major, time-minor: [N, 1 + 196*T, D].
  * Each block: temporal attention over the T frames of each patch (temporal_norm1 -> temporal_attn ->
    temporal_fc) added to the patch tokens; spatial attention per frame (norm1 -> attn) with the cls token copied
    to every frame and the T cls outputs averaged; MLP (norm2 -> fc1 -> exact GELU -> fc2).
    Attention logits are `(q @ k^T) * head_dim^-0.5` (scaled after the product, as in the original).
  * Final norm; the cls token -> `TimeSformerHead` (a single Linear) -> logits. No softmax in the network.

The network takes ONE view of T = num_seg frames per batch row, [N, 3, T, 224, 224]; views (PaddleVideo's 3 crops,
concatenated along T in its own pipeline) go along the batch axis and their logits are averaged outside. The
batch is dynamic in the export; T and the image size are fixed by the weights' embeddings.
"""
from __future__ import annotations

from typing import List

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from videohub.models import register_architecture


class Mlp(nn.Layer):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # exact (erf) GELU, paddle's default
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Layer):
    """Multi-head self-attention over the token axis of [B, N, C]."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias_attr=None if qkv_bias else False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        n, c = x.shape[1], x.shape[2]
        qkv = self.qkv(x).reshape([-1, n, 3, self.num_heads, c // self.num_heads]).transpose([2, 0, 3, 1, 4])
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = paddle.matmul(q, k.transpose([0, 1, 3, 2])) * self.scale
        attn = F.softmax(attn, axis=-1)
        x = paddle.matmul(attn, v).transpose([0, 2, 1, 3]).reshape([-1, n, c])
        return self.proj(x)


class Block(nn.Layer):
    """Divided space-time block (PaddleVideo `Block`, attention_type 'divided_space_time')."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, qkv_bias: bool, epsilon: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, epsilon=epsilon)
        self.attn = Attention(dim, num_heads, qkv_bias)
        self.temporal_norm1 = nn.LayerNorm(dim, epsilon=epsilon)
        self.temporal_attn = Attention(dim, num_heads, qkv_bias)
        self.temporal_fc = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, epsilon=epsilon)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: paddle.Tensor, t: int, h: int, w: int) -> paddle.Tensor:
        m = x.shape[-1]
        # Temporal: the T frames of each patch position attend to each other.
        xt = x[:, 1:, :]
        res_t = self.temporal_attn(self.temporal_norm1(xt.reshape([-1, t, m])))
        res_t = self.temporal_fc(res_t.reshape([-1, h * w * t, m]))
        xt = x[:, 1:, :] + res_t
        # Spatial: per frame, with the cls token copied to every frame.
        init_cls = x[:, 0, :].unsqueeze(1)                                    # [B, 1, m]
        cls = init_cls.tile([1, t, 1]).reshape([-1, m]).unsqueeze(1)          # [B*T, 1, m]
        xs = xt.reshape([-1, h, w, t, m]).transpose([0, 3, 1, 2, 4]).reshape([-1, h * w, m])
        xs = paddle.concat([cls, xs], axis=1)
        res_s = self.attn(self.norm1(xs))
        cls = paddle.mean(res_s[:, 0, :].reshape([-1, t, m]), axis=1, keepdim=True)  # mean over frames
        res_s = res_s[:, 1:, :].reshape([-1, t, h, w, m]).transpose([0, 2, 3, 1, 4]).reshape([-1, h * w * t, m])
        x = paddle.concat([init_cls, xt], axis=1) + paddle.concat([cls, res_s], axis=1)
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Layer):
    def __init__(self, img_size: int, patch_size: int, in_channels: int, embed_dim: int):
        super().__init__()
        self.img_size = img_size
        self.num_patches = (img_size // patch_size) ** 2
        self.proj = nn.Conv2D(in_channels, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: paddle.Tensor):
        _, c, t, h, w = x.shape
        if h != self.img_size or w != self.img_size:
            raise ValueError(f"TimeSformer takes {self.img_size}x{self.img_size} frames, got {h}x{w}")
        x = x.transpose([0, 2, 1, 3, 4]).reshape([-1, c, h, w])
        x = self.proj(x)
        pw = x.shape[-1]
        return x.flatten(2).transpose([0, 2, 1]), t, pw


class VisionTransformer(nn.Layer):
    """PaddleVideo `VisionTransformer` (divided space-time); returns the normed cls token [N, D]."""

    def __init__(self, img_size: int = 224, patch_size: int = 16, in_channels: int = 3, embed_dim: int = 768,
                 depth: int = 12, num_heads: int = 12, mlp_ratio: float = 4, qkv_bias: bool = True,
                 epsilon: float = 1e-6, num_seg: int = 8):
        super().__init__()
        self.num_seg = num_seg
        self.embed_dim = embed_dim
        self.patch_embed = PatchEmbed(img_size, patch_size, in_channels, embed_dim)
        zeros = nn.initializer.Constant(0.0)
        # Creation order = PaddleVideo's state-dict order: cls_token, pos_embed, time_embed.
        self.cls_token = self.create_parameter([1, 1, embed_dim], default_initializer=zeros)
        self.pos_embed = self.create_parameter([1, self.patch_embed.num_patches + 1, embed_dim],
                                               default_initializer=zeros)
        self.time_embed = self.create_parameter([1, num_seg, embed_dim], default_initializer=zeros)
        self.blocks = nn.LayerList([Block(embed_dim, num_heads, mlp_ratio, qkv_bias, epsilon) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, epsilon=epsilon)

    def forward(self, video: paddle.Tensor) -> paddle.Tensor:
        batch = paddle.shape(video)[0]
        x, t, w = self.patch_embed(video)                          # [B*T, n, D]
        n, d = x.shape[1], x.shape[2]
        h = n // w
        x = x + self.pos_embed[:, 1:, :]
        cls = self.cls_token + self.pos_embed[:, :1, :]            # every frame's cls token after pos_embed
        x = x.reshape([-1, t, n, d]).transpose([0, 2, 1, 3]).reshape([-1, t, d])   # [B*n, T, D]
        if t != self.time_embed.shape[1]:  # PaddleVideo: nearest interpolation of the time embedding
            te = self.time_embed.transpose([0, 2, 1]).unsqueeze(0)
            te = F.interpolate(te, size=(t, d), mode="nearest").squeeze(0).transpose([0, 2, 1])
            x = x + te
        else:
            x = x + self.time_embed
        x = x.reshape([-1, n * t, d])
        x = paddle.concat([paddle.expand(cls, [batch, 1, d]), x], axis=1)
        for blk in self.blocks:
            x = blk(x, t, h, w)
        x = self.norm(x)
        return x[:, 0]


class TimeSformerHead(nn.Layer):
    """PaddleVideo `TimeSformerHead`: one Linear, logits (no softmax, no dropout)."""

    def __init__(self, num_classes: int, in_channels: int):
        super().__init__()
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.fc(x)


class TimeSformer(nn.Layer):
    """Recognizer: `forward(imgs) -> logits`; imgs [N, 3, num_seg, 224, 224] (one view per row)."""

    input_names = ("imgs",)
    output_names = ("output",)
    head_keys = ("head.fc",)

    def __init__(self, num_classes: int = 400, num_seg: int = 8, img_size: int = 224, patch_size: int = 16,
                 embed_dim: int = 768, depth: int = 12, num_heads: int = 12, mlp_ratio: float = 4,
                 qkv_bias: bool = True, epsilon: float = 1e-6):
        super().__init__()
        self.num_seg, self.img_size = num_seg, img_size
        self.backbone = VisionTransformer(img_size=img_size, patch_size=patch_size, embed_dim=embed_dim,
                                          depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio,
                                          qkv_bias=qkv_bias, epsilon=epsilon, num_seg=num_seg)
        self.head = TimeSformerHead(num_classes, embed_dim)

    def forward(self, imgs: paddle.Tensor) -> paddle.Tensor:
        return self.head(self.backbone(imgs))

    def input_spec(self) -> List[paddle.static.InputSpec]:
        """Dynamic batch; T = num_seg and the image size are fixed."""
        return [paddle.static.InputSpec([None, 3, self.num_seg, self.img_size, self.img_size], "float32",
                                        self.input_names[0])]


@register_architecture("timesformer_vitb")
def timesformer_vitb(num_classes: int = 400, num_seg: int = 8) -> TimeSformer:
    """TimeSformer ViT-B/16, divided space-time attention (`timesformer_k400_videos.yaml`)."""
    return TimeSformer(num_classes=num_classes, num_seg=num_seg)
