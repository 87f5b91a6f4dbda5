"""From a video to network input, driven by a card's `PreprocessSpec`.

Decoding is sparse (only sampled frames), and each frame is scaled right after decoding, so peak memory is
(sampled frames) x (model resolution), independent of the video's length and resolution.
"""
from __future__ import annotations

from dataclasses import dataclass
import time
from typing import Dict, List, Optional, Tuple

import numpy as np

from videohub.io import sampling, transforms
from videohub.card import PreprocessSpec, SamplerSpec
from videohub.errors import NoVideoFramesError, TooFewFramesError, TruncatedVideoError
from videohub.io.reader import DEFAULT_BACKEND, VideoInfo, VideoReader, open_video


def sample_indices(spec: SamplerSpec, num_frames: int, fps: float) -> np.ndarray:
    """Frame indices as [num_clips, frames_per_clip] for the card's sampler."""
    if spec.type == "segments":
        return sampling.segment_indices(num_frames, spec.num_segments, spec.seg_len, spec.select_left)[None]
    if spec.type == "dense":
        return sampling.dense_clip_indices(num_frames, fps, spec.clip_len, spec.frame_interval,
                                           spec.target_fps, spec.num_clips)
    if spec.type == "uniform_clips":
        return sampling.uniform_test_clips(num_frames, spec.num_clips, spec.clip_len, int(spec.frame_interval))
    if spec.type == "slowfast":
        clips = [sampling.linspace_clip_indices(num_frames, fps, spec.clip_len, int(spec.frame_interval),
                                                spec.target_fps or 30.0, k, spec.num_clips)
                 for k in range(spec.num_clips)]
        return np.stack(clips)
    raise ValueError(f"unknown sampler type {spec.type!r}")


def scale_transform(spec: PreprocessSpec):
    as_float = spec.resize_dtype == "float32"

    def scale(frame: np.ndarray) -> np.ndarray:
        # float32: resized without rounding back to uint8, which equals normalising first and resizing the
        # float tensor (TimeSformer's order), up to float rounding
        return transforms.scale_frame(frame.astype(np.float32) if as_float else frame, spec.scale_mode,
                                      spec.scale_size, spec.resize_backend)

    return scale


def frames_to_views(frames: np.ndarray, spec: PreprocessSpec) -> List[np.ndarray]:
    """Scaled uint8 frames [T, H, W, 3] of one clip -> normalised views in the card's layout."""
    if spec.crop == "center":
        crops = [transforms.center_crop(frames, spec.crop_size)]
    elif spec.crop == "three":
        crops = transforms.three_crop(frames, spec.crop_size)
    elif spec.crop == "ten":
        crops = transforms.ten_crop(frames, spec.crop_size)
    elif spec.crop == "multicrop":  # SlowFast test views (PaddleVideo MultiCrop, test mode, 3 spatial views)
        crops = transforms.multi_crop(frames, spec.crop_size)
    elif spec.crop == "multicrop_center":  # its middle view: a deterministic stand-in for the predictor's random crop
        crops = transforms.multi_crop(frames, spec.crop_size)[1:2]
    elif spec.crop == "full_res":  # PP-TSM dense test views (GroupFullResSample)
        crops = transforms.full_res_crop(frames, spec.crop_size)
    elif spec.crop == "none":
        crops = [frames]
    else:
        raise ValueError(f"unknown crop {spec.crop!r}")
    return [transforms.normalized_layout(c, spec.mean, spec.std, spec.pixel_divisor, spec.layout) for c in crops]


