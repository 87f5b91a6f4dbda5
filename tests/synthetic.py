"""Tiny videos made by the tests themselves."""
from __future__ import annotations

from pathlib import Path
from fractions import Fraction
from typing import Dict, Optional, Sequence, Tuple

import cv2
import numpy as np


BITS = 8


def index_frame(i: int, w: int, h: int) -> np.ndarray:
    """Frame i shows the bits of i as black/white vertical stripes (robust to lossy coding)."""
    frame = np.zeros((h, w, 3), np.uint8)
    stripe = w // BITS
    for b in range(BITS):
        if (i >> b) & 1:
            frame[:, b * stripe:(b + 1) * stripe] = 255
    return frame


def write_video(path: Path, num_frames: int = 40, size: Tuple[int, int] = (64, 48), fps: float = 25.0,
                fourcc: str = "mp4v", color: bool = True, pattern: str = "index") -> Path:
    """Write a video whose frame i is flat grey `frame_value(i)` (pattern 'index') or moving stripes."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h), isColor=color)
    assert writer.isOpened(), f"cannot write {path} with {fourcc}"
    for i in range(num_frames):
        if pattern == "index":
            frame = index_frame(i, w, h)
        else:  # a bar moving right: gives motion to classify
            frame = np.zeros((h, w, 3), np.uint8)
            x = (i * 3) % w
            frame[:, x:x + max(w // 8, 1)] = (255, 200, 50)
        writer.write(frame if color else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))
    writer.release()
    return path


def decoded_index(frame: np.ndarray) -> int:
    """Inverse of index_frame for a decoded frame (any size, since stripes scale with the frame)."""
    w = frame.shape[1]
    stripe = w // BITS
    value = 0
    for b in range(BITS):
        if frame[:, b * stripe + stripe // 4:(b + 1) * stripe - stripe // 4].mean() > 127:
            value |= 1 << b
    return value


def write_pyav_video(path: Path, frames: Sequence[np.ndarray], rate: int = 25, pts: Optional[Sequence[int]] = None,
                     time_base: Optional[Fraction] = None, rotate: Optional[int] = None,
                     options: Optional[Dict[str, str]] = None, codec: str = "mpeg4", pix_fmt: str = "yuv420p",
                     codec_options: Optional[Dict[str, str]] = None) -> Path:
    """`codec` (mpeg4 by default) through PyAV, the container from the suffix; `frames` RGB uint8. `pts` (in
    `time_base` units) makes variable frame rates or, in AVI, empty frame slots; `rotate` (clockwise degrees)
    goes into the stream's display matrix, which counts the other way."""
    import av

    with av.open(str(path), "w", options=options or {}) as c:
        st = c.add_stream(codec, rate=rate, options=codec_options or {})
        st.height, st.width = frames[0].shape[:2]
        st.pix_fmt = pix_fmt
        if pts is not None:
            st.codec_context.time_base = time_base
            st.time_base = time_base
        if rotate is not None:
            st.set_display_rotation(-rotate)
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], time_base
            for pkt in st.encode(frame):
                c.mux(pkt)
        for pkt in st.encode():
            c.mux(pkt)
    return path
