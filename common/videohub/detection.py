"""Temporal action proposals as a hub module: `ProposalDetectorModule` (PaddleHub `meta`), written once.

A proposal module (BMN) takes a feature sequence per video, `[D, T]` (ActivityNet BMN: 400 x 100), and gives
scored segments in seconds. Everything model-specific is in its card:

* `inputs` — the network input `[-1, D, T]` (`features.layout` "DT") or `[-1, T, D]` ("TD");
* `features` — how features are resampled to T positions, what the weights were trained on, and the
  `extractor`: the module (and method) that turns a video into `[T', D']` per-frame features, with its D';
* `proposals` — the Soft-NMS parameters of `videohub.localization.bmn_proposals`.

Inputs to `detect`: feature arrays (`[T, D]` or `[D, T]`), `.npy` files (their duration must be given), JSON
files `{"feat_path", "duration_second"}` (PaddleVideo's example_feat.list entries) or videos. A video goes
through the extractor, whose features are resampled to T positions; an extractor whose feature size is not the
network's D is refused (`ExtractorMismatchError`) — features of another network are not BMN's features, and
proposals computed from them would be meaningless.
"""
from __future__ import annotations

import argparse
import base64
import binascii
import io
import json
import math
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from paddlehub.module.module import runnable, serving

from videohub.card import FeatureSpec, ModelCard
from videohub.errors import UnsupportedInputError, VideoHubError, check_local_file, error_record
from videohub.hub import (DEFAULT_SERVING_MAX_VIDEO_BYTES, SERVING_MAX_VIDEO_BYTES_ENV, VideoModuleBase,
                          _parse_bool, finish_run, input_file)
from videohub.localization import activitynet_results, bmn_proposals
from videohub.video import VIDEO_EXTENSIONS, check_video_path, open_video

FEATURE_SUFFIXES = (".npy", ".json")


# ---------------------------------------------------------------------------------------------- errors
class FeatureShapeError(UnsupportedInputError):
    """Features whose shape (or values) the network cannot take."""


class MissingDurationError(UnsupportedInputError):
    """Features without a duration: proposals are in seconds, so the video's length must be known."""


class FeatureFileError(UnsupportedInputError):
    """A feature file (.npy or JSON) that cannot be read."""


class NoExtractorError(VideoHubError):
    """A video was given to a module that declares no feature extractor."""


class ExtractorMismatchError(VideoHubError):
    """The extractor yields features of another size than the network's weights take."""


class ExtractorError(VideoHubError):
    """The extractor failed on a video (its own error type and message are in the text)."""


# ---------------------------------------------------------------------------------------------- features
@dataclass(frozen=True)
class FeatureShape:
    """The network's per-video input: `dim` features at `positions` temporal positions."""
    dim: int
    positions: int
    layout: str  # "DT" (BMN: [N, D, T]) or "TD"


def feature_shape(card: ModelCard) -> FeatureShape:
    """D and T from the card's (single) input shape, checked against the architecture's own arguments."""
    spec = card.features
    if spec is None:
        raise ValueError(f"{card.name}: a proposal module needs a `features` entry in its card")
    if len(card.inputs) != 1 or len(card.inputs[0].shape) != 3:
        raise ValueError(f"{card.name}: expected one input [-1, D, T] or [-1, T, D], got {card.inputs}")
    if spec.layout not in ("DT", "TD"):
        raise ValueError(f"{card.name}: features.layout must be 'DT' or 'TD', got {spec.layout!r}")
    a, b = card.inputs[0].shape[1:]
    dim, positions = (a, b) if spec.layout == "DT" else (b, a)
    arch = card.architecture
    for key, value in (("feat_dim", dim), ("tscale", positions)):
        if key in arch and int(arch[key]) != value:
            raise ValueError(f"{card.name}: architecture {key}={arch[key]} but the input shape says {value}")
    if dim <= 0 or positions <= 0:
        raise ValueError(f"{card.name}: the input shape {card.inputs[0].shape} must fix D and T")
    return FeatureShape(int(dim), int(positions), spec.layout)


