"""Dygraph re-implementations of the fluid 1.x sequence operators used by the legacy YouTube-8M models.

* `FluidDynamicLSTM` — `fluid.layers.dynamic_lstm` with peepholes (the default), gate activation sigmoid,
  cell/candidate activation tanh, h0 = c0 = 0. Parameters carry the fluid names `<name>.w_0` (the recurrent
  weight, [H, 4H], used as `h_{t-1} @ W`) and `<name>.b_0` ([1, 7H] = gate biases [b_c, b_i, b_f, b_o] followed
  by the diagonal peepholes [w_ic, w_fc, w_oc]; [1, 4H] without peepholes). The 4H gate blocks are ordered
  candidate, input, forget, output. The input and forget gates look at c_{t-1}, the output gate at the new c_t.
  The input is the already projected sequence (the preceding bias-free or biased FC of the original model).
  `is_reverse=True` runs right-to-left and returns the outputs in the original time order.
* `sequence_softmax` — softmax over the time axis of each sequence, padding excluded by a mask.
* `fluid_dropout_infer` — `fluid.layers.dropout` at inference with its default `downgrade_in_infer`:
  the input is multiplied by (1 - p).
* `fluid_l2_normalize` — `fluid.layers.l2_normalize`: x / sqrt(sum(x^2) + eps).
* `FluidBatchNorm` — inference batch norm with the fluid parameter names (`.w_0` scale, `.b_0` shift,
  `.w_1` mean, `.w_2` variance), eps 1e-5, normalising the last axis.

LoD sequences are represented in batched form: a tensor [N, T, ...] plus an optional float mask [N, T]
(1 for valid steps). A single fluid LoD sequence of length T is the case N = 1 without mask.
"""
from __future__ import annotations

from typing import Optional

import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import ParamAttr

__all__ = ["FluidDynamicLSTM", "FluidBatchNorm", "sequence_softmax", "fluid_dropout_infer",
           "fluid_l2_normalize", "length_mask"]


def length_mask(lengths: paddle.Tensor, max_len) -> paddle.Tensor:
    """Float mask [N, T]: 1 where t < lengths[n]."""
    steps = paddle.arange(max_len, dtype="int64").unsqueeze(0)
    return (steps < lengths.astype("int64").unsqueeze(1)).astype("float32")


def fluid_dropout_infer(x: paddle.Tensor, p: float) -> paddle.Tensor:
    """fluid dropout at inference (`downgrade_in_infer`): scale by (1 - p)."""
    if p == 0.0:
        return x
    return x * (1.0 - p)


def fluid_l2_normalize(x: paddle.Tensor, axis: int, epsilon: float = 1e-12) -> paddle.Tensor:
    """fluid `l2_normalize` (the `norm` op): x / sqrt(sum(x^2, axis) + epsilon)."""
    return x / paddle.sqrt(paddle.sum(x * x, axis=axis, keepdim=True) + epsilon)


def sequence_softmax(scores: paddle.Tensor, mask: Optional[paddle.Tensor] = None) -> paddle.Tensor:
    """Softmax over axis 1 (time) of scores [N, T] or [N, T, 1]; padded steps (mask 0) get weight 0.

    Like fluid's `sequence_softmax` the maximum of each sequence is subtracted before the exponential.
    """
    if mask is None:
        return F.softmax(scores, axis=1)
    m = mask if scores.ndim == mask.ndim else mask.unsqueeze(-1)
    # padded steps are pushed far below every valid one, so they neither set the max nor contribute.
    masked = scores - (1.0 - m) * 1e30
    shifted = masked - paddle.max(masked, axis=1, keepdim=True)
    e = paddle.exp(shifted) * m
    # a sequence with a valid step sums to >= 1; the clip only keeps an all-padding row finite (zeros)
    return e / paddle.clip(paddle.sum(e, axis=1, keepdim=True), min=1e-30)


