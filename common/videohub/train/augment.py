"""Training-only augmentation: pure functions of (frames, rng). Never used at inference.

The card's `PreprocessSpec` stays the one source of truth for scaling, crop size, normalisation and layout; at
training time the deterministic crop and sampling are replaced by their random counterparts:

* temporal jitter: TSN-style random offset inside each segment (segments sampler), random clip start (dense);
* spatial: TSN `MultiScaleCrop` (a crop whose sides are drawn from `scales` x short side, at one of five fixed
  positions, resized to `crop_size`), or a random `crop_size` crop, then a random horizontal flip.

Every random choice comes from the `numpy.random.Generator` passed in, so a sample is a pure function of
(seed, epoch, index) and a resumed run sees exactly the same augmented inputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

import cv2
import numpy as np

from videohub.io import sampling, transforms
from videohub.card import PreprocessSpec, SamplerSpec


@dataclass(frozen=True)
class AugmentSpec:
    crop: str = "multiscale"                                 # "multiscale" | "random" | "center"
    scales: Tuple[float, ...] = (1.0, 0.875, 0.75, 0.66)     # TSN MultiScaleCrop
    max_distort: int = 1
    flip: bool = True
    temporal_jitter: bool = True


def train_indices(spec: SamplerSpec, num_frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """One training clip's frame indices [1, frames] (the card's sampler with random placement)."""
    if spec.type == "segments":
        seg = num_frames / spec.num_segments
        if seg >= spec.seg_len:
            starts = [int(i * seg) + int(rng.integers(0, max(int(seg) - spec.seg_len, 0) + 1))
                      for i in range(spec.num_segments)]
        else:
            starts = sorted(int(s) for s in rng.integers(0, num_frames, spec.num_segments))
        idx = [(s + j) % num_frames for s in starts for j in range(spec.seg_len)]
        return np.asarray(idx, np.int64)[None]
    if spec.type == "dense":
        clip = sampling.dense_clip_indices(num_frames, fps, spec.clip_len, spec.frame_interval, spec.target_fps, 1)
        slack_left, slack_right = int(clip.min()), num_frames - 1 - int(clip.max())
        if slack_left + slack_right > 0:
            clip = clip + int(rng.integers(-slack_left, slack_right + 1))
        return clip
    raise ValueError(f"no training sampler for {spec.type!r}; train with the evaluation sampler (temporal_jitter=False)")


def multi_scale_crop_box(width: int, height: int, rng: np.random.Generator, crop_size: int,
                         scales: Sequence[float] = (1.0, 0.875, 0.75, 0.66), max_distort: int = 1
                         ) -> Tuple[int, int, int, int]:
    """(x, y, w, h) of a TSN multi-scale crop: side lengths from `scales` x the short side (within 3 pixels of
    `crop_size` snapped to it), aspect distortion at most `max_distort` scale steps, at one of five positions."""
    base = min(width, height)
    sizes = [int(base * s) for s in scales]
    sizes = [crop_size if abs(s - crop_size) < 3 else s for s in sizes]
    pairs = [(w, h) for i, h in enumerate(sizes) for j, w in enumerate(sizes) if abs(i - j) <= max_distort]
    w, h = pairs[int(rng.integers(len(pairs)))]
    w_step, h_step = (width - w) // 4, (height - h) // 4
    offsets = [(0, 0), (4 * w_step, 0), (0, 4 * h_step), (4 * w_step, 4 * h_step), (2 * w_step, 2 * h_step)]
    x, y = offsets[int(rng.integers(len(offsets)))]
    return x, y, w, h


def multi_scale_crop(frames: np.ndarray, rng: np.random.Generator, crop_size: int,
                     scales: Sequence[float] = (1.0, 0.875, 0.75, 0.66), max_distort: int = 1) -> np.ndarray:
    """The same multi-scale crop on every frame of [T, H, W, 3], resized to crop_size x crop_size."""
    h, w = frames.shape[1:3]
    x, y, cw, ch = multi_scale_crop_box(w, h, rng, crop_size, scales, max_distort)
    out = [cv2.resize(np.ascontiguousarray(f[y:y + ch, x:x + cw]), (crop_size, crop_size),
                      interpolation=cv2.INTER_LINEAR) for f in frames]
    return np.stack(out)


def random_crop(frames: np.ndarray, rng: np.random.Generator, crop_size: int) -> np.ndarray:
    h, w = frames.shape[1:3]
    if w < crop_size or h < crop_size:
        raise ValueError(f"frame {w}x{h} is smaller than the {crop_size}x{crop_size} crop")
    x, y = int(rng.integers(w - crop_size + 1)), int(rng.integers(h - crop_size + 1))
    return frames[:, y:y + crop_size, x:x + crop_size]


def horizontal_flip(frames: np.ndarray, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    return frames[:, :, ::-1] if rng.random() < p else frames


def augment_clip(frames: np.ndarray, spec: PreprocessSpec, aug: AugmentSpec,
                 rng: np.random.Generator) -> np.ndarray:
    """Scaled uint8 frames [T, H, W, 3] of one clip -> one normalised training view in the card's layout."""
    if aug.crop == "multiscale":
        crop = multi_scale_crop(frames, rng, spec.crop_size, aug.scales, aug.max_distort)
    elif aug.crop == "random":
        crop = random_crop(frames, rng, spec.crop_size)
    elif aug.crop == "center":
        crop = transforms.center_crop(frames, spec.crop_size)
    else:
        raise ValueError(f"unknown training crop {aug.crop!r}")
    if aug.flip:
        crop = horizontal_flip(crop, rng)
    return transforms.normalized_layout(crop, spec.mean, spec.std, spec.pixel_divisor, spec.layout)


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator for one sample of one epoch (independent of worker count and batch order)."""
    return np.random.default_rng([int(seed), int(epoch), int(index)])
