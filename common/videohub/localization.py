"""Temporal action proposals: BMN post-processing and the ActivityNet proposal metric (AR@AN, AUC).

Pure numpy. The post-processing follows PaddleVideo's BMN inference (`BMN_Inference_helper._gen_props`
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

The evaluation reproduces the official ActivityNet `ANETproposal.average_recall_vs_avg_nr_proposals`
(as vendored in PaddleVideo `metrics/ActivityNet/anet_prop.py`): proposals are truncated per video to a
share of `max_avg_nr_proposals` in proportion to how many each video has, and recall is measured at 100
fractions of that budget for tIoU thresholds 0.5:0.05:0.95.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Tuple, Union

import numpy as np

SOFT_NMS_ALPHA = 0.4
SOFT_NMS_T1 = 0.55
SOFT_NMS_T2 = 0.9
SOFT_NMS_MAX_KEEP = 101
TIOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)

Proposal = Dict[str, Any]          # {"segment": [t0, t1], "score": s}
JsonLike = Union[str, Path, Mapping[str, Any]]


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


# ---------------------------------------------------------------------------------------------------------
# ActivityNet proposal evaluation


def _load_json(obj: JsonLike) -> Mapping[str, Any]:
    if isinstance(obj, (str, Path)):
        with open(obj, "r", encoding="utf-8") as f:
            return json.load(f)
    return obj


def segment_iou(target_segment: Sequence[float], candidate_segments: np.ndarray) -> np.ndarray:
    """tIoU between one [start, end] segment and each row of an [N, 2] array (official formula)."""
    t = np.asarray(target_segment, dtype=np.float64)
    c = np.asarray(candidate_segments, dtype=np.float64).reshape(-1, 2)
    tt1 = np.maximum(t[0], c[:, 0])
    tt2 = np.minimum(t[1], c[:, 1])
    inter = (tt2 - tt1).clip(0)
    union = (c[:, 1] - c[:, 0]) + (t[1] - t[0]) - inter
    return inter / union


def _read_ground_truth(ground_truth: JsonLike, subset: str, blocked: set) -> Dict[str, np.ndarray]:
    data = _load_json(ground_truth)
    if "database" not in data:
        raise ValueError("ground truth must be ActivityNet JSON with a 'database' field")
    out: Dict[str, List[Tuple[float, float]]] = {}
    for vid, v in data["database"].items():
        if v["subset"] != subset or vid in blocked:
            continue
        for ann in v["annotations"]:
            out.setdefault(vid, []).append((float(ann["segment"][0]), float(ann["segment"][1])))
    return {k: np.asarray(v, dtype=np.float64).reshape(-1, 2) for k, v in out.items()}


def _read_proposals(proposals: JsonLike, blocked: set) -> Tuple[Dict[str, Tuple[np.ndarray, np.ndarray]], int]:
    data = _load_json(proposals)
    if "results" not in data:
        raise ValueError("proposals must be ActivityNet JSON with a 'results' field")
    out, total = {}, 0
    for vid, lst in data["results"].items():
        if vid in blocked:
            continue
        seg = np.asarray([(float(r["segment"][0]), float(r["segment"][1])) for r in lst],
                         dtype=np.float64).reshape(-1, 2)
        score = np.asarray([r["score"] for r in lst], dtype=np.float64)
        total += len(lst)
        if vid in out:  # cannot happen with a JSON object, kept for mappings built in code
            seg, score = np.concatenate([out[vid][0], seg]), np.concatenate([out[vid][1], score])
        out[vid] = (seg, score)
    return out, total


def average_recall_vs_num_proposals(ground_truth: JsonLike, proposals: JsonLike,
                                    max_avg_nr_proposals: float = 100,
                                    tiou_thresholds: Sequence[float] = TIOU_THRESHOLDS,
                                    subset: str = "validation",
                                    blocked_videos: Iterable[str] = ()) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Official ActivityNet AR-vs-AN curve.

    `ground_truth`: ActivityNet JSON (path or dict) with `database: {video: {"subset", "annotations":
    [{"segment": [t0, t1], ...}]}}`; only videos of `subset` with annotations are evaluated.
    `proposals`: proposal JSON (path or dict) with `results: {video: [{"segment", "score"}]}`.
    Returns `recall` [n_thresholds, 100], `avg_recall` [100] (mean over thresholds) and
    `proposals_per_video` [100] (the AN axis). Proposals are ranked by score with equal scores in reverse
    file order (a stable sort, reversed, as numpy sorts short arrays in the original).
    """
    blocked = set(blocked_videos)
    thresholds = np.asarray(tiou_thresholds, dtype=np.float64).reshape(-1)
    gt = _read_ground_truth(ground_truth, subset, blocked)
    props, n_props = _read_proposals(proposals, blocked)
    videos = list(gt)
    if not videos:
        raise ValueError(f"no annotated ground-truth videos in subset {subset!r}")
    if n_props == 0:
        raise ValueError("the proposal file holds no proposals")
    if not max_avg_nr_proposals:
        max_avg_nr_proposals = float(n_props) / len(videos)
    ratio = max_avg_nr_proposals * float(len(videos)) / n_props

    ious: List[np.ndarray] = []          # per video: [n_gt, n_kept_proposals]
    total_kept = 0
    for vid in videos:
        g = gt[vid]
        if vid not in props or props[vid][0].shape[0] == 0:
            ious.append(np.zeros((g.shape[0], 1)))
            continue
        seg, score = props[vid]
        seg = seg[np.argsort(score, kind="stable")[::-1]]
        nr = min(int(seg.shape[0] * ratio), seg.shape[0])
        total_kept += nr
        seg = seg[:nr]
        tiou = np.empty((g.shape[0], nr))
        for j in range(nr):
            tiou[:, j] = segment_iou(seg[j], g)
        ious.append(tiou)
    if total_kept == 0:
        raise ValueError("no proposal is retained at this max_avg_nr_proposals")

    pcn = np.arange(1, 101) / 100.0 * (max_avg_nr_proposals * float(len(videos)) / total_kept)
    positives = float(sum(t.shape[0] for t in ious))
    recall = np.empty((thresholds.shape[0], pcn.shape[0]))
    for r, thr in enumerate(thresholds):
        matched = np.zeros(pcn.shape[0])
        for tiou in ious:
            n_avail = tiou.shape[1]
            if n_avail == 0:
                continue
            budget = np.minimum((n_avail * pcn).astype(np.int64), n_avail)     # proposals used per column
            hit = tiou >= thr
            first = np.where(hit.any(axis=1), hit.argmax(axis=1), np.iinfo(np.int64).max)
            matched += (first[:, None] < budget[None, :]).sum(axis=0)
        recall[r] = matched / positives
    avg_recall = recall.mean(axis=0)
    proposals_per_video = pcn * (float(total_kept) / len(videos))
    return recall, avg_recall, proposals_per_video


