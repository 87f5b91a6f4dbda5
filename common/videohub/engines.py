"""Inference engines beside Paddle Inference: ONNX Runtime and OpenVINO, in fp32, bf16 and int8.

Both read the module's exported model (`weights/inference.json` + `.pdiparams`) converted once by paddle2onnx
into `weights/inference.onnx`; the int8 model (`weights/inference.int8.onnx`, ONNX Runtime static QDQ
quantisation) is made from a calibration set with `quantize_module`. Each cache file has a `<file>.json`
record holding the sha256 of what it was made from, so a changed source rebuilds it.

No path is trusted untested: `verify_engine` runs an engine/precision against the Paddle dygraph network on
the same input and writes the verdict to `weights/engines.json`; an engine only becomes a default (or is used
when asked for) with a passing verdict for the current weights and engine version. The extra engines are
optional: when one is missing, or the CPU lacks bf16/VNNI, `resolve_engine` warns and falls back.

The card declares, per module, which engines and precisions were verified on real clips, fastest first:

    "engines": {"cpu": [["openvino", "fp32"], ["onnxruntime", "fp32"], ["paddle", "fp32"]],
                "verified": {"openvino": ["fp32", "bf16", "int8"], "onnxruntime": ["fp32"], "paddle": ["fp32"]}}
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

ENGINES = ("paddle", "onnxruntime", "openvino")
PRECISIONS = ("fp32", "bf16", "int8")
# Which precisions each engine can run on a CPU (ONNX Runtime's CPU provider has no bf16 convolution kernels).
ENGINE_PRECISIONS = {"paddle": ("fp32", "bf16"), "onnxruntime": ("fp32", "int8"),
                     "openvino": ("fp32", "bf16", "int8")}
PACKAGES = {"onnxruntime": "onnxruntime", "openvino": "openvino"}
# max|y - ref| / max|ref| on the logits against dygraph fp32; fp32 engines land near 1e-6, bf16 near 5e-3
# on I3D, int8 near 3e-2 (see scripts/bench_engines.py).
TOLERANCE = {"fp32": 1e-4, "bf16": 3e-2, "int8": 1e-1}
# CPU flags (as in /proc/cpuinfo) that give each reduced precision native instructions.
PRECISION_FLAGS = {"bf16": ("avx512_bf16", "amx_bf16"), "int8": ("avx512_vnni", "avx_vnni", "amx_int8")}
ONNX_OPSET = 13
ENGINES_FILE = "engines.json"


class EngineUnavailable(RuntimeError):
    """An engine or precision cannot run here (package missing, CPU lacks the instructions, no int8 model)."""


class EngineFallbackWarning(UserWarning):
    """A requested engine/precision was replaced by another one; the message says why."""


# ---------------------------------------------------------------------------------------------- environment
def _import(package: str):
    """Import an optional package (a seam for tests that simulate its absence)."""
    return importlib.import_module(package)


def missing_engine(engine: str) -> Optional[str]:
    """None when `engine` can run here, else the reason (with the pip command that fixes it)."""
    if engine not in ENGINES:
        return f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}"
    needs = [PACKAGES[engine], "paddle2onnx"] if engine in PACKAGES else []
    for pkg in needs:
        try:
            _import(pkg)
        except ImportError as exc:
            return f"{engine} needs the Python package {pkg!r} ({exc}); install it with `pip install {pkg}`"
    return None


def engine_version(engine: str) -> str:
    mod = _import({"paddle": "paddle", **PACKAGES}[engine])
    return str(getattr(mod, "__version__", "unknown"))


def cpu_flags() -> frozenset:
    """The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def unsupported_precision(engine: str, precision: str, flags: Optional[frozenset] = None) -> Optional[str]:
    """None when `engine` can run `precision` on this CPU, else the reason."""
    if precision not in PRECISIONS:
        return f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}"
    if precision not in ENGINE_PRECISIONS.get(engine, ()):
        return f"{engine} does not run {precision} on a CPU (it runs {', '.join(ENGINE_PRECISIONS[engine])})"
    wanted = PRECISION_FLAGS.get(precision, ())
    flags = cpu_flags() if flags is None else flags
    if wanted and not flags & set(wanted):
        return f"this CPU lacks {' / '.join(wanted)}, so {precision} would be emulated (slow); not used"
    return None


