"""The measured peak of this CPU (GFLOP/s of a large matrix product), per precision and thread count, so that
benchmark figures are judged against the machine they ran on. Cached per CPU model in
`user_cache_dir()/cpu_peak.json`.

How: OpenVINO's CPU plugin (oneDNN GEMM) on a 2048 x 2048 x 2048 MatMul with the precision as inference hint, the
best of a few runs (the peak, not the typical: other processes only ever slow a run down); without OpenVINO,
numpy's BLAS for fp32. int8 has no peak here (its GEMMs need a quantised model), so no fraction for it.
"""
from __future__ import annotations

import os
import time
from typing import Any, Dict, Optional

import numpy as np

from videohub.runtime.files import read_json, user_cache_dir, write_json
from videohub.runtime.predictor import PRECISION_FLAGS, cpu_flags, cpu_model, import_optional

PEAK_FILE = "cpu_peak.json"
PEAK_PRECISIONS = ("fp32", "bf16")
GEMM_SIZE = 2048
RUNS = 10


def _best_seconds(run, runs: int) -> float:
    run()  # warm-up (compilation, page faults)
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return best


def gemm_gflops(precision: str, threads: int, size: int = GEMM_SIZE, runs: int = RUNS) -> Dict[str, Any]:
    """GFLOP/s of the best of `runs` size^3 matrix products in `precision` on `threads` threads."""
    rng = np.random.default_rng(0)
    a, b = (rng.normal(size=(size, size)).astype(np.float32) for _ in range(2))
    try:
        ov = import_optional("openvino")
    except ImportError:
        ov = None
    if ov is not None:
        ops = import_optional("openvino.opset13")
        x = ops.parameter([size, size], np.float32)
        model = ov.Model([ops.matmul(x, ops.constant(b), False, False)], [x])
        compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": {"fp32": "f32", "bf16": "bf16"}[
            precision], "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"})
        request = compiled.create_infer_request()
        seconds = _best_seconds(lambda: request.infer({0: a}), runs)
        method = f"OpenVINO {ov.__version__} CPU MatMul {size}^3, {precision}, best of {runs}"
    elif precision == "fp32":
        seconds = _best_seconds(lambda: a @ b, runs)  # numpy's BLAS uses its own thread count
        method = f"numpy {np.__version__} BLAS sgemm {size}^3, best of {runs}"
    else:
        raise RuntimeError(f"measuring the {precision} peak needs OpenVINO")
    return {"gflops": round(2 * size ** 3 / seconds / 1e9, 1), "method": method,
            "load_average": round(os.getloadavg()[0], 2), "measured": time.strftime("%Y-%m-%d %H:%M:%S")}


def machine_peak(precision: str, threads: int, refresh: bool = False) -> Optional[Dict[str, Any]]:
    """This CPU's measured peak for `precision` ({"gflops", "method", "load_average", "measured"}), measured
    once per CPU model, precision and thread count (`refresh`: measure again and keep the higher, since a busy
    machine only lowers it); None when the CPU lacks native instructions for `precision` or it has no peak here
    (int8)."""
    wanted = PRECISION_FLAGS.get(precision, ())
    if precision not in PEAK_PRECISIONS or (wanted and not cpu_flags() & set(wanted)):
        return None
    path = user_cache_dir() / PEAK_FILE
    cache = read_json(path)
    key = f"{precision}/{threads} threads"
    entry = cache.get(cpu_model(), {}).get(key)
    if entry is None or refresh:
        new = gemm_gflops(precision, threads)
        entry = new if entry is None or new["gflops"] > entry["gflops"] else entry
        cache.setdefault(cpu_model(), {})[key] = entry
        write_json(path, cache)
    return entry
