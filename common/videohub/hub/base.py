"""The PaddleHub module base every video module shares: card, weights check, labels and runtime.

A module declares itself in a few lines (see `modules/i3d_kinetics400/module.py`):

    @moduleinfo(name="i3d_kinetics400", version="1.0.0", ..., meta=VideoClassifierModule)
    class I3DKinetics400:
        pass

and everything else comes from its `card.json` and its `weights/` folder. The work itself is done by a task
of `videohub.tasks` (plain Python); the classes of this package adapt it to PaddleHub (`hub.Module`, `hub run`,
`hub serving`).
"""
from __future__ import annotations

from typing import Any, List, Optional

from paddlehub.module.module import RunModule

from videohub.card import ModelCard, load_card, load_labels
from videohub.hub.serving import limit_request_size
from videohub.io.reader import DEFAULT_BACKEND
from videohub.runtime.choice import EngineChoice
from videohub.runtime.predictor import Predictor
from videohub.runtime.session import ModelRuntime
from videohub.weights import require_weights


class VideoModuleBase(RunModule):
    """What every video module shares: its card, its weights (checked at construction), its labels and its
    runtime (one predictor per configuration, the engine choice)."""

    # RunModule wraps every method of a non-Layer module in paddle.enable_static()/disable_static() and does
    # not restore dygraph mode when the method raises, which leaves the whole process in static mode after
    # one bad input with strict=True. Our methods only use inference predictors, which need neither mode, so
    # the wrapper is switched off.
    __getattribute__ = object.__getattribute__

    def __init__(self, backend: str = DEFAULT_BACKEND, cpu_threads: Optional[int] = None,
                 decode_workers: int = 2, use_tensorrt: bool = False, trt_precision: str = "fp16",
                 trt_max_videos: int = 8, engine: Optional[str] = None, precision: Optional[str] = None,
                 **kwargs: Any):
        super(VideoModuleBase, self).__init__()
        self.card: ModelCard = load_card(self.directory)
        require_weights(self.card, self.directory)  # clear message on how to get them, never random weights
        self.labels: List[str] = load_labels(self.card, self.directory)
        self.video_backend = backend
        self.decode_workers = max(1, int(decode_workers))
        self.trt_max_videos = max(1, int(trt_max_videos))
        # CPU engine/precision None: the card's fastest verified engine; TensorRT (GPU only) on request.
        self.runtime = ModelRuntime(self.card, self.directory, cpu_threads=cpu_threads, engine=engine,
                                    precision=precision, use_tensorrt=bool(use_tensorrt),
                                    trt_precision=str(trt_precision))
        limit_request_size()

    @property
    def engine(self) -> Optional[str]:
        return self.runtime.engine

    @engine.setter
    def engine(self, value: Optional[str]) -> None:
        self.runtime.engine = None if value in (None, "", "auto") else value

    @property
    def precision(self) -> Optional[str]:
        return self.runtime.precision

    @precision.setter
    def precision(self, value: Optional[str]) -> None:
        self.runtime.precision = value

    def engine_choice(self, use_gpu: bool = False, engine: Optional[str] = None,
                      precision: Optional[str] = None) -> EngineChoice:
        """The engine/precision that runs (resolved once per configuration; fallbacks warn)."""
        return self.runtime.engine_choice(use_gpu, engine, precision)

    def predictor(self, use_gpu: bool = False, part: Optional[str] = None) -> Predictor:
        """The predictor of the module's network (or of one network `part`), honouring `use_gpu` per call."""
        return self.runtime.predictor(use_gpu, part)

    @property
    def last_stats(self) -> Optional[dict]:
        """Stage timings of the last call."""
        return self.task.last_stats
