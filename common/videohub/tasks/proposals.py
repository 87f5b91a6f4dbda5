"""Temporal action proposals (BMN): features in, scored segments in seconds out.

A proposal module takes a feature sequence per video, `[D, T]` (ActivityNet BMN: 400 x 100). Everything
model-specific is in its card: `inputs` (the network input `[-1, D, T]`, `features.layout` "DT", or
`[-1, T, D]`, "TD"); `features` (how features are resampled to T positions, what the weights were trained on,
and the `extractor`: the module and method that turn a video into `[T', D']` per-frame features); `proposals`
(the Soft-NMS parameters of `bmn_proposals`). Inputs: feature arrays (`[T, D]` or `[D, T]`), `.npy` files (their
duration must be given), JSON files `{"feat_path", "duration_second"}` (PaddleVideo's example_feat.list
entries) or videos (through the extractor; an extractor whose feature size is not the network's D is refused
with `ExtractorMismatchError`: proposals from other features would be meaningless).

The post-processing follows PaddleVideo's BMN inference (`BMN_Inference_helper._gen_props`
and `metrics/bmn_metric.py`):

1. `bm = pred_bm[0] * pred_bm[1]` (the two confidence maps, duration x start);
2. start/end candidates (`boundary_mask`): positions scoring above half the maximum, or strict local peaks
   (zero padding at both ends); position 0 is always a start and the last position always an end;
3. every (start s, duration d) with `s + d < tscale` and both boundaries flagged becomes the normalised
   segment `[s / tscale, (s + d + 1) / tscale]` with score `start[s] * end[s + d] * bm[d, s]`;
4. Gaussian Soft-NMS (alpha 0.4): a proposal is decayed by `exp(-iou^2 / alpha)` when its IoU with the
   kept one exceeds `t1 + (t2 - t1) * width` (t1 0.55, t2 0.9, width of the kept proposal in [0, 1]); at
   most 101 are kept, and, as in the original loop, the last remaining candidate is never kept;
5. the first `top_k` (100) become `{"score", "segment": [max(0, x0) * duration, min(1, x1) * duration]}`.

Ties in score keep candidate order (duration-major, then start), i.e. a stable sort; the original's pandas
quicksort leaves their order unspecified. The original inference helper also ran Soft-NMS on a single
candidate (returning nothing); here, as in its metric code, a single candidate is returned as it is.
The ActivityNet proposal metric (AR@AN) is in `videohub.train.metrics`.
"""
from __future__ import annotations

import io
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from videohub.card import FeatureSpec, ModelCard
from videohub.errors import FeatureFileError, UnsupportedInputError, VideoHubError, error_record
from videohub.io.files import VIDEO_EXTENSIONS, check_local_file, check_video_path, input_file
from videohub.io.reader import DEFAULT_BACKEND, open_video
from videohub.runtime.predictor import TrtShapes, trt_shape_ranges
from videohub.runtime.session import ModelRuntime
from videohub.tasks.items import Item

SOFT_NMS_ALPHA = 0.4
SOFT_NMS_T1 = 0.55
SOFT_NMS_T2 = 0.9
SOFT_NMS_MAX_KEEP = 101

Proposal = Dict[str, Any]          # {"segment": [t0, t1], "score": s}


# ---------------------------------------------------------------------------------------------------------
# BMN post-processing


def boundary_mask(scores: np.ndarray) -> np.ndarray:
    """Boolean mask of boundary candidates: score > 0.5 * max(score), or a strict local peak.

    Neighbours outside the sequence count as 0 (so an edge position is a peak when it beats its one
    neighbour and is positive).
    """
    s = np.asarray(scores).reshape(-1)
    high = s > s.max() * 0.5
    padded = np.concatenate([[0.0], s, [0.0]]).astype(s.dtype)
    peak = (padded[1:-1] > padded[:-2]) & (padded[1:-1] > padded[2:])
    return high | peak


def _squeeze_batch(a: np.ndarray, ndim: int, name: str) -> np.ndarray:
    a = np.asarray(a)
    while a.ndim > ndim and a.shape[0] == 1:
        a = a[0]
    if a.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dims (optionally with a leading batch of 1), got {a.shape}")
    return a


