"""Network outputs to probabilities, and probabilities to the labelled top-k a result reports."""
from __future__ import annotations

from typing import Dict, Sequence

import numpy as np


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    x = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def activate(x: np.ndarray, activation: str) -> np.ndarray:
    """The card's `activation` ("softmax", "sigmoid" or "none": already probabilities) applied to scores."""
    if activation == "softmax":
        return softmax(x.astype(np.float64)).astype(np.float32)
    if activation == "sigmoid":
        return sigmoid(x.astype(np.float64)).astype(np.float32)
    if activation == "none":
        return x
    raise ValueError(f"unknown activation {activation!r}")


def top_labels(probs: np.ndarray, labels: Sequence[str], top_k: int, threshold: float) -> Dict[str, float]:
    """`{label: probability}` of the `top_k` best classes at or above `threshold`, best first. Duplicated label
    names are all kept, the later ones tagged with their class id."""
    order = np.argsort(-probs, kind="stable")[: max(int(top_k), 0)]
    out: Dict[str, float] = {}
    for cid in order:
        p = float(probs[cid])
        if p < threshold:
            break
        label = labels[cid]
        if label in out:
            label = f"{label} ({int(cid)})"
        out[label] = p
    return out