def orient_features(x: Any, dim: int) -> np.ndarray:
    """`[T, D]` or `[D, T]` -> float32 `[T, D]` (`[T, D]` when both read the same). Raises FeatureShapeError."""
    if not isinstance(x, np.ndarray):
        raise FeatureShapeError(f"features must be a numpy array [T, {dim}] or [{dim}, T], got a {type(x).__name__}")
    if x.ndim != 2:
        raise FeatureShapeError(f"features have shape {x.shape}; expected [T, {dim}] or [{dim}, T]")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise FeatureShapeError(f"features are {x.dtype}; expected numbers")
    if x.shape[1] == dim:
        out = x
    elif x.shape[0] == dim:
        out = x.T
    else:
        raise FeatureShapeError(f"features have shape {x.shape}; this network takes {dim}-d features "
                                f"([T, {dim}] or [{dim}, T])")
    if out.shape[0] < 1:
        raise FeatureShapeError("features have no temporal positions")
    out = out.astype(np.float32)
    if not np.isfinite(out).all():
        raise FeatureShapeError("features contain NaN or infinite values")
    return out


def resample_features(x: np.ndarray, positions: int, samples_per_position: int = 3) -> np.ndarray:
    """A `[T, D]` sequence spread evenly over the video -> `[positions, D]` by linear interpolation.

    As in the BSN/BMN feature pipeline (BSN `poolData`), feature i sits at the centre of its snippet, the
    video is cut into `positions` equal bins, and each bin's feature is the mean of `samples_per_position`
    evenly spaced linearly interpolated points spanning the bin. Outside the span of the snippet centres the
    edge features are used (BSN fills such bins with zeros; that only happens for T < positions). A sequence
    that already has `positions` entries is returned unchanged.
    """
    x = np.asarray(x, dtype=np.float32)
    t = x.shape[0]
    if t == positions:
        return x
    if t == 1:
        return np.repeat(x, positions, axis=0)
    n = max(1, int(samples_per_position))
    centres = (np.arange(t, dtype=np.float64) + 0.5) / t          # snippet centres, video length 1
    lo = np.arange(positions, dtype=np.float64) / positions
    hi = lo + 1.0 / positions
    lo = np.clip(lo, centres[0], centres[-1])
    hi = np.clip(hi, centres[0], centres[-1])
    frac = np.linspace(0.0, 1.0, n) if n > 1 else np.array([0.5])
    pts = (lo[:, None] + (hi - lo)[:, None] * frac[None, :]).reshape(-1)      # [positions * n]
    # linear interpolation of every feature dimension at once
    pos = np.interp(pts, centres, np.arange(t, dtype=np.float64))
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, t - 1)
    w = (pos - i0)[:, None]
    vals = x[i0].astype(np.float64) * (1.0 - w) + x[i1].astype(np.float64) * w
    return vals.reshape(positions, n, -1).mean(axis=1).astype(np.float32)


def network_input(x: np.ndarray, shape: FeatureShape) -> np.ndarray:
    """`[T, D]` -> the network's batch of one, `[1, D, T]` ("DT") or `[1, T, D]` ("TD")."""
    return np.ascontiguousarray((x.T if shape.layout == "DT" else x)[None], dtype=np.float32)


def read_npy(source: Union[str, bytes]) -> np.ndarray:
    """A `.npy` file (path or bytes), without pickles."""
    try:
        return np.load(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else check_local_file(source),
                       allow_pickle=False)
    except VideoHubError:
        raise
    except Exception as exc:
        raise FeatureFileError(f"not a readable .npy file: {exc}") from exc


def read_feature_json(path: str) -> Tuple[str, Optional[float]]:
    """PaddleVideo's feature list entry `{"feat_path": ..., "duration_second": ...}` -> (feature file, seconds).

    `feat_path` is taken relative to the JSON's folder (or as it is when absolute). The shared samples keep
    PaddleVideo's entry (`data/example_feat.npy`) beside a renamed feature file, so when `feat_path` does not
    exist the `.npy` with the JSON's own name beside it is used; the result names the file that was read.
    """
    try:
        with open(check_local_file(path), encoding="utf-8") as f:
            entry = json.load(f)
    except VideoHubError:
        raise
    except Exception as exc:
        raise FeatureFileError(f"{path!r} is not a readable JSON file: {exc}") from exc
    if not isinstance(entry, dict) or "feat_path" not in entry:
        raise FeatureFileError(f"{path!r} must hold an object with `feat_path` (and `duration_second`)")
    folder = Path(path).resolve().parent
    feat = Path(str(entry["feat_path"]))
    feat = feat if feat.is_absolute() else folder / feat
    beside = Path(path).with_suffix(".npy")
    if not feat.exists() and beside.is_file():
        feat = beside
    duration = entry.get("duration_second")
    return str(feat), None if duration is None else float(duration)


