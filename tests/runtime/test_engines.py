"""Inference engines (videohub.engines): every installed engine/precision the i3d card declares gives dygraph's
outputs and top-1 on real clips; a missing engine or CPU feature falls back with a clear warning; caches and
verdicts are rebuilt when their source changes."""
import json

import numpy as np
import paddle
import pytest

from conftest import REPO, shared_path
from synthetic import write_video
from videohub.runtime import choice, onnx, predictor, verify
from videohub.runtime.engines.onnxruntime import OnnxRuntimePredictor
from videohub.card import load_card, load_labels
from videohub.io.preprocess import prepare_video
from videohub.runtime.export import export_network
from videohub.weights import weights_installed

MODULE_DIR = REPO / "modules" / "i3d_kinetics400"
# Labelled real clips (samples/MANIFEST.md) and the Kinetics-400 class each one shows.
CLIPS = {"paddlevideo_example_archery.avi": "archery", "mmaction2_demo_arm_wrestling.mp4": "arm wrestling"}

needs_weights = pytest.mark.skipif(not weights_installed(MODULE_DIR), reason="i3d_kinetics400 weights not installed")


@pytest.fixture(scope="module")
def card():
    return load_card(MODULE_DIR)


@pytest.fixture(scope="module")
def real_clips(card):
    """Network inputs of the labelled clips and dygraph's logits for them (the reference every engine meets)."""
    inputs = [prepare_video(str(shared_path("data", "samples", name)), card.preprocess).arrays for name in CLIPS]
    net = verify.reference_network(card, MODULE_DIR)
    refs = [verify.dygraph_outputs(net, x) for x in inputs]
    return inputs, refs


def _declared(card_path=MODULE_DIR):
    return choice.verified_engines(load_card(card_path))


@needs_weights
@pytest.mark.parametrize("engine,precision", _declared())
def test_declared_engines_match_dygraph_on_real_clips(card, real_clips, engine, precision):
    reason = predictor.missing_engine(engine) or predictor.unsupported_precision(engine, precision)
    if reason:
        pytest.skip(reason)
    inputs, refs = real_clips
    labels = load_labels(card)
    verdict = verify.verify_engine(card, MODULE_DIR, engine, precision, inputs=inputs, names=list(CLIPS),
                                    reference=refs)
    assert verdict["passed"], verdict
    assert verdict["max_error"] <= verify.TOLERANCE[precision]
    for ref, expected in zip(refs, CLIPS.values()):
        assert labels[int(np.argmax(ref[card.score_output]))] == expected  # the reference itself is right
    assert verify.current_verdict(MODULE_DIR, engine, precision)["passed"]


def _without(monkeypatch, *packages):
    real = predictor.import_optional

    def fake(name):
        if name.split(".")[0] in packages:
            raise ImportError(f"No module named {name!r} (simulated)")
        return real(name)

    monkeypatch.setattr(predictor, "import_optional", fake)


def test_missing_engine_is_reported_with_the_fix(monkeypatch):
    _without(monkeypatch, "openvino")
    reason = predictor.missing_engine("openvino")
    assert reason and "pip install openvino" in reason
    assert predictor.missing_engine("paddle") is None
    with pytest.raises(predictor.EngineUnavailable, match="pip install openvino"):
        predictor.build_predictor("openvino", "fp32", "x.json", "x.pdiparams")


@needs_weights
def test_missing_engines_fall_back_to_paddle_with_a_warning(card, monkeypatch):
    _without(monkeypatch, "openvino", "onnxruntime")
    with pytest.warns(verify.EngineFallbackWarning, match="openvino/fp32 not used.*pip install openvino"):
        picked = choice.resolve_engine(card, MODULE_DIR, "openvino", "fp32")
    assert (picked.engine, picked.precision) == ("paddle", "fp32")
    auto = choice.resolve_engine(card, MODULE_DIR)  # nothing was asked for: the skipped engines are noted
    assert (auto.engine, auto.precision) == ("paddle", "fp32")
    assert any("onnxruntime/fp32 skipped" in n and "pip install onnxruntime" in n for n in auto.notes)
    with pytest.warns(verify.EngineFallbackWarning, match="no verified engine runs .* in int8"):
        assert choice.resolve_engine(card, MODULE_DIR, None, "int8").precision == "fp32"


