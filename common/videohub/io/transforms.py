"""Small pure transforms over uint8 frames (H x W x 3, RGB) and stacks of them.

Resizing is per frame so that it can run right after decoding (memory stays at the model's resolution).
Two interpolation backends exist because the original pipelines differ: PaddleVideo's `Scale` uses PIL
bilinear (with its antialiasing filter when shrinking), TSN's predictor and most others use OpenCV bilinear.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import cv2
import numpy as np


def fixed_ratio_size(width: int, height: int, short_size: int) -> Tuple[int, int]:
    """PaddleVideo `Scale(fixed_ratio=True)`: 4:3 output whatever the input aspect (short side = short_size)."""
    long_size = int(short_size * 4.0 / 3.0)
    return (short_size, long_size) if width <= height else (long_size, short_size)


def short_side_size(width: int, height: int, short_size: int, do_round: bool = False) -> Tuple[int, int]:
    """Aspect-preserving size with the short side at `short_size` (PaddleVideo `Scale(fixed_ratio=False)`:
    the long side is truncated, or rounded when `do_round`)."""
    if width <= height:
        long_side = height * short_size / width
        return short_size, int(long_side + 0.5) if do_round else int(long_side)
    long_side = width * short_size / height
    return (int(long_side + 0.5) if do_round else int(long_side)), short_size


def jitter_scale_size(width: int, height: int, short_size: int) -> Tuple[int, int]:
    """SlowFast `JitterScale` in test mode: short side to `short_size`, long side floor(long * s / short)."""
    if width <= height:
        return short_size, int(np.floor(height * short_size / width))
    return int(np.floor(width * short_size / height)), short_size


def resize(frame: np.ndarray, size: Tuple[int, int], backend: str = "cv2") -> np.ndarray:
    """Bilinear resize to (width, height). `backend`: "cv2" (INTER_LINEAR) or "pil" (PIL BILINEAR)."""
    w, h = size
    if frame.shape[1] == w and frame.shape[0] == h:
        return frame
    if backend == "cv2":
        return cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR)
    if backend == "pil":
        from PIL import Image

        return np.asarray(Image.fromarray(frame).resize((w, h), Image.BILINEAR))
    raise ValueError(f"unknown resize backend {backend!r}")


def scale_frame(frame: np.ndarray, mode: str, size: int, backend: str = "cv2",
                keep_if_short_side_matches: bool = True) -> np.ndarray:
    """Scale one frame. `mode`: "fixed_ratio" (4:3), "short_side", "short_side_round", "jitter"
    (SlowFast), "square" (size x size). PaddleVideo leaves a frame untouched when its short side already
    equals `size`; `keep_if_short_side_matches` reproduces that."""
    h, w = frame.shape[:2]
    if keep_if_short_side_matches and mode != "square" and min(w, h) == size:
        return frame
    if mode == "fixed_ratio":
        target = fixed_ratio_size(w, h, size)
    elif mode == "short_side":
        target = short_side_size(w, h, size)
    elif mode == "short_side_round":
        target = short_side_size(w, h, size, do_round=True)
    elif mode == "jitter":
        target = jitter_scale_size(w, h, size)
    elif mode == "square":
        target = (size, size)
    else:
        raise ValueError(f"unknown scale mode {mode!r}")
    return resize(frame, target, backend)


def _round_half_even(x: float) -> int:
    return int(round(x))  # Python's round, as PaddleVideo's CenterCrop uses (58.5 -> 58)


def center_crop_box(width: int, height: int, size: int) -> Tuple[int, int]:
    if width < size or height < size:
        raise ValueError(f"frame {width}x{height} is smaller than the {size}x{size} crop")
    return _round_half_even((width - size) / 2.0), _round_half_even((height - size) / 2.0)


def center_crop(frames: np.ndarray, size: int) -> np.ndarray:
    """Centre crop of a [..., H, W, C] stack (offsets rounded as PaddleVideo does)."""
    h, w = frames.shape[-3:-1]
    x, y = center_crop_box(w, h, size)
    return frames[..., y:y + size, x:x + size, :]


def three_crop(frames: np.ndarray, size: int) -> List[np.ndarray]:
    """PaddleVideo `UniformCrop`: three square crops along the long side at 0, 2 * step and step (start, end,
    middle), step = (long - size) // 2, centred across (TimeSformer, VideoSwin test views)."""
    h, w = frames.shape[-3:-1]
    if w < size or h < size:
        raise ValueError(f"frame {w}x{h} is smaller than the {size}x{size} crop")
    if w >= h:
        step = (w - size) // 2
        y = (h - size) // 2
        return [frames[..., y:y + size, x:x + size, :] for x in (0, 2 * step, step)]
    step = (h - size) // 2
    x = (w - size) // 2
    return [frames[..., y:y + size, x:x + size, :] for y in (0, 2 * step, step)]