# ---------------------------------------------------------------------------------------------- caches
def sha256_of(*paths: Union[str, Path]) -> str:
    """sha256 over the contents of several files (in order)."""
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def cache_is_fresh(path: Path, expected: Dict[str, Any]) -> bool:
    """True when `path` exists and its record matches `expected` (source checksums, tool versions)."""
    rec = _record_path(path)
    if not (path.is_file() and rec.is_file()):
        return False
    with open(rec, encoding="utf-8") as f:
        got = json.load(f)
    return all(got.get(k) == v for k, v in expected.items())


def _write_cache(path: Path, write, record: Dict[str, Any]) -> Path:
    """Write a cache file atomically (to a temporary name, then rename) with its record beside it."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    with open(_record_path(path), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
    return path


def onnx_path(model_path: Union[str, Path], precision: str = "fp32") -> Path:
    """`weights/inference.json` -> `weights/inference.onnx` (fp32/bf16) or `weights/inference.int8.onnx`."""
    model_path = Path(model_path)
    stem = model_path.with_suffix("")
    return stem.with_name(stem.name + (".int8.onnx" if precision == "int8" else ".onnx"))


def ensure_onnx(model_path: Union[str, Path], params_path: Union[str, Path]) -> Path:
    """The paddle2onnx conversion of an exported model, cached beside it and rebuilt when stale."""
    paddle2onnx = _import("paddle2onnx")
    out = onnx_path(model_path)
    expected = {"source_sha256": sha256_of(model_path, params_path), "paddle2onnx": paddle2onnx.__version__,
                "opset": ONNX_OPSET}
    if cache_is_fresh(out, expected):
        return out

    def write(tmp: Path) -> None:
        # onnxoptimizer, not the default polygraphy: paddle2onnx lets polygraphy pip-install packages at run time.
        with _stdout_to_stderr():  # paddle2onnx prints progress on stdout, which `hub run --output json` owns
            paddle2onnx.export(str(model_path), str(params_path), save_file=str(tmp), opset_version=ONNX_OPSET,
                               enable_onnx_checker=True, optimize_tool="onnxoptimizer")

    return _write_cache(out, write, {**expected, "source": Path(model_path).name, "created": time.time()})


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send what is written to file descriptor 1 (Python and C++ alike) to stderr for a while."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def arrays_sha256(batches: Sequence[Sequence[np.ndarray]]) -> str:
    h = hashlib.sha256()
    for batch in batches:
        for a in batch:
            a = np.ascontiguousarray(a)
            h.update(str((a.dtype.str, a.shape)).encode())
            h.update(a.tobytes())
    return h.hexdigest()


def ensure_int8_onnx(fp32_onnx: Path, calibration: Optional[Sequence[Sequence[np.ndarray]]] = None) -> Path:
    """The int8 model (ONNX Runtime static quantisation, QDQ, per-channel int8 weights, uint8 activations,
    min/max calibration). Made from `calibration` (a list of input tuples); without one, only a cached model
    made from the current fp32 model is accepted."""
    out = onnx_path(fp32_onnx.with_suffix(".json"), "int8")
    source = {"source_sha256": sha256_of(fp32_onnx)}
    if calibration is None:
        if cache_is_fresh(out, source):
            return out
        raise EngineUnavailable("int8 needs a model quantised from a calibration set; make it once with "
                                "`python scripts/bench_engines.py MODULE --calibrate CLIP [CLIP ...]`")
    expected = {**source, "calibration_sha256": arrays_sha256(calibration)}
    if cache_is_fresh(out, expected):
        return out
    quant = _import("onnxruntime.quantization")
    ort = _import("onnxruntime")
    ort.set_default_logger_severity(3)  # calibration sessions warn about each unused paddle2onnx initialiser
    names = [i.name for i in ort.InferenceSession(str(fp32_onnx), providers=["CPUExecutionProvider"]).get_inputs()]

    class Reader(quant.CalibrationDataReader):
        def __init__(self):
            self._it = iter([dict(zip(names, batch)) for batch in calibration])

        def get_next(self):
            return next(self._it, None)

    def write(tmp: Path) -> None:
        # Only convolutions (the FLOPs): a quantised bias Add after the last conv breaks OpenVINO's compiler.
        quant.quantize_static(str(fp32_onnx), str(tmp), Reader(), quant_format=quant.QuantFormat.QDQ,
                              per_channel=True, activation_type=quant.QuantType.QUInt8,
                              weight_type=quant.QuantType.QInt8, op_types_to_quantize=["Conv"],
                              calibrate_method=quant.CalibrationMethod.MinMax)

    return _write_cache(out, write, {**expected, "onnxruntime": ort.__version__,
                                     "calibration_inputs": len(calibration), "created": time.time()})


# ---------------------------------------------------------------------------------------------- predictors
class OnnxRuntimePredictor:
    """ONNX Runtime CPU session with the `Predictor.run` interface. Thread-safe (one run at a time)."""

    def __init__(self, onnx_file: Union[str, Path], threads: Optional[int] = None):
        ort = _import("onnxruntime")
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads or min(os.cpu_count() or 1, 8)
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3  # paddle2onnx leaves unused initialisers; ORT warns about each of them
        self._session = ort.InferenceSession(str(onnx_file), so, providers=["CPUExecutionProvider"])
        self.input_names: List[str] = [i.name for i in self._session.get_inputs()]
        self.output_names: List[str] = [o.name for o in self._session.get_outputs()]
        self._lock = threading.Lock()

    def run(self, *arrays: np.ndarray) -> List[np.ndarray]:
        if len(arrays) != len(self.input_names):
            raise ValueError(f"expected {len(self.input_names)} inputs ({self.input_names}), got {len(arrays)}")
        feed = {n: np.ascontiguousarray(a) for n, a in zip(self.input_names, arrays)}
        with self._lock:
            return list(self._session.run(self.output_names, feed))


class OpenVINOPredictor:
    """OpenVINO CPU with the `Predictor.run` interface. The model is compiled for each input shape it meets
    (static shapes are what OpenVINO's CPU plugin plans best); a few shapes are kept. Thread-safe."""

    MAX_SHAPES = 4

    def __init__(self, onnx_file: Union[str, Path], precision: str = "fp32", threads: Optional[int] = None):
        ov = _import("openvino")
        self._core = ov.Core()
        self._model = self._core.read_model(str(onnx_file))
        # int8 models carry their own (de)quantisation; what is left of them runs in fp32.
        hint = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}[precision]
        self._config = {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY",
                        "INFERENCE_NUM_THREADS": int(threads or min(os.cpu_count() or 1, 8))}
        self.input_names: List[str] = [p.get_any_name() for p in self._model.inputs]
        self.output_names: List[str] = [p.get_any_name() for p in self._model.outputs]
        self._compiled: Dict[Tuple[Tuple[int, ...], ...], Any] = {}
        self._lock = threading.Lock()

    def _request(self, shapes: Tuple[Tuple[int, ...], ...]):
        if shapes not in self._compiled:
            if len(self._compiled) >= self.MAX_SHAPES:
                self._compiled.pop(next(iter(self._compiled)))
            model = self._model.clone()
            model.reshape({i: list(s) for i, s in enumerate(shapes)})
            self._compiled[shapes] = self._core.compile_model(model, "CPU", self._config).create_infer_request()
        return self._compiled[shapes]

    def run(self, *arrays: np.ndarray) -> List[np.ndarray]:
        if len(arrays) != len(self.input_names):
            raise ValueError(f"expected {len(self.input_names)} inputs ({self.input_names}), got {len(arrays)}")
        arrays = tuple(np.ascontiguousarray(a) for a in arrays)
        with self._lock:
            request = self._request(tuple(a.shape for a in arrays))
            out = request.infer(dict(enumerate(arrays)))
            return [np.array(out[i]) for i in range(len(self.output_names))]


