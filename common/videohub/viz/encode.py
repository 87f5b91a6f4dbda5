"""Writing annotated videos with a real encoder (PyAV, FFmpeg's libraries), the format chosen by suffix:

- `.mp4`: H.264 (libx264, yuv420p, CRF 20, `+faststart` so a browser starts playing before the end arrives);
- `.webm`: VP9 (libvpx-vp9, realtime deadline, CRF 32) for browsers without H.264;
- `.gif`: each frame quantised to its own 256-colour palette (Pillow's median cut, no dithering); GIF holds
  frame delays in whole centiseconds, so its rate is the nearest one it can hold (25 fps exactly).

The frame rate is kept as given (an exact fraction for NTSC rates such as 24000/1001); a variable-rate source
is written at its average rate. yuv420p needs even sizes: an odd width or height gets one more column or row,
a copy of the last. The source's sound, when given, goes along (`videohub.viz.soundtrack`).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import av
import numpy as np
from PIL import Image

from videohub.viz.soundtrack import Soundtrack


@dataclass(frozen=True)
class Format:
    codec: str
    pix_fmt: str
    options: Dict[str, str]
    container_options: Dict[str, str]
    even: bool                # the pixel format needs even sizes


FORMATS: Dict[str, Format] = {
    ".mp4": Format("libx264", "yuv420p", {"preset": "veryfast", "crf": "20"}, {"movflags": "+faststart"}, True),
    ".webm": Format("libvpx-vp9", "yuv420p", {"deadline": "realtime", "cpu-used": "8", "row-mt": "1",
                                              "crf": "32", "b": "0"}, {}, True),
    ".gif": Format("gif", "pal8", {}, {}, False),
}


def output_format(path: Union[str, Path]) -> Format:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"cannot write {str(path)!r}: choose a file ending in {', '.join(FORMATS)}")
    fmt = FORMATS[suffix]
    try:
        av.codec.Codec(fmt.codec, "w")
    except Exception as exc:  # this PyAV build lacks the encoder: say so instead of writing something else
        raise ValueError(f"this PyAV build has no {fmt.codec} encoder for {suffix} ({exc}); "
                         f"choose another of {', '.join(FORMATS)}") from exc
    return fmt


def output_size(width: int, height: int, max_side: Optional[int] = None) -> Tuple[int, int]:
    """The written size: the original, or scaled (aspect kept) so its longer side is at most `max_side`."""
    if max_side is None or max(width, height) <= max_side:
        return width, height
    if max_side < 16:
        raise ValueError(f"max_side must be at least 16 pixels, got {max_side}")
    scale = max_side / max(width, height)
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def rate_fraction(fps: float) -> Fraction:
    """The frame rate as an exact fraction (29.97 -> 30000/1001)."""
    for f in (Fraction(round(fps)), Fraction(round(fps * 1.001) * 1000, 1001)):
        if f > 0 and abs(float(f) - fps) < 1e-3:
            return f
    return Fraction(fps).limit_denominator(100000)


def pal8_frame(rgb_frame: np.ndarray) -> av.VideoFrame:
    """One GIF frame: the picture quantised to its own 256-colour palette."""
    q = Image.fromarray(rgb_frame).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    colours = np.array(q.getpalette()[:768], np.uint8).reshape(-1, 3)
    palette = np.zeros((256, 4), np.uint8)
    palette[:, 0] = 255                     # PyAV's pal8 entries are (alpha, red, green, blue)
    palette[:len(colours), 1:] = colours
    return av.VideoFrame.from_ndarray((np.asarray(q, np.uint8), palette), format="pal8")


class VideoWriter:
    """`with VideoWriter(path, (w, h), fps) as w: w.write(rgb_frame)`; frames must have the given size.
    `sound_from=(source path, source time of the first picture)` adds the source's sound (`self.audio` says how)."""

    def __init__(self, path: Union[str, Path], size: Tuple[int, int], fps: float,
                 sound_from: Optional[Tuple[Union[str, Path], float]] = None):
        self.path = Path(path)
        self.format = output_format(self.path)
        self.size = tuple(int(s) for s in size)
        w, h = self.size
        self.coded = (w + w % 2, h + h % 2) if self.format.even else (w, h)
        self.frames = 0
        self._container = av.open(str(self.path), "w", options=dict(self.format.container_options))
        self._stream = self._container.add_stream(self.format.codec, rate=rate_fraction(fps),
                                                  options=dict(self.format.options))
        self._stream.width, self._stream.height = self.coded
        self._stream.pix_fmt = self.format.pix_fmt
        self.fps = float(fps)
        self._sound: Optional[Soundtrack] = None
        self.audio = "none"
        if sound_from is not None:
            try:
                self._sound = Soundtrack(self._container, self.path.suffix, *sound_from)
            except BaseException:
                self._container.close()
                raise
            self.audio = self._sound.description

    def write(self, frame: np.ndarray) -> None:
        if frame.shape[1::-1] != self.size or frame.dtype != np.uint8:
            raise ValueError(f"frame {frame.shape} {frame.dtype}; the writer takes uint8 {self.size[::-1]} x 3")
        pad_w, pad_h = self.coded[0] - self.size[0], self.coded[1] - self.size[1]
        if pad_w or pad_h:
            frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        vf = pal8_frame(frame) if self.format.pix_fmt == "pal8" else av.VideoFrame.from_ndarray(frame, "rgb24")
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        self.frames += 1
        if self._sound is not None:
            self._sound.mux_until(self.frames / self.fps)

    def close(self) -> None:
        if self._container is None:
            return
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            if self._sound is not None:
                self._sound.finish(self.frames / self.fps)
        finally:
            if self._sound is not None:
                self._sound.close()
            self._container.close()
            self._container = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
