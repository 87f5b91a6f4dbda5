"""TimeSformer ViT-B (PaddleVideo VisionTransformer, divided space-time + TimeSformerHead) against the seed-0
reference output, in dygraph and through the exported Paddle Inference model (oneDNN, with the card's
disabled pass). One dygraph run and one predictor run per file: the network is slow on 2 cores."""
from __future__ import annotations

import pytest
from conftest import (REPO, check_two_video_outputs, dygraph_outputs, manifest_entries, network_entries,
                      reference_outputs, rel_err, seed0_network, two_video_predictor_outputs)

from videohub.models import available_architectures, build_network

ARCH = "timesformer_vitb"
MANIFEST = "timesformer_vitb_state_dict.tsv"
INPUT_SPECS = ["imgs=1x3x8x224x224"]
MODULE_DIR = REPO / "modules" / "timesformer_kinetics400"
TOL = 1e-4



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
def dygraph(net, seed0):
    return dygraph_outputs(net, seed0[1]["imgs"])


@pytest.fixture(scope="module")
def predictor_outputs(net, seed0, tmp_path_factory):
    return two_video_predictor_outputs(net, seed0[1]["imgs"], MODULE_DIR, tmp_path_factory.mktemp("timesformer_export"))


def test_registered():
    assert ARCH in available_architectures()


def test_state_dict_matches_manifest(net, seed0):
    manifest = manifest_entries(MANIFEST)
    assert list(network_entries(net).items()) == list(manifest.items())
    state, _ = seed0
    assert {k: (tuple(v.shape), str(v.dtype)) for k, v in state.items()} == manifest


def test_num_seg_variant_resizes_time_embedding():
    net = build_network(ARCH, num_seg=16, num_classes=10)
    shapes = {k: tuple(t.shape) for k, t in net.state_dict().items()}
    assert shapes["backbone.time_embed"] == (1, 16, 768) and shapes["head.fc.weight"] == (768, 10)
    assert net.input_spec()[0].shape[2] == 16


def test_dygraph_matches_reference(dygraph):
    ref = reference_outputs(ARCH)
    assert set(ref) == {"output"}
    got, want = dygraph["output"], ref["output"]
    assert got.shape == want.shape
    err = rel_err(got, want)
    print(f"dygraph output: rel_err {err:.3g}")
    assert err <= TOL


def test_exported_predictor_matches_reference(predictor_outputs):
    options, outs = predictor_outputs
    assert options.onednn  # oneDNN works once operator_reshape_onednn_fuse_pass is off
    check_two_video_outputs(outs, reference_outputs(ARCH), TOL)
