"""Paddle Inference: CPU (oneDNN or not), GPU, TensorRT. Always available; the reference engine.

Every predictor is built here, so the oneDNN passes that break paddle 3.3.1 on some graphs are switched off here,
decided from the exported program's ops (`broken_onednn_passes`), whatever path asked for the predictor. A newly
found pass breakage gets one entry in `ONEDNN_PASS_TRIGGERS`.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, List, Tuple, Union

import numpy as np
import paddle
from paddle import inference

from videohub.runtime.files import MODEL_BASENAME
from videohub.runtime.program import ProgramGraph, program_ops
from videohub.runtime.predictor import BasePredictor, Engine, RuntimeOptions, cpu_threads, register_engine


def gpu_available() -> bool:
    return paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


class PaddlePredictor(BasePredictor):
    """A Paddle Inference predictor over an exported model."""

    def __init__(self, model_path: Union[str, Path], params_path: Union[str, Path],
                 options: RuntimeOptions = RuntimeOptions()):
        super().__init__()
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
            threads = cpu_threads(options.cpu_threads)
            config.set_cpu_math_library_num_threads(threads)
            if options.onednn:
                config.enable_mkldnn()
                config.set_mkldnn_cache_capacity(10)  # bounded cache for varying input shapes
                if options.precision == "bf16":
                    config.enable_mkldnn_bfloat16()
            else:
                config.disable_mkldnn()
        config.switch_ir_optim(options.ir_optim)
        disabled = tuple(options.disabled_passes)
        if options.onednn and not options.use_gpu:
            disabled += tuple(p for p in broken_onednn_passes(model_path) if p not in disabled)
        for name in disabled:
            config.delete_pass(name)
        self.disabled_passes = disabled
        config.disable_glog_info()
        # Note: Config.enable_memory_optim() breaks predictor creation in paddle 3.3.1; never call it.
        self.options = options
        self._predictor = inference.create_predictor(config)
        self.input_names: List[str] = list(self._predictor.get_input_names())
        self.output_names: List[str] = list(self._predictor.get_output_names())

    def _run(self, arrays: List[np.ndarray]) -> List[np.ndarray]:
        for name, arr in zip(self.input_names, arrays):
            handle = self._predictor.get_input_handle(name)
            handle.reshape(list(arr.shape))
            handle.copy_from_cpu(arr)
        self._predictor.run()
        return [self._predictor.get_output_handle(n).copy_to_cpu() for n in self.output_names]


def _conv2d_into_leaky_relu(g: ProgramGraph) -> bool:
    # conv_activation_onednn_fuse_pass segfaults building FusedConv2dOp for conv2d (+ bias, + batch norm, which
    # earlier passes fold into the conv) followed by leaky_relu; conv3d is not fused, a scale in between is safe.
    return any(op.type == "leaky_relu" and getattr(g.source(op, ("add", "batch_norm")), "type", "")
               in ("conv2d", "depthwise_conv2d") for op in g.ops)


def _transpose_reshape_fc_reshape(g: ProgramGraph) -> bool:
    # operator_reshape_onednn_fuse_pass gives the fc a wrong input shape ("The input's second dimension and
    # weight's first dimension is expected to be the same") for transpose -> reshape -> matmul -> add (bias: an fc) -> reshape,
    # as in the attention blocks of TimeSformer and Video Swin; any one of the five links missing is safe.
    for op in g.ops:
        if op.type != "matmul":
            continue
        src = g.source(op)
        if src is not None and src.type == "reshape" and getattr(g.source(src), "type", "") == "transpose" \
                and any(u.type == "add" and any(w.type == "reshape" for w in g.users(u)) for u in g.users(op)):
            return True
    return False


# oneDNN pass -> the graph shape that breaks it in paddle 3.3.1 (found by building small graphs of each shape).
ONEDNN_PASS_TRIGGERS: Dict[str, Callable[[ProgramGraph], bool]] = {
    "conv_activation_onednn_fuse_pass": _conv2d_into_leaky_relu,
    "operator_reshape_onednn_fuse_pass": _transpose_reshape_fc_reshape,
}


def broken_onednn_passes(model_path: Union[str, Path]) -> Tuple[str, ...]:
    """The oneDNN passes that crash or fail predictor creation on this exported model's graph."""
    path = Path(model_path)
    return _broken_passes(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=32)
def _broken_passes(path: str, mtime_ns: int) -> Tuple[str, ...]:
    graph = ProgramGraph(program_ops(path))
    return tuple(name for name, breaks in ONEDNN_PASS_TRIGGERS.items() if breaks(graph))


def convert_tensorrt(model_path: Union[str, Path], options: RuntimeOptions) -> Tuple[Path, Path]:
    """Convert a PIR model with `paddle.tensorrt.convert` (GPU builds only) for the shape ranges in
    `options.trt_shapes` and precision `options.precision`; the result is kept in `options.trt_cache_dir`
    (default: beside the model) under a name that encodes precision and shapes, and reused."""
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


register_engine(Engine("paddle", PaddlePredictor, precisions=("fp32", "bf16"), version_package="paddle"))