def multi_crop(frames: np.ndarray, size: int, num: int = 3) -> List[np.ndarray]:
    """PaddleVideo `MultiCrop(test_mode=True)` (SlowFast's spatial views), spatial index 0..num-1: along the long
    side at 0, `ceil(gap) * i`, ..., the end; across it at `ceil((short - size) / 2)` (ceil, not floor)."""
    if num < 2:
        raise ValueError("multi_crop needs at least 2 views (its gap divides by num - 1)")
    h, w = frames.shape[-3:-1]
    if w < size or h < size:
        raise ValueError(f"frame {w}x{h} is smaller than the {size}x{size} crop")
    long_, short = (h, w) if h > w else (w, h)
    gap = int(np.ceil((long_ - size) / (num - 1)))
    across = int(np.ceil((short - size) / 2))
    along = [0] + [gap * i for i in range(1, num - 1)] + [long_ - size]
    boxes = [(across, a) if h > w else (a, across) for a in along]  # (x, y)
    return [frames[..., y:y + size, x:x + size, :] for x, y in boxes]


def full_res_crop(frames: np.ndarray, size: int) -> List[np.ndarray]:
    """PaddleVideo `GroupFullResSample(flip=False)` (PP-TSM dense test): left, right, centre at multiples of
    `step = (W - size) // 4` (so the right crop starts at 4 * step, not W - size), rows at 2 * h_step."""
    h, w = frames.shape[-3:-1]
    if w < size or h < size:
        raise ValueError(f"frame {w}x{h} is smaller than the {size}x{size} crop")
    w_step, h_step = (w - size) // 4, (h - size) // 4
    y = 2 * h_step
    return [frames[..., y:y + size, x:x + size, :] for x in (0, 4 * w_step, 2 * w_step)]


def ten_crop(frames: np.ndarray, size: int) -> List[np.ndarray]:
    """Four corners + centre, each followed by its horizontal flip (PaddleVideo `TenCrop` order)."""
    h, w = frames.shape[-3:-1]
    w_step, h_step = (w - size) // 4, (h - size) // 4
    offsets = [(0, 0), (4 * w_step, 0), (0, 4 * h_step), (4 * w_step, 4 * h_step), (2 * w_step, 2 * h_step)]
    views = []
    for x, y in offsets:
        crop = frames[..., y:y + size, x:x + size, :]
        views += [crop, crop[..., :, ::-1, :]]
    return views


def normalize(frames: np.ndarray, mean: Sequence[float], std: Sequence[float],
              divisor: float = 255.0, channel_axis: int = -1) -> np.ndarray:
    """float32 `(frames / divisor - mean) / std` over the channel axis (the last by default), in place on one
    float copy (divided, not multiplied by the reciprocal, to round exactly as PaddleVideo does)."""
    out = frames.astype(np.float32)
    out /= np.float32(divisor)
    channels = [1] * out.ndim
    channels[channel_axis] = -1
    out -= np.asarray(mean, dtype=np.float32).reshape(channels)
    out /= np.asarray(std, dtype=np.float32).reshape(channels)
    return out


def to_layout(frames: np.ndarray, layout: str) -> np.ndarray:
    """[T, H, W, C] -> "TCHW" (2D networks) or "CTHW" (3D networks); "THWC" is returned as is."""
    if layout == "TCHW":
        return np.ascontiguousarray(frames.transpose(0, 3, 1, 2))
    if layout == "CTHW":
        return np.ascontiguousarray(frames.transpose(3, 0, 1, 2))
    if layout == "THWC":
        return frames
    raise ValueError(f"unknown layout {layout!r}")


def normalized_layout(frames: np.ndarray, mean: Sequence[float], std: Sequence[float], divisor: float,
                      layout: str) -> np.ndarray:
    """`to_layout(normalize(frames, mean, std, divisor), layout)` for [T, H, W, C] frames, the same float32
    arithmetic element by element, but reordered while the frames are still uint8 (a quarter of the bytes of
    the floats): one float array instead of four."""
    return normalize(to_layout(frames, layout), mean, std, divisor, channel_axis=layout.index("C"))
