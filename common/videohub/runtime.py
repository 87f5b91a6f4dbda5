"""Export from dygraph and run with Paddle Inference (CPU with/without oneDNN, GPU, TensorRT)."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from videohub.card import InputSpec

MODEL_BASENAME = "inference"  # weights/inference.json + weights/inference.pdiparams


def export_network(net, inputs: Sequence[InputSpec], prefix: Union[str, Path]) -> Tuple[Path, Path]:
    """`paddle.jit.to_static` + `paddle.jit.save`; returns the `.json` and `.pdiparams` paths.

    Dynamic dimensions are the -1 entries of the card's input shapes (batch always; frames where the
    network allows it).
    """
    import paddle

    specs = [paddle.static.InputSpec([None if d < 0 else d for d in i.shape], i.dtype, i.name) for i in inputs]
    net.eval()
    static = paddle.jit.to_static(net, input_spec=specs, full_graph=True)
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    paddle.jit.save(static, str(prefix))
    model, params = prefix.with_suffix(".json"), prefix.with_suffix(".pdiparams")
    if not model.exists():  # legacy IR export (FLAGS_enable_pir_api=0)
        model = prefix.with_suffix(".pdmodel")
    return model, params


@dataclass(frozen=True)
class RuntimeOptions:
    use_gpu: bool = False
    gpu_id: int = 0
    gpu_mem_mb: int = 1024
    onednn: bool = True
    cpu_threads: Optional[int] = None
    tensorrt: bool = False
    precision: str = "fp32"          # "fp32" | "fp16" (TensorRT) | "bf16" (oneDNN)
    trt_max_batch: int = 8
    trt_min_subgraph: int = 3
    ir_optim: bool = True
    disabled_passes: Tuple[str, ...] = ()
    engine: str = "paddle"           # "paddle" | "onnxruntime" | "openvino" (CPU; see videohub.engines)
    # TensorRT dynamic shapes, one (input name, min, opt, max) per input; see `trt_shape_ranges`.
    trt_shapes: Tuple[Tuple[str, Tuple[int, ...], Tuple[int, ...], Tuple[int, ...]], ...] = ()
    trt_cache_dir: Optional[str] = None  # where the TensorRT-converted PIR model is kept

    def with_(self, **changes) -> "RuntimeOptions":
        return replace(self, **changes)


def gpu_available() -> bool:
    import paddle

    return paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


class Predictor:
    """A Paddle Inference predictor over an exported model. Thread-safe (one run at a time)."""

    def __init__(self, model_path: Union[str, Path], params_path: Union[str, Path],
                 options: RuntimeOptions = RuntimeOptions()):
        from paddle import inference

        if options.use_gpu and not gpu_available():
            raise RuntimeError("use_gpu=True but this paddle has no CUDA device available "
                               "(install paddlepaddle-gpu and check CUDA_VISIBLE_DEVICES)")
        if options.tensorrt and not options.use_gpu:
            raise ValueError("TensorRT needs use_gpu=True")
        if options.tensorrt and Path(model_path).suffix == ".json":
            # PIR models (.json): TensorRT subgraphs are made by paddle.tensorrt.convert, not by the Config
            model_path, params_path = convert_tensorrt(model_path, options)
        config = inference.Config(str(model_path), str(params_path))
        if options.use_gpu:
            config.enable_use_gpu(options.gpu_mem_mb, options.gpu_id)
            if options.tensorrt and Path(model_path).suffix == ".pdmodel":  # legacy IR: the Config's TensorRT
                precision = {"fp32": inference.PrecisionType.Float32,
                             "fp16": inference.PrecisionType.Half}[options.precision]
                config.enable_tensorrt_engine(workspace_size=1 << 30, max_batch_size=options.trt_max_batch,
                                              min_subgraph_size=options.trt_min_subgraph,
                                              precision_mode=precision, use_static=False, use_calib_mode=False)
                if options.trt_shapes:
                    config.set_trt_dynamic_shape_info({n: list(lo) for n, lo, _, _ in options.trt_shapes},
                                                      {n: list(hi) for n, _, _, hi in options.trt_shapes},
                                                      {n: list(opt) for n, _, opt, _ in options.trt_shapes})
        else:
            config.disable_gpu()
            threads = options.cpu_threads or min(os.cpu_count() or 1, 8)
            config.set_cpu_math_library_num_threads(threads)
            if options.onednn:
                config.enable_mkldnn()
                config.set_mkldnn_cache_capacity(10)  # bounded cache for varying input shapes
                if options.precision == "bf16":
                    config.enable_mkldnn_bfloat16()
            else:
                config.disable_mkldnn()
        config.switch_ir_optim(options.ir_optim)
        for name in options.disabled_passes:
            config.delete_pass(name)
        config.disable_glog_info()
        # Note: Config.enable_memory_optim() breaks predictor creation in paddle 3.3.1; never call it.
        self.options = options
        self._predictor = inference.create_predictor(config)
        self.input_names: List[str] = list(self._predictor.get_input_names())
        self.output_names: List[str] = list(self._predictor.get_output_names())
        self._lock = threading.Lock()

    def run(self, *arrays: np.ndarray) -> List[np.ndarray]:
        if len(arrays) != len(self.input_names):
            raise ValueError(f"expected {len(self.input_names)} inputs ({self.input_names}), got {len(arrays)}")
        with self._lock:
            for name, arr in zip(self.input_names, arrays):
                handle = self._predictor.get_input_handle(name)
                arr = np.ascontiguousarray(arr)
                handle.reshape(list(arr.shape))
                handle.copy_from_cpu(arr)
            self._predictor.run()
            return [self._predictor.get_output_handle(n).copy_to_cpu() for n in self.output_names]

    def warmup(self, *arrays: np.ndarray, runs: int = 1) -> None:
        for _ in range(runs):
            self.run(*arrays)


def trt_shape_ranges(names: Sequence[str], row_shapes: Sequence[Sequence[int]], min_rows: Sequence[int],
                     max_rows: Sequence[int], opt_rows: Optional[Sequence[int]] = None
                     ) -> Tuple[Tuple[str, Tuple[int, ...], Tuple[int, ...], Tuple[int, ...]], ...]:
    """TensorRT (name, min, opt, max) shapes per input. Only the batch axis varies (rows = videos x views,
    views = clips x crops); `row_shapes` are the fixed per-row shapes (e.g. [3, T, 224, 224]), set by the
    card's segments / frames / crop size. `opt_rows` defaults to `min_rows` (one video: serving latency)."""
    opt_rows = min_rows if opt_rows is None else opt_rows
    return tuple((n, (int(lo),) + tuple(r), (int(opt),) + tuple(r), (int(hi),) + tuple(r))
                 for n, r, lo, opt, hi in zip(names, row_shapes, min_rows, opt_rows, max_rows))


