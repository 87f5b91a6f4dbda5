"""Video Swin-S (PaddleVideo SwinTransformer3D + I3DHead) against the seed-0 reference outputs (probabilities and
the head's logits), in dygraph and through the exported Paddle Inference model (oneDNN, with the card's disabled
pass). One dygraph run and one predictor run per file: the network is slow on 2 cores."""
from __future__ import annotations

import numpy as np
import paddle
import pytest
from conftest import (REPO, check_two_video_outputs, dygraph_outputs, manifest_entries, network_entries,
                      reference_outputs, rel_err, seed0_network, two_video_predictor_outputs)

from videohub.models import available_architectures, build_network
from videohub.models.checkpoint import load_into
from videohub.models.videoswin import relative_position_index

ARCH = "videoswin_s"
MANIFEST = "videoswin_s_state_dict.tsv"
INPUT_SPECS = ["imgs=1x3x32x224x224"]
MODULE_DIR = REPO / "modules" / "videoswin_kinetics400"
INDEX_KEY = "backbone.layers.0.blocks.0.attn.relative_position_index"
TOL = 1e-4



@pytest.fixture(scope="module")
def loaded(reference_tool, tmp_path_factory):
    """(network, checkpoint state dict, reference inputs) for seed 0, as the reference README says."""
    return seed0_network(reference_tool, tmp_path_factory.mktemp("videoswin"), ARCH, MANIFEST, INPUT_SPECS)


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
    return two_video_predictor_outputs(net, seed0[1]["imgs"], MODULE_DIR, tmp_path_factory.mktemp("videoswin_export"))


def test_registered():
    assert {"videoswin_s", "videoswin_b"} <= set(available_architectures())


def test_state_dict_matches_manifest(net, seed0):
    manifest = manifest_entries(MANIFEST)
    assert list(network_entries(net).items()) == list(manifest.items())
    state, _ = seed0
    assert {k: (tuple(v.shape), str(v.dtype)) for k, v in state.items()} == manifest
    assert sum(1 for _, dtype in manifest.values() if dtype == "int64") == 24


def test_relative_position_index_is_an_int64_buffer_loaded_from_the_checkpoint(net, seed0):
    state, _ = seed0
    # The network's own table equals the checkpoint's (the generator writes PaddleVideo's constant table).
    np.testing.assert_array_equal(relative_position_index((8, 7, 7)), state[INDEX_KEY])
    sd = net.state_dict()
    for k, v in state.items():
        if k.endswith("relative_position_index"):
            assert sd[k].dtype == paddle.int64 and np.array_equal(sd[k].numpy(), v), k
    # A checkpoint value is really loaded (not recomputed): a transposed table arrives as it is, still int64.
    fresh = build_network(ARCH)
    altered = dict(state)
    altered[INDEX_KEY] = np.ascontiguousarray(state[INDEX_KEY].T)
    load_into(fresh, altered)
    got = fresh.state_dict()[INDEX_KEY]
    assert got.dtype == paddle.int64 and np.array_equal(got.numpy(), altered[INDEX_KEY])


def test_swin_b_variant():
    net = build_network("videoswin_b")
    shapes = {k: tuple(t.shape) for k, t in net.state_dict().items()}
    assert len(shapes) == len(manifest_entries(MANIFEST))  # same keys as Swin-S
    assert shapes["backbone.patch_embed.proj.weight"] == (128, 3, 2, 4, 4)
    assert shapes["backbone.layers.0.blocks.0.attn.relative_position_bias_table"] == (2535, 4)
    assert shapes["backbone.layers.3.blocks.1.attn.relative_position_bias_table"] == (2535, 32)
    assert shapes["head.fc.weight"] == (1024, 400)


def test_dygraph_matches_reference(dygraph):
    ref = reference_outputs(ARCH)
    assert set(ref) == {"output", "logits_head_fc"}
    for name, want in ref.items():
        got = dygraph[name]
        assert got.shape == want.shape, name
        err = rel_err(got, want)
        print(f"dygraph {name}: rel_err {err:.3g}")
        assert err <= TOL, (name, err)
    np.testing.assert_allclose(dygraph["output"].sum(axis=1), 1.0, rtol=1e-5)


def test_exported_predictor_matches_reference(predictor_outputs):
    options, outs = predictor_outputs
    assert options.onednn  # oneDNN works once operator_reshape_onednn_fuse_pass is off
    check_two_video_outputs(outs, reference_outputs(ARCH), TOL)
