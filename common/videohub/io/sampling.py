"""Frame samplers: which frame indices a model looks at.

Pure functions of the frame count (and fps); no decoding here, so the reader decodes only these frames.
"""
from __future__ import annotations

import math
from typing import List

import numpy as np


def segment_indices(num_frames: int, num_segments: int, seg_len: int = 1,
                    select_left: bool = False) -> np.ndarray:
    """TSN-style segment sampling in test mode, PaddleVideo's two formulas.

    `select_left=False` (PaddleVideo `Sampler(valid_mode=True)`, used by the TSM / PP-TSM predictors):
    `avg = n // T`, start `(avg - 1) // 2 + i * avg`; when `avg < seg_len` it is `i * avg`, and when
    `avg == 0` it is `i`. `select_left=True` (the TSN predictor and the yaml test pipelines):
    `avg = n / T` (float), start `int(avg / 2 + avg * i)`, all zeros when `n <= T`. Each segment then takes
    `seg_len` consecutive frames; indices wrap modulo n.
    """
    if num_frames <= 0:
        raise ValueError("num_frames must be positive")
    n, t = int(num_frames), int(num_segments)
    if select_left:
        if n > t:
            avg_f = n / t
            starts = [int(avg_f / 2.0 + avg_f * i) for i in range(t)]
        else:
            starts = [0] * t
    else:
        avg = n // t
        if avg >= seg_len:
            starts = [(avg - 1) // 2 + i * avg for i in range(t)]
        elif avg >= 1:
            starts = [i * avg for i in range(t)]
        else:
            starts = list(range(t))
    idx = [(s + j) % n for s in starts for j in range(seg_len)]
    return np.asarray(idx, dtype=np.int64)


def dense_clip_indices(num_frames: int, fps: float, clip_len: int, frame_interval: float = 1.0,
                       target_fps: float | None = None, num_clips: int = 1,
                       position: str = "center") -> np.ndarray:
    """Dense clips of `clip_len` frames (I3D, SlowFast style), returned as [num_clips, clip_len].

    Time step between sampled frames is `frame_interval / target_fps` seconds (`target_fps=None`: the video's
    own fps, i.e. every `frame_interval`-th frame). Clips are placed in time: `position="center"` for one clip
    in the middle; with several clips they are spread evenly from the start to the end. Videos shorter than a
    clip loop back to their start, as the I3D and SlowFast test code does.
    """
    if num_frames <= 0:
        raise ValueError("num_frames must be positive")
    fps = float(fps) if fps and fps > 0 else 25.0
    step_frames = frame_interval * (fps / target_fps if target_fps else 1.0)
    span = clip_len * step_frames  # frames covered by one clip
    free = max(num_frames - span, 0.0)
    if num_clips == 1:
        starts = [free / 2.0] if position == "center" else [0.0]
    else:
        starts = [free * k / (num_clips - 1) for k in range(num_clips)]
    clips = []
    for s in starts:
        idx = np.floor(s + np.arange(clip_len) * step_frames + 1e-6).astype(np.int64)
        clips.append(idx % num_frames)
    return np.stack(clips)


def uniform_test_clips(num_frames: int, num_clips: int, clip_len: int, frame_interval: int = 1) -> np.ndarray:
    """PaddleVideo `Sampler` test clips with `seg_len` > 1 (VideoSwin): the video is cut into `num_clips` equal
    bins of the free frames, a clip of `clip_len` frames every `frame_interval` starts in the middle of each
    (`int(k * avg + avg / 2)`, avg = (n - span + 1) / num_clips; all at 0 when the video is shorter than a
    clip), indices wrap around the end. [num_clips, clip_len]. (PaddleVideo writes this with `np.int`, which
    numpy >= 1.24 removed; this is what it computes.)"""
    span = clip_len * frame_interval
    avg = (num_frames - span + 1) / float(num_clips)
    if avg > 0:
        starts = (np.arange(num_clips) * avg + avg / 2.0).astype(np.int64)
    else:
        starts = np.zeros(num_clips, dtype=np.int64)
    clips = starts[:, None] + frame_interval * np.arange(clip_len)[None, :]
    return clips % num_frames


def linspace_clip_indices(num_frames: int, fps: float, num_frames_out: int, sampling_rate: int,
                          target_fps: float = 30.0, clip_idx: int = 0, num_clips: int = 1) -> np.ndarray:
    """SlowFast `DecodeSampler` in test mode: a clip of `num_frames_out * sampling_rate * fps / target_fps`
    frames, the `clip_idx`-th of `num_clips` evenly spaced clips, sampled with `linspace` and clipped to
    `[0, n]` (PaddleVideo clips to n, not n-1; the reader treats index n as the last frame)."""
    clip_size = num_frames_out * sampling_rate * fps / target_fps
    delta = max(num_frames - clip_size, 0)
    start = delta * clip_idx / num_clips if num_clips > 1 else (0.0 if clip_idx == 0 else delta)
    end = start + clip_size - 1
    idx = np.linspace(start, end, num_frames_out).astype(np.int64)
    return np.clip(idx, 0, num_frames)


def time_windows(duration: float, window: float, stride: float) -> List[tuple]:
    """Start/end seconds of sliding windows covering `[0, duration]`; the last window ends at `duration`."""
    if window <= 0 or stride <= 0:
        raise ValueError("window and stride must be positive")
    if duration <= window:
        return [(0.0, float(duration))]
    out = []
    t = 0.0
    while t + window < duration - 1e-9:
        out.append((t, t + window))
        t += stride
    out.append((max(duration - window, 0.0), float(duration)))
    return out


def indices_in_window(fps: float, start: float, end: float, num_frames: int) -> np.ndarray:
    """All frame indices whose timestamp lies in [start, end)."""
    first = int(math.ceil(start * fps - 1e-6))
    last = min(int(math.ceil(end * fps - 1e-6)), num_frames)
    return np.arange(first, max(last, first), dtype=np.int64)