def check_duration(duration: Any) -> float:
    try:
        d = float(duration)
    except (TypeError, ValueError):
        raise UnsupportedInputError(f"duration must be a number of seconds, got {duration!r}") from None
    if not math.isfinite(d) or d <= 0:
        raise UnsupportedInputError(f"duration must be a positive number of seconds, got {duration!r}")
    return d


# ---------------------------------------------------------------------------------------------- extractors
@dataclass
class Extractor:
    """A per-frame feature extractor: `fn(video_path) -> [T, D]` features spread evenly over the video."""
    name: str
    fn: Callable[[str], Any]
    feature_dim: Optional[int] = None  # declared D; None: known only after a run

    def __call__(self, path: str) -> np.ndarray:
        out = self.fn(path)
        if isinstance(out, list) and len(out) == 1 and isinstance(out[0], dict):
            out = out[0]  # a hub module's per-input record
        if isinstance(out, dict):
            if "error" in out:
                raise ExtractorError(f"{self.name}: {out['error'].get('type')}: {out['error'].get('message')}")
            out = out.get("features")
        if not isinstance(out, np.ndarray) or out.ndim != 2:
            raise ExtractorError(f"{self.name} returned {type(out).__name__} "
                                 f"{getattr(out, 'shape', '')}; expected an array [T, D]")
        return out


def module_extractor(module: Any, method: str = "extract_features", feature_dim: Optional[int] = None,
                     name: Optional[str] = None) -> Extractor:
    """An extractor from a hub module (an object, or a name loaded with `hub.Module` on first use) whose
    `method(paths=[path])` returns `[{"path", "features": [T, D]}]` (or the array itself)."""
    label = name or (module if isinstance(module, str) else getattr(module, "name", type(module).__name__))
    label = f"{label}.{method}"
    holder: Dict[str, Any] = {} if isinstance(module, str) else {"module": module}

    def run(path: str):
        if "module" not in holder:
            import paddlehub as hub

            holder["module"] = hub.Module(name=module)
        return getattr(holder["module"], method)(paths=[path])

    return Extractor(label, run, feature_dim)


def make_extractor(spec: Any, feature_dim: Optional[int] = None) -> Optional[Extractor]:
    """An `Extractor` from what a caller chose: an Extractor, a module name, an object with
    `extract_features`, or any callable `path -> [T, D]`; None stays None."""
    if spec is None or isinstance(spec, Extractor):
        return spec
    if isinstance(spec, str):
        return module_extractor(spec, feature_dim=feature_dim)
    if hasattr(spec, "extract_features"):
        return module_extractor(spec, feature_dim=feature_dim)
    if callable(spec):
        return Extractor(getattr(spec, "__name__", type(spec).__name__), spec, feature_dim)
    raise TypeError(f"extractor must be a module name, a module with extract_features or a callable, "
                    f"got {type(spec).__name__}")


def card_extractor(spec: FeatureSpec) -> Optional[Extractor]:
    """The extractor the card declares (None when it declares none)."""
    ex = spec.extractor
    if not ex.module:
        return None
    return module_extractor(ex.module, ex.method, ex.feature_dim)


def mismatch_message(card: ModelCard, shape: FeatureShape, extractor: Extractor, got: int) -> str:
    trained = card.features.trained_on if card.features else ""
    return (f"{card.name}'s weights take {shape.dim}-d features"
            + (f" ({trained})" if trained else "")
            + f", but the extractor {extractor.name} yields {got}-d features. Proposals from other features "
            "would be meaningless, so none are computed. Give the features themselves (`features=` arrays, "
            ".npy or JSON files), or choose an extractor that yields the features these weights were trained on "
            f"(hub.Module(name='{card.name}', extractor=...)).")


