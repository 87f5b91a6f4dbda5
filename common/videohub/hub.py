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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from paddlehub.module.module import RunModule, runnable, serving

from videohub.card import ModelCard, PreprocessSpec, load_card, load_labels
from videohub.errors import (EmptyFileError, InputNotFoundError, UnsupportedInputError, VideoHubError,
                             error_record)
from videohub.pipeline import PreparedVideo, prepare_array, prepare_video
from videohub.runtime import Predictor, RuntimeOptions, activate
from videohub.video import DEFAULT_BACKEND, list_videos
from videohub.weights import inference_files, require_weights

VideoInput = Union[bytes, np.ndarray]

# Server-side paths are refused by `serving_method` unless the server was started with this variable set to
# an os.pathsep-separated allow-list of folders.
SERVING_ALLOWED_DIRS_ENV = "VIDEOHUB_SERVING_ALLOWED_DIRS"
SERVING_MAX_VIDEO_BYTES_ENV = "VIDEOHUB_SERVING_MAX_VIDEO_BYTES"
DEFAULT_SERVING_MAX_VIDEO_BYTES = 256 * 1024 * 1024


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
                 decode_workers: int = 2, **kwargs: Any):
        super(VideoModuleBase, self).__init__()
        self.card: ModelCard = load_card(self.directory)
        require_weights(self.card, self.directory)  # clear message on how to get them, never random weights
        self.labels: List[str] = load_labels(self.card, self.directory)
        self.video_backend = backend
        self.cpu_threads = cpu_threads
        self.decode_workers = max(1, int(decode_workers))
        self._predictors: Dict[RuntimeOptions, Predictor] = {}

    # ------------------------------------------------------------------ runtime
    def runtime_options(self, use_gpu: bool = False) -> RuntimeOptions:
        return RuntimeOptions(use_gpu=bool(use_gpu), onednn=self.card.onednn, cpu_threads=self.cpu_threads,
                              disabled_passes=self.card.disabled_passes)

    def predictor(self, use_gpu: bool = False) -> Predictor:
        """One predictor per runtime configuration, so `use_gpu` is honoured on every call."""
        opts = self.runtime_options(use_gpu)
        if opts not in self._predictors:
            model, params = inference_files(self.directory)
            self._predictors[opts] = Predictor(model, params, opts)
        return self._predictors[opts]

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

    def _prepare(self, item: _Item, spec: Optional[PreprocessSpec] = None) -> PreparedVideo:
        if item.error is not None:
            raise item.error
        spec = spec or self.card.preprocess
        if item.frames is not None:
            return prepare_array(item.frames, spec, name=item.name)
        if item.data is not None:
            if not item.data:
                raise EmptyFileError(f"{item.name} is empty (0 bytes)")
            with tempfile.NamedTemporaryFile(suffix=".video", delete=True) as tmp:
                tmp.write(item.data)
                tmp.flush()
                return prepare_video(tmp.name, spec, self.video_backend)
        return prepare_video(item.path, spec, self.video_backend)

    def _prepared_stream(self, items: List[_Item], spec: Optional[PreprocessSpec] = None
                         ) -> Iterator[Tuple[_Item, Optional[PreparedVideo], Optional[BaseException]]]:
        """Decode/preprocess in worker threads, a bounded number ahead, yielding in input order."""

        def work(item):
            try:
                return item, self._prepare(item, spec), None
            except Exception as exc:  # every failure becomes that item's error record
                return item, None, exc

        if self.decode_workers == 1 or len(items) == 1:
            for item in items:
                yield work(item)
            return
        window = 2 * self.decode_workers
        with ThreadPoolExecutor(self.decode_workers, thread_name_prefix="videohub-decode") as pool:
            pending = [pool.submit(work, it) for it in items[:window]]
            next_item = window
            while pending:
                result = pending.pop(0).result()
                if next_item < len(items):
                    pending.append(pool.submit(work, items[next_item]))
                    next_item += 1
                yield result

    def _serving_items(self, videos: Optional[List[str]], paths: Optional[List[str]]) -> List[_Item]:
        """Request fields -> items: `videos` are base64-encoded files (size-limited), `paths` must lie in the
        server's allow-list. Problems become per-item errors."""
        if videos is None and paths is None:
            raise ValueError("the request needs `videos` (base64-encoded video files) or `paths`")
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
                 batch_size: int = 1, strict: bool = False, preprocess: Optional[str] = None
                 ) -> List[Dict[str, Any]]:
        """Classify videos; one result per input, in input order.

        Args:
            paths: video file paths.
            videos: encoded video file bytes, or uint8 RGB frame arrays [T, H, W, 3] (25 fps assumed).
            use_gpu: run on the GPU predictor.
            threshold: drop labels whose probability is below it.
            top_k: at most this many labels per video.
            batch_size: videos per predictor run.
            strict: raise the first error instead of recording it.
            preprocess: a named preprocessing variant of the card (e.g. "tencrop"); default: the card's.
        Returns:
            `[{"path": name, "prediction": {label: prob}}]`; an input that failed gets
            `{"path": name, "error": {"type": ..., "message": ...}}` in its place instead.
        """
        return self._classify_items(self._items(paths, videos), use_gpu=use_gpu, threshold=threshold,
                                    top_k=top_k, batch_size=batch_size, strict=strict, preprocess=preprocess)

    def _classify_items(self, items: List[_Item], use_gpu: bool = False, threshold: Optional[float] = None,
                        top_k: Optional[int] = None, batch_size: int = 1, strict: bool = False,
                        preprocess: Optional[str] = None) -> List[Dict[str, Any]]:
        spec = self.card.preprocess_for(preprocess)
        top_k = self.default_top_k if top_k is None else top_k
        threshold = self.default_threshold if threshold is None else threshold
        results: List[Optional[Dict[str, Any]]] = [None] * len(items)
        batch: List[Tuple[int, _Item, PreparedVideo]] = []

        def flush():
            if not batch:
                return
            probs = self._run_batch([(it, pv) for _, it, pv in batch], use_gpu)
            for (pos, it, _), pr in zip(batch, probs):
                results[pos] = {"path": it.name, "prediction": self._prediction(pr, top_k, threshold)}
            batch.clear()

        for pos, (item, prepared, exc) in enumerate(self._prepared_stream(items, spec)):
            if exc is not None:
                if strict:
                    raise exc
                results[pos] = {"path": item.name, "error": error_record(exc)}
                continue
            batch.append((pos, item, prepared))
            if len(batch) >= max(1, int(batch_size)):
                flush()
        flush()
        return results  # type: ignore[return-value]

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
        args = parser.parse_args(argvs)
        paths = expand_input_path(args.input_path)
        if not paths:
            print(f"no videos found in {args.input_path}", file=sys.stderr)
            raise SystemExit(2)
        results = self.classify(paths=paths, use_gpu=args.use_gpu, top_k=args.top_k,
                                threshold=args.threshold, batch_size=args.batch_size, strict=args.strict,
                                preprocess=args.preprocess)
        text = json.dumps(results, ensure_ascii=False, indent=1) if args.output == "json" \
            else format_results(results)
        if any("error" in r for r in results):
            print(text)
            sys.stdout.flush()
            failed = sum("error" in r for r in results)
            print(f"{failed} of {len(results)} inputs failed", file=sys.stderr)
            raise SystemExit(1)
        return text

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