def area_under_curve(avg_recall: np.ndarray, proposals_per_video: np.ndarray) -> float:
    """Trapezoidal area under AR-vs-AN divided by the largest AN (a fraction; ActivityNet prints ×100)."""
    y = np.asarray(avg_recall, dtype=np.float64)
    x = np.asarray(proposals_per_video, dtype=np.float64)
    area = np.add.reduce(np.diff(x) * (y[1:] + y[:-1]) / 2.0)
    return float(area / x[-1])


def evaluate_proposals(ground_truth: JsonLike, proposals: JsonLike, max_avg_nr_proposals: float = 100,
                       tiou_thresholds: Sequence[float] = TIOU_THRESHOLDS, subset: str = "validation",
                       an: Sequence[int] = (1, 5, 10, 100), blocked_videos: Iterable[str] = ()) -> Dict[str, float]:
    """AR@AN and AUC as fractions, e.g. `{"AR@1": .., "AR@5": .., "AR@10": .., "AR@100": .., "AUC": ..}`.

    AR@n is the average recall in column `n * 100 / max_avg_nr_proposals - 1` of the curve, i.e. at
    n/max_avg_nr_proposals of the proposal budget (PaddleVideo reads columns 0, 4, 9 and 99 for
    max_avg_nr_proposals=100); with at least that many proposals per video it is AR at n per video.
    """
    _, avg_recall, ppv = average_recall_vs_num_proposals(ground_truth, proposals, max_avg_nr_proposals,
                                                         tiou_thresholds, subset, blocked_videos)
    budget = max_avg_nr_proposals or float(ppv[-1])
    out: Dict[str, float] = {}
    for n in an:
        col = int(round(n * 100.0 / budget)) - 1
        if not 0 <= col < avg_recall.shape[0]:
            raise ValueError(f"AN={n} is outside (0, {budget}]")
        out[f"AR@{n}"] = float(avg_recall[col])
    out["AUC"] = area_under_curve(avg_recall, ppv)
    return out
