"""Video classification over a module's runtime: the batch pipeline, sliding windows and live streams.

`VideoClassifier(card, labels, runtime)` is what a classification module does, without PaddleHub: worker
threads decode and preprocess ahead (bounded) while batches run through the predictor (with more than one
batch, several at once where the engine allows: `ModelRuntime.throughput_streams`); results come back one per
input, in input order, with per-item error records in place of failed inputs.
"""
from __future__ import annotations

import time
from contextlib import closing, contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from videohub.card import ModelCard, PreprocessSpec
from videohub.errors import error_record
from videohub.io.capture import CaptureStream
from videohub.io.files import input_file
from videohub.io.preprocess import ArrayReader, PreparedVideo, prepare_array
from videohub.io.reader import DEFAULT_BACKEND, open_video
from videohub.runtime.predictor import TrtShapes, trt_shape_ranges
from videohub.runtime.session import ModelRuntime
from videohub.tasks import windows as win
from videohub.tasks.concurrency import StageTimer, ordered_map, prefetch, progress_bar, progress_enabled
from videohub.tasks.decoding import ItemPreparer, decode_worker_init, prepare_item
from videohub.tasks.items import Item
from videohub.tasks.scores import activate, top_labels

Result = Dict[str, Any]


class VideoClassifier:
    """Classifies videos with one module's card, labels and runtime.

    `default_top_k` / `default_threshold` are the one place a module's defaults live; every entry point
    (Python, `hub run`, serving, windows) resolves a `None` option through `options()`.
    """

    def __init__(self, card: ModelCard, labels: Sequence[str], runtime: ModelRuntime, *,
                 backend: str = DEFAULT_BACKEND, decode_workers: int = 2, default_top_k: int = 5,
                 default_threshold: float = 0.0, trt_max_videos: int = 8, decode_processes: bool = False,
                 decode_niceness: int = 0, inference_streams: Optional[int] = None):
        self.card, self.labels, self.runtime = card, list(labels), runtime
        self.backend = backend
        self.decode_workers = max(1, int(decode_workers))
        # Decoding in worker processes (or threads) at this niceness: see `prepared_stream`.
        self.decode_processes, self.decode_niceness = bool(decode_processes), int(decode_niceness)
        self.default_top_k, self.default_threshold = int(default_top_k), float(default_threshold)
        self.trt_max_videos = max(1, int(trt_max_videos))
        # Batches run at once when there are several (None: the runtime's `throughput_streams`; 1: one by one).
        self.inference_streams = inference_streams
        self.last_stats: Optional[Dict[str, Any]] = None  # stage timings of the last call
        if runtime.trt_shapes is None:
            runtime.trt_shapes = self.trt_shapes

    # ------------------------------------------------------------------ options and outputs
    def options(self, top_k: Optional[int], threshold: Optional[float]) -> Tuple[int, float]:
        """`top_k` and `threshold` with the module's defaults for the ones not given."""
        return (self.default_top_k if top_k is None else int(top_k),
                self.default_threshold if threshold is None else float(threshold))

    def prediction(self, probs: np.ndarray, top_k: Optional[int] = None,
                   threshold: Optional[float] = None) -> Dict[str, float]:
        k, thr = self.options(top_k, threshold)
        return top_labels(probs, self.labels, k, thr)

    def trt_shapes(self) -> TrtShapes:
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
    def prepare(self, item: Item, spec: Optional[PreprocessSpec] = None,
                timings: Optional[Dict[str, float]] = None) -> PreparedVideo:
        """One item -> network inputs (decoded sparsely, scaled, cropped, normalised)."""
        return prepare_item(item, spec or self.card.preprocess, self.backend, timings)

    def prepared_stream(self, items: List[Item], spec: Optional[PreprocessSpec] = None,
                        timer: Optional[StageTimer] = None, ahead: Optional[int] = None
                        ) -> Iterator[Tuple[Item, Optional[PreparedVideo], Optional[BaseException]]]:
        """Decode/preprocess in `decode_workers` worker processes (`decode_processes`; threads for in-memory
        frames, which would only be copied to a process), at most `ahead` items in advance (bounded memory),
        yielding `(item, prepared, error)` in input order while the caller runs the model."""
        spec = spec or self.card.preprocess
        workers = 0 if len(items) <= 1 else self.decode_workers
        processes = self.decode_processes and workers > 0 and all(item.value is None for item in items)
        outcomes = ordered_map(ItemPreparer(spec, self.backend), items, workers=workers, ahead=ahead,
                               processes=processes, initializer=decode_worker_init,
                               initargs=(self.decode_niceness,))
        with closing(outcomes):
            for item, out, exc in outcomes:
                prepared = None
                if out is not None:
                    prepared, timings = out
                    if timer is not None:
                        timer.merge(timings)
                yield item, prepared, exc

    @contextmanager
    def open_reader(self, item: Item):
        """A reader over one item (a path, bytes through a temporary file, or frames)."""
        item.check()
        if item.value is not None:
            yield ArrayReader(item.value, name=item.name)
        else:
            with input_file(item.name, item.path, item.data) as path, open_video(path, self.backend) as reader:
                yield reader

    # ------------------------------------------------------------------ model
    def model_streams(self, use_gpu: bool, batches: int) -> int:
        """How many batches run at once: 1 for a single batch (all threads on it: the quickest answer), else
        `inference_streams` or the runtime's `throughput_streams`, as far as the predictor runs them."""
        if batches <= 1:
            return 1
        wanted = self.inference_streams or self.runtime.throughput_streams(use_gpu)
        return self.runtime.predictor(use_gpu, streams=wanted).streams if wanted > 1 else 1

    def run_batch(self, prepared: List[PreparedVideo], use_gpu: bool = False, streams: int = 1) -> List[np.ndarray]:
        """Run the videos of a batch together (one predictor call when their shapes agree) on the predictor of
        `streams`; returns each video's class probabilities averaged over its views."""
        same_shape = len({tuple(a.shape[1:] for a in pv.arrays) for pv in prepared}) == 1
        groups = [prepared] if same_shape else [[pv] for pv in prepared]
        predictor, out = self.runtime.predictor(use_gpu, streams=streams), self.card.score_output
        scores = []
        for group in groups:
            inputs = [np.concatenate(per_input) for per_input in zip(*(pv.arrays for pv in group))]
            scores.append(predictor.run(*inputs)[out])
        logits = np.concatenate(scores) if len(scores) > 1 else scores[0]
        probs, start = [], 0
        for pv in prepared:
            rows = logits[start:start + pv.arrays[0].shape[0]]
            if self.card.view_average == "logits":  # PaddleVideo's TimeSformer: activation of the mean logits
                probs.append(activate(rows.mean(axis=0, keepdims=True), self.card.activation)[0])
            else:
                probs.append(activate(rows, self.card.activation).mean(axis=0))
            start += rows.shape[0]
        return probs

    # ------------------------------------------------------------------ whole videos
    def classify_items(self, items: List[Item], *, use_gpu: bool = False, threshold: Optional[float] = None,
                       top_k: Optional[int] = None, batch_size: int = 1, strict: bool = False,
                       preprocess: Optional[str] = None, progress: Optional[bool] = False) -> List[Result]:
        """The batch pipeline: results in input order, errors in place. Stage timings of the call are left in
        `last_stats` (model utilisation = model seconds / wall seconds, summed over the batches run at once)."""
        spec = self.card.preprocess_for(preprocess)
        top_k, threshold = self.options(top_k, threshold)
        batch_size = max(1, int(batch_size))
        streams = self.model_streams(use_gpu, -(-len(items) // batch_size))
        results: List[Optional[Result]] = [None] * len(items)
        Batch = List[Tuple[int, Item, PreparedVideo]]
        timer = StageTimer()
        bar = progress_bar(len(items), progress_enabled(progress, len(items)))

        # Enough items in flight to fill the next batches while `streams` batches run.
        ahead = max(2 * self.decode_workers, streams * batch_size + self.decode_workers)
        stream = self.prepared_stream(items, spec, timer, ahead)

        def batches() -> Iterator[Batch]:
            batch: Batch = []
            for pos, (item, prepared, exc) in enumerate(stream):
                if exc is not None:
                    if strict:
                        raise exc
                    results[pos] = {"path": item.name, "error": error_record(exc)}
                    bar.update(1)
                    continue
                batch.append((pos, item, prepared))
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch

        def run(batch: Batch) -> Tuple[List[np.ndarray], float]:
            t = time.perf_counter()
            probs = self.run_batch([pv for _, _, pv in batch], use_gpu, streams)
            return probs, time.perf_counter() - t

        runs = ordered_map(run, batches(), workers=streams if streams > 1 else 0, ahead=streams)
        try:
            for batch, out, exc in runs:
                if exc is not None:  # the model failed: the whole call fails, as it would one by one
                    raise exc
                probs, seconds = out
                timer.add("model", seconds)
                for (pos, it, pv), pr in zip(batch, probs):
                    results[pos] = {"path": it.name, "prediction": top_labels(pr, self.labels, top_k, threshold)}
                    if pv.info.backend not in (self.backend, "array"):  # another backend decoded it: say which
                        results[pos]["backend"] = pv.info.backend
                bar.update(len(batch))
        finally:
            runs.close()
            stream.close()  # the decode workers end here, also when strict=True raised
            bar.close()
            self.last_stats = timer.stop().as_dict()
        return results  # type: ignore[return-value]

    # ------------------------------------------------------------------ windows
    def window_results(self, source: Iterator[Tuple[win.Window, PreparedVideo]], use_gpu: bool, batch_size: int,
                       timer: StageTimer) -> Iterator[Tuple[win.Window, np.ndarray]]:
        """(window, probabilities) for `(window, prepared)` pairs made in a background thread (memory: a
        few windows), the model running batches of windows here."""
        batch_size = max(1, int(batch_size))
        batch: List[Tuple[win.Window, PreparedVideo]] = []
        for pair in prefetch(source, ahead=max(2, batch_size)):
            batch.append(pair)
            if len(batch) >= batch_size:
                with timer.stage("model"):
                    probs = self.run_batch([pv for _, pv in batch], use_gpu)
                yield from zip([w for w, _ in batch], probs)
                batch.clear()
        if batch:
            with timer.stage("model"):
                probs = self.run_batch([pv for _, pv in batch], use_gpu)
            yield from zip([w for w, _ in batch], probs)

    def windowed_result(self, name: str, pairs: Iterator[Tuple[win.Window, np.ndarray]], top_k: Optional[int],
                        threshold: Optional[float], progress_total: Optional[int] = None,
                        progress: Optional[bool] = None) -> Result:
        top_k, threshold = self.options(top_k, threshold)
        windows, probs = [], []
        bar = progress_bar(progress_total, progress_enabled(progress, progress_total), desc="windows",
                           unit="window")
        try:
            for w, p in pairs:
                windows.append({**w.as_dict(), "prediction": top_labels(p, self.labels, top_k, threshold)})
                probs.append(p)
                bar.update(1)
        finally:
            bar.close()
        return {"path": name, "prediction": top_labels(win.aggregate(probs), self.labels, top_k, threshold),
                "windows": windows}

    def classify_windowed(self, item: Item, window: float, stride: Optional[float] = None, *,
                          use_gpu: bool = False, threshold: Optional[float] = None, top_k: Optional[int] = None,
                          batch_size: int = 1, strict: bool = False, preprocess: Optional[str] = None,
                          progress: Optional[bool] = None) -> Result:
        """One video in sliding windows, decoded by seeking one window at a time."""
        spec = self.card.preprocess_for(preprocess)
        timer = StageTimer()

        def source() -> Iterator[Tuple[win.Window, PreparedVideo]]:
            with self.open_reader(item) as reader:
                it = win.file_windows(reader, spec, window, stride)
                while True:  # decode + preprocess of each window, timed in the background thread
                    t = time.perf_counter()
                    pair = next(it, None)
                    timer.add("decode", time.perf_counter() - t)
                    if pair is None:
                        return
                    yield pair

        try:
            pairs = self.window_results(source(), use_gpu, batch_size, timer)
            return self.windowed_result(item.name, pairs, top_k, threshold, progress=progress)
        except Exception as exc:  # the whole video fails: no result from whatever windows happened to decode
            if strict:
                raise
            return {"path": item.name, "error": error_record(exc)}
        finally:
            self.last_stats = timer.stop().as_dict()

    def stream_window_pairs(self, stream: Union[int, str], window: float, stride: Optional[float] = None, *,
                            fps: Optional[float] = None, max_seconds: Optional[float] = None,
                            use_gpu: bool = False, batch_size: int = 1, preprocess: Optional[str] = None
                            ) -> Iterator[Tuple[win.Window, np.ndarray]]:
        """(window, probabilities) of a live stream, each as soon as it is complete."""
        spec = self.card.preprocess_for(preprocess)
        capture = CaptureStream(stream, fps=fps)

        def source() -> Iterator[Tuple[win.Window, PreparedVideo]]:
            try:
                yield from win.stream_windows(capture.frames(), capture.fps, spec, window, stride,
                                              name=str(stream), max_seconds=max_seconds)
            finally:
                capture.close()

        return self.window_results(source(), use_gpu, batch_size, StageTimer())


def format_results(results: List[Result]) -> str:
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
