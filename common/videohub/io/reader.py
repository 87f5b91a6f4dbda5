"""The video reader interface, the backend registry and `open_video`.

`open_video(path)` checks the file, builds its frame index (`videohub.io.frame_index`: the pictures the file
holds, from the demuxer), refuses a file cut short, and opens it with a backend (OpenCV by default). Every
backend takes its frame count, rate and frame times from that index, so all of them number the same pictures
the same way. `get_frames(indices, transform)` decodes only the requested frames (seek to the key frame
before, decode forward), applying `transform` (e.g. a resize) to each right after decoding, so memory is
bounded by what is sampled, never by the video's length.

A backend that cannot decode a file's codec (OpenCV's FFmpeg has no AV1 decoder; decord reads no GIF, MPEG-TS
or Ogg) raises `BackendCannotDecode`; `open_video` then uses the next installed backend that can, and the
reader's `fallback` says why. Backends live in `videohub/io/backends/`, one file each, registered by name with
`@register_backend`; they are discovered when a reader is first opened.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
from dataclasses import dataclass, replace
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Type, Union

import numpy as np

from videohub.errors import TruncatedVideoError, VideoOpenError
from videohub.io.files import check_video_path
from videohub.io.frame_index import FrameIndex, check_complete, frame_index

FrameTransform = Callable[[np.ndarray], np.ndarray]

# A forward gap larger than this is crossed by seeking instead of decoding through it, when a key frame lies
# in the gap. Seeking lands on a key frame and decodes forward, so small gaps are cheaper to walk.
SEEK_THRESHOLD = 48
DEFAULT_BACKEND = "opencv"
BACKENDS_PACKAGE = "videohub.io.backends"
FALLBACK_ORDER = ("opencv", "pyav", "decord")
# Pictures at the very end that may fail to decode (an incomplete last packet, a reference past the end) in a
# file that is otherwise whole: the index is corrected instead of refusing the file.
END_SLACK = 3


class BackendCannotDecode(VideoOpenError):
    """This backend cannot decode this file (its codec or container); another backend may."""


@dataclass(frozen=True)
class VideoInfo:
    path: str
    num_frames: int
    fps: float
    width: int
    height: int
    backend: str
    end: float = 0.0        # seconds the pictures span (from the frame index); 0: frames / fps

    @property
    def duration(self) -> float:
        if self.end > 0:
            return self.end
        return self.num_frames / self.fps if self.fps > 0 else 0.0

    def as_dict(self) -> Dict[str, object]:
        return {"num_frames": self.num_frames, "fps": self.fps, "duration": round(self.duration, 3),
                "width": self.width, "height": self.height, "backend": self.backend}


class VideoReader:
    """Base class of the backends: `_decode_sorted(indices, transform)` decodes sorted unique frame indices of
    the frame index. Use as a context manager. A backend that reads formats FFmpeg's demuxer does not know
    overrides `index_of` to give their frame index (see `FrameIndex.regular`)."""

    name = "base"
    # Whether `check_end` may run after other frames were decoded (it cannot refuse the backend itself, only
    # the file): `open_video(..., check_end=False)` then leaves it to the caller, who may read on to the end
    # instead of decoding the end separately.
    end_check_deferrable = False

    def __init__(self, path: str, index: Optional[FrameIndex] = None):
        self.path = path
        self.index = index
        self.info: VideoInfo
        self.fallback: Optional[str] = None  # why another backend than the requested one reads this file
        self.end_pending = False  # `check_end` is still to run (opened with check_end=False)

    @classmethod
    def index_of(cls, path: str) -> FrameIndex:
        """The frame index of a file (by default from FFmpeg's demuxer, cached)."""
        return frame_index(path)

    def _decode_sorted(self, indices: np.ndarray, transform: Optional[FrameTransform]) -> Dict[int, np.ndarray]:
        raise NotImplementedError

    def get_frames(self, indices: Sequence[int], transform: Optional[FrameTransform] = None) -> List[np.ndarray]:
        """RGB uint8 frames for `indices` (any order, repeats allowed), each passed through `transform`."""
        wanted = np.asarray(indices, dtype=np.int64)
        if wanted.size == 0:
            return []
        n = self.info.num_frames
        # PaddleVideo's SlowFast sampler may ask for index n; treat it as the last frame.
        wanted = np.clip(wanted, 0, n - 1)
        unique = np.unique(wanted)
        decoded = self._decode_sorted(unique, transform)
        return [decoded[int(i)] for i in wanted]

    def check_end(self) -> None:
        """The last frame must decode (else the file is truncated)."""
        self._decode_sorted(np.array([self.info.num_frames - 1]), None)
        self.end_pending = False

    def close(self) -> None:
        pass

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SeekingReader(VideoReader):
    """A backend that seeks and decodes forward (OpenCV, PyAV).

    It implements `_seek(seconds)` (the next frame decoded is the key frame at `seconds` from the first
    picture, a key frame time of the index; None: reopen at the start), `_next()` (the next decoded frame as
    `(seconds from the first picture or None, handle)`, None at the end) and `_rgb(handle)` (uint8 RGB,
    upright). Frame i is the i-th picture the decoder outputs: after a seek, the first frame is placed by its
    time in the index, the following ones by counting (AVI stamps packets in decode order, and some files'
    timestamps are not in output order, so only a key frame's time is trusted).
    """

    end_check_deferrable = True
    # Frames a seek backs off before the key frame it is given: the backend's seek then decodes from the key
    # frame before that point (OpenCV: 16). Seeking pays only where that key frame lies past the cursor.
    seek_backoff_frames = 0

    def __init__(self, path: str, index: FrameIndex):
        super().__init__(path, index)
        self._pending: Optional[Tuple[int, Any]] = None  # a decoded frame not consumed yet
        self._cursor: Optional[int] = None  # position of the next frame `_positioned()` yields

    # ------------------------------------------------------------------ backend primitives
    def _seek(self, seconds: Optional[float]) -> None:
        raise NotImplementedError

    def _next(self) -> Optional[Tuple[Optional[float], Any]]:
        raise NotImplementedError

    def _rgb(self, handle: Any) -> np.ndarray:
        raise NotImplementedError

    # ------------------------------------------------------------------ positions
    def _position(self, seconds: Optional[float]) -> Optional[int]:
        if seconds is None:
            return None
        pos, dist = self.index.nearest(seconds)
        times = self.index.times
        if times.size < 2:
            half_gap = 0.5
        else:  # half the gap to the next picture (the previous one for the last picture)
            j = min(pos, times.size - 2)
            half_gap = 0.5 * float(times[j + 1] - times[j])
        return pos if dist <= max(half_gap, 1e-3) else None

    def _seek_before(self, idx: int) -> None:
        """Seek so that the next frames lead up to `idx`: the first frame decoded must not lie past it.
        A key frame at or before the target, then earlier ones, then the start (some containers, e.g.
        MPEG-TS, do not seek reliably; reading from the start always works)."""
        target = float(self.index.times[idx])
        tried = set()
        for back in (0.0, 1.0, 5.0, None):
            key = None if back is None else self.index.keyframe_before(max(0.0, target - back))
            if key in tried or (key is not None and key <= 0.0):
                key = None
            if key in tried:
                continue
            tried.add(key)
            self._seek(key)
            got = self._next()
            if got is None:
                continue
            pos = 0 if key is None else self._position(got[0])
            if pos is not None and pos <= idx:
                self._pending, self._cursor = (pos, got[1]), pos
                return
        raise TruncatedVideoError(f"frame {idx} of {self.info.num_frames} in {self.path!r} could not be reached "
                                  "(the file is damaged)")

    def _seek_start(self, key: float) -> Optional[float]:
        """Where decoding starts when seeking to the key frame at `key` seconds (None: the file's start)."""
        if not self.seek_backoff_frames:
            return key
        back = max(0, self.index.position_of(key) - self.seek_backoff_frames)
        return self.index.keyframe_before(float(self.index.times[back]))

    def _seek_skips_frames(self, idx: int) -> bool:
        """Whether seeking towards `idx` starts decoding past the cursor: otherwise a seek would decode again,
        from an earlier key frame, frames that reading on decodes once."""
        key = self.index.keyframe_before(float(self.index.times[idx]))
        start = None if key is None else self._seek_start(key)
        return start is not None and start > float(self.index.times[self._cursor])

    def _positioned(self) -> Iterator[Tuple[int, Any]]:
        """Decoded frames with their positions, from the last seek on."""
        while True:
            if self._pending is not None:
                item, self._pending = self._pending, None
            else:
                got = self._next()
                if got is None:
                    return
                item = (self._cursor, got[1])
            self._cursor = item[0] + 1
            yield item

    def _decode_sorted(self, indices: np.ndarray, transform: Optional[FrameTransform]) -> Dict[int, np.ndarray]:
        out: Dict[int, np.ndarray] = {}
        for idx in indices.tolist():
            if self._cursor is None or idx < self._cursor or (idx - self._cursor > SEEK_THRESHOLD
                                                               and self._seek_skips_frames(idx)):
                self._seek_before(idx)
            for pos, handle in self._positioned():
                if pos >= idx:
                    break
            else:
                raise TruncatedVideoError(f"frame {idx} of {self.info.num_frames} in {self.path!r} could not be "
                                          "decoded (the file ends early or is damaged)")
            rgb = self._rgb(handle)
            out[idx] = transform(rgb) if transform else rgb
        return out

    def check_end(self) -> None:
        """Decode the last pictures: a file whose last `END_SLACK` pictures fail to decode is whole but for an
        incomplete end, and its index is corrected; one whose end does not decode at all is truncated."""
        n = self.info.num_frames
        if self._cursor is not None and self._cursor >= n:  # the last picture was just decoded
            self.end_pending = False
            return
        first = max(0, n - 1 - END_SLACK)
        last_good = None
        try:
            if self._cursor is None or first < self._cursor or self._seek_skips_frames(first):
                self._seek_before(first)
            # else: read on from the frames decoded last (no key frame between: a seek would decode them again)
            for pos, _ in self._positioned():
                if pos >= n:
                    break
                last_good = pos
        except TruncatedVideoError:  # nothing decodes near the end: judged below
            pass
        if last_good is None or last_good < first:
            raise TruncatedVideoError(f"the last frames of {self.path!r} (from {first} of {n}) could not be decoded "
                                      "(the file ends early or is damaged)")
        if last_good < n - 1:
            times = self.index.times[: last_good + 1]
            end = float(times[-1]) + (float(self.index.times[last_good + 1] - times[-1]))
            self.index = replace(self.index, times=times, end=end)
            self.info = replace(self.info, num_frames=last_good + 1, end=end)
        self._cursor = None
        self.end_pending = False


_BACKENDS: Dict[str, Type[VideoReader]] = {}


def register_backend(name: str) -> Callable[[Type[VideoReader]], Type[VideoReader]]:
    """Class decorator: make a `VideoReader` subclass available as `backend=name`."""

    def wrap(cls: Type[VideoReader]) -> Type[VideoReader]:
        if _BACKENDS.get(name, cls) is not cls:
            raise ValueError(f"video backend {name!r} registered twice")
        cls.name = name
        _BACKENDS[name] = cls
        return cls

    return wrap


def backends() -> Dict[str, Type[VideoReader]]:
    """Every registered backend by name (the files of `videohub/io/backends/` are imported on first use)."""
    package = importlib.import_module(BACKENDS_PACKAGE)
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{BACKENDS_PACKAGE}.{info.name}")
    return dict(_BACKENDS)


def open_video(path: Union[str, os.PathLike], backend: str = DEFAULT_BACKEND, fallback: bool = True,
               check_end: bool = True) -> VideoReader:
    """Open a local video: check the path, index it, refuse it if cut short, then open it with `backend` (or,
    with `fallback`, the first other installed backend that can decode it). Its last frames are checked; with
    `check_end=False`, by a reader whose check may wait (`end_check_deferrable`), the caller runs
    `reader.check_end()` itself while `reader.end_pending` (after decoding what it needs, so that the check
    reads on from there; see `videohub.io.preprocess.decode_sampled`)."""
    p = check_video_path(path)
    known = backends()
    if backend not in known:
        raise ValueError(f"unknown video backend {backend!r}; choose from {', '.join(known)}")
    index = known[backend].index_of(p)
    check_complete(index)
    order = [backend] + ([b for b in FALLBACK_ORDER if b in known and b != backend] if fallback else [])
    reasons: List[str] = []
    for name in order:
        try:
            reader = known[name](p, known[name].index_of(p))
        except BackendCannotDecode as exc:
            reasons.append(f"{name}: {exc}")
            continue
        except ImportError as exc:  # an optional backend that is not installed
            reasons.append(f"{name}: not installed ({exc})")
            continue
        try:
            if check_end or not reader.end_check_deferrable:
                reader.check_end()
            else:
                reader.end_pending = True
        except BackendCannotDecode as exc:
            reader.close()
            reasons.append(f"{name}: {exc}")
            continue
        except BaseException:
            reader.close()
            raise
        if name != backend:
            reader.fallback = f"{backend} cannot decode it ({reasons[0].split(': ', 1)[1]}); read with {name}"
        return reader
    raise VideoOpenError(f"no installed video backend decodes {p!r} ({index.codec} in {index.container}): "
                         + "; ".join(reasons) + (". PyAV (pip install av) decodes most codecs, AV1 included"
                                                 if "pyav" not in known else ""))


def reader_info(path: str, index: FrameIndex, width: int, height: int, backend: str) -> VideoInfo:
    """A backend's `VideoInfo`: frame count and rate from the index, size from the backend (upright)."""
    return VideoInfo(path, index.num_frames, index.rate, int(width), int(height), backend, index.end)
