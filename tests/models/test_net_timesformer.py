"""TimeSformer ViT-B (PaddleVideo VisionTransformer, divided space-time + TimeSformerHead) against the seed-0
reference output, in dygraph and through the exported Paddle Inference model (oneDNN, with the card's
disabled pass). One dygraph run and one predictor run per file: the network is slow on 2 cores."""
from __future__ import annotations

import numpy as np
import paddle
import pytest
from conftest import REPO, card_predictor, manifest_entries, reference_outputs, rel_err, seed0_network

from videohub.models import available_architectures, build_network

ARCH = "timesformer_vitb"
MANIFEST = "timesformer_vitb_state_dict.tsv"
INPUT_SPECS = ["imgs=1x3x8x224x224"]
MODULE_DIR = REPO / "modules" / "timesformer_kinetics400"
TOL = 1e-4



def _network_entries(net) -> dict:
    return {k: (tuple(t.shape), str(t.dtype).replace("paddle.", "")) for k, t in net.state_dict().items()}


@pytest.fixture(scope="module")
def loaded(reference_tool, tmp_path_factory):
    """(network, checkpoint state dict, reference inputs) for seed 0, as the reference README says."""
    return seed0_network(reference_tool, tmp_path_factory.mktemp("timesformer"), ARCH, MANIFEST, INPUT_SPECS)


@pytest.fixture(scope="module")
def net(loaded):
    return loaded[0]


@pytest.fixture(scope="module")
def seed0(loaded):
    return loaded[1], loaded[2]


@pytest.fixture(scope="module")
def dygraph_outputs(net, seed0):
    _, inputs = seed0
    with paddle.no_grad():
        out = net(paddle.to_tensor(inputs["imgs"]))
    return {"output": out.numpy()}


@pytest.fixture(scope="module")
def predictor_outputs(net, seed0, tmp_path_factory):
    """The exported model (card inputs: dynamic batch) under the card's runtime options, fed a batch of 2: the
    reference input and another video (so rows must not mix)."""
    _, inputs = seed0
    options, pred = card_predictor(net, MODULE_DIR, tmp_path_factory.mktemp("timesformer_export"))
    x = inputs["imgs"]
    batch = np.concatenate([x, x[:, :, ::-1].copy()], axis=0)  # row 1: frames reversed
    outs = pred.run(batch)
    return options, dict(zip(net.output_names, outs))


def test_registered():
    assert ARCH in available_architectures()


def test_state_dict_matches_manifest(net, seed0):
    manifest = manifest_entries(MANIFEST)
    assert list(_network_entries(net).items()) == list(manifest.items())
    state, _ = seed0
    assert {k: (tuple(v.shape), str(v.dtype)) for k, v in state.items()} == manifest


def test_num_seg_variant_resizes_time_embedding():
    net = build_network(ARCH, num_seg=16, num_classes=10)
    shapes = {k: tuple(t.shape) for k, t in net.state_dict().items()}
    assert shapes["backbone.time_embed"] == (1, 16, 768) and shapes["head.fc.weight"] == (768, 10)
    assert net.input_spec()[0].shape[2] == 16


def test_dygraph_matches_reference(dygraph_outputs):
    ref = reference_outputs(ARCH)
    assert set(ref) == {"output"}
    got, want = dygraph_outputs["output"], ref["output"]
    assert got.shape == want.shape
    err = rel_err(got, want)
    print(f"dygraph output: rel_err {err:.3g}")
    assert err <= TOL


def test_exported_predictor_matches_reference(predictor_outputs, dygraph_outputs):
    options, outs = predictor_outputs
    assert options.onednn  # oneDNN works once operator_reshape_onednn_fuse_pass is off
    ref = reference_outputs(ARCH)
    for name, want in ref.items():
        got = outs[name]
        assert got.shape == (2,) + want.shape[1:], name  # dynamic batch
        err = rel_err(got[:1], want)
        print(f"predictor {name}: rel_err {err:.3g}")
        assert err <= TOL, (name, err)
        assert np.all(np.isfinite(got[1])) and rel_err(got[1:], want) > 1e-3  # the other row is another video