@needs_weights
def test_module_with_a_missing_engine_still_classifies(monkeypatch, tmp_path):
    import paddlehub as hub

    _without(monkeypatch, "openvino")
    video = write_video(tmp_path / "bar.mp4", num_frames=70, size=(96, 72), pattern="bar")
    with pytest.warns(verify.EngineFallbackWarning, match="pip install openvino"):
        m = hub.Module(directory=str(MODULE_DIR), engine="openvino")
        result = m.classify(paths=[str(video)], top_k=1)
    assert "prediction" in result[0] and len(result[0]["prediction"]) == 1
    assert m.engine_choice().engine == "paddle"


def test_precision_needs_the_cpu_feature():
    no_flags = frozenset({"avx2"})
    assert "avx512_bf16" in predictor.unsupported_precision("openvino", "bf16", no_flags)
    assert "vnni" in predictor.unsupported_precision("openvino", "int8", no_flags)
    assert predictor.unsupported_precision("openvino", "bf16", frozenset({"avx512_bf16"})) is None
    assert "does not run bf16" in predictor.unsupported_precision("onnxruntime", "bf16", frozenset({"avx512_bf16"}))


@needs_weights
def test_bf16_without_cpu_support_falls_back(card, monkeypatch):
    monkeypatch.setattr(predictor, "cpu_flags", lambda: frozenset({"avx2"}))
    with pytest.warns(verify.EngineFallbackWarning, match="lacks avx512_bf16"):
        picked = choice.resolve_engine(card, MODULE_DIR, "openvino", "bf16")
    assert (picked.engine, picked.precision) == ("paddle", "fp32")


class _Tiny(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = paddle.nn.Conv3D(3, 4, 3, padding=1)
        self.bn = paddle.nn.BatchNorm3D(4)

    def forward(self, x):
        return paddle.nn.functional.relu(self.bn(self.conv(x))).mean(axis=[2, 3, 4])


def _export_tiny(prefix, seed):
    from videohub.card import InputSpec

    paddle.seed(seed)
    net = _Tiny()
    net.eval()
    model, params = export_network(net, [InputSpec("x", (-1, 3, -1, 8, 8))], prefix)
    return net, model, params


def test_onnx_cache_is_reused_and_rebuilt_when_the_source_changes(tmp_path):
    for pkg in ("paddle2onnx", "onnxruntime"):
        pytest.importorskip(pkg)
    x = np.random.default_rng(0).normal(size=(1, 3, 4, 8, 8)).astype(np.float32)
    net, model, params = _export_tiny(tmp_path / "inference", seed=1)
    onnx_file = onnx.ensure_onnx(model, params)
    assert onnx_file == tmp_path / "inference.onnx"
    record = json.loads((tmp_path / "inference.onnx.json").read_text())
    stamp = onnx_file.stat().st_mtime_ns
    assert onnx.ensure_onnx(model, params).stat().st_mtime_ns == stamp  # cached, not converted again

    net2, model, params = _export_tiny(tmp_path / "inference", seed=2)  # new weights, same file names
    onnx_file = onnx.ensure_onnx(model, params)
    record2 = json.loads((tmp_path / "inference.onnx.json").read_text())
    assert record2["source_sha256"] != record["source_sha256"]
    y = OnnxRuntimePredictor(onnx_file, threads=1).run(x)[0]
    np.testing.assert_allclose(y, net2(paddle.to_tensor(x)).numpy(), rtol=1e-4, atol=1e-5)
    assert not np.allclose(y, net(paddle.to_tensor(x)).numpy(), atol=1e-3)


def test_verdict_is_void_when_the_weights_change(tmp_path):
    weights = tmp_path / "weights"
    _export_tiny(weights / "inference", seed=1)
    verdict = {"engine": "paddle", "precision": "bf16", "engine_version": predictor.engine_version("paddle"),
               "source_sha256": verify._source_digest(tmp_path), "passed": True}
    verify._record_verdict(tmp_path, verdict)
    assert verify.current_verdict(tmp_path, "paddle", "bf16")["passed"]
    _export_tiny(weights / "inference", seed=2)
    assert verify.current_verdict(tmp_path, "paddle", "bf16") is None
