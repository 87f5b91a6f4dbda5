"""The video reader interface, the backend registry and `open_video`.

`open_video(path)` checks the file, opens it with a backend (OpenCV by default) and exposes duration, fps,
frame count and size. `get_frames(indices, transform)` decodes only the requested frames, applying
`transform` (e.g. a resize) to each right after decoding, so memory is bounded by what is sampled, never by
the video's length. Backends live in `videohub/io/backends/`, one file each, registered by name with
`@register_backend`; they are discovered when a reader is first opened.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Type, Union

import numpy as np

from videohub.io.files import check_video_path

FrameTransform = Callable[[np.ndarray], np.ndarray]

# A forward gap larger than this is crossed by seeking instead of decoding through it. Seeking lands on a
# key frame and decodes forward, so small gaps are cheaper to walk.
SEEK_THRESHOLD = 48
DEFAULT_BACKEND = "opencv"
BACKENDS_PACKAGE = "videohub.io.backends"


@dataclass(frozen=True)
class VideoInfo:
    path: str
    num_frames: int
    fps: float
    width: int
    height: int
    backend: str

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps if self.fps > 0 else 0.0

    def as_dict(self) -> Dict[str, object]:
        return {"num_frames": self.num_frames, "fps": self.fps, "duration": round(self.duration, 3),
                "width": self.width, "height": self.height, "backend": self.backend}


class VideoReader:
    """Base class of the backends. Use as a context manager."""

    name = "base"

    def __init__(self, path: str):
        self.path = path
        self.info: VideoInfo

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

    def _decode_sorted(self, indices: np.ndarray, transform: Optional[FrameTransform]) -> Dict[int, np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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


def open_video(path: Union[str, os.PathLike], backend: str = DEFAULT_BACKEND) -> VideoReader:
    """Open a local video with the named backend after checking the path."""
    p = check_video_path(path)
    known = backends()
    if backend not in known:
        raise ValueError(f"unknown video backend {backend!r}; choose from {', '.join(known)}")
    return known[backend](p)
