"""One video reader with seek-based sparse decoding.

`open_video(path)` checks the file, opens it with a backend (OpenCV by default; PyAV and decord optional) and
exposes duration, fps, frame count and size. `get_frames(indices, transform)` decodes only the requested
frames, applying `transform` (e.g. a resize) to each right after decoding, so memory is bounded by what is
sampled, never by the video's length.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Type, Union

import numpy as np

from videohub.errors import (NoVideoFramesError, TruncatedVideoError, UnsupportedInputError, VideoOpenError,
                             check_local_file)

FrameTransform = Callable[[np.ndarray], np.ndarray]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".flv", ".m4v", ".mpg", ".mpeg", ".wmv",
                    ".3gp", ".ts", ".ogv")

# A forward gap larger than this is crossed by seeking instead of decoding through it. Seeking lands on a
# key frame and decodes forward, so small gaps are cheaper to walk.
SEEK_THRESHOLD = 48


@dataclass(frozen=True)
class VideoInfo:
    path: str
    num_frames: int
    fps: float
    width: int
    height: int
    backend: str

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps if self.fps > 0 else 0.0

    def as_dict(self) -> Dict[str, object]:
        return {"num_frames": self.num_frames, "fps": self.fps, "duration": round(self.duration, 3),
                "width": self.width, "height": self.height, "backend": self.backend}


class VideoReader:
    """Base class of the backends. Use as a context manager."""

    name = "base"

    def __init__(self, path: str):
        self.path = path
        self.info: VideoInfo

    def get_frames(self, indices: Sequence[int], transform: Optional[FrameTransform] = None) -> List[np.ndarray]:
        """RGB uint8 frames for `indices` (any order, repeats allowed), each passed through `transform`."""
        wanted = np.asarray(indices, dtype=np.int64)
        if wanted.size == 0:
            return []
        n = self.info.num_frames
        # PaddleVideo's SlowFast sampler may ask for index n; treat it as the last frame.
        wanted = np.clip(wanted, 0, n - 1)
        unique = np.unique(wanted)
        decoded = self._decode_sorted(unique, transform)
        return [decoded[int(i)] for i in wanted]

    def _decode_sorted(self, indices: np.ndarray, transform: Optional[FrameTransform]) -> Dict[int, np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class OpenCVReader(VideoReader):
    name = "opencv"

    def __init__(self, path: str):
        super().__init__(path)
        import cv2

        self._cv2 = cv2
        cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise VideoOpenError(f"cannot open {path!r} as a video: unknown container, unsupported codec, "
                                 "or not a video file")
        self._cap = cap
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        if n <= 0 or w <= 0 or h <= 0:
            cap.release()
            raise NoVideoFramesError(f"{path!r} has no video frames (no video stream, or zero frames)")
        self.info = VideoInfo(path, n, fps if fps > 0 else 25.0, w, h, self.name)
        self._pos = 0  # index of the frame the next read() returns
        self._by_timestamp = False  # set once frame slots turn out to be empty (see _decode_sorted)

    def _read(self, index: int) -> np.ndarray:
        ok, frame = self._cap.read()
        self._pos += 1
        if not ok or frame is None:
            raise TruncatedVideoError(
                f"frame {index} of {self.info.num_frames} in {self.path!r} could not be decoded "
                "(the file ends early or is damaged)")
        return frame

    def _decode_sorted(self, indices: np.ndarray, transform: Optional[FrameTransform]) -> Dict[int, np.ndarray]:
        if self._by_timestamp:
            return self._decode_by_timestamp(indices, transform)
        try:
            return self._decode_by_index(indices, transform)
        except TruncatedVideoError as exc:
            # Frame slots without a picture (AVI "drop" chunks) are counted by OpenCV but neither readable nor
            # seekable. Such a file is only truncated if the pictures' timestamps also stop early.
            out = self._decode_by_timestamp(indices, transform, exc)
            self._by_timestamp = True
            return out

    def _decode_by_timestamp(self, indices: np.ndarray, transform: Optional[FrameTransform],
                             error: Optional[TruncatedVideoError] = None) -> Dict[int, np.ndarray]:
        """Each index gets the first picture shown at or after it (as the PyAV reader does), by a sequential
        read from the start that keeps only the requested frames."""
        cv2 = self._cv2
        cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
        pending, k, out = indices.tolist(), 0, {}
        try:
            while k < len(pending):
                ok, frame = cap.read()
                if not ok or frame is None:
                    raise error or TruncatedVideoError(
                        f"frame {pending[k]} of {self.info.num_frames} in {self.path!r} could not be decoded "
                        "(the file ends early or is damaged)")
                shown = int(round(cap.get(cv2.CAP_PROP_POS_MSEC) * self.info.fps / 1000.0))
                if shown < pending[k]:
                    continue
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                image = transform(rgb) if transform else rgb
                while k < len(pending) and pending[k] <= shown:
                    out[pending[k]] = image
                    k += 1
        finally:
            cap.release()
        return out

    def _decode_by_index(self, indices: np.ndarray, transform: Optional[FrameTransform]) -> Dict[int, np.ndarray]:
        cv2 = self._cv2
        out: Dict[int, np.ndarray] = {}
        for idx in indices.tolist():
            gap = idx - self._pos
            if gap < 0 or gap > SEEK_THRESHOLD:
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, idx)
                self._pos = idx
            while self._pos < idx:
                if not self._cap.grab():
                    raise TruncatedVideoError(
                        f"frame {self._pos} of {self.info.num_frames} in {self.path!r} could not be decoded "
                        "(the file ends early or is damaged)")
                self._pos += 1
            frame = cv2.cvtColor(self._read(idx), cv2.COLOR_BGR2RGB)
            out[idx] = transform(frame) if transform else frame
        return out

    def close(self) -> None:
        self._cap.release()


def opencv_rotation(path: str) -> int:
    """Clockwise degrees the container's rotation metadata asks for (0 when none), as OpenCV reads it."""
    import cv2

    cap = cv2.VideoCapture(path)
    try:
        return int(round(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)) % 360
    finally:
        cap.release()