def bmn_candidates(pred_bm: np.ndarray, pred_start: np.ndarray, pred_end: np.ndarray) -> np.ndarray:
    """All candidate proposals as a float64 array [K, 3] of (xmin, xmax, score), xmin/xmax in [0, 1].

    `pred_bm` is [2, dscale, tscale] (or [1, 2, dscale, tscale]); `pred_start`/`pred_end` are [tscale]
    (or [1, tscale]). Rows come in PaddleVideo's order: duration-major, then start. Scores are computed in
    the dtype of the network outputs (float32), as the original does.
    """
    bm = _squeeze_batch(pred_bm, 3, "pred_bm")
    start = _squeeze_batch(pred_start, 1, "pred_start")
    end = _squeeze_batch(pred_end, 1, "pred_end")
    tscale = start.shape[0]
    if bm.shape[0] != 2 or bm.shape[2] != tscale or end.shape[0] != tscale:
        raise ValueError(f"shape mismatch: pred_bm {bm.shape}, pred_start {start.shape}, pred_end {end.shape}")
    dscale = bm.shape[1]
    conf = bm[0] * bm[1]                                              # [dscale, tscale]

    start_ok = boundary_mask(start)
    start_ok[0] = True
    end_ok = boundary_mask(end)
    end_ok[-1] = True

    d, s = np.meshgrid(np.arange(dscale), np.arange(tscale), indexing="ij")   # duration-major
    e = s + d
    valid = e < tscale
    e_clip = np.minimum(e, tscale - 1)
    valid &= start_ok[s] & end_ok[e_clip]
    d, s, e = d[valid], s[valid], e[valid]

    step = 1.0 / tscale
    xmin = step * s.astype(np.float64)
    xmax = step * (e + 1).astype(np.float64)
    score = (start[s] * end[e]) * conf[d, s]
    return np.stack([xmin, xmax, score.astype(np.float64)], axis=1)


def iou_with_anchors(anchors_min: np.ndarray, anchors_max: np.ndarray, box_min: float,
                     box_max: float) -> np.ndarray:
    """Temporal IoU of each anchor [min, max] with one box."""
    len_anchors = anchors_max - anchors_min
    inter = np.maximum(np.minimum(anchors_max, box_max) - np.maximum(anchors_min, box_min), 0.0)
    union = len_anchors - inter + box_max - box_min
    return np.divide(inter, union)


def soft_nms(proposals: np.ndarray, alpha: float = SOFT_NMS_ALPHA, t1: float = SOFT_NMS_T1,
             t2: float = SOFT_NMS_T2, max_keep: int = SOFT_NMS_MAX_KEEP) -> np.ndarray:
    """Gaussian Soft-NMS with a width-dependent threshold, as in PaddleVideo's BMN.

    `proposals`: [K, 3] rows (xmin, xmax, score), coordinates normalised to [0, 1]. Repeatedly keeps the
    highest-scoring remaining proposal (first one on ties) and multiplies the score of every other
    remaining proposal whose IoU with it exceeds `t1 + (t2 - t1) * width` by `exp(-iou**2 / alpha)`.
    Stops when `max_keep` are kept or one candidate is left (that last one is dropped, as in the
    original). Returns the kept rows [M, 3] in selection order (scores non-increasing).
    """
    p = np.asarray(proposals, dtype=np.float64).reshape(-1, 3)
    order = np.argsort(-p[:, 2], kind="stable")
    xmin, xmax, score = p[order, 0].copy(), p[order, 1].copy(), p[order, 2].copy()
    kept: List[Tuple[float, float, float]] = []
    while score.shape[0] > 1 and len(kept) < max_keep:
        i = int(np.argmax(score))
        iou = iou_with_anchors(xmin, xmax, xmin[i], xmax[i])
        width = xmax[i] - xmin[i]
        decay = iou > t1 + (t2 - t1) * width
        decay[i] = False
        score[decay] = score[decay] * np.exp(-np.square(iou[decay]) / alpha)
        kept.append((xmin[i], xmax[i], score[i]))
        xmin, xmax, score = np.delete(xmin, i), np.delete(xmax, i), np.delete(score, i)
    return np.asarray(kept, dtype=np.float64).reshape(-1, 3)


def bmn_proposals(pred_bm: np.ndarray, pred_start: np.ndarray, pred_end: np.ndarray, duration: float,
                  top_k: int = 100, alpha: float = SOFT_NMS_ALPHA, t1: float = SOFT_NMS_T1,
                  t2: float = SOFT_NMS_T2, max_keep: int = SOFT_NMS_MAX_KEEP) -> List[Proposal]:
    """BMN network outputs of one video -> `[{"segment": [t0, t1], "score": s}, ...]`, best first.

    Segments are in seconds: the normalised bounds clipped to [0, 1] times `duration` (seconds).
    """
    if top_k < 0:
        raise ValueError("top_k must be >= 0")
    cands = bmn_candidates(pred_bm, pred_start, pred_end)
    kept = soft_nms(cands, alpha, t1, t2, max_keep) if cands.shape[0] > 1 else cands
    out = []
    for x0, x1, s in kept[:top_k]:
        out.append({"segment": [float(max(0.0, x0) * duration), float(min(1.0, x1) * duration)],
                    "score": float(s)})
    return out