def make_predictor(engine: str, precision: str, model_path: Union[str, Path], params_path: Union[str, Path],
                   threads: Optional[int] = None):
    """A CPU predictor of an exported model on an ONNX engine (conversion cached beside the model).
    Raises EngineUnavailable when the engine, precision or int8 model is missing."""
    reason = missing_engine(engine) or unsupported_precision(engine, precision)
    if reason:
        raise EngineUnavailable(reason)
    if engine == "paddle":
        raise ValueError("Paddle Inference predictors are made by videohub.runtime.Predictor")
    onnx_file = ensure_onnx(model_path, params_path)
    if precision == "int8":
        onnx_file = ensure_int8_onnx(onnx_file)
    if engine == "onnxruntime":
        return OnnxRuntimePredictor(onnx_file, threads)
    return OpenVINOPredictor(onnx_file, precision, threads)


def build_predictor(engine: str, precision: str, model_path: Union[str, Path], params_path: Union[str, Path],
                    options=None):
    """Any engine's predictor; `options` (a RuntimeOptions) configures Paddle Inference and the thread count."""
    from videohub.runtime import RuntimeOptions, create_predictor

    options = (options or RuntimeOptions()).with_(engine=engine, precision=precision)
    return create_predictor(model_path, params_path, options)


# ---------------------------------------------------------------------------------------------- verification
def engine_table(card) -> Dict[str, Any]:
    """The card's `engines` entry, checked: `cpu` (fastest first) and `verified` ({engine: [precisions]})."""
    table = dict(getattr(card, "engines", None) or {})
    cpu = [tuple(e) for e in table.get("cpu", [["paddle", "fp32"]])]
    verified = {k: tuple(v) for k, v in table.get("verified", {"paddle": ["fp32"]}).items()}
    for engine, precision in cpu + [(e, p) for e, ps in verified.items() for p in ps]:
        if engine not in ENGINES or precision not in PRECISIONS:
            raise ValueError(f"{card.name}: card engines entry names unknown {engine!r}/{precision!r}")
    return {"cpu": cpu, "verified": verified}


