"""OpenCV (its bundled FFmpeg) backend: the default. Seeks to key frames by time (OpenCV decodes forward to
the frame asked for) and reads on from there. In AVI, whose packets carry decode-order stamps, OpenCV's own
frame numbers are exact where its count is the index's, and it seeks by frame number instead."""
from __future__ import annotations

from typing import Any, Optional, Tuple

import cv2
import numpy as np

from videohub.errors import TruncatedVideoError
from videohub.io.frame_index import FrameIndex
from videohub.io.reader import BackendCannotDecode, SeekingReader, reader_info, register_backend


@register_backend("opencv")
class OpenCVReader(SeekingReader):
    # OpenCV's seek to frame F starts at the key frame before F - 16 and decodes forward to F (seeking to a
    # key frame decodes the group of pictures before it too). Asking it for F itself, not a key frame, is no
    # way out: past a seek into the middle of a group with B-frames its frames' times come out of order.
    seek_backoff_frames = 16

    def __init__(self, path: str, index: FrameIndex):
        super().__init__(path, index)
        cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
        if not cap.isOpened():
            raise BackendCannotDecode(f"OpenCV cannot open it ({index.codec} in {index.container})")
        ok, first = cap.read()
        if not ok or first is None:  # e.g. AV1: this FFmpeg build has no software decoder for it
            cap.release()
            raise BackendCannotDecode(f"OpenCV's FFmpeg cannot decode {index.codec}")
        self._cap = cap
        height, width = first.shape[:2]  # after OpenCV applied the rotation metadata
        self.info = reader_info(path, index, width, height, self.name)
        # OpenCV reports times relative to the stream's start; the index relative to its first picture
        self._offset = index.stream_start - index.start
        self._by_number = (index.container.split(",")[0] == "avi"
                           and int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) == index.num_frames)
        self._pending, self._cursor = (0, first), 0  # the capture stands after the first picture
        self._grabs = 0

    def _seek(self, seconds: Optional[float]) -> None:
        if seconds is None:  # from the start: a fresh capture (seeking back to 0 fails in some containers)
            if self._cap is not None:
                self._cap.release()
            self._cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
        elif self._by_number:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, self.index.position_of(seconds))
        else:
            self._cap.set(cv2.CAP_PROP_POS_MSEC, max(0.0, (seconds + self._offset) * 1000.0))

    def _next(self) -> Optional[Tuple[Optional[float], Any]]:
        # `grab` decodes without converting the picture: only the frames asked for are converted (`_rgb`),
        # not the ones decoded on the way to them. The handle is the grab's number.
        number = int(self._cap.get(cv2.CAP_PROP_POS_FRAMES)) if self._by_number else None
        if not self._cap.grab():
            return None
        self._grabs += 1
        if self._by_number:  # the frame's number, as a time of the index
            return float(self.index.times[min(number, self.index.num_frames - 1)]), self._grabs
        return self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 - self._offset, self._grabs

    def _rgb(self, handle: Any) -> np.ndarray:
        if isinstance(handle, np.ndarray):  # the first picture, read when the file was opened
            return cv2.cvtColor(handle, cv2.COLOR_BGR2RGB)
        if handle != self._grabs:
            raise RuntimeError("OpenCV reader: a frame is converted after the capture moved past it")
        ok, frame = self._cap.retrieve()
        if not ok or frame is None:
            raise TruncatedVideoError(f"a decoded frame of {self.path!r} could not be converted")
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()


def opencv_rotation(path: str) -> int:
    """Clockwise degrees the container's rotation metadata asks for (0 when none), as OpenCV reads it."""
    cap = cv2.VideoCapture(path)
    try:
        return int(round(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)) % 360
    finally:
        cap.release()
