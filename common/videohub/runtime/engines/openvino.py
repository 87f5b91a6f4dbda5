"""OpenVINO (CPU plugin) over the paddle2onnx conversion of the exported model; fp32, bf16 and int8."""
from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from videohub.runtime.onnx import onnx_model
from videohub.runtime.predictor import (BasePredictor, Engine, RuntimeOptions, cpu_threads, import_optional,
                                        register_engine)


class OpenVINOPredictor(BasePredictor):
    """OpenVINO CPU. The model is compiled for each input shape it meets (static shapes are what OpenVINO's
    CPU plugin plans best); a few shapes are kept. With `streams` > 1 the compiled model has that many CPU
    streams (`threads // streams` threads each) and each concurrent call takes its own infer request."""

    MAX_SHAPES = 4

    def __init__(self, onnx_file: Union[str, Path], precision: str = "fp32", threads: Optional[int] = None,
                 streams: int = 1):
        super().__init__(streams)
        ov = import_optional("openvino")
        self._core = ov.Core()
        self._model = self._core.read_model(str(onnx_file))
        # int8 models carry their own (de)quantisation; what is left of them runs in fp32. The hint is always
        # set: without it OpenVINO runs bf16 on CPUs that have it.
        hint = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}[precision]
        self._config = {"INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": cpu_threads(threads)}
        self._config.update({"NUM_STREAMS": self.streams} if self.streams > 1 else {"PERFORMANCE_HINT": "LATENCY"})
        self.input_names: List[str] = [p.get_any_name() for p in self._model.inputs]
        self.output_names: List[str] = [p.get_any_name() for p in self._model.outputs]
        self._compiled: Dict[Tuple[Tuple[int, ...], ...], Tuple[Any, "queue.SimpleQueue"]] = {}
        self._compile_lock = threading.Lock()

    def _compiled_for(self, shapes: Tuple[Tuple[int, ...], ...]) -> Tuple[Any, "queue.SimpleQueue"]:
        """(compiled model, its idle infer requests) for these input shapes."""
        with self._compile_lock:
            if shapes not in self._compiled:
                if len(self._compiled) >= self.MAX_SHAPES:
                    self._compiled.pop(next(iter(self._compiled)))
                model = self._model.clone()
                model.reshape({i: list(s) for i, s in enumerate(shapes)})
                self._compiled[shapes] = (self._core.compile_model(model, "CPU", self._config), queue.SimpleQueue())
            return self._compiled[shapes]

    def _run(self, arrays: List[np.ndarray]) -> List[np.ndarray]:
        compiled, idle = self._compiled_for(tuple(a.shape for a in arrays))
        try:
            request = idle.get_nowait()
        except queue.Empty:  # at most `streams` requests exist per shape: runs are bounded by the slots
            request = compiled.create_infer_request()
        try:
            out = request.infer(dict(enumerate(arrays)))
            return [np.array(out[i]) for i in range(len(self.output_names))]
        finally:
            idle.put(request)


def build(model_path: Path, params_path: Path, options: RuntimeOptions) -> OpenVINOPredictor:
    return OpenVINOPredictor(onnx_model(model_path, params_path, options.precision), options.precision,
                             options.cpu_threads, options.streams)


register_engine(Engine("openvino", build, precisions=("fp32", "bf16", "int8"), packages=("openvino", "paddle2onnx"),
                       version_package="openvino", concurrent=True))