def reference_network(card, module_dir: Union[str, Path]):
    """The dygraph network with the module's installed weights (`weights/model.pdparams`, which export always
    writes with structured names, whatever names the original checkpoint used)."""
    from videohub.checkpoint import load_into, read_pdparams
    from videohub.models import build_network
    from videohub.weights import weights_dir

    net = build_network(card.arch_name, **card.arch_kwargs)
    load_into(net, read_pdparams(weights_dir(module_dir) / "model.pdparams"), use_structured_name=True)
    return net


def dygraph_outputs(net, arrays: Sequence[np.ndarray]) -> List[np.ndarray]:
    import paddle

    net.eval()
    with paddle.no_grad():
        out = net(*[paddle.to_tensor(np.ascontiguousarray(a)) for a in arrays])
    outs = out if isinstance(out, (list, tuple)) else [out]
    return [o.numpy() for o in outs]


def synthetic_inputs(card, frames: int = 0) -> List[np.ndarray]:
    """A deterministic network input through the card's own pipeline (moving coloured bars over noise), for
    verification when no real clip is given. `frames` = 0: enough for the card's sampler."""
    from videohub.pipeline import prepare_array

    s = card.preprocess.sampler
    n = frames or int(max(s.clip_len * s.frame_interval, s.num_segments * s.seg_len, card.preprocess.min_frames)) + 8
    rng = np.random.default_rng(0)
    video = rng.integers(0, 60, size=(n, 240, 320, 3), dtype=np.uint8)
    for i in range(n):  # motion, so temporal networks see something
        x = (i * 7) % 280
        video[i, 60:180, x:x + 40] = (230, 180, 40)
    return prepare_array(video, card.preprocess).arrays