def check_extractor(card: ModelCard, shape: FeatureShape, extractor: Optional[Extractor]) -> Extractor:
    """Refuse before any decoding when there is no extractor or its declared size is not the network's."""
    if extractor is None:
        raise NoExtractorError(f"{card.name} declares no feature extractor for videos; give features, or "
                               f"choose one (hub.Module(name='{card.name}', extractor=...))")
    if extractor.feature_dim is not None and int(extractor.feature_dim) != shape.dim:
        raise ExtractorMismatchError(mismatch_message(card, shape, extractor, int(extractor.feature_dim)))
    return extractor


# ---------------------------------------------------------------------------------------------- inputs
@dataclass
class _Input:
    """One input of a `detect` call; `key` is "name" (arrays, uploads) or "path" (files)."""
    key: str
    name: str
    kind: str                       # "array" | "npy" | "json" | "video"
    array: Optional[np.ndarray] = None
    path: Optional[str] = None
    data: Optional[bytes] = None     # uploaded bytes (.npy or video)
    duration: Optional[float] = None
    error: Optional[BaseException] = None
    extra: Dict[str, Any] = field(default_factory=dict)


def _durations(duration: Any, n: int) -> List[Any]:
    """One duration per input: None, one number for all, or a list with one entry (or None) per input."""
    if duration is None or isinstance(duration, (int, float, np.integer, np.floating, str)):
        return [duration] * n
    values = list(duration)
    if len(values) != n:
        raise ValueError(f"duration has {len(values)} entries for {n} inputs (features first, then paths)")
    return values


