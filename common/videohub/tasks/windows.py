"""Long videos and live streams in sliding windows, with memory bounded by one window.

Windows are `sampling.time_windows(duration, window, stride)`: starts 0, stride, 2 * stride, ... while a whole
window fits, and a last window ending at the end of the video. Inside each window the card's own sampler
picks the frames, exactly as if the window's frames were a video of their own (segments spread over the
window; a dense clip in its middle), so any classifier whose network works on clips works in windows.

Two frame sources feed the same windows:
- a file (`file_windows`): the sampled frames of one window are decoded by seeking (sparse), one window at
  a time;
- a stream (`stream_windows`): a webcam index, a stream URL or a file read sequentially with an OpenCV
  capture; only the last `window` seconds of frames, already scaled to the model's size, are kept. The
  stream's duration is unknown until it ends, so a frame's time is its index / fps, and the last window
  (ending at the end of the stream) is emitted when the stream ends. On a local file both sources give the
  same windows and the same frames.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

from videohub.io import sampling
from videohub.card import PreprocessSpec
from videohub.errors import NoVideoFramesError, TooFewFramesError
from videohub.io.preprocess import PreparedVideo, check_length, prepare_frames, sample_indices, scale_transform
from videohub.io.reader import VideoInfo, VideoReader

@dataclass(frozen=True)
class Window:
    start: float            # seconds
    end: float
    first: int              # first frame index inside the window
    count: int              # frames inside the window
    indices: np.ndarray     # absolute sampled frame indices [clips, frames]

    def as_dict(self) -> dict:
        return {"start": round(self.start, 3), "end": round(self.end, 3)}


def window_at(start: float, end: float, fps: float, num_frames: int, spec: PreprocessSpec) -> Window:
    """The frames of `[start, end)` and the card's sampler applied to them as to a video of their own."""
    frames = sampling.indices_in_window(fps, start, end, num_frames)
    if frames.size == 0:
        raise NoVideoFramesError(f"the window [{start:.3f}, {end:.3f}) s holds no frame")
    if frames.size < spec.min_frames:
        raise TooFewFramesError(f"the window [{start:.3f}, {end:.3f}) s holds {frames.size} frames; "
                                f"this model needs at least {spec.min_frames}")
    rel = sample_indices(spec.sampler, int(frames.size), fps)
    return Window(float(start), float(end), int(frames[0]), int(frames.size), frames[0] + rel)


def check_window_args(window: float, stride: Optional[float]) -> Tuple[float, float]:
    """`stride=None` means back-to-back windows."""
    window = float(window)
    stride = window if stride is None else float(stride)
    if not (window > 0 and stride > 0) or not (math.isfinite(window) and math.isfinite(stride)):
        raise ValueError(f"window and stride must be positive seconds, got window={window}, stride={stride}")
    return window, stride


def plan_windows(info: VideoInfo, spec: PreprocessSpec, window: float, stride: Optional[float]) -> List[Window]:
    window, stride = check_window_args(window, stride)
    check_length(info, spec)
    return [window_at(s, e, info.fps, info.num_frames, spec)
            for s, e in sampling.time_windows(info.duration, window, stride)]


def file_windows(reader: VideoReader, spec: PreprocessSpec, window: float, stride: Optional[float]
                 ) -> Iterator[Tuple[Window, PreparedVideo]]:
    """Each window's network input, decoded by seeking to its sampled frames, one window at a time."""
    info = reader.info
    scale = scale_transform(spec)
    plans = plan_windows(info, spec, window, stride)
    for win in plans:  # (`open_video` has checked the file's end already: a file cut short is refused)
        frames = reader.get_frames(win.indices.reshape(-1), scale)
        yield win, prepare_frames(frames, win.indices, info, spec)


# ---------------------------------------------------------------------------------------------- streams
def _regular_windows(window: float, stride: float) -> Iterator[Tuple[float, float]]:
    """The windows `time_windows` opens while a whole window fits (same float accumulation)."""
    t = 0.0
    while True:
        yield t, t + window
        t += stride


def stream_windows(frames: Iterator[np.ndarray], fps: float, spec: PreprocessSpec, window: float,
                   stride: Optional[float], name: str = "<stream>", max_seconds: Optional[float] = None
                   ) -> Iterator[Tuple[Window, PreparedVideo]]:
    """Windows over sequentially read frames, each emitted as soon as it is known to be complete.

    Keeps the last `ceil(window * fps) + 2` frames, scaled to the model's size right after decoding (the
    longest span any window needs, plus the frame that proves a window is not the last). `max_seconds`
    stops reading after that much video (a webcam never ends by itself).
    """
    window, stride = check_window_args(window, stride)
    scale = scale_transform(spec)
    keep = int(math.ceil(window * fps)) + 2
    ring: deque = deque(maxlen=keep)   # (index, scaled frame)
    regular = _regular_windows(window, stride)
    pending = next(regular)
    emitted = 0
    limit = None if max_seconds is None else int(math.floor(max_seconds * fps + 1e-6))

    def build(start: float, end: float, num_frames: int) -> Tuple[Window, PreparedVideo]:
        win = window_at(start, end, fps, num_frames, spec)
        first_kept = ring[0][0]
        if win.first < first_kept:  # cannot happen with `keep` frames; guards the invariant
            raise RuntimeError(f"window [{start}, {end}) needs frame {win.first}, oldest kept {first_kept}")
        picked = [ring[int(i) - first_kept][1] for i in win.indices.reshape(-1)]
        info = VideoInfo(name, num_frames, fps, 0, 0, "stream")
        return win, prepare_frames(picked, win.indices, info, spec)

    n = 0
    for frame in frames:
        if limit is not None and n >= limit:
            break
        ring.append((n, scale(frame)))
        n += 1
        # `time_windows` keeps a window [t, t + window) before the last one iff t + window < duration - 1e-9;
        # with n frames read, duration >= n / fps, so once that holds for n the window is certain.
        while pending[1] < n / fps - 1e-9:
            yield build(pending[0], pending[1], n)
            emitted += 1
            pending = next(regular)
    if n == 0:
        raise NoVideoFramesError(f"the stream {name!r} delivered no frame")
    duration = n / fps
    info = VideoInfo(name, n, fps, 0, 0, "stream")
    check_length(info, spec)
    for start, end in sampling.time_windows(duration, window, stride)[emitted:]:
        yield build(start, end, n)


def frames_of_window(frames: Sequence[np.ndarray], win: Window) -> np.ndarray:
    """The frames of a window (for checking a window against classifying its frames directly)."""
    return np.stack([frames[i] for i in range(win.first, win.first + win.count)])


def aggregate(probs: Sequence[np.ndarray]) -> np.ndarray:
    """The video's class probabilities: the mean of its windows' probabilities."""
    if not probs:
        raise ValueError("no windows to aggregate")
    return np.mean(np.stack(probs), axis=0)
