"""The one predictor interface, runtime options and the engine registry.

Every engine's predictor is a `BasePredictor`: `run(*arrays)` checks the number of inputs, makes them
contiguous and runs at most `streams` calls at a time (thread-safe), so engines only implement `_run`. Engines
register an `Engine` (name, CPU precisions, the Python packages they need, whether several inferences may run at
once, how to build a predictor); the files of `videohub/runtime/engines/` are discovered on first use.

Streams: one inference on every thread is the fastest answer for one video (latency); for many videos several
inferences at once, each on fewer threads, get more done per second, since a network's layers do not split
evenly over threads (on a 2-core machine two one-thread inferences ran 1.25-1.55x the clips per second of one
two-thread inference, `scripts/benchmark.py --throughput`). The pipeline asks for `throughput_streams` when it
has more than one batch to run.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import platform
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Protocol, Sequence, Tuple, Union

import numpy as np

PRECISIONS = ("fp32", "fp16", "bf16", "int8")
CPU_PRECISIONS = ("fp32", "bf16", "int8")
# CPU flags (as in /proc/cpuinfo) that give each reduced precision native instructions.
PRECISION_FLAGS = {"bf16": ("avx512_bf16", "amx_bf16"), "int8": ("avx512_vnni", "avx_vnni", "amx_int8")}
ENGINES_PACKAGE = "videohub.runtime.engines"

PathLike = Union[str, Path]
TrtShapes = Tuple[Tuple[str, Tuple[int, ...], Tuple[int, ...], Tuple[int, ...]], ...]


class EngineUnavailable(RuntimeError):
    """An engine or precision cannot run here (package missing, CPU lacks the instructions, no int8 model)."""


@dataclass(frozen=True)
class RuntimeOptions:
    use_gpu: bool = False
    gpu_id: int = 0
    gpu_mem_mb: int = 1024
    onednn: bool = True
    cpu_threads: Optional[int] = None
    tensorrt: bool = False
    precision: str = "fp32"          # "fp32" | "fp16" (TensorRT) | "bf16" | "int8" (CPU engines)
    trt_max_batch: int = 8
    trt_min_subgraph: int = 3
    ir_optim: bool = True
    disabled_passes: Tuple[str, ...] = ()
    engine: str = "paddle"           # a registered engine name
    # TensorRT dynamic shapes, one (input name, min, opt, max) per input; see `trt_shape_ranges`.
    trt_shapes: TrtShapes = ()
    trt_cache_dir: Optional[str] = None  # where the TensorRT-converted PIR model is kept
    # CPU inferences that may run at once, each on `cpu_threads // streams` threads (engines that can: see
    # `Engine.concurrent`); 1: one at a time on every thread.
    streams: int = 1

    def with_(self, **changes) -> "RuntimeOptions":
        return replace(self, **changes)


class Predictor(Protocol):
    """What every engine's predictor offers."""

    input_names: List[str]
    output_names: List[str]

    def run(self, *arrays: np.ndarray) -> List[np.ndarray]:
        ...


def cpu_threads(requested: Optional[int] = None) -> int:
    """The CPU threads an engine uses: as requested, else the cores (at most 8)."""
    return int(requested or min(os.cpu_count() or 1, 8))