def activitynet_results(per_video: Mapping[str, List[Proposal]]) -> Dict[str, Any]:
    """Wrap `{video_id: proposals}` in the ActivityNet proposal-file form (version 1.3)."""
    return {"version": "VERSION 1.3", "results": dict(per_video), "external_data": {}}


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


# ---------------------------------------------------------------------------------------------- errors
class FeatureShapeError(UnsupportedInputError):
    """Features whose shape (or values) the network cannot take."""


class MissingDurationError(UnsupportedInputError):
    """Features without a duration: proposals are in seconds, so the video's length must be known."""


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


ModuleLoader = Callable[[str], Any]  # a hub module name -> the module object (the hub adapter gives hub.Module)


def module_extractor(module: Any, method: str = "extract_features", feature_dim: Optional[int] = None,
                     name: Optional[str] = None, loader: Optional[ModuleLoader] = None) -> Extractor:
    """An extractor from a hub module (an object, or a name `loader` turns into one on first use) whose
    `method(paths=[path])` returns `[{"path", "features": [T, D]}]` (or the array itself)."""
    label = name or (module if isinstance(module, str) else getattr(module, "name", type(module).__name__))
    label = f"{label}.{method}"
    holder: Dict[str, Any] = {} if isinstance(module, str) else {"module": module}
    if isinstance(module, str) and loader is None:
        raise ValueError(f"the extractor {module!r} is a module name; give a loader for it (e.g. hub.Module)")

    def run(path: str):
        if "module" not in holder:
            holder["module"] = loader(module)
        return getattr(holder["module"], method)(paths=[path])

    return Extractor(label, run, feature_dim)


def make_extractor(spec: Any, feature_dim: Optional[int] = None,
                   loader: Optional[ModuleLoader] = None) -> Optional[Extractor]:
    """An `Extractor` from what a caller chose: an Extractor, a module name, an object with
    `extract_features`, or any callable `path -> [T, D]`; None stays None."""
    if spec is None or isinstance(spec, Extractor):
        return spec
    if isinstance(spec, str):
        return module_extractor(spec, feature_dim=feature_dim, loader=loader)
    if hasattr(spec, "extract_features"):
        return module_extractor(spec, feature_dim=feature_dim)
    if callable(spec):
        return Extractor(getattr(spec, "__name__", type(spec).__name__), spec, feature_dim)
    raise TypeError(f"extractor must be a module name, a module with extract_features or a callable, "
                    f"got {type(spec).__name__}")


def card_extractor(spec: FeatureSpec, loader: Optional[ModuleLoader] = None) -> Optional[Extractor]:
    """The extractor the card declares (None when it declares none)."""
    ex = spec.extractor
    if not ex.module:
        return None
    return module_extractor(ex.module, ex.method, ex.feature_dim, loader=loader)


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


# ---------------------------------------------------------------------------------------------- task
FEATURE_SUFFIXES = (".npy", ".json")
PROPOSAL_INPUT_SUFFIXES = FEATURE_SUFFIXES + VIDEO_EXTENSIONS


def path_kind(path: str) -> str:
    """Which reader takes a proposal input file: "npy", "json" or "video"."""
    return {".npy": "npy", ".json": "json"}.get(Path(path).suffix.lower(), "video")


def _durations(duration: Any, n: int) -> List[Any]:
    """One duration per input: None, one number for all, or a list with one entry (or None) per input."""
    if duration is None or isinstance(duration, (int, float, np.integer, np.floating, str)):
        return [duration] * n
    values = list(duration)
    if len(values) != n:
        raise ValueError(f"duration has {len(values)} entries for {n} inputs (features first, then paths)")
    return values


def set_durations(items: List[Item], duration: Any) -> None:
    """Give each item its duration (None, one number for all, or one per item); a bad one is its error."""
    for item, d in zip(items, _durations(duration, len(items))):
        if d is not None and item.error is None:
            try:
                item.duration = check_duration(d)
            except VideoHubError as exc:
                item.error = exc


