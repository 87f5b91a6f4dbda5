"""The PaddleHub contract shared by every video module, written once.

A module declares itself in a few lines (see `modules/i3d_kinetics400/module.py`):

    @moduleinfo(name="i3d_kinetics400", version="1.0.0", ..., meta=VideoClassifierModule)
    class I3DKinetics400:
        pass

and everything else comes from its `card.json` and its `weights/` folder: `classify` (Python API),
`run_cmd` (`hub run`, via `@runnable`) and `serving_method` (`hub serving`, via `@serving`).
"""
from __future__ import annotations

import argparse
import ast
import base64
import binascii
import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from paddlehub.module.module import RunModule, runnable, serving

from videohub.card import ModelCard, PreprocessSpec, load_card, load_labels
from videohub.errors import (EmptyFileError, InputNotFoundError, UnsupportedInputError, VideoHubError,
                             error_record)
from videohub.pipeline import ArrayReader, PreparedVideo, prepare_array, prepare_video
from videohub.engines import ENGINES, PRECISIONS, EngineChoice, resolve_engine
from videohub.runtime import Predictor, RuntimeOptions, activate, create_predictor, trt_shape_ranges
from videohub.streams import StageTimer, ordered_map, prefetch, progress_bar, progress_enabled
from videohub.video import DEFAULT_BACKEND, list_videos, open_video
from videohub import windows as win
from videohub.weights import inference_files, require_weights

VideoInput = Union[bytes, np.ndarray]

# Server-side paths are refused by `serving_method` unless the server was started with this variable set to
# an os.pathsep-separated allow-list of folders.
SERVING_ALLOWED_DIRS_ENV = "VIDEOHUB_SERVING_ALLOWED_DIRS"
SERVING_MAX_VIDEO_BYTES_ENV = "VIDEOHUB_SERVING_MAX_VIDEO_BYTES"
DEFAULT_SERVING_MAX_VIDEO_BYTES = 256 * 1024 * 1024
# Whole request bodies above this are refused by Flask (HTTP 413) before they are read; see limit_request_size.
SERVING_MAX_REQUEST_BYTES_ENV = "VIDEOHUB_SERVING_MAX_REQUEST_BYTES"
DEFAULT_SERVING_MAX_REQUEST_BYTES = 512 * 1024 * 1024


class _Item:
    """One input in a call: a path, encoded bytes, or frames; `name` is what the result reports."""

    def __init__(self, name: str, path: Optional[str] = None, data: Optional[bytes] = None,
                 frames: Optional[np.ndarray] = None, error: Optional[BaseException] = None):
        self.name, self.path, self.data, self.frames, self.error = name, path, data, frames, error


