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

import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from paddlehub.module.module import RunModule

from videohub.card import ModelCard, load_card, load_labels, read_labels
from videohub.hub.serving import limit_request_size
from videohub.io.reader import DEFAULT_BACKEND, open_video
from videohub.runtime.choice import EngineChoice
from videohub.runtime.predictor import Predictor
from videohub.runtime.session import ModelRuntime
from videohub.viz.encode import output_format
from videohub.viz.overlays import result_overlay
from videohub.viz.render import Progress, annotate_video
from videohub.viz.timeline import GroundTruth, timeline_png
from videohub.weights import require_weights

LabelsArg = Union[None, str, "os.PathLike[str]", Sequence[str]]


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
                 labels: LabelsArg = None, inference_streams: Optional[int] = None, **kwargs: Any):
        super(VideoModuleBase, self).__init__()
        self.card: ModelCard = load_card(self.directory)
        require_weights(self.card, self.directory)  # clear message on how to get them, never random weights
        # `labels=` renames the classes of a fine-tuned module (a list, or a label file); the count must match.
        self.labels: List[str] = (load_labels(self.card, self.directory) if labels is None
                                  else self.checked_labels(labels))
        self.video_backend = backend
        self.decode_workers = max(1, int(decode_workers))
        self.trt_max_videos = max(1, int(trt_max_videos))
        # CPU inferences at once for many inputs (None: the runtime's choice; 1: one at a time)
        self.inference_streams = inference_streams
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

    # ------------------------------------------------------------------ labels
    def checked_labels(self, labels: LabelsArg) -> List[str]:
        """Class names from a list or a label file (one per line, or `<id> <name>`), refused unless there is
        exactly one per class of the network."""
        names = read_labels(labels) if isinstance(labels, (str, os.PathLike)) else [str(x) for x in labels]
        expected = self.card.num_classes
        if expected is None:
            raise ValueError(f"{self.card.name} has no classes to name (its outputs are not class scores)")
        if len(names) != expected:
            source = f"the label file {str(labels)!r}" if isinstance(labels, (str, os.PathLike)) else "labels="
            raise ValueError(f"{source} gives {len(names)} class names but the {self.card.name} network has "
                             f"{expected} classes; give exactly one name per class, in class-id order")
        return names

    def set_labels(self, labels: LabelsArg) -> None:
        """Rename the classes (e.g. of a fine-tuned module) from now on; see `checked_labels`."""
        self.labels = self.checked_labels(labels)
        self.task.labels = list(self.labels)

    # ------------------------------------------------------------------ pictures
    def draw_result(self, result: Dict[str, Any], video_path: Optional[str], out_path: Optional[str] = None,
                    timeline_path: Optional[str] = None, top_k: int = 5, max_side: Optional[int] = None,
                    ground_truth: Optional[GroundTruth] = None, duration: Optional[float] = None,
                    frame_progress: Optional[Progress] = None) -> Dict[str, Any]:
        """Draw a successful `result` of `video_path`: the annotated video (`out_path`) and/or the timeline
        PNG (`timeline_path`). Returns `{"video": facts of the written video, "timeline": path}` for the
        outputs asked for."""
        out: Dict[str, Any] = {}
        if out_path is not None:
            with open_video(video_path, self.video_backend) as reader:
                out["video"] = annotate_video(reader, out_path, result_overlay(result, top_k), max_side,
                                              frame_progress)
                duration = reader.info.duration if duration is None else duration
        if timeline_path is not None:
            if duration is None and "duration" not in result and not result.get("windows"):
                with open_video(video_path, self.video_backend) as reader:
                    duration = reader.info.duration
            timed = result if duration is None or "duration" in result else {**result, "duration": duration}
            out["timeline"] = str(timeline_png([timed], timeline_path, top_k, ground_truth))
        return out


def check_outputs(out_path: Optional[str], timeline_path: Optional[str]) -> None:
    """Refuse an output file name the drawing cannot write before any work is done."""
    if out_path is None and timeline_path is None:
        raise ValueError("give out_path (an annotated .mp4, .webm or .gif) and/or timeline_path (a .png)")
    if out_path is not None:
        output_format(out_path)
    if timeline_path is not None and not str(timeline_path).lower().endswith(".png"):
        raise ValueError(f"the timeline is a PNG picture; {str(timeline_path)!r} does not end in .png")


def trimmed(result: Mapping[str, Any], top_k: int, threshold: float) -> Dict[str, Any]:
    """A classification result computed with every class, cut to `top_k` labels at or above `threshold` (as
    `classify` with those options returns it), windows included."""
    def cut(pred: Mapping[str, float]) -> Dict[str, float]:
        return {k: v for k, v in list(pred.items())[:max(0, int(top_k))] if v >= threshold}

    out = {**result, "prediction": cut(result["prediction"])}
    if "windows" in result:
        out["windows"] = [{**w, "prediction": cut(w["prediction"])} for w in result["windows"]]
    return out
