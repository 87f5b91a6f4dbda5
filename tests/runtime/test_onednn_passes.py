"""oneDNN passes that break paddle 3.3.1 on some graphs are switched off where every Paddle predictor is built,
decided from the exported graph (videohub.runtime.engines.paddle_inference.broken_onednn_passes), so that no path
(module session, engine check, bench_engines --network, serving through the module) reaches the crash.
Predictor builds run in a subprocess: a segfault fails the test instead of ending pytest."""
import os
import subprocess
import sys
import textwrap

import paddle
import pytest

from conftest import REPO
from videohub.card import InputSpec
from videohub.runtime.engines.paddle_inference import broken_onednn_passes
from videohub.runtime.program import program_ops
from videohub.runtime.export import export_network

CONV_LEAKY = "conv_activation_onednn_fuse_pass"
RESHAPE = "operator_reshape_onednn_fuse_pass"


class _ConvAct(paddle.nn.Layer):
    """conv (2D or 3D) + batch norm + an activation (optionally after a scale)."""

    def __init__(self, conv3d=False, act="leaky_relu", scale_first=False):
        super().__init__()
        self.conv = (paddle.nn.Conv3D if conv3d else paddle.nn.Conv2D)(3, 4, 3, padding=1)
        self.bn = (paddle.nn.BatchNorm3D if conv3d else paddle.nn.BatchNorm2D)(4)
        self.act, self.scale_first = act, scale_first

    def forward(self, x):
        y = self.bn(self.conv(x))
        y = y * 2.0 if self.scale_first else y
        y = paddle.nn.functional.leaky_relu(y, 0.1) if self.act == "leaky_relu" else paddle.nn.functional.relu(y)
        return y.mean(axis=[2, 3])


class _Attention(paddle.nn.Layer):
    """transpose -> reshape -> fc -> reshape, the shape of a TimeSformer/Swin attention block's projections."""

    def __init__(self, transpose=True):
        super().__init__()
        self.fc, self.transpose = paddle.nn.Linear(8, 8), transpose

    def forward(self, x):  # [B, 4, 6, 8]
        y = x.transpose([0, 2, 1, 3]) if self.transpose else x
        return self.fc(y.reshape([-1, 24, 8])).reshape([-1, 6, 32]).mean(axis=1)


def _export(net, shape, prefix):
    paddle.seed(0)
    return export_network(net, [InputSpec("x", shape)], prefix)


@pytest.mark.parametrize("net,shape,expected", [
    (_ConvAct(), (-1, 3, 8, 8), (CONV_LEAKY,)),
    (_ConvAct(act="relu"), (-1, 3, 8, 8), ()),
    (_ConvAct(scale_first=True), (-1, 3, 8, 8), ()),
    (_ConvAct(conv3d=True), (-1, 3, 4, 8, 8), ()),
    (_Attention(), (-1, 4, 6, 8), (RESHAPE,)),
    (_Attention(transpose=False), (-1, 4, 6, 8), ()),
], ids=["conv2d-leaky", "conv2d-relu", "conv2d-scale-leaky", "conv3d-leaky", "transpose-reshape-fc-reshape",
        "reshape-fc-reshape"])
def test_broken_passes_are_read_from_the_graph(tmp_path, net, shape, expected):
    model, _ = _export(net, shape, tmp_path / "inference")
    assert broken_onednn_passes(model) == expected
    assert {"conv2d", "conv3d", "matmul"} & {op.type for op in program_ops(model)}


def _run_isolated(code: str, timeout: int = 300) -> str:
    """Run `code` in a fresh interpreter (this checkout's videohub first); fail on any crash, segfault included."""
    env_path = f"{REPO / 'common'}:{REPO / 'tests'}:{REPO / 'tests' / 'runtime'}"
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env={**os.environ, "PYTHONPATH": env_path})
    assert proc.returncode == 0, f"exit {proc.returncode} (-11 = segfault)\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_conv_leaky_relu_predictor_builds_through_every_path(tmp_path):
    # The module session (what hub.Module, `hub run` and `hub serving` use) and the engine check's
    # build_predictor, with a card that declares no disabled passes: the graph alone must switch the pass off.
    out = _run_isolated(f"""
        import json, shutil, numpy as np
        from pathlib import Path
        from test_onednn_passes import _ConvAct, _export
        from videohub.card import load_card
        from videohub.runtime.predictor import build_predictor
        from videohub.runtime.session import ModelRuntime
        from videohub.runtime.verify import card_options

        module = Path({str(tmp_path)!r}) / "module"
        card = json.loads((Path({str(REPO)!r}) / "modules/pptsm_kinetics400/card.json").read_text())
        card.pop("disabled_passes", None)
        card["engines"] = {{"verified": {{"paddle": ["fp32"]}}}}
        module.mkdir(); (module / "card.json").write_text(json.dumps(card))
        model, params = _export(_ConvAct(), (-1, 3, 8, 8), module / "weights" / "inference")
        x = np.ones((1, 3, 8, 8), np.float32)
        session = ModelRuntime(load_card(module), module, cpu_threads=1)
        a = session.predictor().run(x)[0]
        b = build_predictor("paddle", "fp32", model, params, card_options(load_card(module), 1)).run(x)[0]
        assert np.allclose(a, b), (a, b)
        print("OK", session.predictor().disabled_passes)
    """)
    assert "OK ('conv_activation_onednn_fuse_pass',)" in out


def test_bench_engines_network_path_builds_pptsm(tmp_path, reference_tool):
    # The reported crash: `bench_engines.py --network pptsm_r50` (no card, generated checkpoint), small input.
    out = _run_isolated("""
        import sys
        sys.argv = ["bench_engines.py", "--network", "pptsm_r50", "--manifest", "pptsm_r50_state_dict.tsv",
                    "--shape", "1x8x3x64x64", "--inputs", "1", "--runs", "1", "--threads", "1",
                    "--engines", "paddle/fp32", "--no-cost"]
        from conftest import load_script
        sys.exit(load_script("bench_engines").main())
    """)
    row = [line for line in out.splitlines() if line.startswith("| paddle | fp32")]
    assert row and "skipped" not in row[0] and "| True |" in row[0], out
