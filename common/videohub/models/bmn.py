"""BMN: Boundary-Matching Network for temporal action proposals (Lin et al., ICCV 2019), as in PaddleVideo.

Input: pre-extracted features N x feat_dim x tscale (ActivityNet: 400 x 100). Outputs, all sigmoid
probabilities: the boundary-matching confidence map N x 2 x dscale x tscale (axis 2 = duration index,
axis 3 = start index; channel 0 is the regression-trained, channel 1 the classification-trained map),
the start probabilities N x tscale and the end probabilities N x tscale.

The BM layer is a matmul with a fixed sampling mask (tscale x num_sample*dscale*tscale) that linearly
interpolates `num_sample` bins, each the mean of `num_sample_perbin` points, over every candidate
proposal extended by `prop_boundary_ratio` of its length on both sides. The mask is computed here in
numpy (float64, cast to float32, bit-identical to PaddleVideo's per-element loop) and is registered as a
non-persistable buffer: it never appears in a checkpoint, yet it is captured by `paddle.jit.save`.

Parameter keys are PaddleVideo's (`backbone.b_conv1.weight`, ...), so official checkpoints load as they are.
"""
from __future__ import annotations

from typing import Tuple

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from videohub.models import register_architecture


def bm_sample_mask(tscale: int = 100, dscale: int = 100, prop_boundary_ratio: float = 0.5,
                   num_sample: int = 32, num_sample_perbin: int = 3) -> np.ndarray:
    """The boundary-matching sampling mask, float32 [tscale, num_sample * dscale * tscale].

    Column `(i * dscale + d) * tscale + s` holds the interpolation weights over the tscale positions of
    bin `i` of the proposal that starts at `s` and ends at `s + d` (all zero when `s + d >= tscale`).
    A sample at position x contributes `1 - frac(x)` to `trunc(x)` and `frac(x)` to `ceil(x)`, for the
    positions inside [0, tscale); `frac`/`trunc` follow `math.modf` (so they round toward zero for
    negative x, exactly as the original). The bin is the mean of its samples.
    """
    n_pts = num_sample * num_sample_perbin
    mask = np.zeros((tscale, num_sample, dscale, tscale), dtype=np.float32)
    durations = np.arange(dscale)
    ii = np.arange(n_pts, dtype=np.float64)
    for start in range(tscale):
        d = durations[start + durations < tscale]          # valid durations for this start
        if d.size == 0:
            continue
        p_xmin = np.full(d.shape, start, dtype=np.int64)
        p_xmax = start + d
        center_len = (p_xmax - p_xmin).astype(np.float64) + 1
        seg_xmin = p_xmin - center_len * prop_boundary_ratio
        seg_xmax = p_xmax + center_len * prop_boundary_ratio
        plen = seg_xmax - seg_xmin
        step = plen / (n_pts - 1.0)
        samples = seg_xmin[:, None] + step[:, None] * ii[None, :]   # [nd, n_pts]
        samples = samples.reshape(d.size, num_sample, num_sample_perbin)
        upper = np.ceil(samples)
        frac, down = np.modf(samples)
        down_i = down.astype(np.int64)
        upper_i = upper.astype(np.int64)

        acc = np.zeros((d.size, num_sample, tscale), dtype=np.float64)
        rows = np.arange(d.size)[:, None]
        bins = np.arange(num_sample)[None, :]
        # Accumulate in the original order: per sample, floor weight then ceil weight.
        for k in range(num_sample_perbin):
            for idx, weight in ((down_i[..., k], 1 - frac[..., k]), (upper_i[..., k], frac[..., k])):
                ok = (idx >= 0) & (idx <= tscale - 1)
                r, b = np.broadcast_to(rows, idx.shape)[ok], np.broadcast_to(bins, idx.shape)[ok]
                acc[r, b, idx[ok]] += weight[ok]
        acc = 1.0 / num_sample_perbin * acc
        # acc[d, i, t] -> mask[t, i, d, start]
        mask[:, :, d, start] = np.transpose(acc, (2, 1, 0)).astype(np.float32)
    return mask.reshape(tscale, -1)


