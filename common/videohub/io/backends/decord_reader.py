"""decord backend (optional package)."""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from videohub.errors import NoVideoFramesError, TruncatedVideoError, UnsupportedInputError, VideoOpenError
from videohub.io.backends.opencv_reader import opencv_rotation
from videohub.io.reader import FrameTransform, VideoInfo, VideoReader, register_backend


@register_backend("decord")
class DecordReader(VideoReader):

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


