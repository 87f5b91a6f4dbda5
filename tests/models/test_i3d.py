"""I3D: TF-SAME semantics, weight conversion, exported predictor vs dygraph, real-clip predictions."""
import numpy as np
import paddle
import pytest

from conftest import REPO, rel_err, shared_path
from videohub.card import load_card, load_labels
from videohub.models.checkpoint import load_into, network_state_shapes
from videohub.models import build_network
from videohub.models.i3d import Unit3D
from videohub.io.preprocess import prepare_video
from videohub.runtime.engines.paddle_inference import PaddlePredictor as Predictor
from videohub.runtime.predictor import RuntimeOptions
from videohub.tasks.scores import activate
from videohub.models.i3d import convert_i3d_tree
from videohub.runtime.files import inference_files
from videohub.weights import weights_installed

MODULE_DIR = REPO / "modules" / "i3d_kinetics400"


def _tf_same_conv3d(x, k, stride):
    """Reference TF 'SAME' conv3d in numpy: x [C, T, H, W], k [kt, kh, kw, cin, cout]."""
    c, *dims = x.shape
    ks = k.shape[:3]
    outs, pads = [], []
    for d, kk, s in zip(dims, ks, stride):
        o = -(-d // s)
        total = max((o - 1) * s + kk - d, 0)
        outs.append(o)
        pads.append((total // 2, total - total // 2))
    xp = np.pad(x, [(0, 0)] + pads)
    y = np.zeros((k.shape[-1], *outs))
    for t in range(outs[0]):
        for i in range(outs[1]):
            for j in range(outs[2]):
                patch = xp[:, t * stride[0]:t * stride[0] + ks[0], i * stride[1]:i * stride[1] + ks[1],
                           j * stride[2]:j * stride[2] + ks[2]]
                y[:, t, i, j] = np.einsum("cthw,thwco->o", patch, k)
    return y


def test_unit_conv_matches_tf_same_and_kernel_layout():
    rng = np.random.default_rng(0)
    k = rng.normal(size=(3, 3, 3, 2, 4)).astype(np.float32)   # flax layout
    x = rng.normal(size=(2, 5, 6, 7)).astype(np.float32)
    unit = Unit3D(2, 4, (3, 3, 3), (2, 2, 2))
    unit.eval()
    unit.conv.weight.set_value(k.transpose(4, 3, 0, 1, 2))   # the converter's transpose
    y = unit.conv(paddle.to_tensor(x[None])).numpy()[0]
    np.testing.assert_allclose(y, _tf_same_conv3d(x, k, (2, 2, 2)), rtol=1e-4, atol=1e-4)


def _fake_flax_tree(net):
    """A flax-style variable tree with the real I3D's names and shapes, random values."""
    rng = np.random.default_rng(1)
    tree = {"params": {}, "batch_stats": {}}
    for key, shape in network_state_shapes(net).items():
        parts = key.split(".")
        if parts[0] == "logits":
            scope = ["Logits", "Conv3d_0c_1x1"]
        elif len(parts) == 4:  # Mixed_3b.branch_1b.conv.weight
            branch, letter = parts[1][len("branch_")], parts[1][-1]
            name = {"0a": "Conv3d_0a_1x1", "1a": "Conv3d_0a_1x1", "1b": "Conv3d_0b_3x3",
                    "2a": "Conv3d_0a_1x1", "2b": "Conv3d_0b_3x3", "3b": "Conv3d_0b_1x1"}[branch + letter]
            scope = [parts[0], f"Branch_{branch}", name]
        else:
            scope = [parts[0]]
        leaf = parts[-1]
        node_p, node_s = tree["params"], tree["batch_stats"]
        for s in scope:
            node_p, node_s = node_p.setdefault(s, {}), node_s.setdefault(s, {})
        if leaf == "weight" and len(shape) == 5:
            node_p.setdefault("Conv_0", {})["kernel"] = rng.normal(size=(*shape[2:], shape[1], shape[0]))
        elif parts[0] == "logits" and leaf == "bias":
            node_p.setdefault("Conv_0", {})["bias"] = rng.normal(size=shape)
        elif leaf == "bias":
            node_p.setdefault("BatchNorm_0", {})["bias"] = rng.normal(size=shape)
        elif leaf == "_mean":
            node_s.setdefault("BatchNorm_0", {})["mean"] = rng.normal(size=(1, 1, 1, 1, shape[0]))
        elif leaf == "_variance":
            node_s.setdefault("BatchNorm_0", {})["var"] = rng.uniform(0.5, 1.5, size=(1, 1, 1, 1, shape[0]))
    return tree


def test_converter_fills_every_key_with_the_right_layout():
    net = build_network("i3d")
    tree = _fake_flax_tree(net)
    state = convert_i3d_tree(tree)
    report = load_into(net, state)
    assert report.ok and len(state) == len(net.state_dict())
    k = tree["params"]["Mixed_4c"]["Branch_2"]["Conv3d_0b_3x3"]["Conv_0"]["kernel"]
    np.testing.assert_array_equal(state["Mixed_4c.branch_2b.conv.weight"], k.transpose(4, 3, 0, 1, 2).astype(np.float32))
    assert (state["Conv3d_1a_7x7.bn.weight"] == 1).all()
    np.testing.assert_array_equal(state["Conv3d_1a_7x7.bn._variance"],
                                  tree["batch_stats"]["Conv3d_1a_7x7"]["BatchNorm_0"]["var"].reshape(-1).astype(np.float32))


@pytest.fixture(scope="module")
def real_i3d():
    if not weights_installed(MODULE_DIR):
        pytest.skip("I3D weights not installed: python scripts/fetch_weights.py i3d_kinetics400")
    card = load_card(MODULE_DIR)
    model, params = inference_files(MODULE_DIR)
    return card, load_labels(card), Predictor(model, params, RuntimeOptions(onednn=card.onednn, cpu_threads=2))


def test_real_weights_predictor_matches_dygraph_and_knows_archery(real_i3d):
    card, labels, predictor = real_i3d
    clip = shared_path("data", "samples", "paddlevideo_example_archery.avi")
    x = prepare_video(str(clip), card.preprocess).array
    logits = predictor.run(x)[0]
    net = build_network("i3d")
    net.set_state_dict(paddle.load(str(MODULE_DIR / "weights" / "model.pdparams")))
    with paddle.no_grad():
        ref = net(paddle.to_tensor(x)).numpy()
    assert rel_err(logits, ref) < 1e-4  # oneDNN export is exact
    probs = activate(logits, "softmax")[0]
    assert labels[int(np.argmax(probs))] == "archery" and probs.max() > 0.95


def test_real_weights_arm_wrestling(real_i3d):
    card, labels, predictor = real_i3d
    clip = shared_path("data", "samples", "mmaction2_demo_arm_wrestling.mp4")
    probs = activate(predictor.run(prepare_video(str(clip), card.preprocess).array)[0], "softmax")[0]
    assert labels[int(np.argmax(probs))] == "arm wrestling" and probs.max() > 0.99
