"""Live sources read frame after frame: a webcam index, a stream URL, or a file read sequentially (no seeking)."""
from __future__ import annotations

from typing import Iterator, Optional, Union

import cv2
import numpy as np

from videohub.errors import VideoOpenError

StreamSource = Union[int, str]


class CaptureStream:
    """Frames read one after another from an OpenCV capture: a webcam index (0, 1, ...), a stream URL
    (rtsp://, http://, ... whatever this OpenCV's FFmpeg can open) or a local file. No seeking."""

    def __init__(self, source: StreamSource, fps: Optional[float] = None):
        self.source = source
        cap = cv2.VideoCapture(source) if isinstance(source, int) else cv2.VideoCapture(str(source), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            raise VideoOpenError(f"cannot open the stream {source!r}")
        self._cap = cap
        reported = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if fps is None:
            if not (0 < reported < 1000):
                cap.release()
                raise VideoOpenError(f"the stream {source!r} does not report its frame rate ({reported}); "
                                     "pass fps=")
            fps = reported
        self.fps = float(fps)
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)

    def frames(self) -> Iterator[np.ndarray]:
        """RGB uint8 frames until the stream ends (or the capture fails to deliver one)."""
        while True:
            ok, frame = self._cap.read()
            if not ok or frame is None:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> "CaptureStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