def stack_views(views: List[np.ndarray], spec: PreprocessSpec) -> np.ndarray:
    """Views of one video -> the rows it contributes to a batch."""
    if spec.views == "batch":
        return np.stack(views)
    if spec.views == "time":  # TSN: all views of all segments along T, averaged inside the network
        axis = spec.layout.index("T")
        return np.concatenate(views, axis=axis)[None]
    if spec.views == "superimage":  # StNet: each segment's seg_len frames stacked along channels
        if spec.layout != "TCHW":
            raise ValueError("superimage views need the TCHW layout")
        rows = np.stack(views)  # [V, T, C, H, W] -> [V, T / seg_len, seg_len * C, H, W]
        v, t, c, h, w = rows.shape
        return rows.reshape(v, t // spec.sampler.seg_len, spec.sampler.seg_len * c, h, w)
    raise ValueError(f"unknown views mode {spec.views!r}")


def split_pathways(rows: np.ndarray, spec: PreprocessSpec) -> List[np.ndarray]:
    """Network inputs from the stacked rows: one input, or SlowFast's [slow, fast] where the slow pathway
    takes `linspace(0, T - 1, T // alpha)` of the fast frames (PaddleVideo `PackOutput`)."""
    if spec.pathways == "single":
        return [rows]
    if spec.pathways == "slowfast":
        t_axis = 1 + spec.layout.index("T")
        t = rows.shape[t_axis]
        slow_idx = np.linspace(0, t - 1, t // spec.alpha).astype(np.int64)
        return [np.ascontiguousarray(np.take(rows, slow_idx, axis=t_axis)), rows]
    raise ValueError(f"unknown pathways {spec.pathways!r}")


@dataclass
class PreparedVideo:
    arrays: List[np.ndarray]   # one per network input, each [V, ...] (V views) or [1, ...]
    info: VideoInfo
    indices: np.ndarray        # sampled frame indices [clips, frames]

    @property
    def array(self) -> np.ndarray:
        """The first (for most networks the only) input."""
        return self.arrays[0]


def check_length(info: VideoInfo, spec: PreprocessSpec) -> None:
    if info.num_frames <= 0:
        raise NoVideoFramesError(f"{info.path!r} has no video frames")
    if info.num_frames < spec.min_frames:
        raise TooFewFramesError(
            f"{info.path!r} has {info.num_frames} frames; this model needs at least {spec.min_frames}")


def prepare_frames(frames: List[np.ndarray], idx: np.ndarray, info: VideoInfo,
                   spec: PreprocessSpec) -> PreparedVideo:
    """Scaled frames, decoded at `idx.reshape(-1)` ([clips, frames] sampled indices), -> network inputs."""
    clips = np.stack(frames).reshape(idx.shape[0], idx.shape[1], *frames[0].shape)
    views = [v for clip in clips for v in frames_to_views(clip, spec)]
    return PreparedVideo(split_pathways(stack_views(views, spec), spec), info, idx)


def decode_sampled(reader: VideoReader, spec: PreprocessSpec) -> Tuple[np.ndarray, List[np.ndarray]]:
    """The sampled indices [clips, frames] and their scaled frames. A file cut short is refused, never
    classified from whatever frames happen to be left: `open_video` has checked its end, or left the check to
    here (`reader.end_pending`), where it reads on from the last sampled frame instead of decoding the end
    again; if the check corrects the frame count (a few undecodable pictures at the very end), the frames are
    sampled again from the corrected count."""
    info = reader.info
    check_length(info, spec)
    idx = sample_indices(spec.sampler, info.num_frames, info.fps)
    try:
        frames: Optional[List[np.ndarray]] = reader.get_frames(idx.reshape(-1), scale_transform(spec))
    except TruncatedVideoError:
        if not reader.end_pending:
            raise
        frames = None  # e.g. a sampled picture among the undecodable last ones: the end check decides
    if reader.end_pending:
        reader.check_end()
        if frames is None or reader.info.num_frames != info.num_frames:
            return decode_sampled(reader, spec)
    return idx, frames


def prepare_reader(reader: VideoReader, spec: PreprocessSpec,
                   timings: Optional[Dict[str, float]] = None) -> PreparedVideo:
    """Sample, decode, scale, crop, normalise one opened video. `timings` (optional) receives the seconds
    spent in "decode" (decoding + scaling the sampled frames) and "preprocess" (crops, normalisation)."""
    t0 = time.perf_counter()
    idx, frames = decode_sampled(reader, spec)
    t1 = time.perf_counter()
    prepared = prepare_frames(frames, idx, reader.info, spec)
    if timings is not None:
        timings["decode"] = timings.get("decode", 0.0) + t1 - t0
        timings["preprocess"] = timings.get("preprocess", 0.0) + time.perf_counter() - t1
    return prepared


def prepare_video(path: str, spec: PreprocessSpec, backend: str = DEFAULT_BACKEND,
                  timings: Optional[Dict[str, float]] = None) -> PreparedVideo:
    t0 = time.perf_counter()
    with open_video(path, backend, check_end=False) as reader:  # checked while decoding
        if timings is not None:
            timings["open"] = timings.get("open", 0.0) + time.perf_counter() - t0
        return prepare_reader(reader, spec, timings)


class ArrayReader(VideoReader):
    """Frames already in memory ([T, H, W, 3] uint8 RGB) behind the reader interface (not a file backend)."""

    name = "array"

    def __init__(self, frames: np.ndarray, fps: float = 25.0, name: str = "<array>"):
        super().__init__(name, None)
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be a uint8 array [T, H, W, 3] (RGB), got {frames.dtype} "
                             f"{tuple(frames.shape)}")
        if frames.shape[0] == 0:
            raise NoVideoFramesError("the frame array is empty")
        self._frames = frames
        self.info = VideoInfo(name, int(frames.shape[0]), float(fps), int(frames.shape[2]),
                              int(frames.shape[1]), self.name)

    def _decode_sorted(self, indices, transform):
        return {int(i): (transform(self._frames[i]) if transform else self._frames[i]) for i in indices}


def prepare_array(frames: np.ndarray, spec: PreprocessSpec, fps: float = 25.0,
                  name: Optional[str] = None) -> PreparedVideo:
    return prepare_reader(ArrayReader(frames, fps, name or "<array>"), spec)
