"""Evaluation metrics over score matrices (pure numpy, no paddle import).

* Single-label classification: `topk_accuracy` (top-1/top-5), `mean_class_accuracy`, `confusion_matrix`;
  `average_views` turns multi-view scores (several crops/clips per video) into one row per video.
* YouTube-8M multi-label: `hit_at_one`, `perr` (precision at equal recall rate), `gap` (global average precision
  over each video's top-k predictions), as defined by the YouTube-8M starter code.
* Temporal proposals (BMN): AR@AN and AUC live in `videohub.localization` (`evaluate_proposals`).

Ties: a true class counts as within the top k when fewer than k classes score strictly higher than it.
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional

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
