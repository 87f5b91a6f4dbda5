"""YouTube-8M feature networks against the reference outputs of the original implementations (seed 0).

For each network: the deterministic seed-0 checkpoint and inputs are regenerated with the shared numpy tool,
`load_into` must consume every key, and every stored output must match (abs ≤ 1e-5 or rel ≤ 1e-4).
"""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from conftest import make_reference_checkpoint, rel_err, shared_path
from videohub.models.checkpoint import load_into, read_pdparams
from videohub.models import build_network

CASES = {
    # name: (architecture, manifest, input specs, structured names?)
    "videotag_attention_lstm": ("videotag_attention_lstm", "videotag_attention_lstm_legacy_state_dict.tsv",
                                ["rgb=300x2048:abs"], False),
    "legacy_attention_lstm": ("legacy_attention_lstm", "legacy_attention_lstm_state_dict.tsv",
                              ["rgb=170x1024:uniform2", "audio=170x128:uniform2"], False),
    "legacy_attention_cluster": ("attention_cluster", "legacy_attention_cluster_state_dict.tsv",
                                 ["rgb=1x100x1024:uniform2", "audio=1x100x128:uniform2"], False),
    "legacy_nextvlad": ("nextvlad", "legacy_nextvlad_state_dict.tsv",
                        ["rgb=170x1024:uint8", "audio=170x128:uint8"], False),
    "attention_lstm_yt8m": ("attention_lstm_yt8m", "attention_lstm_yt8m_state_dict.tsv",
                            ["rgb_data=1x512x1024:uniform2:valid=170", "rgb_len=1:len=170",
                             "rgb_mask=1x512x1024:mask=170", "audio_data=1x512x128:uniform2:valid=170",
                             "audio_len=1:len=170", "audio_mask=1x512x128:mask=170"], True),
}


def _run_case(model, reference_tool, tmp_path):
    arch, manifest, specs, structured = CASES[model]
    ref_path = shared_path("data", "reference_outputs", f"{model}_seed0.npz")
    ckpt = tmp_path / f"{model}_seed0.pdparams"
    inputs = make_reference_checkpoint(reference_tool, manifest, 0, ckpt, specs)
    state = read_pdparams(ckpt)
    ckpt.unlink()
    net = build_network(arch)
    report = load_into(net, state, use_structured_name=structured)
    assert report.ok
    del state
    with np.load(ref_path) as z:
        ref = {k: z[k] for k in z.files}
    for name in net.input_names:  # the regenerated inputs are the stored ones
        if f"input_{name}" in ref:
            np.testing.assert_array_equal(inputs[name], ref[f"input_{name}"])
    with paddle.no_grad():
        outs = net(*[paddle.to_tensor(inputs[n]) for n in net.input_names])
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    assert len(outs) == len(net.output_names)
    errors = {}
    for name, out in zip(net.output_names, outs):
        r = ref[f"output_{name}"]
        a = out.numpy()
        assert a.shape == r.shape, (name, a.shape, r.shape)
        abs_err = float(np.max(np.abs(a.astype(np.float64) - r)))
        errors[name] = (abs_err, rel_err(a, r))
        assert abs_err <= 1e-5 or rel_err(a, r) <= 1e-4, (model, name, errors[name])
    print(model, errors)
    return net, inputs


@pytest.mark.parametrize("model", list(CASES))
def test_matches_reference(model, reference_tool, tmp_path):
    _run_case(model, reference_tool, tmp_path)


def test_architectures_registered():
    from videohub.models import available_architectures
    names = set(available_architectures())
    assert {"attention_lstm_yt8m", "legacy_attention_lstm", "videotag_attention_lstm",
            "attention_cluster", "nextvlad"} <= names


def test_features_from_example_pkl():
    from videohub.io import yt8m as features
    sample = features.read_yt8m_pkl(shared_path("data", "samples", "yt8m_example.pkl"))
    assert sample["nframes"] == 170 and sample["label"] == [11]
    assert sample["rgb"].shape == (170, 1024) and sample["rgb"].dtype == np.uint8
    assert sample["audio"].shape == (170, 128)
    rd, rl, rm, ad, al, am = features.attention_lstm_yt8m_inputs(sample)
    assert rd.shape == (1, 512, 1024) and am.shape == (1, 512, 128) and int(rl[0]) == 170 == int(al[0])
    assert rm[0, :170].min() == 1.0 and rm[0, 170:].max() == 0.0 and not rd[0, 170:].any()
    np.testing.assert_allclose(rd[0, :170], sample["rgb"] * (4 / 255) + 4 / 512 - 2, atol=1e-6)
    idx = features.stride_centre_indices(170, 100)
    assert len(idx) == 100 and idx[0] == 0 and idx[-1] == 169 and np.all(np.diff(idx) >= 0)
    assert list(features.stride_centre_indices(4, 8)) == [0, 0, 1, 1, 2, 2, 3, 3]
    rgb, audio = features.attention_cluster_inputs(sample)
    assert rgb.shape == (1, 100, 1024) and audio.shape == (1, 100, 128)
    r, a = features.nextvlad_dequantize(np.array([0, 255], np.uint8), np.array([0, 255], np.uint8))
    np.testing.assert_allclose(r, [-2.0, 2.0], atol=1e-6)
    np.testing.assert_allclose(a, [-2.0 + 4 / 512, 2.0 + 4 / 512], atol=1e-6)
    ev = features.nextvlad_eigen_param(shared_path("data", "samples", "yt8m_pca_eigenvals.npy"))
    assert ev.shape == (1024,) and ev.dtype == np.float32 and np.all(ev > 0)
    # str keys are accepted as well as bytes keys
    import pickle
    blob = pickle.dumps({"nframes": 2, "label": [3], "feature": sample["rgb"][:2], "audio": sample["audio"][:2]})
    s2 = features.read_yt8m_pkl(blob)
    assert s2["rgb"].shape == (2, 1024) and s2["label"] == [3]


def test_lengths_mask_matches_unpadded():
    """A padded batch with lengths gives the same result as the unpadded single sequence (legacy LoD)."""
    paddle.seed(1)
    net = build_network("videotag_attention_lstm", feature_dim=16, embedding_size=8, lstm_size=4,
                        num_classes=5)
    for p in net.parameters():
        p.set_value(paddle.randn(p.shape) * 0.5)
    x = np.random.default_rng(0).normal(size=(6, 16)).astype(np.float32)
    with paddle.no_grad():
        single = net(paddle.to_tensor(x))[1].numpy()
        padded = np.zeros((2, 9, 16), np.float32)
        padded[0, :6] = x
        padded[1] = np.random.default_rng(1).normal(size=(9, 16))
        batch = net(paddle.to_tensor(padded), paddle.to_tensor(np.array([6, 9], np.int64)))[1].numpy()
        full = net(paddle.to_tensor(padded[1]))[1].numpy()
    np.testing.assert_allclose(batch[0], single[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(batch[1], full[0], rtol=1e-5, atol=1e-5)
