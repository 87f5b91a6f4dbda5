"""A video's frames as the file holds them, read from the demuxer (packet timestamps, no decoding).

Container frame counts are estimates (duration x rate, edit lists, B-frame delay) or absent (Matroska, WebM,
Ogg, MPEG-TS, FLV), so every backend takes its frame count, frame times and rate from this index instead:
one entry per picture packet (empty packets such as AVI drop chunks and packets an edit list discards are
not pictures), sorted by presentation time. The index also keeps what the container announces, so a file
cut short is recognised by evidence (`truncation`), not by a header estimate. Building it reads the
packets once (0.2 s for a 10-minute 720p H.264 file); it is cached per (path, size, mtime).

Truncation rule: a file is truncated when the pictures it holds end before what the container announces by
more than `TRUNCATION_FRAMES` frames *and* more than `TRUNCATION_SECONDS` seconds (both, so neither a header
that rounds its frame count nor one that rounds its duration refuses a good file), or when the demuxer flags
its last packet as corrupt (cut inside it). Containers that announce nothing reliable (MPEG-TS/PS, FLV, Ogg, GIF)
are judged by decoding alone: an MPEG-TS file cut at a packet boundary is, byte for byte, a shorter recording,
and is classified as one. Pictures at the very end that do not decode (up to `reader.END_SLACK`) correct the
index instead of refusing the file (see `VideoReader.check_end`).
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Optional, Tuple

import numpy as np

from videohub.errors import NoVideoFramesError, TruncatedVideoError, UnsupportedInputError, VideoOpenError

TRUNCATION_FRAMES = 2
TRUNCATION_SECONDS = 0.1
# Container formats whose announced length is an estimate (bit-rate, metadata), never evidence of truncation.
UNANNOUNCED_FORMATS = ("mpegts", "mpeg", "flv", "gif", "ogg", "image2", "h264", "hevc", "m4v")
VFR_TOLERANCE = 0.01      # relative spread of frame gaps above which the rate counts as variable
CACHE_SIZE = 64


@dataclass(frozen=True)
class FrameIndex:
    path: str
    times: np.ndarray             # presentation time of each picture, seconds from the first one, sorted
    start: float                  # the first picture's absolute time (s)
    stream_start: float           # the stream's start_time (s): backends that report times relative to it
    rate: float                   # frames per second the samplers use (the stream's rate when constant)
    variable_rate: bool
    end: float                    # last picture's time + its duration (s), relative to the first picture
    announced_frames: int         # what the header says (0: nothing)
    announced_end: Optional[float]  # seconds the container announces (None: nothing usable)
    codec: str
    pixel_format: str
    container: str
    width: int
    height: int
    rotation: int                 # counter-clockwise degrees that make frames upright (display matrix)
    keyframes: np.ndarray = field(default_factory=lambda: np.zeros(0))  # key frame times (s), sorted
    discarded: int = 0            # packets an edit list hides
    empty: int = 0                # packets without data (AVI drop chunks)
    last_corrupt: bool = False    # the demuxer flagged the last packet as corrupt (cut inside it)

    @property
    def num_frames(self) -> int:
        return int(self.times.size)

    @property
    def duration(self) -> float:
        return self.end

    @classmethod
    def regular(cls, path: str, num_frames: int, rate: float, width: int, height: int,
                codec: str = "", container: str = "") -> "FrameIndex":
        """The index of frames at a constant `rate`, for backends that know their frames themselves."""
        times = np.arange(int(num_frames), dtype=np.float64) / float(rate)
        return cls(path=path, times=times, start=0.0, stream_start=0.0, rate=float(rate), variable_rate=False,
                   end=float(num_frames) / float(rate), announced_frames=int(num_frames),
                   announced_end=float(num_frames) / float(rate), codec=codec, pixel_format="rgb24",
                   container=container, width=int(width), height=int(height), rotation=0, keyframes=times[:1])

    def keyframe_before(self, seconds_from_first: float) -> Optional[float]:
        """The time of the last key frame at or before `seconds_from_first` (None: none before it)."""
        i = int(np.searchsorted(self.keyframes, seconds_from_first + 1e-6, side="right")) - 1
        return float(self.keyframes[i]) if i >= 0 else None

    def position_of(self, seconds_from_first: float) -> int:
        """The index of the picture shown at `seconds_from_first` (the last one at or before it)."""
        i = int(np.searchsorted(self.times, seconds_from_first + 1e-6, side="right")) - 1
        return min(max(i, 0), self.num_frames - 1)

    def nearest(self, seconds_from_first: float) -> Tuple[int, float]:
        """(index, |distance| in seconds) of the picture whose time is nearest."""
        i = int(np.searchsorted(self.times, seconds_from_first))
        best = min((j for j in (i - 1, i) if 0 <= j < self.num_frames),
                   key=lambda j: abs(self.times[j] - seconds_from_first))
        return best, abs(float(self.times[best]) - seconds_from_first)

    def shortfall(self) -> Tuple[int, float]:
        """(frames, seconds) the pictures held fall short of what the container announces (0 when it does not)."""
        frames = max(0, self.announced_frames - self.num_frames) if self.announced_frames else 0
        seconds = max(0.0, self.announced_end - self.end) if self.announced_end is not None else 0.0
        return frames, seconds

    def truncation(self) -> Optional[str]:
        """Why the file counts as cut short, or None (see the module docstring for the rule)."""
        if self.last_corrupt:
            return f"its last packet is incomplete (at {self.end:.2f} s, frame {self.num_frames}): the file is cut short"
        if self.container.split(",")[0] in UNANNOUNCED_FORMATS:
            return None
        frames, seconds = self.shortfall()
        frame_gap = 1.0 / self.rate if self.rate > 0 else 0.04
        missing_frames = frames if self.announced_frames else int(round(seconds / frame_gap))
        if missing_frames > TRUNCATION_FRAMES and seconds > max(TRUNCATION_SECONDS, TRUNCATION_FRAMES * frame_gap):
            return (f"the container announces {self.announced_end:.2f} s"
                    + (f" ({self.announced_frames} frames)" if self.announced_frames else "")
                    + f" but its pictures end at {self.end:.2f} s ({self.num_frames} frames): the file is cut short")
        return None

    def facts(self) -> dict:
        frames, seconds = self.shortfall()
        return {"frames": self.num_frames, "announced_frames": self.announced_frames,
                "duration": round(self.end, 3), "announced_duration": None if self.announced_end is None
                else round(self.announced_end, 3), "fps": round(self.rate, 3), "variable_rate": self.variable_rate,
                "codec": self.codec, "pixel_format": self.pixel_format, "container": self.container,
                "width": self.width, "height": self.height, "rotation": self.rotation,
                "shortfall_frames": frames, "shortfall_seconds": round(seconds, 3)}


def _av():
    try:
        import av  # optional: the frame index needs PyAV's demuxer
    except ImportError as exc:
        raise UnsupportedInputError("the frame index needs the package `av` (pip install av)") from exc
    return av


def _rotation(stream) -> int:
    """Counter-clockwise degrees from the stream's display matrix (0 when none)."""
    try:
        matrix = stream.side_data.get("DISPLAYMATRIX") if hasattr(stream, "side_data") else None
    except Exception:  # noqa: BLE001 - side data is optional; frames report it too
        matrix = None
    if matrix is None:
        return 0
    return int(round(float(matrix) / 90.0)) * 90 % 360