def expand_input_path(input_path: str) -> List[str]:
    """CLI `--input_path`: a video file, a directory of videos, or a .txt file listing one path per line."""
    p = Path(input_path)
    if p.is_dir():
        return list_videos(p)
    if p.is_file() and p.suffix.lower() == ".txt":
        with open(p, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
    return [input_path]


def _parse_bool(text: str) -> bool:
    value = ast.literal_eval(text) if text not in ("true", "false") else text == "true"
    if not isinstance(value, bool):
        raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")
    return value


class VideoModuleBase(RunModule):
    """What every video module shares: its card, its weights (checked at construction), its labels, one
    Paddle Inference predictor per runtime configuration, input items and threaded preprocessing."""

    # RunModule wraps every method of a non-Layer module in paddle.enable_static()/disable_static() and does
    # not restore dygraph mode when the method raises, which leaves the whole process in static mode after
    # one bad input with strict=True. Our methods only use Paddle Inference predictors, which need neither
    # mode, so the wrapper is switched off.
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
        self.cpu_threads = cpu_threads
        self.decode_workers = max(1, int(decode_workers))
        # TensorRT (GPU only): `hub.Module(name=..., use_tensorrt=True)`; fp16 by default, dynamic batch of
        # 1..trt_max_videos videos (see `_trt_shapes`).
        self.use_tensorrt, self.trt_precision = bool(use_tensorrt), str(trt_precision)
        self.trt_max_videos = max(1, int(trt_max_videos))
        # CPU inference engine and precision (videohub.engines): None = the card's fastest verified engine.
        self.engine, self.precision = engine, precision
        self.last_stats: Optional[Dict[str, Any]] = None  # stage timings of the last classify call
        self._predictors: Dict[RuntimeOptions, Predictor] = {}
        limit_request_size()

    # ------------------------------------------------------------------ runtime
    def runtime_options(self, use_gpu: bool = False, engine: Optional[str] = None,
                        precision: Optional[str] = None) -> RuntimeOptions:
        opts = RuntimeOptions(use_gpu=bool(use_gpu), onednn=self.card.onednn, cpu_threads=self.cpu_threads,
                              disabled_passes=self.card.disabled_passes)
        choice = self.engine_choice(use_gpu, engine, precision)
        return opts if use_gpu else opts.with_(engine=choice.engine, precision=choice.precision)

    def engine_choice(self, use_gpu: bool = False, engine: Optional[str] = None,
                      precision: Optional[str] = None) -> EngineChoice:
        """The engine/precision that runs (resolved once per request; fallbacks warn, see videohub.engines)."""
        key = (engine or self.engine, precision or self.precision, bool(use_gpu))
        choices = self.__dict__.setdefault("_engine_choices", {})
        if key not in choices:
            choices[key] = resolve_engine(self.card, self.directory, key[0], key[1], use_gpu=key[2])
        return choices[key]

    def predictor(self, use_gpu: bool = False, engine: Optional[str] = None,
                  precision: Optional[str] = None) -> Predictor:
        """One predictor per runtime configuration, so `use_gpu` (and the engine) is honoured on every call."""
        opts = self.runtime_options(use_gpu, engine, precision)
        if use_gpu and self.use_tensorrt:
            opts = opts.with_(tensorrt=True, precision=self.trt_precision, trt_shapes=self._trt_shapes())
        if opts not in self._predictors:
            model, params = inference_files(self.directory)
            self._predictors[opts] = create_predictor(model, params, opts)
        return self._predictors[opts]

    def _trt_shapes(self):
        """TensorRT shape ranges: one video's input shapes under the card's preprocessing (and its variants:
        segments x crops x clips are fixed by them), batch from one video to `trt_max_videos` videos."""
        per_spec = []
        for spec in [self.card.preprocess, *self.card.variants.values()]:
            if spec.crop == "none":
                raise ValueError(f"{self.card.name}: TensorRT needs a fixed input size; crop 'none' keeps the "
                                 "video's own size")
            dummy = np.zeros((max(spec.min_frames, 16), 256, 256, 3), np.uint8)
            per_spec.append([a.shape for a in prepare_array(dummy, spec).arrays])
        names = [i.name for i in self.card.inputs]
        if len({tuple(s[1:] for s in shapes) for shapes in per_spec}) != 1:
            raise ValueError(f"{self.card.name}: the preprocessing variants give different per-row input shapes "
                             f"{per_spec}; TensorRT would need one engine per variant")
        lo = [min(shapes[i][0] for shapes in per_spec) for i in range(len(names))]
        hi = [max(shapes[i][0] for shapes in per_spec) * self.trt_max_videos for i in range(len(names))]
        return trt_shape_ranges(names, [shape[1:] for shape in per_spec[0]], lo, hi)

    # ------------------------------------------------------------------ inputs
    def _items(self, paths: Optional[Sequence[str]], videos: Optional[Sequence[VideoInput]]) -> List[_Item]:
        if paths is None and videos is None:
            raise ValueError("give `paths` (video files) or `videos` (encoded bytes or uint8 frame arrays)")
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        if isinstance(videos, (bytes, np.ndarray)):
            videos = [videos]
        items = [_Item(str(p), path=str(p)) for p in (paths or [])]
        for i, v in enumerate(videos or []):
            if isinstance(v, (bytes, bytearray)):
                items.append(_Item(f"video_{i}", data=bytes(v)))
            elif isinstance(v, np.ndarray):
                items.append(_Item(f"video_{i}", frames=v))
            else:
                items.append(_Item(f"video_{i}", error=UnsupportedInputError(
                    f"videos[{i}] is a {type(v).__name__}; expected encoded video bytes or a uint8 array "
                    "[T, H, W, 3]")))
        return items

    def _prepare(self, item: _Item, spec: Optional[PreprocessSpec] = None,
                 timings: Optional[Dict[str, float]] = None) -> PreparedVideo:
        if item.error is not None:
            raise item.error
        spec = spec or self.card.preprocess
        if item.frames is not None:
            t = time.perf_counter()
            prepared = prepare_array(item.frames, spec, name=item.name)
            if timings is not None:
                timings["preprocess"] = timings.get("preprocess", 0.0) + time.perf_counter() - t
            return prepared
        with input_file(item.name, item.path, item.data) as path:
            return prepare_video(path, spec, self.video_backend, timings)

    def _prepared_stream(self, items: List[_Item], spec: Optional[PreprocessSpec] = None,
                         timer: Optional[StageTimer] = None, ahead: Optional[int] = None
                         ) -> Iterator[Tuple[_Item, Optional[PreparedVideo], Optional[BaseException]]]:
        """Decode/preprocess in `decode_workers` threads, at most `ahead` items in advance (bounded memory),
        yielding `(item, prepared, error)` in input order while the caller runs the model."""

        def work(item):
            timings: Dict[str, float] = {}
            try:
                return self._prepare(item, spec, timings)
            finally:
                if timer is not None:
                    timer.merge(timings)

        workers = 0 if len(items) <= 1 else self.decode_workers
        return ordered_map(work, items, workers=workers, ahead=ahead)

    @contextmanager
    def _open_reader(self, item: _Item):
        """A reader over one item (a path, bytes through a temporary file, or frames)."""
        if item.error is not None:
            raise item.error
        if item.frames is not None:
            yield ArrayReader(item.frames, name=item.name)
        else:
            with input_file(item.name, item.path, item.data) as path, open_video(path, self.video_backend) as reader:
                yield reader

    def _serving_items(self, videos: Optional[List[str]], paths: Optional[List[str]]) -> List[_Item]:
        """Request fields -> items: `videos` are base64-encoded files (size-limited), `paths` must lie in the
        server's allow-list. Problems become per-item errors."""
        if videos is None and paths is None:
            raise ValueError("the request needs `videos` (base64-encoded video files) or `paths`")
        for field, value in (("videos", videos), ("paths", paths)):
            if value is not None and not isinstance(value, list):  # a bare string would be read char by char
                raise ValueError(f"`{field}` must be a list, got {type(value).__name__}")
        limit = int(os.environ.get(SERVING_MAX_VIDEO_BYTES_ENV, DEFAULT_SERVING_MAX_VIDEO_BYTES))
        items: List[_Item] = []
        for i, text in enumerate(videos or []):
            name = f"video_{i}"
            if not isinstance(text, str):
                items.append(_Item(name, error=UnsupportedInputError(f"videos[{i}] must be a base64 string")))
                continue
            if len(text) * 3 // 4 > limit:
                items.append(_Item(name, error=UnsupportedInputError(
                    f"videos[{i}] is larger than the server's limit of {limit} bytes")))
                continue
            try:
                data = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError) as exc:
                items.append(_Item(name, error=UnsupportedInputError(f"videos[{i}] is not valid base64: {exc}")))
                continue
            items.append(_Item(name, data=data))
        for p in paths or []:
            try:
                items.append(_Item(str(p), path=allowed_server_path(p)))
            except VideoHubError as exc:
                items.append(_Item(str(p), error=exc))
        return items


