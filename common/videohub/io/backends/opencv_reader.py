"""OpenCV (its bundled FFmpeg) backend: the default."""
from __future__ import annotations

from typing import Dict, Optional

import cv2
import numpy as np

from videohub.errors import NoVideoFramesError, TruncatedVideoError, VideoOpenError
from videohub.io.reader import SEEK_THRESHOLD, FrameTransform, VideoInfo, VideoReader, register_backend


@register_backend("opencv")
class OpenCVReader(VideoReader):
    def __init__(self, path: str):
        super().__init__(path)
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
    cap = cv2.VideoCapture(path)
    try:
        return int(round(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)) % 360
    finally:
        cap.release()


