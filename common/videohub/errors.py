"""Errors that describe why one input could not be processed. Each becomes a per-item error record."""
from __future__ import annotations

from typing import Dict


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


class FeatureFileError(UnsupportedInputError):
    """A feature file (YouTube-8M pickle, .npy, feature JSON) that cannot be read or lacks entries."""


class WeightsNotFoundError(RuntimeError):
    """A module's weights are not installed; the message says how to get them."""


def error_record(exc: BaseException) -> Dict[str, str]:
    """JSON-safe description of an error, placed in a result item as `{"error": {...}}`."""
    return {"type": type(exc).__name__, "message": str(exc)}