class BMNBackbone(nn.Layer):
    """Base module, temporal evaluation module (start/end) and proposal evaluation module."""

    def __init__(self, tscale: int = 100, dscale: int = 100, feat_dim: int = 400,
                 prop_boundary_ratio: float = 0.5, num_sample: int = 32, num_sample_perbin: int = 3):
        super().__init__()
        self.tscale, self.dscale, self.num_sample = tscale, dscale, num_sample
        h1, h2, h3 = 256, 128, 512
        # Base module
        self.b_conv1 = nn.Conv1D(feat_dim, h1, 3, padding=1, groups=4)
        self.b_conv2 = nn.Conv1D(h1, h1, 3, padding=1, groups=4)
        # Temporal evaluation module
        self.ts_conv1 = nn.Conv1D(h1, h1, 3, padding=1, groups=4)
        self.ts_conv2 = nn.Conv1D(h1, 1, 1)
        self.te_conv1 = nn.Conv1D(h1, h1, 3, padding=1, groups=4)
        self.te_conv2 = nn.Conv1D(h1, 1, 1)
        # Proposal evaluation module
        self.p_conv1 = nn.Conv1D(h1, h2, 3, padding=1)
        mask = bm_sample_mask(tscale, dscale, prop_boundary_ratio, num_sample, num_sample_perbin)
        self.register_buffer("sample_mask", paddle.to_tensor(mask), persistable=False)
        self.sample_mask.stop_gradient = True
        self.p_conv3d1 = nn.Conv3D(h2, h3, (num_sample, 1, 1), stride=(num_sample, 1, 1))
        self.p_conv2d1 = nn.Conv2D(h3, h2, 1)
        self.p_conv2d2 = nn.Conv2D(h2, h2, 3, padding=1)
        self.p_conv2d3 = nn.Conv2D(h2, h2, 3, padding=1)
        self.p_conv2d4 = nn.Conv2D(h2, 2, 1)

    def forward(self, x: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor]:
        x = F.relu(self.b_conv1(x))
        x = F.relu(self.b_conv2(x))

        xs = F.sigmoid(self.ts_conv2(F.relu(self.ts_conv1(x))))
        xs = paddle.squeeze(xs, axis=[1])
        xe = F.sigmoid(self.te_conv2(F.relu(self.te_conv1(x))))
        xe = paddle.squeeze(xe, axis=[1])

        xp = F.relu(self.p_conv1(x))
        xp = paddle.matmul(xp, self.sample_mask)                      # N x 128 x (S*D*T)
        xp = paddle.reshape(xp, [0, 0, self.num_sample, self.dscale, self.tscale])
        xp = F.relu(self.p_conv3d1(xp))                               # N x 512 x 1 x D x T
        xp = paddle.squeeze(xp, axis=[2])
        xp = F.relu(self.p_conv2d1(xp))
        xp = F.relu(self.p_conv2d2(xp))
        xp = F.relu(self.p_conv2d3(xp))
        xp = F.sigmoid(self.p_conv2d4(xp))
        return xp, xs, xe


class BMN(nn.Layer):
    """PaddleVideo's BMNLocalizer in inference: `forward(feat_input) -> (pred_bm, pred_start, pred_end)`."""

    input_names = ("feat_input",)
    output_names = ("pred_bm", "pred_start", "pred_end")

    def __init__(self, tscale: int = 100, dscale: int = 100, feat_dim: int = 400,
                 prop_boundary_ratio: float = 0.5, num_sample: int = 32, num_sample_perbin: int = 3):
        super().__init__()
        self.tscale, self.dscale, self.feat_dim = tscale, dscale, feat_dim
        self.backbone = BMNBackbone(tscale, dscale, feat_dim, prop_boundary_ratio, num_sample,
                                    num_sample_perbin)

    def forward(self, feat_input: paddle.Tensor) -> Tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor]:
        pred_bm, pred_start, pred_end = self.backbone(feat_input)
        return pred_bm, pred_start, pred_end


@register_architecture("bmn")
def bmn(tscale: int = 100, dscale: int = 100, feat_dim: int = 400, prop_boundary_ratio: float = 0.5,
        num_sample: int = 32, num_sample_perbin: int = 3) -> BMN:
    return BMN(tscale=tscale, dscale=dscale, feat_dim=feat_dim, prop_boundary_ratio=prop_boundary_ratio,
               num_sample=num_sample, num_sample_perbin=num_sample_perbin)
