"""Evaluation metrics (pure numpy, no paddle import).

* Single-label classification: `topk_accuracy` (top-1/top-5), `mean_class_accuracy`, `confusion_matrix`;
  `average_views` turns multi-view scores (several crops/clips per video) into one row per video.
* YouTube-8M multi-label: `hit_at_one`, `perr` (precision at equal recall rate), `gap` (global average precision
  over each video's top-k predictions), as defined by the YouTube-8M starter code.
* Temporal proposals (BMN): AR@AN and AUC of the official ActivityNet evaluation (`evaluate_proposals`).

Ties: a true class counts as within the top k when fewer than k classes score strictly higher than it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np


def _scores_labels(scores: np.ndarray, labels: np.ndarray):
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if scores.ndim != 2 or scores.shape[0] != labels.shape[0]:
        raise ValueError(f"scores must be [N, C] with N = len(labels); got {scores.shape} and {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        raise ValueError(f"labels must lie in [0, {scores.shape[1]})")
    return scores, labels


def rank_of_true(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """0-based rank of each true class: how many classes score strictly higher."""
    scores, labels = _scores_labels(scores, labels)
    true = scores[np.arange(len(labels)), labels]
    return (scores > true[:, None]).sum(axis=1)


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, ks: Iterable[int] = (1, 5)) -> Dict[str, float]:
    """{"top1": ..., "top5": ...}: the fraction of rows whose true class is among the k best."""
    ranks = rank_of_true(scores, labels)
    if ranks.size == 0:
        raise ValueError("no samples")
    return {f"top{k}": float(np.mean(ranks < k)) for k in ks}


def confusion_matrix(pred: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """[true, predicted] counts."""
    cm = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(cm, (np.asarray(labels, np.int64), np.asarray(pred, np.int64)), 1)
    return cm


def mean_class_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean over the classes present in `labels` of each class's top-1 recall."""
    scores, labels = _scores_labels(scores, labels)
    correct = rank_of_true(scores, labels) == 0
    classes = np.unique(labels)
    return float(np.mean([correct[labels == c].mean() for c in classes]))


def average_views(scores: np.ndarray, num_views: Optional[int] = None) -> np.ndarray:
    """Multi-view scores -> one row per video: [N, V, C], or [N*V, C] with `num_views`, averaged over V.

    Average probabilities (apply the activation first), as the modules do."""
    scores = np.asarray(scores)
    if scores.ndim == 2:
        if not num_views or scores.shape[0] % num_views:
            raise ValueError(f"{scores.shape[0]} rows do not split into videos of {num_views} views")
        scores = scores.reshape(-1, num_views, scores.shape[1])
    if scores.ndim != 3:
        raise ValueError(f"expected [N, V, C] scores, got {scores.shape}")
    return scores.mean(axis=1)


def classification_report(scores: np.ndarray, labels: np.ndarray, ks: Iterable[int] = (1, 5)) -> Dict[str, float]:
    """top-k accuracies (k capped at the number of classes) and mean class accuracy."""
    c = np.asarray(scores).shape[1]
    out = topk_accuracy(scores, labels, sorted({min(k, c) for k in ks}))
    out["mean_class_accuracy"] = mean_class_accuracy(scores, labels)
    out["num_samples"] = int(np.asarray(scores).shape[0])
    return out


# ---------------------------------------------------------------------------------------------- YouTube-8M
def _multi(scores: np.ndarray, targets: np.ndarray):
    scores = np.asarray(scores, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    if scores.shape != targets.shape or scores.ndim != 2:
        raise ValueError(f"scores and multi-hot targets must both be [N, C]; got {scores.shape}, {targets.shape}")
    return scores, targets


def hit_at_one(scores: np.ndarray, targets: np.ndarray) -> float:
    """Fraction of videos whose best-scoring class is one of their labels."""
    scores, targets = _multi(scores, targets)
    top = np.argmax(scores, axis=1)
    return float(np.mean(targets[np.arange(len(top)), top] > 0))


def perr(scores: np.ndarray, targets: np.ndarray) -> float:
    """Precision at equal recall rate: for a video with k labels, the fraction of its k best classes that are
    labels; averaged over the videos that have at least one label."""
    scores, targets = _multi(scores, targets)
    values = []
    for s, t in zip(scores, targets):
        k = int(np.sum(t > 0))
        if k == 0:
            continue
        top = np.argsort(-s, kind="stable")[:k]
        values.append(float(np.sum(t[top] > 0)) / k)
    if not values:
        raise ValueError("no video has a label")
    return float(np.mean(values))


def gap(scores: np.ndarray, targets: np.ndarray, top_k: int = 20) -> float:
    """Global average precision: each video's `top_k` predictions pooled over all videos, sorted by score;
    AP = (1/P) * sum over the hits of the precision at that rank, P = all labels of all videos (labels outside
    a video's top k count as missed)."""
    scores, targets = _multi(scores, targets)
    k = min(top_k, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    rows = np.arange(scores.shape[0])[:, None]
    pooled_scores = scores[rows, top].reshape(-1)
    pooled_hits = (targets[rows, top] > 0).reshape(-1)
    positives = int(np.sum(targets > 0))
    if positives == 0:
        raise ValueError("no positive labels")
    order = np.argsort(-pooled_scores, kind="stable")
    hits = pooled_hits[order]
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(np.sum(precision_at[hits]) / positives)


def yt8m_report(scores: np.ndarray, targets: np.ndarray, top_k: int = 20) -> Dict[str, float]:
    return {"GAP": gap(scores, targets, top_k), "Hit@1": hit_at_one(scores, targets), "PERR": perr(scores, targets),
            "num_samples": int(np.asarray(scores).shape[0])}


# ---------------------------------------------------------------------------------------------------------
# ActivityNet proposal evaluation
# Reproduces the official ActivityNet `ANETproposal.average_recall_vs_avg_nr_proposals` (as vendored in
# PaddleVideo `metrics/ActivityNet/anet_prop.py`): proposals are truncated per video to a share of
# `max_avg_nr_proposals` in proportion to how many each video has, and recall is measured at 100 fractions of
# that budget for tIoU thresholds 0.5:0.05:0.95.
TIOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
JsonLike = Union[str, Path, Mapping[str, Any]]


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
