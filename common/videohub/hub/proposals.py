"""Temporal action proposal modules for PaddleHub (BMN): `detect`, `hub run`, `hub serving`, over
`videohub.tasks.proposals.ProposalDetector`."""
from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import paddlehub
from paddlehub.module.module import runnable, serving

from videohub.hub import cli
from videohub.hub.base import VideoModuleBase, check_outputs
from videohub.hub.serving import base64_items, check_fields
from videohub.io.files import expand_input_path
from videohub.tasks.items import Item, feature_items
from videohub.tasks.proposals import (PROPOSAL_INPUT_SUFFIXES, Extractor, FeatureShape, ProposalDetector, Proposal,
                                      activitynet_json, card_extractor, format_proposals, make_extractor,
                                      path_kind, set_durations)
from videohub.io.reader import open_video
from videohub.viz.render import Progress
from videohub.viz.timeline import GroundTruth, timeline_png


def load_hub_module(name: str) -> Any:
    """A feature extractor named by module: loaded (and installed if needed) by PaddleHub."""
    return paddlehub.Module(name=name)


class ProposalDetectorModule(VideoModuleBase):
    """Base class (PaddleHub `meta`) of temporal action proposal modules (BMN): `detect`, `hub run`,
    `hub serving`. `hub.Module(name=..., extractor=...)` replaces the card's feature extractor."""

    default_top_k = 100

    def __init__(self, extractor: Any = None, extractor_dim: Optional[int] = None, **kwargs: Any):
        super(ProposalDetectorModule, self).__init__(**kwargs)
        chosen = (make_extractor(extractor, extractor_dim, load_hub_module) if extractor is not None
                  else card_extractor(self.card.features, load_hub_module))
        self.task = ProposalDetector(self.card, self.runtime, extractor=chosen, backend=self.video_backend,
                                     default_top_k=self.default_top_k)

    @property
    def extractor(self) -> Optional[Extractor]:
        return self.task.extractor

    @extractor.setter
    def extractor(self, value: Any) -> None:
        self.task.extractor = make_extractor(value, None, load_hub_module)

    @property
    def feature_shape(self) -> FeatureShape:
        return self.task.feature_shape

    def run_network(self, x: np.ndarray, use_gpu: bool = False) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`[T, D]` features (T = the network's positions) -> (pred_bm, pred_start, pred_end) of one video."""
        return self.task.run_network(x, use_gpu)

    def proposals(self, pred_bm: np.ndarray, pred_start: np.ndarray, pred_end: np.ndarray, duration: float,
                  top_k: Optional[int] = None) -> List[Proposal]:
        """Network outputs of one video -> scored segments in seconds (the card's Soft-NMS parameters)."""
        return self.task.proposals(pred_bm, pred_start, pred_end, duration, top_k)

    # ------------------------------------------------------------------ public API
    def detect(self, features: Optional[Sequence[np.ndarray]] = None, paths: Optional[Sequence[str]] = None,
               duration: Any = None, top_k: Optional[int] = None, use_gpu: bool = False,
               strict: bool = False) -> List[Dict[str, Any]]:
        """Temporal action proposals; one result per input, features first, then paths, each in order.

        Args:
            features: arrays `[T, D]` or `[D, T]` (BMN ActivityNet: [100, 400]); other T are resampled.
            paths: `.npy` feature files (duration needed), JSON files `{"feat_path", "duration_second"}`
                (feat_path relative to the JSON's folder), or videos (through the module's extractor).
            duration: seconds; one number for all inputs or a list with one entry (or None) per input.
                Overrides a JSON's `duration_second` and a video's own length.
            top_k: at most this many proposals per input (after Soft-NMS); default 100.
            use_gpu: run on the GPU predictor.
            strict: raise the first error instead of recording it.
        Returns:
            `[{"path" or "name", "duration", "proposals": [{"segment": [t0, t1], "score": s}, ...]}]`, best
            first; a JSON input also reports the `feature_file` it read, a video the `extractor`. A failed
            input gets `{"path" or "name", "error": {"type", "message"}}` in its place.
        """
        if features is None and paths is None:
            raise ValueError("give `features` ([T, D] or [D, T] arrays) or `paths` (.npy, .json or videos)")
        items = feature_items(features, paths, path_kind, single_feature=(np.ndarray,))
        set_durations(items, duration)
        return self.task.detect_items(items, top_k=top_k, use_gpu=use_gpu, strict=strict)

    def visualize(self, path: str, out_path: Optional[str] = None, features: Any = None,
                  duration: Optional[float] = None, top_n: int = 5, max_side: Optional[int] = None,
                  timeline_path: Optional[str] = None, ground_truth: Optional[GroundTruth] = None,
                  use_gpu: bool = False, strict: bool = False,
                  frame_progress: Optional[Progress] = None) -> Dict[str, Any]:
        """Detect proposals for one video and draw them: `out_path` (.mp4, .webm or .gif) gets every frame
        (original size and rate, or `max_side`; the source's sound) with the proposals among the best `top_n` that
        contain the frame's time, with rank, score and extent; `timeline_path` (.png) the best `top_n` as bars
        over time, with `ground_truth` segments if given.

        The proposals come from `features` of this video when given (a [T, D] array, or a .npy/.json feature
        file; the video's own length is their duration unless `duration` is given), else from the video
        through the module's extractor; with only a timeline wanted, `path` may itself be a feature file.
        Returns the `detect` result plus `"video"` and/or `"timeline"`; a failed input gets its error record
        (nothing is written) unless `strict`.
        """
        check_outputs(out_path, timeline_path)
        is_video = path_kind(str(path)) == "video"
        if out_path is not None and not is_video:
            raise ValueError(f"{path!r} is a feature file; drawing proposals on frames needs the video")
        if features is not None and is_video and duration is None:
            with open_video(path, self.video_backend) as reader:
                duration = reader.info.duration
        if features is None:
            result = self.detect(paths=[path], duration=duration, use_gpu=use_gpu, strict=strict)[0]
        elif isinstance(features, (str, os.PathLike)):
            result = self.detect(paths=[str(features)], duration=duration, use_gpu=use_gpu,
                                 strict=strict)[0]
        else:
            result = self.detect(features=[features], duration=duration, use_gpu=use_gpu,
                                 strict=strict)[0]
        if "error" in result:
            return result
        return {**result, **self.draw_result(result, path if is_video else None, out_path, timeline_path, top_n,
                                             max_side, ground_truth, frame_progress=frame_progress)}

    def timeline(self, path: str, out_path: str, features: Any = None, duration: Optional[float] = None,
                 top_n: int = 5, ground_truth: Optional[GroundTruth] = None, **kwargs: Any) -> Dict[str, Any]:
        """The timeline PNG of one video's or feature file's proposals (see `visualize`)."""
        return self.visualize(path, None, features=features, duration=duration, top_n=top_n,
                              timeline_path=out_path, ground_truth=ground_truth, **kwargs)

    # ------------------------------------------------------------------ hub run
    @runnable
    @cli.whole_run_errors
    def run_cmd(self, argvs: List[str]) -> str:
        parser = cli.parser_for(self, "a .npy/.json feature file or a video, a folder of them, or a .txt list")
        parser.add_argument("--duration", type=float, default=None,
                            help="seconds (needed for .npy; overrides a JSON's duration_second)")
        parser.add_argument("--top_k", type=int, default=self.default_top_k)
        parser.add_argument("--output", choices=("json", "text"), default="json",
                            help="json: an ActivityNet proposal file (default); text: the best proposals")
        cli.add_visual_arguments(parser)
        parser.add_argument("--video", default=None,
                            help="with a feature-file input: the video the features describe (for --output_video)")
        parser.add_argument("--top_n", type=int, default=5, help="proposals drawn (--output_video/--output_timeline)")
        parser.add_argument("--extractor", default=None,
                            help="a hub module whose extract_features turns videos into features")
        parser.add_argument("--extractor_dim", type=int, default=None, help="the extractor's feature size")
        args = parser.parse_args(argvs)
        if args.extractor:
            self.task.extractor = make_extractor(args.extractor, args.extractor_dim, load_hub_module)
        paths = expand_input_path(args.input_path, PROPOSAL_INPUT_SUFFIXES)
        cli.require_inputs(paths, args.input_path)
        if args.output_video:
            cli.require_single_input(paths, args.input_path)
            video, features = (args.video, paths[0]) if args.video else (paths[0], None)
            results = [self.visualize(video, args.output_video, features=features, duration=args.duration,
                                      top_n=args.top_n, max_side=args.max_side, use_gpu=args.use_gpu,
                                      strict=args.strict)]
        else:
            results = self.detect(paths=paths, duration=args.duration, top_k=args.top_k, use_gpu=args.use_gpu,
                                  strict=args.strict)
        if args.output_timeline and any("error" not in r for r in results):
            print(f"timeline: {timeline_png(results, args.output_timeline, args.top_n)}", file=sys.stderr)
        text = cli.dump_json(activitynet_json(results)) if args.output == "json" else format_proposals(results)
        return cli.finish_run(results, text)

    # ------------------------------------------------------------------ hub serving
    @serving
    def serving_method(self, features: Optional[List[str]] = None, videos: Optional[List[str]] = None,
                       duration: Any = None, top_k: Optional[int] = None, use_gpu: bool = False,
                       **kwargs: Any) -> List[Dict[str, Any]]:
        """HTTP entry: `features` are base64-encoded `.npy` files, `videos` base64-encoded videos (features
        first, then videos); `duration` as in `detect`. Server-side paths are not read."""
        if kwargs:
            raise ValueError(f"unknown request fields: {sorted(kwargs)}")
        if features is None and videos is None:
            raise ValueError("the request needs `features` (base64 .npy files) or `videos` (base64 videos)")
        check_fields(features=features, videos=videos)
        items: List[Item] = (base64_items("features", features, prefix="features", kind="npy", key="name")
                             + base64_items("videos", videos, prefix="videos", kind="video", key="name"))
        set_durations(items, duration)
        return self.task.detect_items(items, top_k=top_k, use_gpu=use_gpu)
