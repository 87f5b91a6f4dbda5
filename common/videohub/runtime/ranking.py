"""Which verified engine runs a module first on this CPU: a short timing of each candidate (model only, the
module's synthetic input), made at export or on first use and cached per CPU model and thread count in
`weights/engine_timings.json`. The fastest engine depends on the CPU (on an AVX2 machine ONNX Runtime beats
OpenVINO on ResNet-50, on an AVX-512 one the other way round), so cards list what is verified, not an order.
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from videohub.card import ModelCard
from videohub.runtime.files import inference_files, read_json, sha256_of, weights_dir, write_json
from videohub.runtime.predictor import build_predictor, cpu_model, cpu_threads, engine_version, missing_engine
from videohub.runtime.verify import card_options, check_inputs, verdict_key

TIMINGS_FILE = "engine_timings.json"
TIMING_RUNS = 3  # after one warm-up run; the median is kept

Candidate = Tuple[str, str]  # (engine, precision)


def timings_key(threads: Optional[int]) -> str:
    """What a timing depends on besides the model: the CPU model and the thread count."""
    return f"{cpu_model()} / {cpu_threads(threads)} threads"


def _timings_file(module_dir: Union[str, Path]) -> Path:
    return weights_dir(module_dir) / TIMINGS_FILE


def recorded_timings(module_dir: Union[str, Path], threads: Optional[int]) -> Dict[str, float]:
    """{"engine/precision": seconds} measured on this CPU model for the current exported model and engine
    versions (timings of an older model or engine version are not returned)."""
    entry = read_json(_timings_file(module_dir)).get(timings_key(threads), {})
    if entry.get("source_sha256") != sha256_of(*inference_files(module_dir)):
        return {}
    return {k: t["seconds"] for k, t in entry.get("timings", {}).items()
            if t.get("engine_version") == _installed_version(k.split("/")[0])}


def _installed_version(engine: str) -> Optional[str]:
    """The engine's version, None when it is not installed (or no longer registered) here."""
    return None if missing_engine(engine) else engine_version(engine)


def record_timings(module_dir: Union[str, Path], threads: Optional[int], seconds: Dict[str, float]) -> None:
    """Add timings ({"engine/precision": seconds}) for this CPU model to `weights/engine_timings.json`."""
    path = _timings_file(module_dir)
    data = read_json(path)
    source = sha256_of(*inference_files(module_dir))
    entry = data.get(timings_key(threads), {})
    if entry.get("source_sha256") != source:
        entry = {"source_sha256": source, "timings": {}}
    for key, s in seconds.items():
        entry["timings"][key] = {"seconds": float(f"{s:.4g}"), "engine_version": engine_version(key.split("/")[0]),
                                 "measured": time.strftime("%Y-%m-%d %H:%M:%S")}
    data[timings_key(threads)] = entry
    try:
        write_json(path, data)
    except OSError:  # a read-only install still runs; it times again next time
        pass


def time_engines(card: ModelCard, module_dir: Union[str, Path], candidates: Sequence[Candidate],
                 threads: Optional[int] = None, inputs: Optional[Sequence[np.ndarray]] = None,
                 runs: int = TIMING_RUNS) -> Dict[str, float]:
    """Median model-only seconds of each candidate on one input (default: the engine check's input), recorded.
    Candidates are timed one after the other, each predictor released before the next is built."""
    x = list(inputs) if inputs is not None else check_inputs(card)
    model, params = inference_files(module_dir)
    seconds: Dict[str, float] = {}
    for engine, precision in candidates:
        predictor = build_predictor(engine, precision, model, params, card_options(card, threads))
        predictor.run(*x)  # warm-up: compilation, first-run allocations
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            predictor.run(*x)
            times.append(time.perf_counter() - t0)
        seconds[verdict_key(engine, precision)] = statistics.median(times)
        del predictor
    record_timings(module_dir, threads, seconds)
    return seconds


def fastest_first(card: ModelCard, module_dir: Union[str, Path], candidates: Sequence[Candidate],
                  threads: Optional[int] = None, measure: bool = True) -> List[Candidate]:
    """`candidates` ordered by their timing on this CPU (measured now for those without one when `measure`);
    candidates without a timing keep their given order, after the timed ones."""
    timings = recorded_timings(module_dir, threads)
    missing = [c for c in candidates if verdict_key(*c) not in timings]
    if measure and len(candidates) > 1 and missing:
        timings.update(time_engines(card, module_dir, missing, threads))
    order = {c: i for i, c in enumerate(candidates)}
    return sorted(candidates, key=lambda c: (timings.get(verdict_key(*c), float("inf")), order[c]))
