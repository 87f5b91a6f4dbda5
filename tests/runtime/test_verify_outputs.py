"""The engine check compares every exported output (probabilities and logits), and a card may cut a large check
input along an axis the network does not depend on (TSN's 250 crops)."""
import numpy as np
import paddle
import pytest

from videohub.card import InputSpec, card_from_dict
from videohub.runtime import verify
from videohub.runtime.export import export_network
from videohub.runtime.files import weights_dir


class _TwoOutputs(paddle.nn.Layer):
    """[N, T, 4] -> (softmax, logits), like StNet/Video Swin/the YouTube-8M models."""

    def __init__(self):
        super().__init__()
        self.fc = paddle.nn.Linear(4, 3)

    def forward(self, x):
        logits = self.fc(x.mean(axis=1))
        return paddle.nn.functional.softmax(logits), logits


def _card(check_input=None):
    engines = {"verified": {"paddle": ["fp32"]}, **({"check_input": check_input} if check_input else {})}
    return card_from_dict({"name": "two", "task": "video/classification", "architecture": {"name": "two"},
                           "inputs": [{"name": "x", "shape": [-1, -1, 4]}], "labels": "none",
                           "engines": engines})


def test_every_output_is_compared(tmp_path):
    paddle.seed(0)
    net = _TwoOutputs()
    net.eval()
    export_network(net, [InputSpec("x", (-1, -1, 4))], weights_dir(tmp_path) / "inference")
    x = [np.random.default_rng(0).normal(size=(2, 5, 4)).astype(np.float32)]
    ref = verify.dygraph_outputs(net, x)
    good = verify.verify_engine(_card(), tmp_path, "paddle", "fp32", inputs=[x], reference=[ref])
    assert good["passed"] and len(good["output_errors"]) == 2 and max(good["output_errors"]) < 1e-5
    wrong_logits = [ref[0], ref[1] + 0.01 * np.abs(ref[1]).max()]  # the scores still agree, the logits do not
    bad = verify.verify_engine(_card(), tmp_path, "paddle", "fp32", inputs=[x], reference=[wrong_logits])
    assert not bad["passed"] and bad["output_errors"][0] < 1e-5 and bad["output_errors"][1] > 5e-3
    assert all(bad["top1_agree"])
    with pytest.raises(ValueError, match="gives 2 outputs, dygraph 1"):
        verify.output_errors(ref, ref[:1])


def test_check_input_cut():
    x = np.arange(2 * 250 * 3, dtype=np.float32).reshape(2, 250, 3)
    cut = verify.check_inputs(_card({"axis": 1, "length": 10}), [x])
    assert cut[0].shape == (2, 10, 3) and np.array_equal(cut[0], x[:, :10])
    assert verify.check_inputs(_card(), [x])[0].shape == x.shape