def relative_error(y: np.ndarray, ref: np.ndarray) -> float:
    """max|y - ref| / max|ref|."""
    y, ref = np.asarray(y, np.float64), np.asarray(ref, np.float64)
    return float(np.max(np.abs(y - ref)) / max(float(np.max(np.abs(ref))), 1e-12))


def verdict_key(engine: str, precision: str) -> str:
    return f"{engine}/{precision}"


def _engines_file(module_dir: Union[str, Path]) -> Path:
    from videohub.weights import weights_dir

    return weights_dir(module_dir) / ENGINES_FILE


def read_verdicts(module_dir: Union[str, Path]) -> Dict[str, Any]:
    path = _engines_file(module_dir)
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _source_digest(module_dir: Union[str, Path]) -> str:
    from videohub.weights import inference_files

    return sha256_of(*inference_files(module_dir))


def current_verdict(module_dir: Union[str, Path], engine: str, precision: str) -> Optional[Dict[str, Any]]:
    """The recorded verdict when it still applies (same exported model, same engine version), else None."""
    v = read_verdicts(module_dir).get(verdict_key(engine, precision))
    if not v or v.get("source_sha256") != _source_digest(module_dir):
        return None
    if v.get("engine_version") != engine_version(engine):
        return None
    if precision == "int8":
        from videohub.weights import inference_files

        int8 = onnx_path(inference_files(module_dir)[0], "int8")
        if not int8.is_file() or v.get("int8_sha256") != sha256_of(int8):
            return None
    return v


def verify_engine(card, module_dir: Union[str, Path], engine: str, precision: str,
                  inputs: Optional[Sequence[Sequence[np.ndarray]]] = None, names: Optional[Sequence[str]] = None,
                  threads: Optional[int] = None, tolerance: Optional[float] = None,
                  reference: Optional[Sequence[np.ndarray]] = None) -> Dict[str, Any]:
    """Run `engine`/`precision` and the dygraph network on the same inputs, record the verdict in
    `weights/engines.json` and return it. Passes when every input's score error is within the tolerance and
    every top-1 agrees. `inputs`: a list of input tuples (default: one synthetic clip); `reference`: the
    dygraph score outputs for them when already computed."""
    from videohub.weights import inference_files

    inputs = [list(x) for x in (inputs or [synthetic_inputs(card)])]
    names = list(names or (["synthetic"] if len(inputs) == 1 else [f"input_{i}" for i in range(len(inputs))]))
    tol = TOLERANCE[precision] if tolerance is None else tolerance
    model, params = inference_files(module_dir)
    predictor = build_predictor(engine, precision, model, params, _threads_options(threads, card))
    if reference is None:
        net = reference_network(card, module_dir)
        reference = [dygraph_outputs(net, x)[card.score_output] for x in inputs]
    errors, agree = [], []
    for x, ref in zip(inputs, reference):
        y = predictor.run(*x)[card.score_output]
        errors.append(relative_error(y, ref))
        agree.append(bool(np.array_equal(np.argmax(y, -1), np.argmax(ref, -1))))
    verdict = {"engine": engine, "precision": precision, "engine_version": engine_version(engine),
               "source_sha256": _source_digest(module_dir), "inputs": names,
               "errors": [float(f"{e:.3g}") for e in errors], "max_error": float(f"{max(errors):.3g}"),
               "tolerance": tol, "top1_agree": agree,
               "passed": bool(max(errors) <= tol and all(agree)), "checked": time.strftime("%Y-%m-%d %H:%M:%S")}
    if precision == "int8":
        verdict["int8_sha256"] = sha256_of(onnx_path(model, "int8"))
    _record_verdict(module_dir, verdict)
    return verdict


def _threads_options(threads: Optional[int], card=None):
    """Runtime options as a module would use them (the card's oneDNN switch and disabled passes)."""
    from videohub.runtime import RuntimeOptions

    opts = RuntimeOptions(cpu_threads=threads)
    if card is not None:
        opts = opts.with_(onednn=card.onednn, disabled_passes=card.disabled_passes)
    return opts


