"""PP-TSMv2 (PaddleVideo PPTSM_v2 + MoViNetHead) against the original implementation.

The seed-0 checkpoint of `pptsmv2_lcnetv2_state_dict.tsv` is generated with the shared tool; its keys and shapes
equal the network's, it loads with every entry consumed, and both the dygraph network and the predictor exported
as the module card says (dynamic batch, T fixed at num_seg, oneDNN on) match
`reference_outputs/pptsmv2_lcnetv2_seed0.npz` to 1e-4 of max|ref|. The reference was computed without `rep()`
(depthwise branches summed); the fused form is checked against it too.
"""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from conftest import REPO, card_predictor, manifest_shapes, reference_outputs, rel_err, seed0_network
from videohub.card import load_card
from videohub.models import build_network
from videohub.models.checkpoint import load_into, network_state_shapes

MODEL, ARCH, MANIFEST, SPECS = "pptsmv2_lcnetv2", "pptsmv2_lcnetv2", "pptsmv2_lcnetv2_state_dict.tsv", \
    ["imgs=1x8x3x224x224"]
MODULE_DIR = REPO / "modules" / "pptsmv2_kinetics400"
TOL = 1e-4



@pytest.fixture(scope="module")
def seed0(reference_tool, tmp_path_factory):
    """(network loaded with the seed-0 checkpoint, the checkpoint, reference input, expected output)."""
    net, state, inputs = seed0_network(reference_tool, tmp_path_factory.mktemp("pptsmv2_ckpt"), ARCH, MANIFEST, SPECS,
                                   **load_card(MODULE_DIR).arch_kwargs)
    return net, state, inputs["imgs"], reference_outputs(MODEL)["output"]


def test_keys_and_shapes_equal_the_manifest():
    assert network_state_shapes(build_network(ARCH)) == manifest_shapes(MANIFEST)


def test_temporal_attention_variant_adds_two_keys():
    net = build_network(ARCH, num_seg=16, use_temporal_att=True)
    extra = {k: v for k, v in network_state_shapes(net).items() if k not in manifest_shapes(MANIFEST)}
    assert extra == {"backbone.global_attention.fc.weight": (16, 16), "backbone.global_attention.fc.bias": (16,)}
    x = paddle.to_tensor(np.random.default_rng(0).normal(size=(1, 16, 3, 64, 64)).astype("float32"))
    with paddle.no_grad():
        out = net(x)
    assert tuple(out.shape) == (1, 400) and np.isfinite(out.numpy()).all()


def test_dygraph_matches_reference(seed0):
    loaded, _, x, expected = seed0
    with paddle.no_grad():
        out = loaded(paddle.to_tensor(x)).numpy()
    assert out.shape == expected.shape
    err = rel_err(out, expected)
    assert err < TOL, f"rel err {err:.3g}"


def test_rep_fused_matches_reference(seed0):
    _, state, x, expected = seed0
    net = build_network(ARCH)
    load_into(net, state)
    net.backbone.rep()  # what PaddleVideo's export does; overwrites the (unused) dw_conv entries
    with paddle.no_grad():
        out = net(paddle.to_tensor(x)).numpy()
    assert rel_err(out, expected) < 1e-5


def test_exported_predictor_matches_reference(seed0, tmp_path):
    loaded, _, x, expected = seed0
    _, pred = card_predictor(loaded, MODULE_DIR, tmp_path, threads=2)
    out = pred.run(x)
    assert len(out) == 1 and out[0].shape == expected.shape
    err = rel_err(out[0], expected)
    assert err < TOL, f"exported: rel err {err:.3g}"
    # dynamic batch: two clips at once, each as the dygraph network gives it
    x2 = np.concatenate([x, x[:, ::-1]], axis=0)
    with paddle.no_grad():
        dy = loaded(paddle.to_tensor(x2)).numpy()
    out2 = pred.run(x2)[0]
    assert out2.shape == (2, 400)
    assert rel_err(out2, dy) < TOL
    assert rel_err(out2[:1], expected) < TOL
