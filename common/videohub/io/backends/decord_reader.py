"""decord backend (optional package).

decord numbers the pictures itself and seeks by its own timestamps. It is used only where those agree with the
frame index; where they do not (AVI with B-frames and MPEG-PS carry no timestamps decord can use, an edit list
shifts its count) or it cannot open the container (GIF, MPEG-TS, Ogg, AV1), `open_video` falls back to another
backend and says so. decord 0.6 also drops the frames before the first key frame of MPEG-TS streams,
and converts 10-bit video to 8 bits its own way; both go to another backend.
"""
from __future__ import annotations

from typing import Dict, Optional

# PyAV's FFmpeg libraries are loaded before decord's: decord bundles an older libvpx, and loaded first its
# symbols make PyAV's VP8/VP9 encoders fail to open ("ABI version mismatch"), so no .webm could be written.
import av  # noqa: F401
import numpy as np

from videohub.errors import TruncatedVideoError
from videohub.io.backends.opencv_reader import opencv_rotation
from videohub.io.frame_index import FrameIndex
from videohub.io.reader import BackendCannotDecode, FrameTransform, VideoReader, reader_info, register_backend

try:
    import decord
except ImportError:  # optional backend
    decord = None

UNRELIABLE_CONTAINERS = ("mpegts", "mpeg")


@register_backend("decord")
class DecordReader(VideoReader):
    def __init__(self, path: str, index: FrameIndex):
        super().__init__(path, index)
        if decord is None:
            raise ImportError("backend 'decord' needs the package `decord` (pip install decord)")
        if opencv_rotation(path):  # decord 0.6 rotates the frame shape but not the pixels, then fails to copy
            raise BackendCannotDecode("decord cannot decode videos with rotation metadata")
        try:
            self._vr = decord.VideoReader(path, num_threads=1)
        except Exception as exc:  # noqa: BLE001 - decord raises its own error types
            raise BackendCannotDecode(f"decord cannot open {index.codec} in {index.container}: {exc}") from None
        if any(depth in index.pixel_format for depth in ("p10", "p12", "p16")):
            raise BackendCannotDecode(f"decord converts {index.pixel_format} to 8 bits unlike FFmpeg's "
                                      "converter (up to 99 levels apart)")
        if index.container.split(",")[0] in UNRELIABLE_CONTAINERS:
            raise BackendCannotDecode(f"decord 0.6 misreads {index.container} streams")
        if len(self._vr) != index.num_frames:
            raise BackendCannotDecode(f"decord counts {len(self._vr)} frames where the file holds "
                                      f"{index.num_frames} (edit list or empty frame slots)")
        stamps = self._vr.get_frame_timestamp(list(range(len(self._vr))))[:, 0].astype(np.float64)
        gaps = np.diff(index.times)
        tolerance = 0.5 * float(gaps.min()) if gaps.size else 0.5
        if not np.all(np.abs(stamps - stamps[0] - index.times) <= tolerance):
            raise BackendCannotDecode("decord has no usable timestamps for this file (its seeking would return "
                                      "wrong frames)")
        h, w = self._vr[0].shape[:2]
        self.info = reader_info(path, index, w, h, self.name)

    def _decode_sorted(self, indices: np.ndarray, transform: Optional[FrameTransform]) -> Dict[int, np.ndarray]:
        out = {}
        try:
            batch = self._vr.get_batch(indices.tolist()).asnumpy()
        except Exception as exc:  # noqa: BLE001
            raise TruncatedVideoError(f"frames of {self.path!r} could not be decoded: {exc}") from exc
        for i, frame in zip(indices.tolist(), batch):
            out[i] = transform(frame) if transform else frame
        return out

    def check_end(self) -> None:
        """decord fails on some valid streams (e.g. Cinepak at sizes that are not a multiple of 4); where it
        cannot decode the first and last frames, another backend reads the file."""
        try:
            self._vr.get_batch([0, self.info.num_frames - 1]).asnumpy()
        except Exception as exc:  # noqa: BLE001 - decord raises its own error types
            raise BackendCannotDecode(f"decord cannot decode this {self.index.codec} stream: "
                                      f"{str(exc).splitlines()[0][:200]}") from None