class VideoClassifierModule(VideoModuleBase):
    """Base class (PaddleHub `meta`) of the video classification modules."""

    default_top_k = 5
    default_threshold = 0.0

    # ------------------------------------------------------------------ outputs
    def _prediction(self, probs: np.ndarray, top_k: int, threshold: float) -> Dict[str, float]:
        order = np.argsort(-probs, kind="stable")[: max(int(top_k), 0)]
        out: Dict[str, float] = {}
        for cid in order:
            p = float(probs[cid])
            if p < threshold:
                break
            label = self.labels[cid]
            if label in out:  # duplicated label names: keep both, the later one tagged with its class id
                label = f"{label} ({int(cid)})"
            out[label] = p
        return out

    def _run_batch(self, batch: List[Tuple[_Item, PreparedVideo]], use_gpu: bool) -> List[np.ndarray]:
        """Run the videos of a batch together (one predictor call when their shapes agree); returns each
        video's class probabilities averaged over its views."""
        prepared = [pv for _, pv in batch]
        same_shape = len({tuple(a.shape[1:] for a in pv.arrays) for pv in prepared}) == 1
        groups = [prepared] if same_shape else [[pv] for pv in prepared]
        predictor, out = self.predictor(use_gpu), self.card.score_output
        scores = []
        for group in groups:
            inputs = [np.concatenate(per_input) for per_input in zip(*(pv.arrays for pv in group))]
            scores.append(predictor.run(*inputs)[out])
        logits = np.concatenate(scores) if len(scores) > 1 else scores[0]
        probs, start = [], 0
        for pv in prepared:
            rows = pv.arrays[0].shape[0]
            probs.append(activate(logits[start:start + rows], self.card.activation).mean(axis=0))
            start += rows
        return probs

    # ------------------------------------------------------------------ public API
    def classify(self, paths: Optional[Sequence[str]] = None, videos: Optional[Sequence[VideoInput]] = None,
                 use_gpu: bool = False, threshold: Optional[float] = None, top_k: Optional[int] = None,
                 batch_size: int = 1, strict: bool = False, preprocess: Optional[str] = None,
                 window: Optional[float] = None, stride: Optional[float] = None,
                 progress: Optional[bool] = None) -> List[Dict[str, Any]]:
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
        items = self._items(paths, videos)
        if window is not None:
            win.check_window_args(window, stride)
            return [self._windowed_item(item, window, stride, use_gpu=use_gpu, threshold=threshold, top_k=top_k,
                                        batch_size=batch_size, strict=strict, preprocess=preprocess,
                                        progress=progress) for item in items]
        return self._classify_items(items, use_gpu=use_gpu, threshold=threshold, top_k=top_k,
                                    batch_size=batch_size, strict=strict, preprocess=preprocess, progress=progress)

    def _classify_items(self, items: List[_Item], use_gpu: bool = False, threshold: Optional[float] = None,
                        top_k: Optional[int] = None, batch_size: int = 1, strict: bool = False,
                        preprocess: Optional[str] = None, progress: Optional[bool] = False
                        ) -> List[Dict[str, Any]]:
        """The batch pipeline: worker threads decode and preprocess ahead (bounded) while this thread runs
        batches through the predictor; results in input order, errors in place. Stage timings of the call
        are left in `self.last_stats` (model utilisation = model seconds / wall seconds)."""
        spec = self.card.preprocess_for(preprocess)
        top_k = self.default_top_k if top_k is None else top_k
        threshold = self.default_threshold if threshold is None else threshold
        batch_size = max(1, int(batch_size))
        results: List[Optional[Dict[str, Any]]] = [None] * len(items)
        batch: List[Tuple[int, _Item, PreparedVideo]] = []
        timer = StageTimer()
        bar = progress_bar(len(items), progress_enabled(progress, len(items)))

        def flush():
            if not batch:
                return
            with timer.stage("model"):
                probs = self._run_batch([(it, pv) for _, it, pv in batch], use_gpu)
            for (pos, it, _), pr in zip(batch, probs):
                results[pos] = {"path": it.name, "prediction": self._prediction(pr, top_k, threshold)}
            bar.update(len(batch))
            batch.clear()

        # Enough items in flight to fill the next batch while the current one runs.
        ahead = max(2 * self.decode_workers, batch_size + self.decode_workers)
        try:
            for pos, (item, prepared, exc) in enumerate(self._prepared_stream(items, spec, timer, ahead)):
                if exc is not None:
                    if strict:
                        raise exc
                    results[pos] = {"path": item.name, "error": error_record(exc)}
                    bar.update(1)
                    continue
                batch.append((pos, item, prepared))
                if len(batch) >= batch_size:
                    flush()
            flush()
        finally:
            bar.close()
            self.last_stats = timer.stop().as_dict()
        return results  # type: ignore[return-value]

    # ------------------------------------------------------------------ long videos and streams
    def _window_results(self, source, use_gpu: bool, top_k: Optional[int], threshold: Optional[float],
                        batch_size: int, timer: StageTimer) -> Iterator[Tuple[win.Window, np.ndarray]]:
        """(window, probabilities) for `(window, prepared)` pairs made in a background thread (memory: a
        few windows), the model running batches of windows here."""
        batch: List[Tuple[win.Window, PreparedVideo]] = []
        for pair in prefetch(source, ahead=max(2, batch_size)):
            batch.append(pair)
            if len(batch) >= max(1, int(batch_size)):
                with timer.stage("model"):
                    probs = self._run_batch([(None, pv) for _, pv in batch], use_gpu)
                yield from zip([w for w, _ in batch], probs)
                batch.clear()
        if batch:
            with timer.stage("model"):
                probs = self._run_batch([(None, pv) for _, pv in batch], use_gpu)
            yield from zip([w for w, _ in batch], probs)

    def _windowed_result(self, name: str, pairs: Iterator[Tuple[win.Window, np.ndarray]], top_k: Optional[int],
                         threshold: Optional[float], progress_total: Optional[int] = None,
                         progress: Optional[bool] = None) -> Dict[str, Any]:
        top_k = self.default_top_k if top_k is None else top_k
        threshold = self.default_threshold if threshold is None else threshold
        windows, probs = [], []
        bar = progress_bar(progress_total, progress_enabled(progress, progress_total), desc="windows",
                           unit="window")
        try:
            for w, p in pairs:
                windows.append({**w.as_dict(), "prediction": self._prediction(p, top_k, threshold)})
                probs.append(p)
                bar.update(1)
        finally:
            bar.close()
        return {"path": name, "prediction": self._prediction(win.aggregate(probs), top_k, threshold),
                "windows": windows}

    def _windowed_item(self, item: _Item, window: float, stride: Optional[float], use_gpu: bool = False,
                       threshold: Optional[float] = None, top_k: Optional[int] = None, batch_size: int = 1,
                       strict: bool = False, preprocess: Optional[str] = None,
                       progress: Optional[bool] = None) -> Dict[str, Any]:
        spec = self.card.preprocess_for(preprocess)
        timer = StageTimer()

        def source():
            with self._open_reader(item) as reader:
                it = win.file_windows(reader, spec, window, stride)
                while True:  # decode + preprocess of each window, timed in the background thread
                    t = time.perf_counter()
                    pair = next(it, None)
                    timer.add("decode", time.perf_counter() - t)
                    if pair is None:
                        return
                    yield pair

        try:
            pairs = self._window_results(source(), use_gpu, top_k, threshold, batch_size, timer)
            return self._windowed_result(item.name, pairs, top_k, threshold, progress=progress)
        except Exception as exc:  # the whole video fails: no result from whatever windows happened to decode
            if strict:
                raise
            return {"path": item.name, "error": error_record(exc)}
        finally:
            self.last_stats = timer.stop().as_dict()

    def classify_windows(self, path: Optional[str] = None, video: Optional[VideoInput] = None,
                         stream: Optional[Union[int, str]] = None, window: float = 10.0,
                         stride: Optional[float] = None, fps: Optional[float] = None,
                         max_seconds: Optional[float] = None, use_gpu: bool = False,
                         threshold: Optional[float] = None, top_k: Optional[int] = None, batch_size: int = 1,
                         preprocess: Optional[str] = None, progress: Optional[bool] = None) -> Dict[str, Any]:
        """Classify one long video or a stream in sliding windows; raises on error.

        Give one of `path` (a file, decoded sparsely by seeking), `video` (bytes or a frame array), or
        `stream`: a webcam index (0), a stream URL (rtsp://, http://, anything this OpenCV's FFmpeg opens) or
        a file read sequentially. A stream keeps only its last `window` seconds of frames, scaled to the
        model's size; `fps` overrides the rate it reports, `max_seconds` stops a stream that never ends.
        Returns `{"path", "prediction" (mean of the windows' probabilities), "windows": [{start, end,
        prediction}]}`. Use `iter_windows` to get windows as they complete (live streams).
        """
        if stream is not None:
            name = str(stream)
            pairs = self.iter_windows(stream, window, stride, fps=fps, max_seconds=max_seconds, use_gpu=use_gpu,
                                      batch_size=batch_size, preprocess=preprocess, _raw=True)
            return self._windowed_result(name, pairs, top_k, threshold, progress=progress)
        items = self._items(None if path is None else [path], None if video is None else [video])
        if len(items) != 1:
            raise ValueError("give exactly one of path, video or stream")
        return self._windowed_item(items[0], window, stride, use_gpu=use_gpu, threshold=threshold, top_k=top_k,
                                   batch_size=batch_size, strict=True, preprocess=preprocess, progress=progress)

    def iter_windows(self, stream: Union[int, str], window: float = 10.0, stride: Optional[float] = None,
                     fps: Optional[float] = None, max_seconds: Optional[float] = None, use_gpu: bool = False,
                     threshold: Optional[float] = None, top_k: Optional[int] = None, batch_size: int = 1,
                     preprocess: Optional[str] = None, _raw: bool = False) -> Iterator[Any]:
        """Yield `{start, end, prediction}` for each window of a stream (webcam index, URL or file read
        sequentially) as soon as it is complete; the last window, ending where the stream ends, comes last."""
        spec = self.card.preprocess_for(preprocess)
        timer = StageTimer()
        capture = win.CaptureStream(stream, fps=fps)

        def source():
            try:
                yield from win.stream_windows(capture.frames(), capture.fps, spec, window, stride,
                                              name=str(stream), max_seconds=max_seconds)
            finally:
                capture.close()

        pairs = self._window_results(source(), use_gpu, top_k, threshold, batch_size, timer)
        if _raw:
            yield from pairs
            return
        t_k = self.default_top_k if top_k is None else top_k
        thr = self.default_threshold if threshold is None else threshold
        for w, p in pairs:
            yield {**w.as_dict(), "prediction": self._prediction(p, t_k, thr)}

    # ------------------------------------------------------------------ hub run
    @runnable
    def run_cmd(self, argvs: List[str]):
        parser = argparse.ArgumentParser(prog=f"hub run {self.name}",
                                         description=f"{self.summary or self.name}")
        parser.add_argument("--input_path", required=True,
                            help="a video file, a directory of videos, or a .txt file listing one path per line")
        parser.add_argument("--use_gpu", type=_parse_bool, default=False, help="True or False")
        parser.add_argument("--top_k", type=int, default=self.default_top_k)
        parser.add_argument("--threshold", type=float, default=self.default_threshold)
        parser.add_argument("--batch_size", type=int, default=1)
        parser.add_argument("--output", choices=("text", "json"), default="text")
        parser.add_argument("--strict", type=_parse_bool, default=False,
                            help="stop at the first bad input instead of reporting it")
        parser.add_argument("--preprocess", default=None,
                            help=f"preprocessing variant: default, {', '.join(self.card.variants) or '(none)'}")
        parser.add_argument("--engine", choices=("auto", *ENGINES), default=self.engine or "auto",
                            help="CPU inference engine; auto: the card's fastest verified one that is installed")
        parser.add_argument("--precision", choices=PRECISIONS, default=self.precision,
                            help="fp32 (default), bf16 or int8 where the engine, CPU and card allow it")
        args = parser.parse_args(argvs)
        self.engine, self.precision = args.engine, args.precision
        paths = expand_input_path(args.input_path)
        if not paths:
            print(f"no videos found in {args.input_path}", file=sys.stderr)
            raise SystemExit(2)
        results = self.classify(paths=paths, use_gpu=args.use_gpu, top_k=args.top_k,
                                threshold=args.threshold, batch_size=args.batch_size, strict=args.strict,
                                preprocess=args.preprocess)
        text = json.dumps(results, ensure_ascii=False, indent=1) if args.output == "json" \
            else format_results(results)
        return finish_run(results, text)

    # ------------------------------------------------------------------ hub serving
    @serving
    def serving_method(self, videos: Optional[List[str]] = None, paths: Optional[List[str]] = None,
                       top_k: Optional[int] = None, threshold: Optional[float] = None,
                       use_gpu: bool = False, **kwargs: Any) -> List[Dict[str, Any]]:
        """HTTP entry: `videos` are base64-encoded video files; `paths` only inside the server's allow-list."""
        if kwargs:
            raise ValueError(f"unknown request fields: {sorted(kwargs)}")
        items = self._serving_items(videos, paths)
        return self._classify_items(items, use_gpu=use_gpu, top_k=top_k, threshold=threshold)