def _duration_tag(stream) -> Optional[float]:
    """A track's `DURATION` tag (Matroska/WebM muxers write one per track: "HH:MM:SS.nnnnnnnnn"), seconds."""
    text = (stream.metadata or {}).get("DURATION") or (stream.metadata or {}).get("duration")
    try:
        h, m, sec = str(text).strip().split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except (ValueError, AttributeError):
        return None


def _container_announced_end(container, stream, first_picture: float) -> Optional[float]:
    """What a container without a per-stream duration announces of the pictures' end, counted from the first
    picture like `FrameIndex.times`. Its duration spans every stream from the container's start: the video's
    own part only when the video is the sole stream; beside other streams (sound that starts earlier or lasts
    longer) it says nothing of the pictures, and only the track's `DURATION` tag does."""
    start = (container.start_time or 0) / 1e6
    lead = max(0.0, first_picture - start)  # pictures that start after the container does (sound first)
    if len(container.streams) == 1:
        return max(0.0, container.duration / 1e6 - lead)
    tagged = _duration_tag(stream)
    return None if tagged is None else max(0.0, tagged - lead)


def build_frame_index(path: str) -> FrameIndex:
    """Demux every packet of the first video stream; raises VideoOpenError / NoVideoFramesError."""
    av = _av()
    try:
        container = av.open(path)
    except Exception as exc:  # noqa: BLE001 - every failure to open is "not a video we can read"
        raise VideoOpenError(f"cannot open {path!r} as a video: {exc}") from exc
    with container:
        if not container.streams.video:
            if container.streams.audio:  # audio only
                raise NoVideoFramesError(f"{path!r} has no video stream")
            raise VideoOpenError(f"cannot open {path!r} as a video: it holds no streams (not a video, or an mp4 "
                                 "cut short before its index)")
        st = container.streams.video[0]
        tb = float(st.time_base) if st.time_base else 1.0 / 90000
        pts: list = []
        keys: list = []
        empty = discarded = 0
        last_corrupt = False
        last_stamp, last_duration = None, 0
        # only mp4/mov edit lists mark packets as discarded; skipping the check elsewhere keeps the loop cheap
        edit_lists = (container.format.name if container.format else "").startswith("mov")
        append, append_key = pts.append, keys.append
        try:
            for pkt in container.demux(st):
                if not pkt.size:
                    empty += pkt.pts is not None or pkt.dts is not None
                    continue
                if edit_lists and pkt.is_discard:
                    discarded += 1
                    continue
                stamp = pkt.pts
                if stamp is None:
                    stamp = pkt.dts if pkt.dts is not None else (pts[-1] + 1 if pts else 0)
                append(stamp)
                if pkt.is_keyframe:
                    append_key(stamp)
                if last_stamp is None or stamp > last_stamp:
                    last_stamp, last_duration = stamp, pkt.duration or 0
                last = pkt
            last_corrupt = bool(pts) and bool(last.is_corrupt)
        except av.error.FFmpegError:  # a file cut short may end in a read error: what was read is the index
            pass
        if not pts:
            promised = (float(st.duration * st.time_base) if st.duration and st.time_base
                        else (container.duration or 0) / 1e6)
            if promised > 0 and (container.format.name if container.format else "").split(",")[0] \
                    not in UNANNOUNCED_FORMATS:
                raise TruncatedVideoError(f"{path!r} announces {promised:.2f} s of video but holds no complete "
                                          "frame: the file is cut short")
            raise NoVideoFramesError(f"{path!r} has no video frames")
        ticks = np.sort(np.asarray(pts, dtype=np.int64))
        times = (ticks - ticks[0]).astype(np.float64) * tb
        stream_rate = float(st.average_rate or st.guessed_rate or 0.0)
        gaps = np.diff(ticks)
        variable = bool(gaps.size > 1 and (gaps.max() - gaps.min()) > max(1, VFR_TOLERANCE * np.median(gaps)))
        span_rate = (times.size - 1) / times[-1] if times.size > 1 and times[-1] > 0 else 0.0
        rate = stream_rate if (stream_rate > 0 and not variable) else (span_rate or stream_rate or 25.0)
        last_duration = last_duration * tb if last_duration > 0 else 1.0 / rate
        fmt = container.format.name if container.format else ""
        announced_end = None
        if st.duration and st.time_base:
            announced_end = float(st.duration * st.time_base)
            if st.start_time is not None:  # the stream's duration counts from its start, like `times`
                announced_end -= max(0.0, float(ticks[0] - st.start_time) * tb)
        elif container.duration:
            announced_end = _container_announced_end(container, st, float(ticks[0]) * tb)
        if st.frames and stream_rate > 0:  # a header frame count (AVI) announces an end too
            announced_end = max(announced_end or 0.0, int(st.frames) / stream_rate)
        ctx = st.codec_context
        return FrameIndex(
            path=path, times=times, start=float(ticks[0]) * tb,
            stream_start=float(st.start_time) * tb if st.start_time is not None else float(ticks[0]) * tb,
            rate=float(rate), variable_rate=variable, end=float(times[-1] + last_duration),
            announced_frames=int(st.frames or 0), announced_end=announced_end,
            codec=str(ctx.name or ""), pixel_format=str(ctx.pix_fmt or ""), container=fmt,
            width=int(ctx.width or 0), height=int(ctx.height or 0), rotation=_rotation(st),
            keyframes=np.sort((np.asarray(keys, dtype=np.int64) - ticks[0]).astype(np.float64) * tb),
            discarded=discarded, empty=int(empty), last_corrupt=last_corrupt)


_CACHE: "OrderedDict[Tuple[str, int, int], FrameIndex]" = OrderedDict()
_LOCK = threading.Lock()


def frame_index(path: str) -> FrameIndex:
    """The index of a file, cached per (path, size, mtime): a file changed on disk is indexed again."""
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    index = build_frame_index(path)
    with _LOCK:
        _CACHE[key] = index
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return index


def check_complete(index: FrameIndex) -> None:
    """Raise TruncatedVideoError when the index shows the file was cut short."""
    reason = index.truncation()
    if reason:
        raise TruncatedVideoError(f"{index.path!r}: {reason}")
