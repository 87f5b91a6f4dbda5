"""paddle2onnx 2.1.0 leaves float attributes that PIR stores as float64 uninitialised (Paddle2ONNX issue #1646;
PP-TSM's leaky ReLU slopes came out as stack garbage, 0.05 relative error); `ensure_onnx` writes the Paddle
program's values back (videohub.runtime.onnx.restore_float64_attributes)."""
import numpy as np
import paddle
import pytest

from videohub.card import InputSpec
from videohub.runtime import onnx as vonnx
from videohub.runtime.export import export_network
from videohub.runtime.program import program_ops

SLOPES = (0.01, 0.2, 0.3)


class _Leaky(paddle.nn.Layer):
    """conv + leaky ReLU with a different slope at each depth (so a slope put on the wrong node shows)."""

    def __init__(self):
        super().__init__()
        self.convs = paddle.nn.LayerList([paddle.nn.Conv2D(3 if i == 0 else 4, 4, 3, padding=1)
                                          for i in range(len(SLOPES))])

    def forward(self, x):
        for conv, slope in zip(self.convs, SLOPES):
            x = paddle.nn.functional.leaky_relu(conv(x), slope)
        return x.mean(axis=[2, 3])


def test_leaky_relu_slopes_survive_the_onnx_conversion(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("paddle2onnx")
    paddle.seed(0)
    net = _Leaky()
    net.eval()
    model, params = export_network(net, [InputSpec("x", (-1, 3, 8, 8))], tmp_path / "inference")
    assert [op.attrs["negative_slope"] for op in program_ops(model) if op.type == "leaky_relu"] == \
        pytest.approx(SLOPES)
    onnx_file = vonnx.ensure_onnx(model, params)
    alphas = [a.f for n in onnx.load(str(onnx_file)).graph.node if n.op_type == "LeakyRelu" for a in n.attribute
              if a.name == "alpha"]
    assert alphas == pytest.approx(SLOPES)
    x = np.random.default_rng(0).normal(size=(2, 3, 8, 8)).astype(np.float32)
    y = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(y, net(paddle.to_tensor(x)).numpy(), rtol=1e-5, atol=1e-6)


def test_an_unmatched_node_is_an_error_not_a_guess(tmp_path):
    onnx = pytest.importorskip("onnx")
    node = onnx.helper.make_node("LeakyRelu", ["x"], ["renamed"], alpha=7.0)
    graph = onnx.helper.make_graph([node], "g", [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                                   [onnx.helper.make_tensor_value_info("renamed", onnx.TensorProto.FLOAT, [1])])
    path = tmp_path / "m.onnx"
    onnx.save(onnx.helper.make_model(graph), str(path))
    with pytest.raises(ValueError, match="cannot tell which Paddle leaky_relu"):
        vonnx.restore_float64_attributes(path, [])
