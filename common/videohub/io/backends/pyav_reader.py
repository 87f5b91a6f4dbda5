"""PyAV (FFmpeg) backend: seeks by timestamp to the key frame before a target and decodes forward."""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from videohub.errors import NoVideoFramesError, TruncatedVideoError, UnsupportedInputError, VideoOpenError
from videohub.io.reader import SEEK_THRESHOLD, FrameTransform, VideoInfo, VideoReader, register_backend


@register_backend("pyav")
class PyAVReader(VideoReader):
    """PyAV (FFmpeg) backend: seeks by timestamp to the key frame before a target and decodes forward."""


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