def throughput_streams(threads: Optional[int] = None) -> int:
    """Inferences at once for many inputs: one per thread up to 4 threads, two threads each beyond (more
    streams hold more activations in memory, and wider machines split a layer better)."""
    n = cpu_threads(threads)
    return n if n <= 4 else max(1, n // 2)


class BasePredictor:
    """Input checks and locking shared by the engines: at most `streams` runs at once (one by default);
    subclasses implement `_run` (safe for `streams` concurrent calls) and set `input_names` / `output_names`."""

    input_names: List[str]
    output_names: List[str]

    def __init__(self, streams: int = 1) -> None:
        self.streams = max(1, int(streams))
        self._slots = threading.BoundedSemaphore(self.streams)

    def run(self, *arrays: np.ndarray) -> List[np.ndarray]:
        if len(arrays) != len(self.input_names):
            raise ValueError(f"expected {len(self.input_names)} inputs ({self.input_names}), got {len(arrays)}")
        contiguous = [np.ascontiguousarray(a) for a in arrays]
        with self._slots:
            return self._run(contiguous)

    def _run(self, arrays: List[np.ndarray]) -> List[np.ndarray]:
        raise NotImplementedError

    def warmup(self, *arrays: np.ndarray, runs: int = 1) -> None:
        for _ in range(runs):
            self.run(*arrays)


@dataclass(frozen=True)
class Engine:
    name: str
    build: Callable[[Path, Path, RuntimeOptions], Predictor]   # (exported model, params, options)
    precisions: Tuple[str, ...]                              # what it runs on a CPU
    packages: Tuple[str, ...] = ()                           # optional Python packages it needs
    version_package: str = ""                                # whose __version__ identifies a verdict
    concurrent: bool = False                                 # honours `RuntimeOptions.streams` > 1


_ENGINES: Dict[str, Engine] = {}


def register_engine(engine: Engine) -> Engine:
    if _ENGINES.get(engine.name, engine) != engine:
        raise ValueError(f"engine {engine.name!r} registered twice")
    _ENGINES[engine.name] = engine
    return engine


def engines() -> Dict[str, Engine]:
    """Every registered engine by name (the files of `videohub/runtime/engines/` are imported on first use)."""
    package = importlib.import_module(ENGINES_PACKAGE)
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{ENGINES_PACKAGE}.{info.name}")
    return dict(_ENGINES)


def import_optional(package: str):
    """Import an optional package (a seam for tests that simulate its absence)."""
    return importlib.import_module(package)


def missing_engine(engine: str) -> Optional[str]:
    """None when `engine` can run here, else the reason (with the pip command that fixes it)."""
    known = engines()
    if engine not in known:
        return f"unknown engine {engine!r}; choose from {', '.join(known)}"
    for pkg in known[engine].packages:
        try:
            import_optional(pkg)
        except ImportError as exc:
            return f"{engine} needs the Python package {pkg!r} ({exc}); install it with `pip install {pkg}`"
    return None


def engine_version(engine: str) -> str:
    mod = import_optional(engines()[engine].version_package or engine)
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


# The instruction sets engines pick their kernels by, and so what their speed depends on. They are part of the
# key of every per-CPU cache: a virtual machine's CPU name ("AMD EPYC") reads the same on hosts with and without
# AVX-512, and a peak or an engine ranking measured on one must not be reused on the other.
KERNEL_ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_bf16",
                    "amx_int8")


def cpu_model() -> str:
    """This CPU's model name, core count and kernel instruction sets, e.g. "AMD EPYC x2 [avx2 fma]" (what
    per-CPU caches are keyed by)."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), name)
    except OSError:
        pass
    flags = cpu_flags()
    isa = " ".join(f for f in KERNEL_ISA_FLAGS if f in flags) or "no AVX2"
    return f"{name} x{os.cpu_count() or 1} [{isa}]"


def unsupported_precision(engine: str, precision: str, flags: Optional[frozenset] = None) -> Optional[str]:
    """None when `engine` can run `precision` on this CPU, else the reason."""
    if precision not in CPU_PRECISIONS:
        return f"unknown precision {precision!r}; choose from {', '.join(CPU_PRECISIONS)}"
    runs = engines()[engine].precisions
    if precision not in runs:
        return f"{engine} does not run {precision} on a CPU (it runs {', '.join(runs)})"
    wanted = PRECISION_FLAGS.get(precision, ())
    flags = cpu_flags() if flags is None else flags
    if wanted and not flags & set(wanted):
        return f"this CPU lacks {' / '.join(wanted)}, so {precision} would be emulated (slow); not used"
    return None


def create_predictor(model_path: PathLike, params_path: PathLike,
                     options: RuntimeOptions = RuntimeOptions()) -> Predictor:
    """A predictor of an exported model on `options.engine` (GPU and TensorRT: Paddle Inference only).
    Raises EngineUnavailable when the engine or its precision cannot run here."""
    if options.engine != "paddle":
        if options.use_gpu:
            raise EngineUnavailable(f"{options.engine} runs on the CPU only here")
        reason = missing_engine(options.engine) or unsupported_precision(options.engine, options.precision)
        if reason:
            raise EngineUnavailable(reason)
    return engines()[options.engine].build(Path(model_path), Path(params_path), options)


def build_predictor(engine: str, precision: str, model_path: PathLike, params_path: PathLike,
                    options: Optional[RuntimeOptions] = None) -> Predictor:
    """Any engine's predictor; `options` configures Paddle Inference and the thread count."""
    return create_predictor(model_path, params_path,
                            (options or RuntimeOptions()).with_(engine=engine, precision=precision))


def trt_shape_ranges(names: Sequence[str], row_shapes: Sequence[Sequence[int]], min_rows: Sequence[int],
                     max_rows: Sequence[int], opt_rows: Optional[Sequence[int]] = None) -> TrtShapes:
    """TensorRT (name, min, opt, max) shapes per input. Only the batch axis varies (rows = videos x views,
    views = clips x crops); `row_shapes` are the fixed per-row shapes (e.g. [3, T, 224, 224]), set by the
    card's segments / frames / crop size. `opt_rows` defaults to `min_rows` (one video: serving latency)."""
    opt_rows = min_rows if opt_rows is None else opt_rows
    return tuple((n, (int(lo),) + tuple(r), (int(opt),) + tuple(r), (int(hi),) + tuple(r))
                 for n, r, lo, opt, hi in zip(names, row_shapes, min_rows, opt_rows, max_rows))
