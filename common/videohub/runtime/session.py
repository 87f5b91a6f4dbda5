"""One module's runtime: its engine choice and one predictor per (network, runtime configuration), cached.

Plain Python (no PaddleHub): the hub adapter, scripts and batch jobs all get their predictors here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple, Union

from videohub.card import ModelCard
from videohub.runtime.choice import EngineChoice, resolve_engine
from videohub.runtime.files import inference_files
from videohub.runtime.predictor import (Predictor, RuntimeOptions, TrtShapes, create_predictor, engines,
                                        throughput_streams)


@dataclass
class ModelRuntime:
    """Predictors for the exported network(s) of one module folder.

    `engine`/`precision` None: the card's fastest verified CPU engine (see `videohub.runtime.choice`).
    TensorRT (GPU only) needs the input shape ranges, given by `trt_shapes()` (the task knows them).
    """

    card: ModelCard
    module_dir: Union[str, Path]
    cpu_threads: Optional[int] = None
    engine: Optional[str] = None
    precision: Optional[str] = None
    use_tensorrt: bool = False
    trt_precision: str = "fp16"
    trt_shapes: Optional[Callable[[], TrtShapes]] = None
    _choices: Dict[Tuple[Optional[str], Optional[str], bool], EngineChoice] = field(default_factory=dict, repr=False)
    _predictors: Dict[Tuple[Optional[str], RuntimeOptions], Predictor] = field(default_factory=dict, repr=False)

    def engine_choice(self, use_gpu: bool = False, engine: Optional[str] = None,
                      precision: Optional[str] = None) -> EngineChoice:
        """The engine/precision that runs (resolved once per configuration; fallbacks warn)."""
        key = (engine or self.engine, precision or self.precision, bool(use_gpu))
        if key not in self._choices:
            self._choices[key] = resolve_engine(self.card, self.module_dir, key[0], key[1], use_gpu=key[2],
                                                 threads=self.cpu_threads)
        return self._choices[key]

    def options(self, use_gpu: bool = False, engine: Optional[str] = None, precision: Optional[str] = None,
                tensorrt: bool = True) -> RuntimeOptions:
        opts = RuntimeOptions(use_gpu=bool(use_gpu), onednn=self.card.onednn, cpu_threads=self.cpu_threads,
                              disabled_passes=self.card.disabled_passes)
        if use_gpu:
            if self.use_tensorrt and tensorrt:
                if self.trt_shapes is None:
                    raise ValueError(f"{self.card.name}: TensorRT needs the input shape ranges")
                opts = opts.with_(tensorrt=True, precision=self.trt_precision, trt_shapes=self.trt_shapes())
            return opts
        choice = self.engine_choice(use_gpu, engine, precision)
        return opts.with_(engine=choice.engine, precision=choice.precision)

    def throughput_streams(self, use_gpu: bool = False) -> int:
        """Inferences that may run at once when there are many inputs: `throughput_streams` of the CPU threads
        on an engine that runs several at once, else 1 (the GPU, Paddle Inference, and modules of several
        networks, which have no single model to run concurrently)."""
        if use_gpu or self.card.models or not engines()[self.options(use_gpu).engine].concurrent:
            return 1
        return throughput_streams(self.cpu_threads)

    def predictor(self, use_gpu: bool = False, part: Optional[str] = None, streams: int = 1) -> Predictor:
        """The predictor of the module's network (`part` None) or of one network of a multi-network module.
        Several networks run on Paddle Inference (engine verdicts are per single exported model). `streams`
        > 1: a predictor that runs that many inferences at once (see `throughput_streams`)."""
        opts = (self.options(use_gpu) if part is None
                else self.options(use_gpu, engine="paddle", precision="fp32", tensorrt=False))
        if streams > 1 and part is None and not use_gpu and engines()[opts.engine].concurrent:
            opts = opts.with_(streams=int(streams))
        key = (part, opts)
        if key not in self._predictors:
            self._predictors[key] = create_predictor(*inference_files(self.module_dir, part), opts)
        return self._predictors[key]

    def release(self) -> None:
        """Drop every cached predictor (memory goes back once nothing else holds them)."""
        self._predictors.clear()
