"""An engine is trusted only after its outputs match the Paddle dygraph network on the same input.

`verify_engine` runs an engine/precision and the dygraph network with the module's weights, and records the
verdict in `weights/engines.json` (keyed by engine/precision, with the sha256 of the exported model and the
engine's version, so a changed model or engine is checked again).
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import paddle

from videohub.card import ModelCard
from videohub.io.preprocess import prepare_array
from videohub.models import build_network
from videohub.models.checkpoint import load_into, read_pdparams
from videohub.runtime.files import inference_files, read_json, sha256_of, weights_dir, write_json
from videohub.runtime.onnx import onnx_path
from videohub.runtime.predictor import RuntimeOptions, build_predictor, engine_version

ENGINES_FILE = "engines.json"
# max|y - ref| / max|ref| of every exported output (probabilities, logits, proposal maps) against dygraph fp32.
# Measured with `scripts/bench_engines.py MODULE [--generated MANIFEST]` (benchmarks/engines/<machine>/*.json,
# column output_errors; 2026-12-03, AVX-512 and AVX2 machines): fp32 engines reach at most 2.9e-6 on any output of
# any module, logits included
# (NeXtVLAD logits 2.9e-6, SlowFast 2.5e-6, StNet 9.5e-7, PP-TSM/TSN/PP-TSN 2.0e-6, BMN 1.7e-6, I3D 1.2e-6),
# so 1e-4 leaves a 35x margin;
# OpenVINO bf16 reaches 3.5e-3..7.9e-3 (logits 4.6e-3 SlowFast, 4.8e-3 StNet), within 3e-2 with top-1 kept;
# int8 near 3e-2 on I3D.
TOLERANCE = {"fp32": 1e-4, "bf16": 3e-2, "int8": 1e-1}


class EngineFallbackWarning(UserWarning):
    """A requested engine/precision was replaced by another one; the message says why."""


def reference_network(card: ModelCard, module_dir: Union[str, Path]):
    """The dygraph network with the module's installed weights (`weights/model.pdparams`, which export always
    writes with structured names, whatever names the original checkpoint used)."""
    net = build_network(card.arch_name, **card.arch_kwargs)
    load_into(net, read_pdparams(weights_dir(module_dir) / "model.pdparams"), use_structured_name=True)
    return net


def dygraph_outputs(net: paddle.nn.Layer, arrays: Sequence[np.ndarray]) -> List[np.ndarray]:
    net.eval()
    with paddle.no_grad():
        out = net(*[paddle.to_tensor(np.ascontiguousarray(a)) for a in arrays])
    outs = out if isinstance(out, (list, tuple)) else [out]
    return [o.numpy() for o in outs]


def synthetic_feature_inputs(card: ModelCard, length: int = 64) -> List[np.ndarray]:
    """A deterministic input for a card whose network takes features, not video (BMN, the YouTube-8M models):
    one batch row, `length` steps on every other dynamic axis, uniform [-1, 1) values, integer inputs (the
    sequence lengths) equal to `length`."""
    rng = np.random.default_rng(0)
    arrays = []
    for spec in card.inputs:
        shape = [1 if axis == 0 and d < 0 else (length if d < 0 else d) for axis, d in enumerate(spec.shape)]
        if np.issubdtype(np.dtype(spec.dtype), np.integer):
            arrays.append(np.full(shape, length, dtype=spec.dtype))
        else:
            arrays.append(rng.uniform(-1.0, 1.0, size=shape).astype(spec.dtype))
    return arrays


def synthetic_inputs(card: ModelCard, frames: int = 0) -> List[np.ndarray]:
    """A deterministic network input through the card's own pipeline (moving coloured bars over noise), for
    verification when no real clip is given. `frames` = 0: enough for the card's sampler. Feature-input cards
    get `synthetic_feature_inputs`."""
    if card.preprocess is None:
        return synthetic_feature_inputs(card)
    s = card.preprocess.sampler
    n = frames or int(max(s.clip_len * s.frame_interval, s.num_segments * s.seg_len, card.preprocess.min_frames)) + 8
    rng = np.random.default_rng(0)
    video = rng.integers(0, 60, size=(n, 240, 320, 3), dtype=np.uint8)
    for i in range(n):  # motion, so temporal networks see something
        x = (i * 7) % 280
        video[i, 60:180, x:x + 40] = (230, 180, 40)
    return prepare_array(video, card.preprocess).arrays


def check_inputs(card: ModelCard, arrays: Optional[Sequence[np.ndarray]] = None) -> List[np.ndarray]:
    """The input an engine check runs (default: the synthetic clip). A card whose clip is large along an axis the
    network does not depend on (TSN's 250 crops along time) declares `engines.check_input: {"axis": 1,
    "length": 10}`, and the check runs the first `length` entries of that axis of every input."""
    arrays = list(synthetic_inputs(card) if arrays is None else arrays)
    cut = dict(getattr(card, "engines", None) or {}).get("check_input")
    if not cut:
        return arrays
    index = (slice(None),) * int(cut["axis"]) + (slice(0, int(cut["length"])),)
    return [np.ascontiguousarray(a[index]) for a in arrays]


def relative_error(y: np.ndarray, ref: np.ndarray) -> float:
    """max|y - ref| / max|ref|."""
    y, ref = np.asarray(y, np.float64), np.asarray(ref, np.float64)
    return float(np.max(np.abs(y - ref)) / max(float(np.max(np.abs(ref))), 1e-12))


def verdict_key(engine: str, precision: str) -> str:
    return f"{engine}/{precision}"


def _engines_file(module_dir: Union[str, Path]) -> Path:
    return weights_dir(module_dir) / ENGINES_FILE


def read_verdicts(module_dir: Union[str, Path]) -> Dict[str, Any]:
    return read_json(_engines_file(module_dir))


def _source_digest(module_dir: Union[str, Path]) -> str:
    return sha256_of(*inference_files(module_dir))


def current_verdict(module_dir: Union[str, Path], engine: str, precision: str) -> Optional[Dict[str, Any]]:
    """The recorded verdict when it still applies (same exported model, same engine version), else None."""
    v = read_verdicts(module_dir).get(verdict_key(engine, precision))
    if not v or v.get("source_sha256") != _source_digest(module_dir):
        return None
    if v.get("engine_version") != engine_version(engine):
        return None
    if precision == "int8":
        int8 = onnx_path(inference_files(module_dir)[0], "int8")
        if not int8.is_file() or v.get("int8_sha256") != sha256_of(int8):
            return None
    return v


def output_errors(outputs: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> List[float]:
    """`relative_error` of every exported output (scores, logits, proposals) against dygraph's, in order."""
    if len(outputs) != len(reference):
        raise ValueError(f"the engine gives {len(outputs)} outputs, dygraph {len(reference)}")
    return [relative_error(y, ref) for y, ref in zip(outputs, reference)]


def verify_engine(card: ModelCard, module_dir: Union[str, Path], engine: str, precision: str,
                  inputs: Optional[Sequence[Sequence[np.ndarray]]] = None, names: Optional[Sequence[str]] = None,
                  threads: Optional[int] = None, tolerance: Optional[float] = None,
                  reference: Optional[Sequence[Sequence[np.ndarray]]] = None) -> Dict[str, Any]:
    """Run `engine`/`precision` and the dygraph network on the same inputs, record the verdict in
    `weights/engines.json` and return it. Passes when, for every input, every exported output (probabilities
    and logits alike) is within the tolerance and the top-1 of the score output agrees. `inputs`: a list of
    input tuples (default: one synthetic clip); `reference`: dygraph's outputs (all of them) for each input
    when already computed."""
    inputs = [list(x) for x in (inputs or [check_inputs(card)])]
    names = list(names or (["synthetic"] if len(inputs) == 1 else [f"input_{i}" for i in range(len(inputs))]))
    tol = TOLERANCE[precision] if tolerance is None else tolerance
    model, params = inference_files(module_dir)
    predictor = build_predictor(engine, precision, model, params, card_options(card, threads))
    if reference is None:
        net = reference_network(card, module_dir)
        reference = [dygraph_outputs(net, x) for x in inputs]
    per_input, agree = [], []
    for x, ref in zip(inputs, reference):
        y = predictor.run(*x)
        per_input.append(output_errors(y, ref))
        agree.append(bool(np.array_equal(np.argmax(y[card.score_output], -1), np.argmax(ref[card.score_output], -1))))
    by_output = [max(col) for col in zip(*per_input)]
    verdict = {"engine": engine, "precision": precision, "engine_version": engine_version(engine),
               "source_sha256": _source_digest(module_dir), "inputs": names,
               "errors": [float(f"{max(e):.3g}") for e in per_input],
               "output_errors": [float(f"{e:.3g}") for e in by_output], "max_error": float(f"{max(by_output):.3g}"),
               "tolerance": tol, "top1_agree": agree,
               "passed": bool(max(by_output) <= tol and all(agree)), "checked": time.strftime("%Y-%m-%d %H:%M:%S")}
    if precision == "int8":
        verdict["int8_sha256"] = sha256_of(onnx_path(model, "int8"))
    _record_verdict(module_dir, verdict)
    return verdict


def card_options(card: Optional[ModelCard] = None, threads: Optional[int] = None) -> RuntimeOptions:
    """Runtime options as a module would use them (the card's oneDNN switch and disabled passes)."""
    opts = RuntimeOptions(cpu_threads=threads)
    if card is not None:
        opts = opts.with_(onednn=card.onednn, disabled_passes=card.disabled_passes)
    return opts


def _record_verdict(module_dir: Union[str, Path], verdict: Dict[str, Any]) -> None:
    path = _engines_file(module_dir)
    data = read_verdicts(module_dir)
    data[verdict_key(verdict["engine"], verdict["precision"])] = verdict
    try:
        write_json(path, data)
    except OSError as exc:  # a read-only install still runs; it just verifies again next time
        warnings.warn(f"could not record the engine verdict in {path}: {exc}", EngineFallbackWarning)
