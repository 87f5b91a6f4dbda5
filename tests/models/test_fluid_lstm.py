"""The fluid operator re-implementations against values worked out by hand in numpy."""
from __future__ import annotations

import numpy as np
import paddle

from videohub.models.fluid_lstm import (FluidBatchNorm, FluidDynamicLSTM, fluid_dropout_infer,
                                        fluid_l2_normalize, sequence_softmax)

H = 2


def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def _params():
    rng = np.random.default_rng(3)
    w = rng.uniform(-0.8, 0.8, size=(H, 4 * H))
    b = rng.uniform(-0.5, 0.5, size=(1, 7 * H))
    x = rng.normal(size=(2, 4 * H))          # two projected time steps
    return w, b, x


def _hand_step(xt, h, c, w, b):
    """One fluid peephole LSTM step written out gate by gate (blocks c, i, f, o; peepholes in the bias)."""
    g = xt + b[0, :4 * H] + h @ w
    g_c, g_i, g_f, g_o = g[0:H], g[H:2 * H], g[2 * H:3 * H], g[3 * H:4 * H]
    w_ic, w_fc, w_oc = b[0, 4 * H:5 * H], b[0, 5 * H:6 * H], b[0, 6 * H:7 * H]
    i = _sig(g_i + w_ic * c)
    f = _sig(g_f + w_fc * c)
    c_new = f * c + i * np.tanh(g_c)
    o = _sig(g_o + w_oc * c_new)          # output gate peeps at the NEW cell
    return o * np.tanh(c_new), c_new


def _layer(reverse, w, b):
    with paddle.utils.unique_name.guard():  # explicit fluid names must be unique per process otherwise
        lstm = FluidDynamicLSTM(H, "lstm_9", is_reverse=reverse)
    lstm.weight.set_value(w.astype(np.float32))
    lstm.bias.set_value(b.astype(np.float32))
    return lstm


def test_parameter_names_and_shapes():
    with paddle.utils.unique_name.guard():
        lstm = FluidDynamicLSTM(3, "rgb_lstm_forward")
    shapes = {p.name: tuple(p.shape) for p in lstm.parameters()}
    assert shapes == {"rgb_lstm_forward.w_0": (3, 12), "rgb_lstm_forward.b_0": (1, 21)}


def test_forward_two_steps_by_hand():
    w, b, x = _params()
    z = np.zeros(H)
    h1, c1 = _hand_step(x[0], z, z, w, b)
    h2, _ = _hand_step(x[1], h1, c1, w, b)
    # step 1 from zero state: peepholes on c0 = 0 vanish, but w_oc already acts on c1
    i1 = _sig(x[0, H:2 * H] + b[0, H:2 * H])
    c1_manual = i1 * np.tanh(x[0, :H] + b[0, :H])
    np.testing.assert_allclose(c1, c1_manual, rtol=1e-12)
    with paddle.no_grad():
        out = _layer(False, w, b)(paddle.to_tensor(x[None].astype(np.float32))).numpy()[0]
    np.testing.assert_allclose(out, np.stack([h1, h2]), atol=1e-6)


def test_reverse_runs_right_to_left_keeping_time_order():
    w, b, x = _params()
    z = np.zeros(H)
    h_last, c_last = _hand_step(x[1], z, z, w, b)      # the reverse pass starts at the last step
    h_first, _ = _hand_step(x[0], h_last, c_last, w, b)
    with paddle.no_grad():
        out = _layer(True, w, b)(paddle.to_tensor(x[None].astype(np.float32))).numpy()[0]
    np.testing.assert_allclose(out, np.stack([h_first, h_last]), atol=1e-6)


def test_reverse_with_padding_starts_at_each_sequence_end():
    w, b, x = _params()
    layer = _layer(True, w, b)
    padded = np.zeros((1, 3, 4 * H), np.float32)
    padded[0, :2] = x
    padded[0, 2] = 5.0                                   # garbage in the padded step must not leak in
    mask = paddle.to_tensor(np.array([[1, 1, 0]], np.float32))
    with paddle.no_grad():
        got = layer(paddle.to_tensor(padded), mask).numpy()[0, :2]
        want = layer(paddle.to_tensor(x[None].astype(np.float32))).numpy()[0]
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_sequence_softmax_with_padding():
    scores = np.array([[1.0, 2.0, 3.0, 50.0], [0.5, -1.0, 7.0, 2.0]], np.float32)
    mask = np.array([[1, 1, 1, 0], [1, 1, 1, 1]], np.float32)
    e0 = np.exp(np.array([1.0, 2.0, 3.0]) - 3.0)
    e1 = np.exp(scores[1] - 7.0)
    want = np.array([list(e0 / e0.sum()) + [0.0], list(e1 / e1.sum())])
    got = sequence_softmax(paddle.to_tensor(scores[..., None]), paddle.to_tensor(mask)).numpy()[..., 0]
    np.testing.assert_allclose(got, want, atol=1e-7)
    full = sequence_softmax(paddle.to_tensor(scores)).numpy()
    np.testing.assert_allclose(full[1], want[1], atol=1e-7)