@contextmanager
def input_file(name: str, path: Optional[str] = None, data: Optional[bytes] = None) -> Iterator[str]:
    """A local file for one input: its path, or its uploaded bytes in a temporary file (decoders read files)
    that is removed afterwards."""
    if data is None:
        yield str(path)
        return
    if not data:
        raise EmptyFileError(f"{name} is empty (0 bytes)")
    with tempfile.NamedTemporaryFile(suffix=".video", delete=True) as tmp:
        tmp.write(data)
        tmp.flush()
        yield tmp.name


def limit_request_size() -> Optional[int]:
    """Give Flask apps created from now on a request-body limit (HTTP 413 before the body is read).

    `hub serving` builds its Flask app after constructing the modules, and offers no hook of its own, so the
    limit goes into Flask's class-level defaults; that is only done when Flask is already loaded (it is in
    `hub serving`; plain `hub.Module` users never load it) and only if no limit was set. Returns the limit.
    """
    flask = sys.modules.get("flask")
    if flask is None:
        return None
    defaults = flask.Flask.default_config
    if defaults.get("MAX_CONTENT_LENGTH") is None:
        limit = int(os.environ.get(SERVING_MAX_REQUEST_BYTES_ENV, DEFAULT_SERVING_MAX_REQUEST_BYTES))
        flask.Flask.default_config = type(defaults)({**defaults, "MAX_CONTENT_LENGTH": limit})
    return flask.Flask.default_config["MAX_CONTENT_LENGTH"]