def path_kind(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return {".npy": "npy", ".json": "json"}.get(suffix, "video")


def list_inputs(input_path: str) -> List[str]:
    """CLI `--input_path`: a feature file or video, a folder of them, or a .txt file listing one per line."""
    p = Path(input_path)
    if p.is_dir():
        return sorted(str(f) for f in p.iterdir() if f.is_file()
                      and f.suffix.lower() in FEATURE_SUFFIXES + tuple(VIDEO_EXTENSIONS))
    if p.is_file() and p.suffix.lower() == ".txt":
        with open(p, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")]
    return [input_path]


@contextmanager
def _video_file(item: _Input) -> Iterator[str]:
    """A local path for a video item (uploaded bytes go through a temporary file)."""
    with input_file(item.name, None if item.data is not None else check_video_path(item.path), item.data) as path:
        yield path


# ---------------------------------------------------------------------------------------------- outputs
def result_id(result: Mapping[str, Any]) -> str:
    """The ActivityNet video id of a result: the file name without its extension, or the given name."""
    name = str(result.get("path", result.get("name")))
    return Path(name).stem if "path" in result else name


def activitynet_json(results: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """`detect` results -> an ActivityNet proposal file; failed inputs are listed under `errors`."""
    per_video: Dict[str, Any] = {}
    errors: Dict[str, Any] = {}
    for r in results:
        vid = result_id(r)
        if vid in per_video or vid in errors:  # two files with the same stem: keep both, by full name
            vid = str(r.get("path", r.get("name")))
        if "error" in r:
            errors[vid] = r["error"]
        else:
            per_video[vid] = r["proposals"]
    out = activitynet_results(per_video)
    if errors:
        out["errors"] = errors
    return out


def format_proposals(results: Sequence[Mapping[str, Any]], top_n: int = 5) -> str:
    """Human-readable lines: the input, its duration, then its best proposals."""
    lines = []
    for r in results:
        lines.append(str(r.get("path", r.get("name"))))
        if "error" in r:
            lines.append(f"  ERROR {r['error']['type']}: {r['error']['message']}")
            continue
        lines.append(f"  duration {r['duration']:.2f} s, {len(r['proposals'])} proposals")
        for p in r["proposals"][:top_n]:
            lines.append(f"  {p['score']:.4f}  [{p['segment'][0]:.2f}, {p['segment'][1]:.2f}]")
    return "\n".join(lines)


def timeline_png(results: Sequence[Mapping[str, Any]], out_path: Union[str, Path], top_n: int = 10) -> Path:
    """A PNG with one panel per successful result: its `top_n` proposals as bars over the duration (best on
    top, darker = higher score). Uses matplotlib's Agg canvas directly (no pyplot, no global backend)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ok = [r for r in results if "error" not in r]
    if not ok:
        raise ValueError("no successful result to draw")
    fig = Figure(figsize=(10, 0.6 + 0.35 * top_n * len(ok) + 0.6 * len(ok)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(ok), 1, squeeze=False)[:, 0]
    for ax, r in zip(axes, ok):
        props = r["proposals"][:top_n]
        top = max((p["score"] for p in props), default=1.0) or 1.0
        for rank, p in enumerate(props):
            t0, t1 = p["segment"]
            shade = 0.25 + 0.75 * p["score"] / top
            ax.barh(rank, t1 - t0, left=t0, height=0.7, color=(0.12, 0.35, 0.7, shade))
            ax.text(t0, rank, f" {p['score']:.3f}", va="center", fontsize=7)
        ax.set_xlim(0, r["duration"])
        ax.set_ylim(len(props) - 0.5 if props else 0.5, -0.5)
        ax.set_yticks(range(len(props)))
        ax.set_yticklabels([f"#{i + 1}" for i in range(len(props))], fontsize=7)
        ax.set_title(f"{r.get('path', r.get('name'))} ({r['duration']:.1f} s)", fontsize=9)
    axes[-1].set_xlabel("seconds")
    fig.tight_layout()
    out = Path(out_path)
    fig.savefig(out, format="png", dpi=100)
    return out


# ---------------------------------------------------------------------------------------------- module
class ProposalDetectorModule(VideoModuleBase):
    """Base class (PaddleHub `meta`) of temporal action proposal modules (BMN): `detect`, `hub run`,
    `hub serving`. `hub.Module(name=..., extractor=...)` replaces the card's feature extractor."""

    default_top_k = 100

    def __init__(self, extractor: Any = None, extractor_dim: Optional[int] = None, **kwargs: Any):
        super(ProposalDetectorModule, self).__init__(**kwargs)
        self.feature_shape = feature_shape(self.card)
        self.extractor: Optional[Extractor] = (make_extractor(extractor, extractor_dim) if extractor is not None
                                               else card_extractor(self.card.features))
        self.proposal_params: Dict[str, Any] = dict(self.card.raw.get("proposals", {}))

    def _trt_shapes(self):
        from videohub.runtime import trt_shape_ranges

        name, shape = self.card.inputs[0].name, self.card.inputs[0].shape[1:]
        return trt_shape_ranges([name], [shape], [1], [1])

    # ------------------------------------------------------------------ inputs
    def _inputs(self, features: Optional[Sequence[Any]], paths: Optional[Sequence[str]],
                duration: Any) -> List[_Input]:
        if features is None and paths is None:
            raise ValueError("give `features` ([T, D] or [D, T] arrays) or `paths` (.npy, .json or videos)")
        if isinstance(features, np.ndarray):
            features = [features]
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        items = [_Input("name", f"features_{i}", "array", array=f) for i, f in enumerate(features or [])]
        items += [_Input("path", str(p), path_kind(str(p)), path=str(p)) for p in (paths or [])]
        for item, d in zip(items, _durations(duration, len(items))):
            if d is not None:
                try:
                    item.duration = check_duration(d)
                except VideoHubError as exc:
                    item.error = exc
        return items

    def _features(self, item: _Input, timings: Dict[str, float]) -> Tuple[np.ndarray, float]:
        """The item's features `[T, D]` (D checked, any T) and its duration in seconds."""
        shape = self.feature_shape
        if item.error is not None:
            raise item.error
        if item.kind == "video":
            with _video_file(item) as path:
                extractor = check_extractor(self.card, shape, self.extractor)  # before any decoding
                with open_video(path, self.video_backend) as reader:
                    duration = item.duration or reader.info.duration
                t = time.perf_counter()
                raw = extractor(path)
                timings["extract_s"] = timings.get("extract_s", 0.0) + time.perf_counter() - t
            if raw.shape[1] != shape.dim:
                raise ExtractorMismatchError(mismatch_message(self.card, shape, extractor, int(raw.shape[1])))
            item.extra["extractor"] = extractor.name
            return orient_features(raw, shape.dim), check_duration(duration)
        duration = item.duration
        if item.kind == "json":
            feat_path, file_duration = read_feature_json(item.path)
            item.extra["feature_file"] = feat_path
            array = read_npy(feat_path)
            duration = duration or file_duration
        elif item.kind == "npy":
            array = read_npy(item.data if item.data is not None else item.path)
        else:
            array = item.array
        x = orient_features(array, shape.dim)
        if duration is None:
            raise MissingDurationError(f"{item.name}: give its duration in seconds (`duration=`, "
                                       "`--duration`); proposals are in seconds")
        return x, check_duration(duration)

    # ------------------------------------------------------------------ model
    def run_network(self, x: np.ndarray, use_gpu: bool = False) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`[T, D]` features (T = the network's positions) -> (pred_bm, pred_start, pred_end) of one video."""
        outs = self.predictor(use_gpu).run(network_input(x, self.feature_shape))
        # the export keeps the network's output order: pred_bm [1, 2, D, T], pred_start [1, T], pred_end [1, T]
        if len(outs) != 3 or outs[0].ndim != 4 or outs[1].ndim != 2 or outs[2].ndim != 2:
            raise RuntimeError(f"{self.card.name}: unexpected network outputs {[o.shape for o in outs]}")
        return outs[0][0], outs[1][0], outs[2][0]

    def proposals(self, pred_bm: np.ndarray, pred_start: np.ndarray, pred_end: np.ndarray, duration: float,
                  top_k: Optional[int] = None) -> List[Dict[str, Any]]:
        """Network outputs of one video -> scored segments in seconds (the card's Soft-NMS parameters)."""
        top_k = self.default_top_k if top_k is None else int(top_k)
        return bmn_proposals(pred_bm, pred_start, pred_end, duration, top_k=top_k, **self.proposal_params)

    def _detect_one(self, item: _Input, top_k: Optional[int], use_gpu: bool,
                    timings: Dict[str, float]) -> Dict[str, Any]:
        x, duration = self._features(item, timings)
        x = resample_features(x, self.feature_shape.positions, self.card.features.samples_per_position)
        t = time.perf_counter()
        bm, start, end = self.run_network(x, use_gpu)
        t1 = time.perf_counter()
        props = self.proposals(bm, start, end, duration, top_k)
        timings["network_s"] = timings.get("network_s", 0.0) + t1 - t
        timings["postprocess_s"] = timings.get("postprocess_s", 0.0) + time.perf_counter() - t1
        return {item.key: item.name, "duration": duration, "proposals": props, **item.extra}

    def _detect_items(self, items: List[_Input], top_k: Optional[int], use_gpu: bool,
                      strict: bool) -> List[Dict[str, Any]]:
        timings: Dict[str, float] = {}
        results = []
        t0 = time.perf_counter()
        for item in items:
            try:
                results.append(self._detect_one(item, top_k, use_gpu, timings))
            except Exception as exc:  # every failure becomes that input's error record
                if strict:
                    raise
                results.append({item.key: item.name, "error": error_record(exc)})
        timings["wall_s"] = time.perf_counter() - t0
        timings["videos"] = sum("error" not in r for r in results)
        timings["proposals"] = sum(len(r.get("proposals", [])) for r in results)
        self.last_stats = timings
        return results

    # ------------------------------------------------------------------ public API
    def detect(self, features: Optional[Sequence[np.ndarray]] = None, paths: Optional[Sequence[str]] = None,
               duration: Any = None, top_k: int = 100, use_gpu: bool = False,
               strict: bool = False) -> List[Dict[str, Any]]:
        """Temporal action proposals; one result per input, features first, then paths, each in order.

        Args:
            features: arrays `[T, D]` or `[D, T]` (BMN ActivityNet: [100, 400]); other T are resampled.
            paths: `.npy` feature files (duration needed), JSON files `{"feat_path", "duration_second"}`
                (feat_path relative to the JSON's folder), or videos (through the module's extractor).
            duration: seconds; one number for all inputs or a list with one entry (or None) per input.
                Overrides a JSON's `duration_second` and a video's own length.
            top_k: at most this many proposals per input (after Soft-NMS).
            use_gpu: run on the GPU predictor.
            strict: raise the first error instead of recording it.
        Returns:
            `[{"path" or "name", "duration", "proposals": [{"segment": [t0, t1], "score": s}, ...]}]`, best
            first; a JSON input also reports the `feature_file` it read, a video the `extractor`. A failed
            input gets `{"path" or "name", "error": {"type", "message"}}` in its place.
        """
        return self._detect_items(self._inputs(features, paths, duration), top_k, use_gpu, strict)

    # ------------------------------------------------------------------ hub run
    @runnable
    def run_cmd(self, argvs: List[str]):
        parser = argparse.ArgumentParser(prog=f"hub run {self.name}", description=f"{self.summary or self.name}")
        parser.add_argument("--input_path", required=True,
                            help="a .npy/.json feature file or a video, a folder of them, or a .txt list")
        parser.add_argument("--duration", type=float, default=None,
                            help="seconds (needed for .npy; overrides a JSON's duration_second)")
        parser.add_argument("--top_k", type=int, default=self.default_top_k)
        parser.add_argument("--use_gpu", type=_parse_bool, default=False, help="True or False")
        parser.add_argument("--output", choices=("json", "text"), default="json",
                            help="json: an ActivityNet proposal file (default); text: the best proposals")
        parser.add_argument("--timeline", default=None, help="also draw the top proposals into this PNG")
        parser.add_argument("--extractor", default=None,
                            help="a hub module whose extract_features turns videos into features")
        parser.add_argument("--extractor_dim", type=int, default=None, help="the extractor's feature size")
        parser.add_argument("--strict", type=_parse_bool, default=False)
        args = parser.parse_args(argvs)
        if args.extractor:
            self.extractor = make_extractor(args.extractor, args.extractor_dim)
        paths = list_inputs(args.input_path)
        if not paths:
            print(f"no inputs found in {args.input_path}", file=sys.stderr)
            raise SystemExit(2)
        results = self.detect(paths=paths, duration=args.duration, top_k=args.top_k, use_gpu=args.use_gpu,
                              strict=args.strict)
        if args.timeline and any("error" not in r for r in results):
            print(f"timeline: {timeline_png(results, args.timeline)}", file=sys.stderr)
        text = (json.dumps(activitynet_json(results), ensure_ascii=False, indent=1) if args.output == "json"
                else format_proposals(results))
        return finish_run(results, text)

    # ------------------------------------------------------------------ hub serving
    @serving
    def serving_method(self, features: Optional[List[str]] = None, videos: Optional[List[str]] = None,
                       duration: Any = None, top_k: int = 100, use_gpu: bool = False,
                       **kwargs: Any) -> List[Dict[str, Any]]:
        """HTTP entry: `features` are base64-encoded `.npy` files, `videos` base64-encoded videos (features
        first, then videos); `duration` as in `detect`. Server-side paths are not read."""
        if kwargs:
            raise ValueError(f"unknown request fields: {sorted(kwargs)}")
        if features is None and videos is None:
            raise ValueError("the request needs `features` (base64 .npy files) or `videos` (base64 videos)")
        limit = int(os.environ.get(SERVING_MAX_VIDEO_BYTES_ENV, DEFAULT_SERVING_MAX_VIDEO_BYTES))
        items: List[_Input] = []
        for field_name, values, kind in (("features", features, "npy"), ("videos", videos, "video")):
            if values is None:
                continue
            if not isinstance(values, list):
                raise ValueError(f"`{field_name}` must be a list, got {type(values).__name__}")
            for i, text in enumerate(values):
                item = _Input("name", f"{field_name}_{i}", kind)
                try:
                    if not isinstance(text, str):
                        raise UnsupportedInputError(f"{field_name}[{i}] must be a base64 string")
                    if len(text) * 3 // 4 > limit:
                        raise UnsupportedInputError(f"{field_name}[{i}] is larger than the limit of {limit} bytes")
                    item.data = base64.b64decode(text, validate=True)
                except (binascii.Error, ValueError) as exc:
                    item.error = UnsupportedInputError(f"{field_name}[{i}] is not valid base64: {exc}")
                except UnsupportedInputError as exc:
                    item.error = exc
                items.append(item)
        for item, d in zip(items, _durations(duration, len(items))):
            if d is not None and item.error is None:
                try:
                    item.duration = check_duration(d)
                except VideoHubError as exc:
                    item.error = exc
        return self._detect_items(items, top_k, use_gpu, strict=False)
