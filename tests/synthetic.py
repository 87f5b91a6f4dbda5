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


SOUND_RATE = 16000


def write_video_with_sound(path: Path, audio_codec: str, video_start: float, seconds: float = 2.0, fps: int = 25,
                           video_end: Optional[float] = None, video_codec: str = "mpeg4",
                           video_options: Optional[Dict[str, str]] = None) -> Path:
    """`video_codec` pictures (64x48) from `video_start` to `video_end` (default: `seconds`) and a tone from 0 to
    `seconds`: 220 Hz before `video_start`, 440 Hz after; the container from the suffix."""
    import av

    t = np.arange(int(seconds * SOUND_RATE)) / SOUND_RATE
    tone = (0.5 * np.sin(2 * np.pi * np.where(t < video_start, 220.0, 440.0) * t) * 32767).astype(np.int16)
    with av.open(str(path), "w") as c:
        video = c.add_stream(video_codec, rate=fps, options=video_options or {})
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = c.add_stream(audio_codec, rate=SOUND_RATE)
        audio.layout = "mono"
        first, last = int(video_start * fps + 1e-6), int((video_end or seconds) * fps + 1e-6)
        for i in range(first, last):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 + i % 200, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in video.encode(frame):
                c.mux(packet)
        for start in range(0, tone.size, 1024):
            frame = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = SOUND_RATE, start, Fraction(1, SOUND_RATE)
            for packet in audio.encode(frame):
                c.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode():
                c.mux(packet)
    return path

