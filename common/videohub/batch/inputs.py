"""Input paths for batch jobs, streamed: a `.txt` list (one path or URI a line), a folder (walked with
`os.scandir`, video extensions only), a glob pattern, or one file. Nothing here holds the whole list.

A local path or a `file://` URI is read in place; any other `scheme://` URL is read through fsspec (when it is
installed and knows the scheme) into memory, one file at a time, by the worker that processes it.
"""
from __future__ import annotations

import glob
import os
from itertools import islice
from typing import Iterable, Iterator, List, Optional, Sequence, TypeVar
from urllib.parse import unquote, urlparse

try:  # optional: object storage (s3://, gs://, ...) only when fsspec and the scheme's package are installed
    import fsspec
except ImportError:
    fsspec = None

from videohub.errors import InputNotFoundError, UnsupportedInputError
from videohub.io.files import VIDEO_EXTENSIONS, list_file_lines
from videohub.tasks.items import Item

T = TypeVar("T")
GLOB_CHARS = "*?["


def walk_files(directory: str, suffixes: Sequence[str] = VIDEO_EXTENSIONS) -> Iterator[str]:
    """Files under `directory` (recursively) with one of `suffixes`, each folder in name order."""
    wanted = tuple(s.lower() for s in suffixes)
    with os.scandir(directory) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from walk_files(entry.path, suffixes)
        elif os.path.splitext(entry.name)[1].lower() in wanted:
            yield entry.path


def iter_inputs(spec: str) -> Iterator[str]:
    """The inputs named by `spec`: a list file (.txt), a folder, a glob pattern, or one path/URI."""
    local = local_path(spec)
    if local is not None and os.path.isdir(local):
        yield from walk_files(local)
    elif local is not None and local.lower().endswith(".txt") and os.path.isfile(local):
        yield from list_file_lines(local)
    elif local is not None and any(c in local for c in GLOB_CHARS) and not os.path.exists(local):
        yield from (p for p in glob.iglob(local, recursive=True) if os.path.isfile(p))
    else:
        yield spec


def batched(items: Iterable[T], size: int) -> Iterator[List[T]]:
    """Lists of `size` consecutive items (the last one shorter)."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def scheme_of(uri: str) -> Optional[str]:
    """The URL scheme of `uri`, or None for a plain path (a Windows drive letter is not a scheme)."""
    if "://" not in uri:
        return None
    scheme = uri.split("://", 1)[0].lower()
    return scheme if len(scheme) > 1 else None


def local_path(uri: str) -> Optional[str]:
    """The local path of a plain path or a `file://` URI; None for other schemes."""
    scheme = scheme_of(uri)
    if scheme is None:
        return uri
    if scheme == "file":
        return unquote(urlparse(uri).path)
    return None


def stat_facts(path: Optional[str]) -> dict:
    """Size and modification time of a local file (None for what is not one: the row's error says why)."""
    try:
        st = os.stat(path) if path is not None else None
    except OSError:
        st = None
    if st is None or not os.path.isfile(path):
        return {"size": None, "mtime": None}
    return {"size": int(st.st_size), "mtime": float(st.st_mtime)}


def remote_item(uri: str, kind: str = "video") -> Item:
    """An item holding the bytes of a URL read through fsspec; its error when fsspec cannot read it."""
    if fsspec is None:
        return Item(uri, kind=kind, error=UnsupportedInputError(
            f"{uri!r}: reading {scheme_of(uri)}:// URLs needs fsspec (pip install fsspec and its scheme's package)"))
    try:
        with fsspec.open(uri, "rb") as f:
            return Item(uri, data=f.read(), kind=kind)
    except FileNotFoundError as exc:
        return Item(uri, kind=kind, error=InputNotFoundError(f"no such file: {uri!r} ({exc})"))
    except (ImportError, ValueError, OSError) as exc:  # unknown scheme, missing backend package, access
        return Item(uri, kind=kind, error=UnsupportedInputError(f"{uri!r} cannot be read through fsspec: {exc}"))