class PyAVReader(VideoReader):
    """PyAV (FFmpeg) backend: seeks by timestamp to the key frame before a target and decodes forward."""

    name = "pyav"

    def __init__(self, path: str):
        super().__init__(path)
        try:
            import av
        except ImportError as exc:  # optional backend
            raise UnsupportedInputError("backend 'pyav' needs the package `av` (pip install av)") from exc
        try:
            self._container = av.open(path)
        except Exception as exc:
            raise VideoOpenError(f"cannot open {path!r} as a video: {exc}") from exc
        if not self._container.streams.video:
            self._container.close()
            raise NoVideoFramesError(f"{path!r} has no video stream")
        st = self._container.streams.video[0]
        st.thread_type = "AUTO"
        self._stream = st
        fps = float(st.average_rate or st.guessed_rate or 25.0)
        n = int(st.frames or 0)
        if n <= 0 and st.duration and st.time_base:
            n = int(round(float(st.duration * st.time_base) * fps))
        if n <= 0:
            self._container.close()
            raise NoVideoFramesError(f"{path!r} has no video frames")
        cc = st.codec_context
        # Rotation metadata (display matrix): PyAV reports it per frame and does not apply it; OpenCV does, so
        # it is applied here too and every backend gives the same upright frames.
        self._rot90 = self._first_frame_rotation() // 90
        w, h = (int(cc.height), int(cc.width)) if self._rot90 % 2 else (int(cc.width), int(cc.height))
        self.info = VideoInfo(path, n, fps, w, h, self.name)
        self._start_pts = st.start_time or 0
        self._iter = None
        self._next_index = None  # index of the frame the running iterator yields next

    def _first_frame_rotation(self) -> int:
        """Counter-clockwise degrees (0, 90, 180, 270) that make the frames upright; 0 if none decodes here
        (a later decode reports that properly)."""
        try:
            frame = next(self._container.decode(self._stream))
            return int(round(float(getattr(frame, "rotation", 0) or 0) / 90.0)) * 90 % 360
        except Exception:  # noqa: BLE001 - damaged or empty streams are reported by the decode that needs them
            return 0

    def _index_of(self, frame) -> int:
        if frame.pts is None:
            return -1
        t = float((frame.pts - self._start_pts) * self._stream.time_base)
        return int(round(t * self.info.fps))

    def _decode_sorted(self, indices: np.ndarray, transform: Optional[FrameTransform]) -> Dict[int, np.ndarray]:
        out: Dict[int, np.ndarray] = {}
        for idx in indices.tolist():
            if self._iter is None or self._next_index is None or idx < self._next_index \
                    or idx - self._next_index > SEEK_THRESHOLD:
                ts = int(idx / self.info.fps / self._stream.time_base) + self._start_pts
                self._container.seek(ts, stream=self._stream, backward=True, any_frame=False)
                self._iter = self._container.decode(self._stream)
                self._next_index = None
            frame = None
            for frame in self._iter:
                fi = self._index_of(frame)
                self._next_index = fi + 1
                if fi >= idx:
                    break
            else:
                raise TruncatedVideoError(
                    f"frame {idx} of {self.info.num_frames} in {self.path!r} could not be decoded "
                    "(the file ends early or is damaged)")
            rgb = frame.to_ndarray(format="rgb24")
            if self._rot90:
                rgb = np.ascontiguousarray(np.rot90(rgb, self._rot90))
            out[idx] = transform(rgb) if transform else rgb
        return out

    def close(self) -> None:
        self._container.close()


