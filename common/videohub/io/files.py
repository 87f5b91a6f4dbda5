"""Input files: checking one local path, expanding a CLI `--input_path`, and the local file behind an input.

Every task kind (videos, feature files, proposals) expands its inputs here, each with its own file suffixes.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Union

from videohub.errors import EmptyFileError, InputNotFoundError, NotAFileError, UnsupportedInputError

PathLike = Union[str, "os.PathLike[str]"]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".flv", ".m4v", ".mpg", ".mpeg", ".wmv",
                    ".3gp", ".ts", ".m2ts", ".mts", ".ogv", ".ogg", ".gif")


def check_local_file(path: PathLike, url_hint: str = "download it first") -> str:
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


def check_video_path(path: PathLike) -> str:
    """Validate a local video path before decoding."""
    return check_local_file(path, "download it first, or pass the file bytes as `videos=`")


def list_files(directory: PathLike, suffixes: Sequence[str] = VIDEO_EXTENSIONS) -> List[str]:
    """Files with one of `suffixes` directly inside `directory`, sorted by name."""
    wanted = tuple(s.lower() for s in suffixes)
    return sorted(str(p) for p in Path(directory).iterdir() if p.is_file() and p.suffix.lower() in wanted)


def list_videos(directory: PathLike) -> List[str]:
    """Video files (by extension) directly inside `directory`, sorted by name."""
    return list_files(directory, VIDEO_EXTENSIONS)


def expand_input_path(input_path: PathLike, suffixes: Sequence[str] = VIDEO_EXTENSIONS) -> List[str]:
    """CLI `--input_path`: a file, a directory (its files with one of `suffixes`), or a .txt file listing
    one path per line (blank lines and `#` comments skipped)."""
    p = Path(input_path)
    if p.is_dir():
        return list_files(p, suffixes)
    if p.is_file() and p.suffix.lower() == ".txt":
        return list(list_file_lines(p))
    return [str(input_path)]


def list_file_lines(path: PathLike) -> Iterator[str]:
    """The paths of a list file, one a line, streamed; blank lines and `#` comments skipped."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                yield line


@contextmanager
def input_file(name: str, path: Optional[str] = None, data: Optional[bytes] = None) -> Iterator[str]:
    """A local file for one input: its path, or its bytes in a temporary file (decoders read files) that is
    removed afterwards."""
    if data is None:
        yield str(path)
        return
    if not data:
        raise EmptyFileError(f"{name} is empty (0 bytes)")
    with tempfile.NamedTemporaryFile(suffix=".video", delete=True) as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            yield tmp.name
        except Exception as exc:
            # The caller sent bytes, not a path: an error names the input, never the server's temporary file.
            exc.args = tuple(a.replace(tmp.name, name) if isinstance(a, str) else a for a in exc.args)
            raise