def _record_verdict(module_dir: Union[str, Path], verdict: Dict[str, Any]) -> None:
    path = _engines_file(module_dir)
    data = read_verdicts(module_dir)
    data[verdict_key(verdict["engine"], verdict["precision"])] = verdict
    try:
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
        tmp.replace(path)
    except OSError as exc:  # a read-only install still runs; it just verifies again next time
        warnings.warn(f"could not record the engine verdict in {path}: {exc}", EngineFallbackWarning)


# ---------------------------------------------------------------------------------------------- choosing
@dataclass(frozen=True)
class EngineChoice:
    engine: str
    precision: str
    notes: Tuple[str, ...] = ()   # why a request was not honoured as asked (also emitted as warnings)


def _usable(card, module_dir, engine: str, precision: str, verify: bool) -> Optional[str]:
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


def resolve_engine(card, module_dir: Union[str, Path], engine: Optional[str] = None,
                   precision: Optional[str] = None, use_gpu: bool = False, verify: bool = True,
                   warn: bool = True) -> EngineChoice:
    """Which engine and precision run a module.

    `engine` None or "auto": on GPU Paddle Inference; on CPU the first entry of the card's `engines.cpu` list
    (fastest first) that matches `precision` (default fp32), is declared verified by the card, is installed,
    runs on this CPU and passes (or has passed) its check against dygraph; the faster entries it skipped are
    listed in the choice's `notes`. An explicit engine or precision that cannot run here falls back to Paddle
    Inference fp32 with a warning (EngineFallbackWarning) saying why; never an exception.
    """
    notes: List[str] = []
    if engine in (None, "", "auto"):
        precision = precision or "fp32"
        if use_gpu:
            return EngineChoice("paddle", "fp32" if precision in ("bf16", "int8") else precision)
        table = engine_table(card)
        for cand, prec in table["cpu"]:
            if prec != precision or prec not in table["verified"].get(cand, ()):
                continue
            reason = _usable(card, module_dir, cand, prec, verify)
            if reason is None:  # faster engines that were skipped are noted, not warned about: none was asked for
                return EngineChoice(cand, prec, tuple(notes))
            if cand != "paddle":
                notes.append(f"{cand}/{prec} skipped: {reason}")
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


def quantize_module(card, module_dir: Union[str, Path], calibration: Sequence[Sequence[np.ndarray]]) -> Path:
    """Make the module's int8 model from a calibration set (input tuples from its own pipeline)."""
    from videohub.weights import inference_files

    return ensure_int8_onnx(ensure_onnx(*inference_files(module_dir)), calibration)


def prepare_engines(card, module_dir: Union[str, Path]) -> Dict[str, str]:
    """At export: convert and verify every installed engine the card declares for fp32/bf16 (int8 needs a
    calibration set, see `quantize_module`), so the first call finds its default ready. Returns a summary
    per engine/precision for meta.json."""
    if getattr(card, "models", None):
        return {}
    table = engine_table(card)
    summary: Dict[str, str] = {}
    inputs, reference = None, None  # one synthetic clip and its dygraph scores, shared by every check
    for engine, precision in table["cpu"]:
        key = verdict_key(engine, precision)
        if (engine, precision) == ("paddle", "fp32") or precision == "int8" \
                or precision not in table["verified"].get(engine, ()):
            continue
        reason = missing_engine(engine) or unsupported_precision(engine, precision)
        if reason:
            summary[key] = f"not used: {reason}"
            continue
        if reference is None:
            inputs = [synthetic_inputs(card)]
            net = reference_network(card, module_dir)
            reference = [dygraph_outputs(net, x)[card.score_output] for x in inputs]
        v = verify_engine(card, module_dir, engine, precision, inputs=inputs, reference=reference)
        summary[key] = f"{'passed' if v['passed'] else 'FAILED'} (error {v['max_error']}, tolerance {v['tolerance']})"
    return summary