def convert_tensorrt(model_path: Union[str, Path], options: RuntimeOptions) -> Tuple[Path, Path]:
    """Convert a PIR model with `paddle.tensorrt.convert` (GPU builds only) for the shape ranges in
    `options.trt_shapes` and precision `options.precision`; the result is kept in `options.trt_cache_dir`
    (default: beside the model) under a name that encodes precision and shapes, and reused."""
    import hashlib

    if not options.trt_shapes:
        raise ValueError("TensorRT needs the dynamic shape ranges of every input (RuntimeOptions.trt_shapes)")
    try:
        import paddle.tensorrt as ptrt
        from paddle.tensorrt.export import Input, PrecisionMode, TensorRTConfig
    except ImportError as exc:
        raise RuntimeError("TensorRT needs a paddlepaddle-gpu build with TensorRT (paddle.tensorrt)") from exc
    key = hashlib.sha256(repr((options.precision, options.trt_shapes)).encode()).hexdigest()[:12]
    cache = Path(options.trt_cache_dir or Path(model_path).parent) / f"trt_{options.precision}_{key}"
    prefix = cache / MODEL_BASENAME
    if not prefix.with_suffix(".json").exists():
        inputs = [Input(min_input_shape=lo, optim_input_shape=opt, max_input_shape=hi, name=name)
                  for name, lo, opt, hi in options.trt_shapes]
        precision = {"fp32": PrecisionMode.FP32, "fp16": PrecisionMode.FP16}[options.precision]
        cfg = TensorRTConfig(inputs=inputs, precision_mode=precision, min_subgraph_size=options.trt_min_subgraph,
                             save_model_dir=str(prefix))
        cache.mkdir(parents=True, exist_ok=True)
        ptrt.convert(str(Path(model_path).with_suffix("")), cfg)
    return prefix.with_suffix(".json"), prefix.with_suffix(".pdiparams")


def create_predictor(model_path: Union[str, Path], params_path: Union[str, Path],
                     options: RuntimeOptions = RuntimeOptions()):
    """A predictor on `options.engine`: Paddle Inference, or ONNX Runtime / OpenVINO over the paddle2onnx
    conversion of the same export (cached beside it). Engine choice and fallback: videohub.engines."""
    if options.engine == "paddle":
        return Predictor(model_path, params_path, options)
    from videohub.engines import make_predictor

    return make_predictor(options.engine, options.precision, model_path, params_path, options.cpu_threads)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def activate(x: np.ndarray, activation: str) -> np.ndarray:
    if activation == "softmax":
        return softmax(x.astype(np.float64)).astype(np.float32)
    if activation == "sigmoid":
        return sigmoid(x.astype(np.float64)).astype(np.float32)
    if activation == "none":
        return x
    raise ValueError(f"unknown activation {activation!r}")