class ProposalDetector:
    """Temporal action proposals of one module: features (given, read from files, or extracted from videos)
    resampled to the network's positions, the network, then the card's Soft-NMS post-processing."""

    def __init__(self, card: ModelCard, runtime: ModelRuntime, *, extractor: Optional[Extractor] = None,
                 backend: str = DEFAULT_BACKEND, default_top_k: int = 100):
        self.card, self.runtime, self.backend = card, runtime, backend
        self.feature_shape = feature_shape(card)
        self.extractor = extractor
        self.default_top_k = int(default_top_k)
        self.proposal_params: Dict[str, Any] = dict(card.raw.get("proposals", {}))
        self.last_stats: Optional[Dict[str, Any]] = None
        if runtime.trt_shapes is None:
            runtime.trt_shapes = self.trt_shapes

    def trt_shapes(self) -> TrtShapes:
        name, shape = self.card.inputs[0].name, self.card.inputs[0].shape[1:]
        return trt_shape_ranges([name], [shape], [1], [1])

    def features(self, item: Item, timings: Dict[str, float]) -> Tuple[np.ndarray, float]:
        """The item's features `[T, D]` (D checked, any T) and its duration in seconds."""
        shape = self.feature_shape
        item.check()
        if item.kind == "video":
            path = item.path if item.data is not None else check_video_path(item.path)
            with input_file(item.name, path, item.data) as path:
                extractor = check_extractor(self.card, shape, self.extractor)  # before any decoding
                with open_video(path, self.backend) as reader:
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
            array = item.value
        x = orient_features(array, shape.dim)
        if duration is None:
            raise MissingDurationError(f"{item.name}: give its duration in seconds (`duration=`, "
                                       "`--duration`); proposals are in seconds")
        return x, check_duration(duration)

    def run_network(self, x: np.ndarray, use_gpu: bool = False) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`[T, D]` features (T = the network's positions) -> (pred_bm, pred_start, pred_end) of one video."""
        outs = self.runtime.predictor(use_gpu).run(network_input(x, self.feature_shape))
        # the export keeps the network's output order: pred_bm [1, 2, D, T], pred_start [1, T], pred_end [1, T]
        if len(outs) != 3 or outs[0].ndim != 4 or outs[1].ndim != 2 or outs[2].ndim != 2:
            raise RuntimeError(f"{self.card.name}: unexpected network outputs {[o.shape for o in outs]}")
        return outs[0][0], outs[1][0], outs[2][0]

    def proposals(self, pred_bm: np.ndarray, pred_start: np.ndarray, pred_end: np.ndarray, duration: float,
                  top_k: Optional[int] = None) -> List[Proposal]:
        """Network outputs of one video -> scored segments in seconds (the card's Soft-NMS parameters)."""
        top_k = self.default_top_k if top_k is None else int(top_k)
        return bmn_proposals(pred_bm, pred_start, pred_end, duration, top_k=top_k, **self.proposal_params)

    def detect_one(self, item: Item, top_k: Optional[int], use_gpu: bool,
                   timings: Dict[str, float]) -> Dict[str, Any]:
        x, duration = self.features(item, timings)
        x = resample_features(x, self.feature_shape.positions, self.card.features.samples_per_position)
        t = time.perf_counter()
        bm, start, end = self.run_network(x, use_gpu)
        t1 = time.perf_counter()
        props = self.proposals(bm, start, end, duration, top_k)
        timings["network_s"] = timings.get("network_s", 0.0) + t1 - t
        timings["postprocess_s"] = timings.get("postprocess_s", 0.0) + time.perf_counter() - t1
        return {item.key: item.name, "duration": duration, "proposals": props, **item.extra}

    def detect_items(self, items: List[Item], *, top_k: Optional[int] = None, use_gpu: bool = False,
                     strict: bool = False) -> List[Dict[str, Any]]:
        """One result per item, in order; failures become error records in place (or raise with `strict`)."""
        timings: Dict[str, Any] = {}
        results = []
        t0 = time.perf_counter()
        for item in items:
            try:
                results.append(self.detect_one(item, top_k, use_gpu, timings))
            except Exception as exc:  # every failure becomes that input's error record
                if strict:
                    raise
                results.append({item.key: item.name, "error": error_record(exc)})
        timings["wall_s"] = time.perf_counter() - t0
        timings["videos"] = sum("error" not in r for r in results)
        timings["proposals"] = sum(len(r.get("proposals", [])) for r in results)
        self.last_stats = timings
        return results
