"""PyAV (FFmpeg) backend: seeks by timestamp to the key frame before a target and decodes forward. Decodes
every codec its FFmpeg has (AV1 through libdav1d)."""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from videohub.io.frame_index import FrameIndex
from videohub.io.reader import BackendCannotDecode, SeekingReader, reader_info, register_backend

try:
    import av
except ImportError:  # optional backend: open_video skips it and says so
    av = None


@register_backend("pyav")
class PyAVReader(SeekingReader):
    def __init__(self, path: str, index: FrameIndex):
        super().__init__(path, index)
        if av is None:
            raise ImportError("backend 'pyav' needs the package `av` (pip install av)")
        self._container = None
        self._open()
        first = self._first_frame()
        # Rotation metadata (display matrix): PyAV reports it per frame and does not apply it; OpenCV does, so
        # it is applied here too and every backend gives the same upright frames.
        self._rot90 = int(round(float(getattr(first, "rotation", 0) or 0) / 90.0)) % 4
        h, w = first.height, first.width
        width, height = (h, w) if self._rot90 % 2 else (w, h)
        self.info = reader_info(path, index, width, height, self.name)
        self._pending, self._cursor = (0, first), 0  # the decoder stands after the first picture

    def _open(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container = av.open(self.path)
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._tb = float(self._stream.time_base)
        self._iter = self._container.decode(self._stream)

    def _first_frame(self):
        try:
            return next(self._iter)
        except (StopIteration, av.error.FFmpegError) as exc:
            self._container.close()
            raise BackendCannotDecode(f"PyAV cannot decode {self.index.codec} here ({exc})") from None

    def _seek(self, seconds: Optional[float]) -> None:
        if seconds is None:  # from the start: reopen (seeking back to 0 fails in some containers)
            self._open()
            return
        target = self.index.start + seconds
        try:
            self._container.seek(int(round(target / self._tb)), stream=self._stream, backward=True, any_frame=False)
        except av.error.FFmpegError:
            self._open()
            return
        self._iter = self._container.decode(self._stream)

    def _next(self) -> Optional[Tuple[Optional[float], Any]]:
        try:
            frame = next(self._iter)
        except (StopIteration, av.error.FFmpegError):
            return None
        t = None if frame.pts is None else frame.pts * self._tb - self.index.start
        return t, frame

    def _rgb(self, handle: Any) -> np.ndarray:
        rgb = handle.to_ndarray(format="rgb24")
        return np.ascontiguousarray(np.rot90(rgb, self._rot90)) if self._rot90 else rgb

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
