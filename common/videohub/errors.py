"""Errors that describe why one input could not be processed. Each becomes a per-item error record."""
from __future__ import annotations

import os
from typing import Dict, Union


class VideoHubError(Exception):
    """Base class: a problem with one input (the rest of a batch still runs)."""


class InputNotFoundError(VideoHubError, FileNotFoundError):
    pass


class NotAFileError(VideoHubError):
    pass


class EmptyFileError(VideoHubError):
    pass


class VideoOpenError(VideoHubError):
    """The file is not a video any backend can open (unknown container, unsupported codec, not a video)."""


class NoVideoFramesError(VideoHubError):
    """The container opened but holds no decodable video frames (audio-only, zero frames)."""


class TooFewFramesError(VideoHubError):
    """The video is shorter than the model's declared minimum."""


class TruncatedVideoError(VideoHubError):
    """Frames the container announces cannot be decoded (cut-off download, damaged file)."""


class UnsupportedInputError(VideoHubError):
    """An input of a kind this module does not take (e.g. a URL with network access off)."""


class WeightsNotFoundError(RuntimeError):
    """A module's weights are not installed; the message says how to get them."""


def error_record(exc: BaseException) -> Dict[str, str]:
    """JSON-safe description of an error, placed in a result item as `{"error": {...}}`."""
    return {"type": type(exc).__name__, "message": str(exc)}


def check_local_file(path: Union[str, "os.PathLike[str]"], url_hint: str = "download it first") -> str:
    """Validate a local input file before reading it; raises the specific error for each bad case."""
    p = str(path)
    if "://" in p:
        scheme = p.split("://", 1)[0].lower()
        raise UnsupportedInputError(f"{p!r} is a {scheme} URL; this module reads local files only ({url_hint})")
    if not os.path.exists(p):
        raise InputNotFoundError(f"no such file: {p!r}")
    if os.path.isdir(p):
        raise NotAFileError(f"{p!r} is a directory, not a file")
    if not os.path.isfile(p):
        raise NotAFileError(f"{p!r} is not a regular file")
    if os.path.getsize(p) == 0:
        raise EmptyFileError(f"{p!r} is empty (0 bytes)")
    return p
