"""Which engine and precision run a module.

The card declares, per module, which engines and precisions were verified on real clips:

    "engines": {"verified": {"openvino": ["fp32", "bf16"], "onnxruntime": ["fp32"], "paddle": ["fp32"]}}

An engine becomes a default (or is used when asked for) only with a passing verdict for the current weights and
engine version (`videohub.runtime.verify`). Among those that can run here, the fastest on this CPU runs first
(timed at export or first use, cached per CPU model: `videohub.runtime.ranking`); an explicit `engine=` wins.
The extra engines are optional: when one is missing, or the CPU lacks bf16/VNNI, `resolve_engine` warns and falls
back to Paddle Inference fp32, never silently.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from videohub.card import ModelCard
from videohub.runtime.files import inference_files
from videohub.runtime.onnx import ensure_int8_onnx, ensure_onnx
from videohub.runtime.predictor import (CPU_PRECISIONS as PRECISIONS, EngineUnavailable, engines, missing_engine,
                                        unsupported_precision)
from videohub.runtime.ranking import fastest_first, time_engines
from videohub.runtime.verify import (EngineFallbackWarning, check_inputs, current_verdict, dygraph_outputs,
                                     reference_network, verdict_key, verify_engine)


def verified_engines(card: ModelCard) -> List[Tuple[str, str]]:
    """The card's `engines.verified` entry as (engine, precision) pairs in card order, checked; Paddle Inference
    fp32 (the exported model itself) always."""
    table = dict(getattr(card, "engines", None) or {})
    if "cpu" in table:
        raise ValueError(f"{card.name}: card `engines.cpu` (a fixed order) is gone; list `engines.verified` only, "
                         "the order is measured on each CPU (videohub.runtime.ranking)")
    pairs = [(e, p) for e, ps in table.get("verified", {}).items() for p in ps]
    known = engines()
    for engine, precision in pairs:
        if engine not in known or precision not in PRECISIONS:
            raise ValueError(f"{card.name}: card engines entry names unknown {engine!r}/{precision!r}")
    return pairs + [("paddle", "fp32")] * (("paddle", "fp32") not in pairs)


@dataclass(frozen=True)
class EngineChoice:
    engine: str
    precision: str
    notes: Tuple[str, ...] = ()   # why a request was not honoured as asked (also emitted as warnings)


def _usable(card: ModelCard, module_dir: Union[str, Path], engine: str, precision: str, verify: bool) -> Optional[str]:
    """None when engine/precision may run this module here, else the reason."""
    reason = missing_engine(engine) or unsupported_precision(engine, precision)
    if reason:
        return reason
    if engine == "paddle" and precision == "fp32":
        return None  # the exported model itself; checked against dygraph by the module's own tests
    if getattr(card, "models", None):
        return f"{card.name} is made of several networks; only Paddle Inference runs them"
    verdict = current_verdict(module_dir, engine, precision)
    if verdict is None and verify:
        try:
            verdict = verify_engine(card, module_dir, engine, precision)
        except EngineUnavailable as exc:
            return str(exc)
    if verdict is None:
        return f"{engine}/{precision} has not been verified against dygraph for these weights"
    if not verdict["passed"]:
        return (f"{engine}/{precision} failed its check against dygraph (error {verdict['max_error']}, "
                f"tolerance {verdict['tolerance']}, top-1 agreement {verdict['top1_agree']})")
    return None


def resolve_engine(card: ModelCard, module_dir: Union[str, Path], engine: Optional[str] = None,
                   precision: Optional[str] = None, use_gpu: bool = False, verify: bool = True,
                   warn: bool = True, threads: Optional[int] = None) -> EngineChoice:
    """Which engine and precision run a module.

    `engine` None or "auto": on GPU Paddle Inference; on CPU, among the card's verified engines for `precision`
    (default fp32) that are installed, run on this CPU and pass (or have passed) their check against dygraph,
    the fastest on this CPU model with `threads` threads (`videohub.runtime.ranking`; timed now when not yet
    and `verify`); the verified engines that cannot run are listed in the choice's `notes`. An explicit engine
    or precision that cannot run here falls back to Paddle Inference fp32 with a warning
    (EngineFallbackWarning) saying why; never an exception.
    """
    notes: List[str] = []
    if engine in (None, "", "auto"):
        precision = precision or "fp32"
        if use_gpu:
            return EngineChoice("paddle", "fp32" if precision in ("bf16", "int8") else precision)
        usable = []
        for cand, prec in verified_engines(card):
            if prec != precision:
                continue
            reason = _usable(card, module_dir, cand, prec, verify)
            if reason is None:
                usable.append((cand, prec))
            elif cand != "paddle":  # noted, not warned about: none was asked for
                notes.append(f"{cand}/{prec} skipped: {reason}")
        if usable:
            best = fastest_first(card, module_dir, usable, threads, measure=verify)[0]
            return EngineChoice(*best, tuple(notes))
        if precision != "fp32":
            notes.append(f"no verified engine runs {card.name} in {precision} here; using fp32")
        chosen = EngineChoice("paddle", "fp32", tuple(notes))
    else:
        precision = precision or "fp32"
        if engine != "paddle" and use_gpu:
            reason = f"{engine} runs on the CPU only here; use_gpu=True uses Paddle Inference"
        else:
            reason = _usable(card, module_dir, engine, precision, verify)
        if reason is None:
            return EngineChoice(engine, precision)
        chosen = EngineChoice("paddle", "fp32", (f"{engine}/{precision} not used: {reason}; "
                                                 "falling back to Paddle Inference fp32",))
    if warn:
        for note in chosen.notes:
            warnings.warn(note, EngineFallbackWarning, stacklevel=3)
    return chosen


def quantize_module(card: ModelCard, module_dir: Union[str, Path], calibration: Sequence[Sequence[np.ndarray]]) -> Path:
    """Make the module's int8 model from a calibration set (input tuples from its own pipeline)."""
    return ensure_int8_onnx(ensure_onnx(*inference_files(module_dir)), calibration)


def prepare_engines(card: ModelCard, module_dir: Union[str, Path], threads: Optional[int] = None) -> Dict[str, str]:
    """At export: convert and verify every installed engine the card declares for fp32/bf16 (int8 needs a
    calibration set, see `quantize_module`), then time those that passed on this CPU, so the first call finds
    its default ready. Returns a summary per engine/precision for meta.json."""
    if getattr(card, "models", None):
        return {}
    summary: Dict[str, str] = {}
    passed = [("paddle", "fp32")]
    inputs, reference = None, None  # one synthetic clip and its dygraph outputs, shared by every check
    for engine, precision in verified_engines(card):
        key = verdict_key(engine, precision)
        if (engine, precision) == ("paddle", "fp32") or precision == "int8":
            continue
        reason = missing_engine(engine) or unsupported_precision(engine, precision)
        if reason:
            summary[key] = f"not used: {reason}"
            continue
        if reference is None:
            inputs = [check_inputs(card)]
            net = reference_network(card, module_dir)
            reference = [dygraph_outputs(net, x) for x in inputs]
        v = verify_engine(card, module_dir, engine, precision, inputs=inputs, reference=reference, threads=threads)
        summary[key] = f"{'passed' if v['passed'] else 'FAILED'} (error {v['max_error']}, tolerance {v['tolerance']})"
        passed += [(engine, precision)] * v["passed"]
    if len(passed) > 1:
        for key, seconds in time_engines(card, module_dir, passed, threads, inputs=inputs and inputs[0]).items():
            summary[key] = summary.get(key, "passed") + f"; {seconds:.3f} s here"
    return summary
