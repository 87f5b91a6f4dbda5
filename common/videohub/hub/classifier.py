"""Video classification modules for PaddleHub: `classify`, `classify_windows`, `iter_windows`, `hub run`,
`hub serving`, over `videohub.tasks.classification.VideoClassifier`."""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

from paddlehub.module.module import runnable, serving

from videohub.hub import cli
from videohub.hub.base import VideoModuleBase, check_outputs, trimmed
from videohub.hub.serving import base64_items, check_fields, path_items
from videohub.io.files import expand_input_path
from videohub.runtime.predictor import CPU_PRECISIONS, engines
from videohub.tasks import windows as win
from videohub.tasks.classification import Result, VideoClassifier, format_results
from videohub.tasks.items import Item, VideoInput, video_items
from videohub.viz.render import Progress
from videohub.viz.timeline import GroundTruth


class VideoClassifierModule(VideoModuleBase):
    """Base class (PaddleHub `meta`) of the video classification modules."""

    default_top_k = 5
    default_threshold = 0.0
    task_class = VideoClassifier
    windowed = True  # classify(window=...) is supported

    def __init__(self, **kwargs: Any):
        super(VideoClassifierModule, self).__init__(**kwargs)
        self.task = self.task_class(self.card, self.labels, self.runtime, backend=self.video_backend,
                                    decode_workers=self.decode_workers, default_top_k=self.default_top_k,
                                    default_threshold=self.default_threshold, trt_max_videos=self.trt_max_videos,
                                    inference_streams=self.inference_streams)

    # ------------------------------------------------------------------ public API
    def classify(self, paths: Optional[Sequence[str]] = None, videos: Optional[Sequence[VideoInput]] = None,
                 use_gpu: bool = False, threshold: Optional[float] = None, top_k: Optional[int] = None,
                 batch_size: int = 1, strict: bool = False, preprocess: Optional[str] = None,
                 window: Optional[float] = None, stride: Optional[float] = None,
                 progress: Optional[bool] = None) -> List[Result]:
        """Classify videos; one result per input, in input order.

        Args:
            paths: video file paths.
            videos: encoded video file bytes, or uint8 RGB frame arrays [T, H, W, 3] (25 fps assumed).
            use_gpu: run on the GPU predictor.
            threshold: drop labels whose probability is below it.
            top_k: at most this many labels per video.
            batch_size: videos (or windows) per predictor run.
            strict: raise the first error instead of recording it.
            preprocess: a named preprocessing variant of the card (e.g. "tencrop"); default: the card's.
            window: classify each video in sliding windows of this many seconds (long videos); each result
                then also has `windows: [{start, end, prediction}]`, and `prediction` is the mean of the
                windows' probabilities.
            stride: seconds between window starts (default: `window`, back to back).
            progress: a progress bar on stderr; default: only for several inputs and when stderr is a terminal.
        Returns:
            `[{"path": name, "prediction": {label: prob}}]`; an input that failed gets
            `{"path": name, "error": {"type": ..., "message": ...}}` in its place instead.
        """
        items = video_items(paths, videos)
        if window is not None:
            win.check_window_args(window, stride)
            return [self.task.classify_windowed(item, window, stride, use_gpu=use_gpu, threshold=threshold,
                                                top_k=top_k, batch_size=batch_size, strict=strict,
                                                preprocess=preprocess, progress=progress) for item in items]
        return self.task.classify_items(items, use_gpu=use_gpu, threshold=threshold, top_k=top_k,
                                        batch_size=batch_size, strict=strict, preprocess=preprocess,
                                        progress=progress)

    def classify_windows(self, path: Optional[str] = None, video: Optional[VideoInput] = None,
                         stream: Optional[Union[int, str]] = None, window: float = 10.0,
                         stride: Optional[float] = None, fps: Optional[float] = None,
                         max_seconds: Optional[float] = None, use_gpu: bool = False,
                         threshold: Optional[float] = None, top_k: Optional[int] = None, batch_size: int = 1,
                         preprocess: Optional[str] = None, progress: Optional[bool] = None) -> Result:
        """Classify one long video or a stream in sliding windows; raises on error.

        Give one of `path` (a file, decoded sparsely by seeking), `video` (bytes or a frame array), or
        `stream`: a webcam index (0), a stream URL (rtsp://, http://, anything this OpenCV's FFmpeg opens) or
        a file read sequentially. A stream keeps only its last `window` seconds of frames, scaled to the
        model's size; `fps` overrides the rate it reports, `max_seconds` stops a stream that never ends.
        Returns `{"path", "prediction" (mean of the windows' probabilities), "windows": [{start, end,
        prediction}]}`. Use `iter_windows` to get windows as they complete (live streams).
        """
        if stream is not None:
            pairs = self.task.stream_window_pairs(stream, window, stride, fps=fps, max_seconds=max_seconds,
                                                  use_gpu=use_gpu, batch_size=batch_size, preprocess=preprocess)
            return self.task.windowed_result(str(stream), pairs, top_k, threshold, progress=progress)
        items = video_items(None if path is None else [path], None if video is None else [video])
        if len(items) != 1:
            raise ValueError("give exactly one of path, video or stream")
        return self.task.classify_windowed(items[0], window, stride, use_gpu=use_gpu, threshold=threshold,
                                           top_k=top_k, batch_size=batch_size, strict=True,
                                           preprocess=preprocess, progress=progress)

    def iter_windows(self, stream: Union[int, str], window: float = 10.0, stride: Optional[float] = None,
                     fps: Optional[float] = None, max_seconds: Optional[float] = None, use_gpu: bool = False,
                     threshold: Optional[float] = None, top_k: Optional[int] = None, batch_size: int = 1,
                     preprocess: Optional[str] = None) -> Iterator[Dict[str, Any]]:
        """Yield `{start, end, prediction}` for each window of a stream (webcam index, URL or file read
        sequentially) as soon as it is complete; the last window, ending where the stream ends, comes last."""
        pairs = self.task.stream_window_pairs(stream, window, stride, fps=fps, max_seconds=max_seconds,
                                              use_gpu=use_gpu, batch_size=batch_size, preprocess=preprocess)
        for w, p in pairs:
            yield {**w.as_dict(), "prediction": self.task.prediction(p, top_k, threshold)}

    def visualize(self, path: str, out_path: Optional[str] = None, top_k: Optional[int] = None,
                  threshold: Optional[float] = None, window: Optional[float] = None, stride: Optional[float] = None,
                  max_side: Optional[int] = None, timeline_path: Optional[str] = None,
                  ground_truth: Optional[GroundTruth] = None, use_gpu: bool = False,
                  preprocess: Optional[str] = None, strict: bool = False,
                  frame_progress: Optional[Progress] = None) -> Result:
        """Classify one video and draw what the model saw: `out_path` (.mp4 H.264, .webm VP9 or .gif) gets
        every frame, at the original size and frame rate (or scaled so the longer side is `max_side`), with the
        top-k labels and their probabilities drawn in the top-left corner (per window when `window` is given:
        the labels change with the windows) and the source's sound. `timeline_path` (.png) gets the probabilities of the
        top labels over time, with `ground_truth` segments if given.

        Returns the result `classify` gives with the same options, plus `"video"` (path, frames, width,
        height, fps, codec, audio) and/or `"timeline"`; a video that cannot be classified gets its error
        record (nothing is written) unless `strict`. `frame_progress(done, total)` is called as frames are
        written.
        """
        check_outputs(out_path, timeline_path)
        if window is not None and not self.windowed:
            raise ValueError(f"{self.name} classifies whole videos; window/stride are not supported")
        k, thr = self.task.options(top_k, threshold)
        extra = {"window": window, "stride": stride} if window is not None else {}
        # every class, so the timeline can follow the top labels through windows where they are not top-k
        full = self.classify(paths=[path], use_gpu=use_gpu, top_k=len(self.labels), threshold=0.0,
                             strict=strict, preprocess=preprocess, **extra)[0]
        if "error" in full:
            return full
        shown = trimmed(full, k, thr)
        return {**shown, **self.draw_result(shown, path, out_path, None, k, max_side, frame_progress=frame_progress),
                **self.draw_result(full, path, None, timeline_path, k, ground_truth=ground_truth)}

    def timeline(self, path: str, out_path: str, window: Optional[float] = None, stride: Optional[float] = None,
                 top_k: Optional[int] = None, ground_truth: Optional[GroundTruth] = None, **kwargs: Any) -> Result:
        """The timeline PNG of one video (see `visualize`): give `window` to see the labels change over time."""
        return self.visualize(path, None, top_k=top_k, window=window, stride=stride, timeline_path=out_path,
                              ground_truth=ground_truth, **kwargs)

    # ------------------------------------------------------------------ hub run
    @runnable
    @cli.whole_run_errors
    def run_cmd(self, argvs: List[str]) -> str:
        parser = cli.parser_for(self, "a video file, a directory of videos, or a .txt file listing one path per line")
        cli.add_label_arguments(parser, self.default_top_k, self.default_threshold)
        parser.add_argument("--batch_size", type=int, default=1)
        parser.add_argument("--preprocess", default=None,
                            help=f"preprocessing variant: default, {', '.join(self.card.variants) or '(none)'}")
        parser.add_argument("--engine", choices=("auto", *engines()), default=self.engine or "auto",
                            help="CPU inference engine; auto: the card's fastest verified one that is installed")
        parser.add_argument("--precision", choices=CPU_PRECISIONS, default=self.precision,
                            help="fp32 (default), bf16 or int8 where the engine, CPU and card allow it")
        if self.windowed:
            cli.add_window_arguments(parser)
        cli.add_visual_arguments(parser)
        args = cli.parse_label_run(self, parser, argvs)
        self.engine, self.precision = args.engine, args.precision
        paths = expand_input_path(args.input_path)
        cli.require_inputs(paths, args.input_path)
        window = {"window": args.window, "stride": args.stride} if self.windowed and args.window else {}
        if args.output_video or args.output_timeline:
            cli.require_single_input(paths, args.input_path)
            results = [self.visualize(paths[0], args.output_video, top_k=args.top_k, threshold=args.threshold,
                                      max_side=args.max_side, timeline_path=args.output_timeline,
                                      use_gpu=args.use_gpu, preprocess=args.preprocess, strict=args.strict,
                                      **window)]
        else:
            results = self.classify(paths=paths, use_gpu=args.use_gpu, top_k=args.top_k, threshold=args.threshold,
                                    batch_size=args.batch_size, strict=args.strict, preprocess=args.preprocess,
                                    **window)
        text = cli.dump_json(results) if args.output == "json" else format_results(results)
        return cli.finish_run(results, text)

    # ------------------------------------------------------------------ hub serving
    @serving
    def serving_method(self, videos: Optional[List[str]] = None, paths: Optional[List[str]] = None,
                       top_k: Optional[int] = None, threshold: Optional[float] = None,
                       use_gpu: bool = False, **kwargs: Any) -> List[Result]:
        """HTTP entry: `videos` are base64-encoded video files; `paths` only inside the server's allow-list."""
        if kwargs:
            raise ValueError(f"unknown request fields: {sorted(kwargs)}")
        if videos is None and paths is None:
            raise ValueError("the request needs `videos` (base64-encoded video files) or `paths`")
        check_fields(videos=videos, paths=paths)
        items: List[Item] = base64_items("videos", videos, prefix="video") + path_items(paths)
        return self.task.classify_items(items, use_gpu=use_gpu, top_k=top_k, threshold=threshold)
