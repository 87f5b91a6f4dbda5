"""ONNX Runtime (CPU execution provider) over the paddle2onnx conversion of the exported model; fp32 and int8."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Union

import numpy as np

from videohub.runtime.onnx import onnx_model
from videohub.runtime.predictor import (BasePredictor, Engine, RuntimeOptions, cpu_threads, import_optional,
                                        register_engine)


class OnnxRuntimePredictor(BasePredictor):
    """ONNX Runtime CPU session. With `streams` > 1 that many calls run at once (a session is safe to run
    from several threads), each on `threads // streams` threads, sharing the weights."""

    def __init__(self, onnx_file: Union[str, Path], threads: Optional[int] = None, streams: int = 1):
        super().__init__(streams)
        ort = import_optional("onnxruntime")
        so = ort.SessionOptions()
        so.intra_op_num_threads = max(1, cpu_threads(threads) // self.streams)
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3  # paddle2onnx leaves unused initialisers; ORT warns about each of them
        self._session = ort.InferenceSession(str(onnx_file), so, providers=["CPUExecutionProvider"])
        self.input_names: List[str] = [i.name for i in self._session.get_inputs()]
        self.output_names: List[str] = [o.name for o in self._session.get_outputs()]

    def _run(self, arrays: List[np.ndarray]) -> List[np.ndarray]:
        return list(self._session.run(self.output_names, dict(zip(self.input_names, arrays))))


def build(model_path: Path, params_path: Path, options: RuntimeOptions) -> OnnxRuntimePredictor:
    return OnnxRuntimePredictor(onnx_model(model_path, params_path, options.precision), options.cpu_threads,
                                options.streams)


# ONNX Runtime's CPU provider has no bf16 convolution kernels.
register_engine(Engine("onnxruntime", build, precisions=("fp32", "int8"), packages=("onnxruntime", "paddle2onnx"),
                       version_package="onnxruntime", concurrent=True))