def allowed_server_path(path: str) -> str:
    """Resolve a server-side path and require it to lie inside the allow-list (no `..` or symlink escape)."""
    roots = [r for r in os.environ.get(SERVING_ALLOWED_DIRS_ENV, "").split(os.pathsep) if r]
    if not roots:
        raise UnsupportedInputError("reading server-side paths is off; send the video bytes as `videos` "
                                    f"(the server enables paths with {SERVING_ALLOWED_DIRS_ENV})")
    real = os.path.realpath(path)
    for root in roots:
        root_real = os.path.realpath(root)
        if os.path.commonpath([real, root_real]) == root_real:
            if not os.path.exists(real):
                raise InputNotFoundError(f"no such file: {path!r}")
            return real
    raise UnsupportedInputError(f"{path!r} is outside the folders this server may read")


def finish_run(results: List[Dict[str, Any]], text: str) -> str:
    """The end of a `hub run`: the text to print, or, when any input failed, print it and exit with status 1
    (PaddleHub prints what `run_cmd` returns, which an exit would lose)."""
    failed = sum("error" in r for r in results)
    if failed:
        print(text)
        sys.stdout.flush()
        print(f"{failed} of {len(results)} inputs failed", file=sys.stderr)
        raise SystemExit(1)
    return text


def format_results(results: List[Dict[str, Any]]) -> str:
    """Human-readable lines: the path, then one `label  probability` line per label."""
    lines = []
    for r in results:
        lines.append(r["path"])
        if "error" in r:
            lines.append(f"  ERROR {r['error']['type']}: {r['error']['message']}")
        elif not r["prediction"]:
            lines.append("  (no label above the threshold)")
        else:
            for label, p in r["prediction"].items():
                lines.append(f"  {p:.4f}  {label}")
    return "\n".join(lines)
