"""Forward GFLOP counted from the ONNX form (videohub.runtime.cost) and the measured CPU peak (videohub.runtime.peak),
cached per CPU model."""
import json

import paddle
import pytest

from videohub.card import InputSpec
from videohub.runtime import cost, peak, predictor
from videohub.runtime.export import export_network
from videohub.runtime.onnx import ensure_onnx


class _ConvLinear(paddle.nn.Layer):
    def __init__(self):
        super().__init__()
        self.conv = paddle.nn.Conv2D(3, 4, 3, padding=1)            # 4*8*8 outputs x 3*3*3 = 6912 multiply-adds
        self.group = paddle.nn.Conv2D(4, 4, 3, padding=1, groups=2)  # 4*8*8 x 2*3*3 = 4608
        self.fc = paddle.nn.Linear(4, 5)                             # 5 x 4 = 20

    def forward(self, x):
        return self.fc(self.group(self.conv(x)).mean(axis=[2, 3]))


def test_multiply_adds_of_each_op():
    assert cost.multiply_adds("Conv", [1, 3, 8, 8], [4, 3, 3, 3], [1, 4, 8, 8]) == 6912
    assert cost.multiply_adds("GroupConv", [1, 4, 8, 8], [2, 2, 2, 3, 3], [1, 4, 8, 8]) == 4608
    assert cost.multiply_adds("MatMul", [2, 7, 3], [3, 5], [2, 7, 5]) == 2 * 7 * 5 * 3
    assert cost.multiply_adds("Gemm", [3, 7], [3, 5], [7, 5], transpose_a=True) == 7 * 5 * 3
    assert cost.multiply_adds("ConvTranspose", [1, 4, 5], [4, 2, 3], [1, 2, 7]) == 4 * 5 * 2 * 3
    # 10 steps x 2 videos, both directions, hidden 8 (32 gate rows), input 16: 4 gates x 8 x (16 + 8) each
    assert cost.multiply_adds("LSTM", [10, 2, 16], [2, 32, 16], [10, 2, 2, 8]) == 10 * 2 * 2 * 32 * (16 + 8)


@pytest.mark.parametrize("path", ["openvino", "onnxruntime"])
def test_forward_gflops_of_an_exported_network(tmp_path, path):
    pytest.importorskip("paddle2onnx")
    pytest.importorskip(path)
    paddle.seed(0)
    model, params = export_network(_ConvLinear(), [InputSpec("x", (-1, 3, 8, 8))], tmp_path / "inference")
    onnx_file = ensure_onnx(model, params)
    count = cost._openvino_macs if path == "openvino" else cost._onnxruntime_macs
    assert count(onnx_file, [[1, 3, 8, 8]]) == 6912 + 4608 + 20
    assert count(onnx_file, [[2, 3, 8, 8]]) == 2 * (6912 + 4608 + 20)
    assert cost.forward_gflops(onnx_file, [[1, 3, 8, 8]]) == pytest.approx(2 * 11540 / 1e9)


def test_peak_is_measured_once_per_cpu_model(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDEOHUB_CACHE_DIR", str(tmp_path))
    calls = []
    monkeypatch.setattr(peak, "gemm_gflops", lambda precision, threads: calls.append(precision) or
                        {"gflops": 100.0 + len(calls), "method": "test"})
    monkeypatch.setattr(peak, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    assert peak.machine_peak("fp32", 2)["gflops"] == 101.0
    assert peak.machine_peak("fp32", 2)["gflops"] == 101.0 and calls == ["fp32"]   # cached
    assert peak.machine_peak("bf16", 2) is None and peak.machine_peak("int8", 2) is None  # no bf16 on this CPU
    cached = json.loads((tmp_path / peak.PEAK_FILE).read_text())
    assert cached[peak.cpu_model()]["fp32/2 threads"]["gflops"] == 101.0
    monkeypatch.setattr(peak, "cpu_model", lambda: "Another CPU x4")
    assert peak.machine_peak("fp32", 2)["gflops"] == 102.0  # another CPU model is measured on its own


def test_the_same_cpu_name_with_other_instruction_sets_is_another_cpu(monkeypatch):
    """Virtual machines report "AMD EPYC" on hosts with and without AVX-512: the cache key tells them apart."""
    monkeypatch.setattr(predictor, "cpu_flags", lambda: frozenset({"sse4_2", "avx2", "fma"}))
    avx2 = predictor.cpu_model()
    monkeypatch.setattr(predictor, "cpu_flags", lambda: frozenset({"avx2", "fma", "avx512f", "avx512_bf16"}))
    avx512 = predictor.cpu_model()
    assert avx2.endswith("[avx2 fma]") and avx512.endswith("[avx2 fma avx512f avx512_bf16]")
    assert avx2.split(" [")[0] == avx512.split(" [")[0]


def test_gemm_peak_measures_something():
    measured = peak.gemm_gflops("fp32", 1, size=256, runs=2)
    assert measured["gflops"] > 0.1 and "256^3" in measured["method"]
