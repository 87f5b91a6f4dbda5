"""BMN network: PaddleVideo keys, the BM sample mask, equivalence with the reference outputs and the export."""
from __future__ import annotations

import math

import numpy as np
import paddle
import pytest

from conftest import make_reference_checkpoint, rel_err, shared_path
from videohub.models.checkpoint import load_into, read_pdparams
from videohub.models import build_network
from videohub.models.bmn import bm_sample_mask

INPUT_SPECS = ["feat_input=1x400x100"]


def _loop_mask(tscale, dscale, ratio, num_sample, per_bin):
    """Element-by-element construction of the BM mask, written straight from the BMN paper's definition
    in the order PaddleVideo accumulates it; the vectorised version must equal it bit for bit."""
    mask = np.zeros((tscale, num_sample, dscale, tscale), dtype=np.float64)
    for s in range(tscale):
        for d in range(dscale):
            if s + d >= tscale:
                continue
            center_len = float(d) + 1
            lo, hi = s - center_len * ratio, s + d + center_len * ratio
            step = float(hi - lo) / (num_sample * per_bin - 1.0)
            pts = [lo + step * k for k in range(num_sample * per_bin)]
            for i in range(num_sample):
                acc = np.zeros(tscale)
                for x in pts[i * per_bin:(i + 1) * per_bin]:
                    frac, down = math.modf(x)
                    up = math.ceil(x)
                    if 0 <= int(down) <= tscale - 1:
                        acc[int(down)] += 1 - frac
                    if 0 <= int(up) <= tscale - 1:
                        acc[int(up)] += frac
                mask[:, i, d, s] = 1.0 / per_bin * acc
    return mask.astype(np.float32).reshape(tscale, -1)


@pytest.mark.parametrize("cfg", [(10, 10, 0.5, 4, 3), (12, 7, 0.3, 5, 2), (8, 8, 0.5, 3, 1)])
def test_sample_mask_matches_elementwise_definition(cfg):
    got = bm_sample_mask(*cfg)
    assert got.dtype == np.float32
    assert np.array_equal(got, _loop_mask(*cfg))


def test_sample_mask_properties():
    m = bm_sample_mask(20, 20, 0.5, 8, 3).reshape(20, 8, 20, 20)
    # proposals running past the end are all zero
    assert not m[:, :, 15, 10].any()
    # an interior proposal: every bin's weights sum to 1 (all samples inside the sequence)
    assert np.allclose(m[:, :, 3, 8].sum(axis=0), 1.0, atol=1e-6)


@pytest.fixture(scope="module")
def loaded_bmn(tmp_path_factory, reference_tool):
    out = tmp_path_factory.mktemp("bmn") / "bmn_seed0.pdparams"
    inputs = make_reference_checkpoint(reference_tool, "bmn_state_dict.tsv", 0, out, INPUT_SPECS)
    net = build_network("bmn")
    load_into(net, read_pdparams(out))
    return net, inputs


def test_state_dict_keys_are_the_manifest_and_mask_is_not_persisted():
    man = shared_path("data", "state_dicts", "bmn_state_dict.tsv")
    expected = {}
    for line in man.read_text().splitlines():
        cols = line.split("\t")
        if cols[0] and not cols[0].startswith("#") and cols[0] != "name":
            expected[cols[0]] = tuple(int(d) for d in cols[1].split("x"))
    net = build_network("bmn", tscale=100, dscale=100, feat_dim=400, prop_boundary_ratio=0.5,
                        num_sample=32, num_sample_perbin=3)
    got = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert got == expected
    buffers = dict(net.named_buffers())
    assert tuple(buffers["backbone.sample_mask"].shape) == (100, 32 * 100 * 100)
    assert not any("sample_mask" in k for k in net.state_dict())


def test_bmn_matches_reference_outputs(loaded_bmn):
    net, inputs = loaded_bmn
    ref_path = shared_path("data", "reference_outputs", "bmn_seed0.npz")
    with np.load(ref_path) as z:
        ref = {k: z[k] for k in z.files}
    x = inputs["feat_input"]
    assert x.shape == (1, 400, 100)
    assert np.array_equal(x, ref["input_feat_input"])
    with paddle.no_grad():
        outs = [o.numpy() for o in net(paddle.to_tensor(x))]
    assert len(outs) == len(net.output_names) == 3
    for name, out in zip(net.output_names, outs):
        r = ref[f"output_{name}"]
        assert out.shape == r.shape, name
        abs_err = float(np.max(np.abs(out.astype(np.float64) - r)))
        assert abs_err <= 1e-5 or rel_err(out, r) <= 1e-4, f"{name}: abs {abs_err:.3g}, rel {rel_err(out, r):.3g}"


def test_exported_predictor_with_onednn_matches_dygraph(loaded_bmn, tmp_path):
    from videohub.card import InputSpec
    from videohub.runtime.export import export_network
    from videohub.runtime.engines.paddle_inference import PaddlePredictor as Predictor
    from videohub.runtime.predictor import RuntimeOptions

    net, inputs = loaded_bmn
    x = inputs["feat_input"]
    with paddle.no_grad():
        dy = [o.numpy() for o in net(paddle.to_tensor(x))]
    model, params = export_network(net, [InputSpec("feat_input", (-1, 400, 100))], tmp_path / "inference")
    # the mask buffer is captured by the export although it is not part of the state dict
    assert not any("sample_mask" in k for k in net.state_dict())
    pred = Predictor(model, params, RuntimeOptions(onednn=True, cpu_threads=2))
    assert pred.input_names == ["feat_input"]
    outs = pred.run(x)
    assert [o.shape for o in outs] == [d.shape for d in dy]
    for name, o, d in zip(net.output_names, outs, dy):
        assert float(np.max(np.abs(o - d))) <= 1e-5, name
