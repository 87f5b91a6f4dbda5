"""OpenVINO (CPU plugin) over the paddle2onnx conversion of the exported model; fp32, bf16 and int8."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from videohub.runtime.onnx import onnx_model
from videohub.runtime.predictor import BasePredictor, Engine, RuntimeOptions, import_optional, register_engine


class OpenVINOPredictor(BasePredictor):
    """OpenVINO CPU. The model is compiled for each input shape it meets
    (static shapes are what OpenVINO's CPU plugin plans best); a few shapes are kept."""

    MAX_SHAPES = 4

    def __init__(self, onnx_file: Union[str, Path], precision: str = "fp32", threads: Optional[int] = None):
        super().__init__()
        ov = import_optional("openvino")
        self._core = ov.Core()
        self._model = self._core.read_model(str(onnx_file))
        # int8 models carry their own (de)quantisation; what is left of them runs in fp32.
        hint = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}[precision]
        self._config = {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": "LATENCY",
                        "INFERENCE_NUM_THREADS": int(threads or min(os.cpu_count() or 1, 8))}
        self.input_names: List[str] = [p.get_any_name() for p in self._model.inputs]
        self.output_names: List[str] = [p.get_any_name() for p in self._model.outputs]
        self._compiled: Dict[Tuple[Tuple[int, ...], ...], Any] = {}

    def _request(self, shapes: Tuple[Tuple[int, ...], ...]):
        if shapes not in self._compiled:
            if len(self._compiled) >= self.MAX_SHAPES:
                self._compiled.pop(next(iter(self._compiled)))
            model = self._model.clone()
            model.reshape({i: list(s) for i, s in enumerate(shapes)})
            self._compiled[shapes] = self._core.compile_model(model, "CPU", self._config).create_infer_request()
        return self._compiled[shapes]

    def _run(self, arrays: List[np.ndarray]) -> List[np.ndarray]:
        request = self._request(tuple(a.shape for a in arrays))
        out = request.infer(dict(enumerate(arrays)))
        return [np.array(out[i]) for i in range(len(self.output_names))]


def build(model_path: Path, params_path: Path, options: RuntimeOptions) -> OpenVINOPredictor:
    return OpenVINOPredictor(onnx_model(model_path, params_path, options.precision), options.precision, options.cpu_threads)


register_engine(Engine("openvino", build, precisions=("fp32", "bf16", "int8"), packages=("openvino", "paddle2onnx"),
                       version_package="openvino"))