class DecordReader(VideoReader):
    name = "decord"

    def __init__(self, path: str):
        super().__init__(path)
        try:
            import decord
        except ImportError as exc:
            raise UnsupportedInputError("backend 'decord' needs the package `decord` (pip install decord)") from exc
        try:
            self._vr = decord.VideoReader(path, num_threads=1)
        except Exception as exc:
            raise VideoOpenError(f"cannot open {path!r} as a video: {exc}") from exc
        if opencv_rotation(path):  # decord 0.6 rotates the frame shape but not the pixels, then fails to copy
            raise UnsupportedInputError(f"{path!r} carries rotation metadata, which the decord backend cannot "
                                        "decode; use backend 'opencv' (default) or 'pyav'")
        n = len(self._vr)
        if n <= 0:
            raise NoVideoFramesError(f"{path!r} has no video frames")
        h, w = self._vr[0].shape[:2]
        self.info = VideoInfo(path, n, float(self._vr.get_avg_fps() or 25.0), int(w), int(h), self.name)

    def _decode_sorted(self, indices: np.ndarray, transform: Optional[FrameTransform]) -> Dict[int, np.ndarray]:
        out = {}
        try:
            batch = self._vr.get_batch(indices.tolist()).asnumpy()
        except Exception as exc:
            raise TruncatedVideoError(f"frames of {self.path!r} could not be decoded: {exc}") from exc
        for i, frame in zip(indices.tolist(), batch):
            out[i] = transform(frame) if transform else frame
        return out


BACKENDS: Dict[str, Type[VideoReader]] = {"opencv": OpenCVReader, "pyav": PyAVReader, "decord": DecordReader}
DEFAULT_BACKEND = "opencv"


def check_video_path(path: Union[str, os.PathLike]) -> str:
    """Validate a local video path before decoding; raises the specific error for each bad case."""
    return check_local_file(path, "download it first, or pass the file bytes as `videos=`")


def open_video(path: Union[str, os.PathLike], backend: str = DEFAULT_BACKEND) -> VideoReader:
    """Open a local video with the named backend after checking the path."""
    p = check_video_path(path)
    if backend not in BACKENDS:
        raise ValueError(f"unknown video backend {backend!r}; choose from {', '.join(BACKENDS)}")
    return BACKENDS[backend](p)


def list_videos(directory: Union[str, Path]) -> List[str]:
    """Video files (by extension) directly inside `directory`, sorted by name."""
    d = Path(directory)
    return sorted(str(p) for p in d.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
