"""ResNet family (TSN, TSM, PP-TSM, PP-TSN, VideoTag TSN-R101) and StNet against the original implementations.

Each network gets the deterministic seed-0 checkpoint of its manifest (every key consumed), runs the seed-0 inputs in
dygraph, and must match `shared/data/reference_outputs/<model>_seed0.npz` to 1e-4 of max|ref| (the outputs are
large because random-weight eval BN does not renormalise; see the README there).
"""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from conftest import make_reference_checkpoint, manifest_shapes, rel_err, shared_path
from videohub.models.checkpoint import CheckpointError, load_into, network_state_shapes, read_pdparams
from videohub.models import build_network

# model → (architecture, builder kwargs, manifest, input specs, structured names?)
CASES = {
    "tsn_r50": ("tsn_r50", {}, "tsn_r50_state_dict.tsv", ["imgs=1x8x3x224x224"], True),
    "tsm_r50": ("tsm_r50", {}, "tsm_r50_state_dict.tsv", ["imgs=1x8x3x224x224"], True),
    "pptsm_r50": ("pptsm_r50", {}, "pptsm_r50_state_dict.tsv", ["imgs=1x8x3x224x224"], True),
    "pptsn_r50": ("pptsn_r50", {}, "pptsn_r50_state_dict.tsv", ["imgs=1x8x3x224x224"], True),
    "videotag_tsn_r101": ("videotag_tsn_r101", {}, "videotag_tsn_r101_legacy_state_dict.tsv",
                          ["image=1x8x3x224x224"], False),
    "legacy_stnet_r50": ("stnet_r50", {}, "legacy_stnet_r50_state_dict.tsv", ["image=1x8x15x256x256"], False),
}
TOL = 1e-4


@pytest.fixture(scope="module")
def checkpoints(reference_tool, tmp_path_factory):
    """model → (checkpoint path, inputs); each generated once per module."""
    root = tmp_path_factory.mktemp("resnet_ckpt")
    cache = {}

    def get(model):
        if model not in cache:
            _, _, manifest, specs, _ = CASES[model]
            path = root / f"{model}_seed0.pdparams"
            cache[model] = (path, make_reference_checkpoint(reference_tool, manifest, 0, path, specs))
        return cache[model]

    return get


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("model", list(CASES))
def test_matches_reference_outputs(model, checkpoints):
    arch, kwargs, _, _, structured = CASES[model]
    ref = np.load(shared_path("data", "reference_outputs", f"{model}_seed0.npz"))
    path, inputs = checkpoints(model)
    net = build_network(arch, **kwargs)
    report = load_into(net, read_pdparams(path), use_structured_name=structured)
    assert report.ok
    assert set(net.output_names) == {k[len("output_"):] for k in ref.files if k.startswith("output_")}
    with paddle.no_grad():
        outs = _as_tuple(net(*[paddle.to_tensor(inputs[name]) for name in net.input_names]))
    assert len(outs) == len(net.output_names)
    for name, out in zip(net.output_names, outs):
        expected = ref[f"output_{name}"]
        assert tuple(out.shape) == expected.shape, name
        err = rel_err(out.numpy(), expected)
        assert err < TOL, f"{model}/{name}: rel err {err:.3g}"


@pytest.mark.parametrize("model", ["tsn_r50", "legacy_stnet_r50"])
@pytest.mark.parametrize("change", ["rename", "reshape"])
def test_rejects_mismatched_checkpoint(model, change, checkpoints):
    arch, kwargs, _, _, structured = CASES[model]
    path, _ = checkpoints(model)
    state = read_pdparams(path)
    key = sorted(k for k in state if state[k].ndim == 4)[3]  # some conv weight
    if change == "rename":
        state[key + "_renamed"] = state.pop(key)
    else:
        state[key] = np.zeros(state[key].shape[:-1] + (state[key].shape[-1] + 1,), np.float32)
    net = build_network(arch, **kwargs)
    with pytest.raises(CheckpointError) as info:
        load_into(net, state, use_structured_name=structured)
    assert key in str(info.value)



@pytest.mark.parametrize("arch, kwargs, manifest", [
    ("pptsm_r50", {"depth": 101}, "pptsm_r101_dense_state_dict.tsv"),
    ("pptsm_mv2", {}, "pptsm_mv2_state_dict.tsv"),
    ("pptsm_mv3", {}, "pptsm_mv3_state_dict.tsv"),
])
def test_keys_of_models_without_reference_outputs(arch, kwargs, manifest):
    net = build_network(arch, **kwargs)
    assert network_state_shapes(net) == manifest_shapes(manifest)


@pytest.mark.parametrize("arch, shape, expected", [
    ("tsn_r50", (2, 3, 3, 64, 64), [(2, 400)]),              # any T: features averaged over frames
    ("pptsn_r50", (1, 5, 3, 64, 64), [(1, 400)]),
    ("tsm_r50", (2, 8, 3, 64, 64), [(2, 400)]),              # the shift needs num_seg frames
    ("videotag_tsn_r101", (2, 3, 3, 64, 64), [(2, 3, 2048)]),
    ("stnet_r50", (1, 3, 15, 64, 64), [(1, 400), (1, 400)]),
    ("pptsm_mv2", (2, 8, 3, 64, 64), [(2, 400)]),
    ("pptsm_mv3", (2, 8, 3, 64, 64), [(2, 400)]),
])
def test_batch_and_frame_count_are_free(arch, shape, expected):
    net = build_network(arch)
    x = paddle.to_tensor(np.random.default_rng(0).normal(size=shape).astype("float32"))
    with paddle.no_grad():
        outs = _as_tuple(net(x))
    assert [tuple(o.shape) for o in outs] == expected
    assert all(np.isfinite(o.numpy()).all() for o in outs)
