"""`annotate_video`: every frame of a video, in order, with the overlay of its time, encoded to a file.

Frames are decoded in small sequential chunks (memory: a few frames, whatever the video's length) at the
original size, or scaled down so the longer side is `max_side`; each frame's time comes from the file's frame
index (so windows line up with what `classify(window=...)` used). The source's sound goes along where the
format holds sound (`videohub.viz.soundtrack`), unless `keep_audio=False`.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Dict, Optional, Union

import cv2
import numpy as np

from videohub.io.reader import VideoReader
from videohub.viz.draw import paint_overlay
from videohub.viz.encode import VideoWriter, output_format, output_size
from videohub.viz.overlays import OverlayAt

CHUNK = 8  # frames decoded at a time
Progress = Callable[[int, int], None]  # (frames written, frames in all)


def frame_times(reader: VideoReader) -> np.ndarray:
    """Seconds of each frame from the first picture (the index's times; i / fps for frame arrays)."""
    if reader.index is not None:
        return np.asarray(reader.index.times[: reader.info.num_frames], np.float64)
    return np.arange(reader.info.num_frames, dtype=np.float64) / reader.info.fps


def annotate_video(reader: VideoReader, out_path: Union[str, Path], overlay_at: OverlayAt,
                   max_side: Optional[int] = None, progress: Optional[Progress] = None,
                   keep_audio: bool = True) -> Dict[str, object]:
    """Write `out_path` (.mp4, .webm or .gif): each frame of `reader` with `overlay_at(its time)` drawn, and the
    source's sound. Returns what was written: path, frames, size, fps, format, audio (copied, encoded or none,
    and why). A failure removes the partial file."""
    output_format(out_path)  # an unknown suffix fails before anything is decoded
    info = reader.info
    size = output_size(info.width, info.height, max_side)
    scale = None if size == (info.width, info.height) else (
        lambda f: cv2.resize(f, size, interpolation=cv2.INTER_AREA))
    times = frame_times(reader)
    n = int(times.size)
    out = Path(out_path)
    try:
        sound_from = (reader.path, reader.index.start) if keep_audio and reader.index is not None else None
        with VideoWriter(out, size, info.fps, sound_from) as writer:
            for first in range(0, n, CHUNK):
                idx = list(range(first, min(n, first + CHUNK)))
                for i, frame in zip(idx, reader.get_frames(idx, scale)):
                    writer.write(paint_overlay(frame, overlay_at(float(times[i])))[0])
                if progress is not None:
                    progress(idx[-1] + 1, n)
    except BaseException:
        with contextlib.suppress(OSError):
            out.unlink()
        raise
    return {"path": str(out), "frames": n, "width": size[0], "height": size[1], "fps": info.fps,
            "codec": writer.format.codec, "audio": writer.audio}