class FluidDynamicLSTM(nn.Layer):
    """fluid `dynamic_lstm` (see the module docstring); input [N, T, 4H] projections, output h [N, T, H]."""

    def __init__(self, hidden_size: int, name: Optional[str] = None, is_reverse: bool = False,
                 use_peepholes: bool = True):
        super().__init__()
        self.hidden_size = int(hidden_size)
        self.is_reverse = bool(is_reverse)
        self.use_peepholes = bool(use_peepholes)
        H = self.hidden_size
        self.weight = self.create_parameter(
            [H, 4 * H], attr=ParamAttr(name=f"{name}.w_0") if name else None)
        self.bias = self.create_parameter(
            [1, (7 if use_peepholes else 4) * H], attr=ParamAttr(name=f"{name}.b_0") if name else None,
            is_bias=True)

    def forward(self, x: paddle.Tensor, mask: Optional[paddle.Tensor] = None) -> paddle.Tensor:
        H = self.hidden_size
        gate_bias = self.bias[:, :4 * H]
        if self.use_peepholes:
            w_ic = self.bias[:, 4 * H:5 * H]
            w_fc = self.bias[:, 5 * H:6 * H]
            w_oc = self.bias[:, 6 * H:7 * H]
        else:
            w_ic = paddle.zeros([1, H], x.dtype)
            w_fc = paddle.zeros([1, H], x.dtype)
            w_oc = paddle.zeros([1, H], x.dtype)
        xp = x + gate_bias
        if self.is_reverse:
            xp = paddle.flip(xp, axis=[1])
            if mask is not None:
                mask = paddle.flip(mask, axis=[1])
        n = paddle.shape(xp)[0]
        steps = paddle.shape(xp)[1]
        h = paddle.zeros([n, H], dtype=xp.dtype)
        c = paddle.zeros([n, H], dtype=xp.dtype)
        outs = []
        if mask is None:
            for t in range(steps):
                h, c = self._step(xp[:, t], h, c, w_ic, w_fc, w_oc)
                outs.append(h)
        else:
            for t in range(steps):
                h_new, c_new = self._step(xp[:, t], h, c, w_ic, w_fc, w_oc)
                m = mask[:, t].unsqueeze(-1)
                # padded steps keep the previous state (zero before a reversed sequence starts)
                h = m * h_new + (1.0 - m) * h
                c = m * c_new + (1.0 - m) * c
                outs.append(h)
        out = paddle.stack(outs, axis=1)
        if self.is_reverse:
            out = paddle.flip(out, axis=[1])
        return out

    def _step(self, g_in, h, c, w_ic, w_fc, w_oc):
        g = g_in + paddle.matmul(h, self.weight)
        g_c, g_i, g_f, g_o = paddle.split(g, 4, axis=-1)
        i = F.sigmoid(g_i + c * w_ic)
        f = F.sigmoid(g_f + c * w_fc)
        c_new = f * c + i * paddle.tanh(g_c)
        o = F.sigmoid(g_o + c_new * w_oc)
        return o * paddle.tanh(c_new), c_new


class FluidBatchNorm(nn.Layer):
    """Inference-mode batch norm over the last axis with fluid parameter names `<name>.w_0/b_0/w_1/w_2`."""

    def __init__(self, num_channels: int, name: str, epsilon: float = 1e-5):
        super().__init__()
        self.epsilon = float(epsilon)
        self.weight = self.create_parameter([num_channels], attr=ParamAttr(name=f"{name}.w_0"),
                                            default_initializer=nn.initializer.Constant(1.0))
        self.bias = self.create_parameter([num_channels], attr=ParamAttr(name=f"{name}.b_0"), is_bias=True)
        self._mean = self.create_parameter([num_channels], attr=ParamAttr(name=f"{name}.w_1", trainable=False),
                                           default_initializer=nn.initializer.Constant(0.0))
        self._variance = self.create_parameter([num_channels],
                                               attr=ParamAttr(name=f"{name}.w_2", trainable=False),
                                               default_initializer=nn.initializer.Constant(1.0))
        self._mean.stop_gradient = True
        self._variance.stop_gradient = True

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        inv = self.weight / paddle.sqrt(self._variance + self.epsilon)
        return (x - self._mean) * inv + self.bias
