"""YouTube-8M style feature classifiers: AttentionLSTM (PaddleVideo dygraph, legacy fluid, VideoTag),
Attention Cluster and NeXtVLAD (legacy fluid).

Registered architectures (builder kwargs in brackets, defaults = the original configs):

* `attention_lstm_yt8m` [num_classes=3862, feature_dims=(1024, 128), embedding_size=512, lstm_size=1024] —
  PaddleVideo `Recognizer1D` + `AttentionLstmHead`; structured keys `head.*` (the `paddle.nn.LSTM` aliases
  `head.bi_lstm{i}.0.cell_fw/cell_bw.*` are the same tensors). Inputs (export InputSpec of PaddleVideo):
  rgb_data [N,T,1024], rgb_len [N] int64, rgb_mask [N,T,1024], audio_data [N,T,128], audio_len, audio_mask
  (T = 512 after `videohub.io.yt8m.pad_features`; any T works). Output `output` = logits [N, 3862]
  (`infer_step` returns the logits; apply sigmoid for multi-label scores).
* `legacy_attention_lstm` [num_classes=3862, feature_dims=(1024, 128), embedding_size=512, lstm_size=1024,
  drop_rate=0.5] — PaddleCV/video AttentionLSTM, fluid auto names `fc_0..fc_10`, `lstm_0..lstm_3`.
* `videotag_attention_lstm` [num_classes=3396, feature_dim=2048, embedding_size=1024, lstm_size=512,
  drop_rate=0.5] — VideoTag's AttentionLSTM (explicit names `rgb_fc`, `rgb_lstm_forward`, ...).
* `attention_cluster` [num_classes=3862, feature_dims=(1024, 128), cluster_nums=(32, 32), drop_rate=0.5].
* `nextvlad` [num_classes=3862, video_feature_size=1024, audio_feature_size=128, cluster_size=128,
  hidden_size=2048, groups=8, expansion=2, drop_rate=0.5, gating_reduction=8, eigen_file=None] —
  `eigen_param` is a (non-trainable) parameter saved in the checkpoint; `eigen_file` only sets its initial
  value (sqrt(eigenvals[:1024]) + 1e-4) for a network built without a checkpoint.

LoD inputs of the legacy models (one fluid LoD sequence per video) are taken in batched form:
features [N, T, D] zero-padded plus an optional int64 `lengths` [N] (valid steps per video); a single
sequence may also be passed as [T, D] (dygraph only). Without `lengths` every step is valid, which is exactly
the fluid result for one LoD sequence. The exported predictors take [N, T, D] features and `lengths`.

Fluid inference semantics reproduced: dropout multiplies by (1 - p) (`downgrade_in_infer`), dynamic_lstm with
peepholes and gates (c, i, f, o), `sequence_softmax` attention over the valid steps, batch norm eps 1e-5.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import ParamAttr
from paddle.static import InputSpec

from videohub.models import register_architecture
from videohub.models.fluid_lstm import (FluidBatchNorm, FluidDynamicLSTM, fluid_dropout_infer,
                                        fluid_l2_normalize, length_mask, sequence_softmax)


def _fc(in_dim: int, out_dim: int, w_name: str, b_name: Optional[str]) -> nn.Linear:
    """fluid `fc` with explicit parameter names (weight [in, out]); b_name None = no bias."""
    return nn.Linear(in_dim, out_dim, weight_attr=ParamAttr(name=w_name),
                     bias_attr=ParamAttr(name=b_name) if b_name else False)


def _as_batch(x: paddle.Tensor) -> paddle.Tensor:
    """[T, D] (one LoD sequence) → [1, T, D]; [N, T, D] unchanged."""
    return x.unsqueeze(0) if x.ndim == 2 else x


def _mask_for(x: paddle.Tensor, lengths: Optional[paddle.Tensor]) -> Optional[paddle.Tensor]:
    if lengths is None:
        return None
    return length_mask(lengths.reshape([-1]), paddle.shape(x)[1])


# --------------------------------------------------------------------------------------------------
# fluid AttentionLSTM (legacy PaddleCV/video and VideoTag)
# --------------------------------------------------------------------------------------------------
class _FluidLSTMAttention(nn.Layer):
    """One modality of the fluid AttentionLSTM: fc tanh → (fc → dynamic_lstm) ×2 directions → concat →
    dropout (×(1-p)) → fc(1) sequence_softmax → weighted sum over time."""

    def __init__(self, in_dim: int, embedding_size: int, lstm_size: int, drop_rate: float, names: dict):
        super().__init__()
        self.drop_rate = float(drop_rate)
        self.input_fc = _fc(in_dim, embedding_size, names["in_w"], names["in_b"])
        self.fw_fc = _fc(embedding_size, 4 * lstm_size, names["fw_fc_w"], names["fw_fc_b"])
        self.fw_lstm = FluidDynamicLSTM(lstm_size, names["fw_lstm"], is_reverse=False)
        self.bw_fc = _fc(embedding_size, 4 * lstm_size, names["bw_fc_w"], names["bw_fc_b"])
        self.bw_lstm = FluidDynamicLSTM(lstm_size, names["bw_lstm"], is_reverse=True)
        self.att_fc = _fc(2 * lstm_size, 1, names["att_w"], names["att_b"])

    def forward(self, x: paddle.Tensor, mask: Optional[paddle.Tensor]) -> paddle.Tensor:
        emb = paddle.tanh(self.input_fc(x))
        fw = self.fw_lstm(self.fw_fc(emb), mask)
        bw = self.bw_lstm(self.bw_fc(emb), mask)
        seq = fluid_dropout_infer(paddle.concat([fw, bw], axis=-1), self.drop_rate)
        weight = sequence_softmax(self.att_fc(seq), mask)          # [N, T, 1]
        return paddle.sum(seq * weight, axis=1)                     # [N, 2H]


class _FluidAttentionLSTMBase(nn.Layer):
    input_names: tuple = ()
    output_names = ("output", "logit")

    def _classify(self, pooled):
        h = F.relu(self.fc1(pooled))
        h = paddle.tanh(self.fc2(h))
        logit = self.fc_logit(h)
        return F.sigmoid(logit), logit


class LegacyAttentionLSTM(_FluidAttentionLSTMBase):
    """PaddleCV/video AttentionLSTM (YouTube-8M rgb + audio). forward(rgb, audio, lengths=None) → (output, logit)."""

    input_names = ("rgb", "audio")
    head_keys = ("fc_logit",)  # classifier layer (videohub.train.trainer); outputs are (sigmoid, logit)
    logits_output = 1

    def __init__(self, num_classes: int = 3862, feature_dims: Sequence[int] = (1024, 128),
                 embedding_size: int = 512, lstm_size: int = 1024, drop_rate: float = 0.5):
        super().__init__()
        self.feature_dims = tuple(int(d) for d in feature_dims)
        self.branches = nn.LayerList()
        for i, dim in enumerate(self.feature_dims):
            f, l = 4 * i, 2 * i        # fluid auto-name counters: 4 fc and 2 lstm per modality
            names = {"in_w": f"fc_{f}.w_0", "in_b": f"fc_{f}.b_0",
                     "fw_fc_w": f"fc_{f + 1}.w_0", "fw_fc_b": f"fc_{f + 1}.b_0", "fw_lstm": f"lstm_{l}",
                     "bw_fc_w": f"fc_{f + 2}.w_0", "bw_fc_b": f"fc_{f + 2}.b_0", "bw_lstm": f"lstm_{l + 1}",
                     "att_w": f"fc_{f + 3}.w_0", "att_b": f"fc_{f + 3}.b_0"}
            self.branches.append(_FluidLSTMAttention(dim, embedding_size, lstm_size, drop_rate, names))
        k = 4 * len(self.feature_dims)
        self.fc1 = _fc(2 * lstm_size * len(self.feature_dims), 8192, f"fc_{k}.w_0", f"fc_{k}.b_0")
        self.fc2 = _fc(8192, 4096, f"fc_{k + 1}.w_0", f"fc_{k + 1}.b_0")
        self.fc_logit = _fc(4096, num_classes, f"fc_{k + 2}.w_0", f"fc_{k + 2}.b_0")

    def forward(self, rgb, audio, lengths=None):
        feats = [_as_batch(rgb), _as_batch(audio)]
        mask = _mask_for(feats[0], lengths)
        pooled = [br(x, mask) for br, x in zip(self.branches, feats)]
        return self._classify(paddle.concat(pooled, axis=1))

    def export_input_spec(self):
        return [InputSpec([None, None, self.feature_dims[0]], "float32", "rgb"),
                InputSpec([None, None, self.feature_dims[1]], "float32", "audio"),
                InputSpec([None], "int64", "lengths")]


class VideoTagAttentionLSTM(_FluidAttentionLSTMBase):
    """VideoTag AttentionLSTM over TSN features. forward(rgb, lengths=None) → (output, logit)."""

    input_names = ("rgb",)
    head_keys = ("fc_logit",)
    logits_output = 1

    def __init__(self, num_classes: int = 3396, feature_dim: int = 2048, embedding_size: int = 1024,
                 lstm_size: int = 512, drop_rate: float = 0.5):
        super().__init__()
        self.feature_dim = int(feature_dim)
        names = {"in_w": "rgb_fc.w_0", "in_b": "rgb_fc.b_0",
                 "fw_fc_w": "rgb_fc_forward.w_0", "fw_fc_b": None, "fw_lstm": "rgb_lstm_forward",
                 "bw_fc_w": "rgb_fc_backward.w_0", "bw_fc_b": None, "bw_lstm": "rgb_lstm_backward",
                 "att_w": "rgb_weight.w_0", "att_b": None}
        self.branch = _FluidLSTMAttention(feature_dim, embedding_size, lstm_size, drop_rate, names)
        self.fc1 = _fc(2 * lstm_size, 8192, "fc1.w_0", "fc1.b_0")
        self.fc2 = _fc(8192, 4096, "fc2.w_0", "fc2.b_0")
        self.fc_logit = _fc(4096, num_classes, "output.w_0", "output.b_0")

    def forward(self, rgb, lengths=None):
        x = _as_batch(rgb)
        return self._classify(self.branch(x, _mask_for(x, lengths)))

    def export_input_spec(self):
        return [InputSpec([None, None, self.feature_dim], "float32", "rgb"),
                InputSpec([None], "int64", "lengths")]


# --------------------------------------------------------------------------------------------------
# Attention Cluster
# --------------------------------------------------------------------------------------------------
class _ShiftingAttention(nn.Layer):
    """`ShiftingAttentionModel`: 1×1 conv scores → softmax over frames per unit → weighted sum →
    ×shift_w + shift_b → L2 normalise over D → /sqrt(units); units concatenated (unit-major)."""

    def __init__(self, in_dim: int, n_att: int, name: str):
        super().__init__()
        self.n_att = int(n_att)
        self.conv_weight = self.create_parameter([n_att, in_dim, 1, 1], attr=ParamAttr(name=f"{name}.conv.weight"))
        self.conv_bias = self.create_parameter([n_att], attr=ParamAttr(name=f"{name}.conv.bias"), is_bias=True)
        self.shift_w = self.create_parameter([n_att], attr=ParamAttr(name=f"{name}.shift_w"),
                                             default_initializer=nn.initializer.Constant(1.0))
        self.shift_b = self.create_parameter([n_att], attr=ParamAttr(name=f"{name}.shift_b"), is_bias=True)
        self.gnorm = float(np.sqrt(n_att))

    def forward(self, x):                                   # x [N, L, D]
        w = self.conv_weight.reshape([self.n_att, -1])      # [C, D]
        scores = paddle.matmul(w.unsqueeze(0), x, transpose_y=True) + self.conv_bias.reshape([1, -1, 1])
        weights = F.softmax(scores, axis=-1)                # [N, C, L], softmax over the frames
        pooled = paddle.matmul(weights, x)                  # [N, C, D]
        shifted = pooled * self.shift_w.reshape([1, -1, 1]) + self.shift_b.reshape([1, -1, 1])
        out = fluid_l2_normalize(shifted, axis=-1) / self.gnorm
        return out.reshape([paddle.shape(x)[0], -1])


class AttentionCluster(nn.Layer):
    """Legacy Attention Cluster. forward(rgb [N,L,1024], audio [N,L,128]) → (output sigmoid, logit)."""

    input_names = ("rgb", "audio")
    output_names = ("output", "logit")
    head_keys = ("logistic",)
    logits_output = 1

    def __init__(self, num_classes: int = 3862, feature_dims: Sequence[int] = (1024, 128),
                 cluster_nums: Sequence[int] = (32, 32), drop_rate: float = 0.5):
        super().__init__()
        self.feature_dims = tuple(int(d) for d in feature_dims)
        self.drop_rate = float(drop_rate)
        self.atts = nn.LayerList([_ShiftingAttention(d, c, f"satt{i}")
                                  for i, (d, c) in enumerate(zip(self.feature_dims, cluster_nums))])
        total = sum(d * c for d, c in zip(self.feature_dims, cluster_nums))
        self.fc1 = _fc(total, 1024, "fc1.weights", "fc1.bias")
        self.fc2 = _fc(1024, 4096, "fc2.weights", "fc2.bias")
        self.logistic = _fc(4096, num_classes, "logistic.weights", "logistic.bias")

    def forward(self, rgb, audio):
        out = paddle.concat([att(x) for att, x in zip(self.atts, (rgb, audio))], axis=1)
        out = fluid_dropout_infer(out, self.drop_rate)
        h = paddle.tanh(self.fc1(out))
        h = paddle.tanh(self.fc2(h))
        logit = self.logistic(h)
        return F.sigmoid(logit), logit

    def export_input_spec(self):
        return [InputSpec([None, None, self.feature_dims[0]], "float32", "rgb"),
                InputSpec([None, None, self.feature_dims[1]], "float32", "audio")]


# --------------------------------------------------------------------------------------------------
# NeXtVLAD
# --------------------------------------------------------------------------------------------------
class _NeXtVLAD(nn.Layer):
    def __init__(self, feature_size: int, cluster_size: int, expansion: int, groups: int, prefix: str,
                 bn_act: str, bn_vlad: str):
        super().__init__()
        self.cluster_size, self.groups = int(cluster_size), int(groups)
        dim = expansion * feature_size
        self.group_dim = dim // groups
        self.fc_expansion = _fc(feature_size, dim, f"{prefix}_fc_expansion_w", f"{prefix}_fc_expansion_b")
        self.fc_group_attention = _fc(dim, groups, f"{prefix}_fc_group_attention_w",
                                      f"{prefix}_fc_group_attention_b")
        self.cluster_weights = self.create_parameter([dim, groups * cluster_size],
                                                     attr=ParamAttr(name=f"{prefix}_cluster_weights"))
        self.bn_act = FluidBatchNorm(groups * cluster_size, bn_act)
        self.cluster_weights2 = self.create_parameter([cluster_size, self.group_dim],
                                                      attr=ParamAttr(name=f"{prefix}_cluster_weights2"))
        self.bn_vlad = FluidBatchNorm(cluster_size * self.group_dim, bn_vlad)

    def forward(self, x, mask):                             # x [N, T, D], mask [N, T] or None
        G, K, Fd = self.groups, self.cluster_size, self.group_dim
        n = paddle.shape(x)[0]
        x = self.fc_expansion(x)                            # [N, T, 2D]
        attention = F.sigmoid(self.fc_group_attention(x))   # [N, T, G]
        act = self.bn_act(paddle.matmul(x, self.cluster_weights))          # [N, T, G*K]
        act = F.softmax(act.reshape([n, -1, G, K]), axis=-1) * attention.unsqueeze(-1)  # [N, T, G, K]
        if mask is not None:
            act = act * mask.reshape([n, -1, 1, 1])
        act = act.reshape([n, -1, K])                       # [N, T*G, K]
        a_sum = paddle.sum(act, axis=1)                     # [N, K] (sum over time and groups)
        a = a_sum.unsqueeze(-1) * self.cluster_weights2.unsqueeze(0)        # [N, K, F]
        xg = x.reshape([n, -1, Fd])                         # [N, T*G, F]
        vlad = paddle.matmul(act, xg, transpose_x=True) - a                 # [N, K, F]
        vlad = fluid_l2_normalize(vlad.transpose([0, 2, 1]), axis=1)        # [N, F, K], over F
        return self.bn_vlad(vlad.reshape([n, Fd * K]))      # F-major flatten


class NeXtVLAD(nn.Layer):
    """Legacy NeXtVLAD. forward(rgb uint8 [N,T,1024] or [T,1024], audio uint8 [..,128], lengths=None)."""

    input_names = ("rgb", "audio")
    output_names = ("output", "logits")
    head_keys = ("logits_clf",)
    logits_output = 1

    def __init__(self, num_classes: int = 3862, video_feature_size: int = 1024, audio_feature_size: int = 128,
                 cluster_size: int = 128, hidden_size: int = 2048, groups: int = 8, expansion: int = 2,
                 drop_rate: float = 0.5, gating_reduction: int = 8, eigen_file: Optional[str] = None):
        super().__init__()
        self.video_feature_size, self.audio_feature_size = int(video_feature_size), int(audio_feature_size)
        self.drop_rate = float(drop_rate)
        init = nn.initializer.Constant(1.0)
        if eigen_file is not None:
            ev = np.sqrt(np.load(eigen_file)[:video_feature_size, 0]) + 1e-4
            init = nn.initializer.Assign(ev.astype(np.float32))
        self.eigen_param = self.create_parameter([video_feature_size],
                                                 attr=ParamAttr(name="eigen_param", trainable=False),
                                                 default_initializer=init)
        self.eigen_param.stop_gradient = True
        self.video_vlad = _NeXtVLAD(video_feature_size, cluster_size, expansion, groups, "video",
                                    "batch_norm_0", "batch_norm_1")
        self.audio_vlad = _NeXtVLAD(audio_feature_size, cluster_size, expansion, groups, "audio",
                                    "batch_norm_2", "batch_norm_3")
        vlad_dim = cluster_size * expansion * (video_feature_size + audio_feature_size) // groups
        self.hidden1_fc = _fc(vlad_dim, hidden_size, "hidden1_fc_weights", None)
        self.hidden_bn = FluidBatchNorm(hidden_size, "batch_norm_4")
        self.gating_fc1 = _fc(hidden_size, hidden_size // gating_reduction, "gating_fc1_weights", None)
        self.gating_bn = FluidBatchNorm(hidden_size // gating_reduction, "batch_norm_5")
        self.gating_fc2 = _fc(hidden_size // gating_reduction, hidden_size, "gating_fc2_weights", None)
        self.logits_clf = _fc(hidden_size, num_classes, "logits_clf_weights", "logits_clf_bias")

    def forward(self, rgb, audio, lengths=None):
        rgb = _as_batch(rgb).astype("float32")
        audio = _as_batch(audio).astype("float32")
        scale = 4.0 / 255.0
        rgb = (rgb * scale - 2.0) * self.eigen_param                 # asymmetric: no half step on rgb
        audio = audio * scale + (-2.0 + 4.0 / 512.0)
        mask = _mask_for(rgb, lengths)
        vlad = paddle.concat([self.video_vlad(rgb, mask), self.audio_vlad(audio, mask)], axis=1)
        vlad = fluid_dropout_infer(vlad, self.drop_rate)
        act = self.hidden_bn(self.hidden1_fc(vlad))
        gates = F.relu(self.gating_bn(self.gating_fc1(act)))
        gates = F.sigmoid(self.gating_fc2(gates))
        logits = self.logits_clf(act * gates)
        return F.sigmoid(logits), logits

    def export_input_spec(self):
        return [InputSpec([None, None, self.video_feature_size], "uint8", "rgb"),
                InputSpec([None, None, self.audio_feature_size], "uint8", "audio"),
                InputSpec([None], "int64", "lengths")]


# --------------------------------------------------------------------------------------------------
# PaddleVideo dygraph AttentionLSTM
# --------------------------------------------------------------------------------------------------
class _AttentionLstmHead(nn.Layer):
    def __init__(self, num_classes, feature_dims, embedding_size, lstm_size):
        super().__init__()
        self.feature_num = len(feature_dims)
        for i, dim in enumerate(feature_dims):
            self.add_sublayer(f"fc_feature{i}", nn.Linear(dim, embedding_size))
            self.add_sublayer(f"bi_lstm{i}", nn.LSTM(embedding_size, lstm_size, direction="bidirectional"))
            self.add_sublayer(f"att_fc{i}", nn.Linear(2 * lstm_size, 1))
        self.fc_out1 = nn.Linear(2 * lstm_size * self.feature_num, 8192)
        self.fc_out2 = nn.Linear(8192, 4096)
        self.fc_logit = nn.Linear(4096, num_classes)

    def forward(self, inputs):
        pooled = []
        for i, (data, length, mask) in enumerate(inputs):
            emb = paddle.tanh(getattr(self, f"fc_feature{i}")(data))
            seq, _ = getattr(self, f"bi_lstm{i}")(emb, sequence_length=length)
            # dropout is the identity in eval mode (upscale_in_train)
            score = getattr(self, f"att_fc{i}")(seq)                      # [N, T, 1]
            e = paddle.exp(score)
            m = paddle.mean(mask, axis=2).unsqueeze(2)                     # [N, T, 1]
            weight = e * paddle.pow(paddle.sum(e * m, axis=1), -1.0).unsqueeze(2)
            pooled.append(paddle.sum(seq * weight * m, axis=1))
        h = F.relu(self.fc_out1(paddle.concat(pooled, axis=1)))
        h = paddle.tanh(self.fc_out2(h))
        return self.fc_logit(h)


class AttentionLSTMYT8M(nn.Layer):
    """PaddleVideo AttentionLSTM (Recognizer1D infer step). Six inputs, output logits [N, num_classes]."""

    input_names = ("rgb_data", "rgb_len", "rgb_mask", "audio_data", "audio_len", "audio_mask")
    output_names = ("output",)
    head_keys = ("head.fc_logit",)  # classifier layer (videohub.train.trainer)

    def __init__(self, num_classes: int = 3862, feature_dims: Sequence[int] = (1024, 128),
                 embedding_size: int = 512, lstm_size: int = 1024):
        super().__init__()
        self.feature_dims = tuple(int(d) for d in feature_dims)
        self.head = _AttentionLstmHead(num_classes, self.feature_dims, embedding_size, lstm_size)

    def forward(self, rgb_data, rgb_len, rgb_mask, audio_data, audio_len, audio_mask):
        return self.head([(rgb_data, rgb_len, rgb_mask), (audio_data, audio_len, audio_mask)])

    def export_input_spec(self):
        specs = []
        for name, dim in zip(("rgb", "audio"), self.feature_dims):
            specs += [InputSpec([None, None, dim], "float32", f"{name}_data"),
                      InputSpec([None], "int64", f"{name}_len"),
                      InputSpec([None, None, dim], "float32", f"{name}_mask")]
        return specs


# --------------------------------------------------------------------------------------------------
@register_architecture("attention_lstm_yt8m")
def attention_lstm_yt8m(**kw) -> AttentionLSTMYT8M:
    return AttentionLSTMYT8M(**kw)


@register_architecture("legacy_attention_lstm")
def legacy_attention_lstm(**kw) -> LegacyAttentionLSTM:
    return LegacyAttentionLSTM(**kw)


@register_architecture("videotag_attention_lstm")
def videotag_attention_lstm(**kw) -> VideoTagAttentionLSTM:
    return VideoTagAttentionLSTM(**kw)


@register_architecture("attention_cluster")
def attention_cluster(**kw) -> AttentionCluster:
    return AttentionCluster(**kw)


@register_architecture("nextvlad")
def nextvlad(**kw) -> NeXtVLAD:
    return NeXtVLAD(**kw)