def test_dropout_downgrade_in_infer_and_batch_norm():
    x = paddle.to_tensor(np.array([1.0, -2.0], np.float32))
    np.testing.assert_allclose(fluid_dropout_infer(x, 0.5).numpy(), [0.5, -1.0])
    with paddle.utils.unique_name.guard():
        bn = FluidBatchNorm(2, "batch_norm_7")
    assert sorted(p.name for p in bn.parameters()) == [f"batch_norm_7.{s}" for s in ("b_0", "w_0", "w_1", "w_2")]
    bn.weight.set_value(np.array([2.0, 1.0], np.float32))
    bn.bias.set_value(np.array([0.5, 0.0], np.float32))
    bn._mean.set_value(np.array([1.0, -1.0], np.float32))
    bn._variance.set_value(np.array([4.0, 1.0], np.float32))
    got = bn(paddle.to_tensor(np.array([[3.0, 0.0]], np.float32))).numpy()
    np.testing.assert_allclose(got, [[2.0 * 2.0 / np.sqrt(4 + 1e-5) + 0.5, 1.0 / np.sqrt(1 + 1e-5)]], rtol=1e-6)


def test_nextvlad_intra_normalisation_tiny():
    """vlad [N, K, F] → transpose [N, F, K] → L2 over F for each cluster → F-major flatten."""
    vlad = np.array([[[3.0, 4.0, 0.0],      # cluster 0, F = 3
                      [0.0, 0.0, 2.0]]],    # cluster 1
                    np.float32)
    t = paddle.to_tensor(vlad).transpose([0, 2, 1])
    got = fluid_l2_normalize(t, axis=1).reshape([1, -1]).numpy()[0]
    # per cluster: [0.6, 0.8, 0] and [0, 0, 1]; flattened F-major: (f0k0, f0k1, f1k0, f1k1, f2k0, f2k1)
    np.testing.assert_allclose(got, [0.6, 0.0, 0.8, 0.0, 0.0, 1.0], atol=1e-6)
    z = fluid_l2_normalize(paddle.zeros([1, 3, 2]), axis=1).numpy()
    assert np.all(np.isfinite(z)) and not z.any()


def test_nextvlad_module_against_numpy():
    """The NeXtVLAD aggregation of the network on a tiny case against a direct numpy formulation."""
    from videohub.models.yt8m import _NeXtVLAD
    paddle.seed(0)
    D, K, G, E, T = 4, 3, 2, 2, 5
    with paddle.utils.unique_name.guard():
        m = _NeXtVLAD(D, K, E, G, "tiny", "batch_norm_a", "batch_norm_b")
    m.eval()
    rng = np.random.default_rng(7)
    for p in m.parameters():
        v = rng.normal(size=p.shape).astype(np.float32)
        if p.name.endswith(".w_2"):
            v = np.abs(v) + 0.5
        p.set_value(v)
    P = {p.name: p.numpy().astype(np.float64) for p in m.parameters()}
    x = rng.normal(size=(T, D))

    def bn(v, n):
        return (v - P[n + ".w_1"]) / np.sqrt(P[n + ".w_2"] + 1e-5) * P[n + ".w_0"] + P[n + ".b_0"]

    xe = x @ P["tiny_fc_expansion_w"] + P["tiny_fc_expansion_b"]                        # [T, 2D]
    att = _sig(xe @ P["tiny_fc_group_attention_w"] + P["tiny_fc_group_attention_b"])    # [T, G]
    act = bn(xe @ P["tiny_cluster_weights"], "batch_norm_a").reshape(T, G, K)
    act = np.exp(act) / np.exp(act).sum(-1, keepdims=True) * att[:, :, None]
    Fd = E * D // G
    a = act.sum(axis=(0, 1))[:, None] * P["tiny_cluster_weights2"]                     # [K, F]
    vlad = np.einsum("tgk,tgf->kf", act, xe.reshape(T, G, Fd)) - a
    vlad = vlad / np.sqrt((vlad ** 2).sum(axis=1, keepdims=True) + 1e-12)
    want = bn(vlad.T.reshape(-1), "batch_norm_b")
    with paddle.no_grad():
        got = m(paddle.to_tensor(x[None].astype(np.float32)), None).numpy()[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_tiny_attention_lstm_exports_with_dynamic_batch_and_time(tmp_path):
    """to_static + jit.save of a fluid AttentionLSTM; the Paddle Inference predictor (oneDNN on and off)
    reproduces dygraph for another batch size and time length, with per-video lengths."""
    from videohub.models import build_network
    paddle.seed(2)
    net = build_network("videotag_attention_lstm", feature_dim=8, embedding_size=6, lstm_size=3, num_classes=4)
    prefix = str(tmp_path / "tiny")
    paddle.jit.save(paddle.jit.to_static(net, input_spec=net.export_input_spec(), full_graph=True), prefix)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 7, 8)).astype(np.float32)
    lengths = np.array([7, 2, 5], np.int64)
    with paddle.no_grad():
        want = [t.numpy() for t in net(paddle.to_tensor(x), paddle.to_tensor(lengths))]
    for onednn in (True, False):
        cfg = paddle.inference.Config(prefix + ".json", prefix + ".pdiparams")
        if not onednn:
            cfg.disable_mkldnn()
        pred = paddle.inference.create_predictor(cfg)
        for name, arr in zip(pred.get_input_names(), (x, lengths)):
            h = pred.get_input_handle(name)
            h.reshape(arr.shape)
            h.copy_from_cpu(arr)
        pred.run()
        got = [pred.get_output_handle(n).copy_to_cpu() for n in pred.get_output_names()]
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, atol=1e-5)
