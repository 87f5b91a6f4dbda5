"""MoViNet-A0 (PaddleVideo MoViNet, causal False, conv_type 3d, in MoViNetRecognizerFrame) against the original.

The seed-0 checkpoint of `movinet_a0_state_dict.tsv` is generated with the shared tool; its keys and shapes equal
the network's, it loads with every entry consumed, and both the dygraph network (input [N, T, 3, H, W], transposed
inside) and the predictor exported as the module card says (dynamic batch and T, oneDNN on) match
`reference_outputs/movinet_a0_seed0.npz` to 1e-4 of max|ref|.
"""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from conftest import REPO, card_predictor, manifest_shapes, reference_outputs, rel_err, seed0_network
from videohub.card import load_card
from videohub.models import build_network
from videohub.models.checkpoint import network_state_shapes

MODEL, ARCH, MANIFEST, SPECS = "movinet_a0", "movinet_a0", "movinet_a0_state_dict.tsv", ["imgs=1x50x3x172x172"]
MODULE_DIR = REPO / "modules" / "movinet_kinetics400"
TOL = 1e-4



@pytest.fixture(scope="module")
def seed0(reference_tool, tmp_path_factory):
    """(network loaded with the seed-0 checkpoint, reference input, expected output)."""
    net, _, inputs = seed0_network(reference_tool, tmp_path_factory.mktemp("movinet_ckpt"), ARCH, MANIFEST, SPECS,
                                   **load_card(MODULE_DIR).arch_kwargs)
    return net, inputs["imgs"], reference_outputs(MODEL)["output"]


def test_keys_and_shapes_equal_the_manifest():
    assert network_state_shapes(build_network(ARCH)) == manifest_shapes(MANIFEST)


def test_dygraph_matches_reference(seed0):
    loaded, x, expected = seed0
    with paddle.no_grad():
        out = loaded(paddle.to_tensor(x)).numpy()
    assert out.shape == expected.shape
    err = rel_err(out, expected)
    assert err < TOL, f"rel err {err:.3g}"


def test_exported_predictor_matches_reference(seed0, tmp_path):
    loaded, x, expected = seed0
    _, pred = card_predictor(loaded, MODULE_DIR, tmp_path, threads=2)
    out = pred.run(x)
    assert len(out) == 1 and out[0].shape == expected.shape
    err = rel_err(out[0], expected)
    assert err < TOL, f"exported: rel err {err:.3g}"
    # dynamic batch and frame count: 2 clips of 16 frames, against dygraph
    x2 = np.ascontiguousarray(np.concatenate([x[:, :16], x[:, -16:]], axis=0))
    with paddle.no_grad():
        dy = loaded(paddle.to_tensor(x2)).numpy()
    out2 = pred.run(x2)[0]
    assert out2.shape == (2, 400)
    assert rel_err(out2, dy) < TOL
