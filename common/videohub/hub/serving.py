"""`hub serving` safety: request and video size limits, the server-side path allow-list, and request fields
decoded into items (problems become per-item errors; a malformed request raises)."""
from __future__ import annotations

import base64
import binascii
import os
import sys
from typing import Any, List, Optional

from videohub.errors import InputNotFoundError, UnsupportedInputError, VideoHubError
from videohub.tasks.items import Item

# Server-side paths are refused unless the server was started with this variable set to an
# os.pathsep-separated allow-list of folders.
SERVING_ALLOWED_DIRS_ENV = "VIDEOHUB_SERVING_ALLOWED_DIRS"
SERVING_MAX_VIDEO_BYTES_ENV = "VIDEOHUB_SERVING_MAX_VIDEO_BYTES"
DEFAULT_SERVING_MAX_VIDEO_BYTES = 256 * 1024 * 1024
# Whole request bodies above this are refused by Flask (HTTP 413) before they are read; see limit_request_size.
SERVING_MAX_REQUEST_BYTES_ENV = "VIDEOHUB_SERVING_MAX_REQUEST_BYTES"
DEFAULT_SERVING_MAX_REQUEST_BYTES = 512 * 1024 * 1024


def max_video_bytes() -> int:
    """The largest video one request may carry: $VIDEOHUB_SERVING_MAX_VIDEO_BYTES, else 256 MiB."""
    return int(os.environ.get(SERVING_MAX_VIDEO_BYTES_ENV, DEFAULT_SERVING_MAX_VIDEO_BYTES))


def limit_request_size() -> Optional[int]:
    """Give Flask apps created from now on a request-body limit (HTTP 413 before the body is read).

    `hub serving` builds its Flask app after constructing the modules, and offers no hook of its own, so the
    limit goes into Flask's class-level defaults; that is only done when Flask is already loaded (it is in
    `hub serving`; plain `hub.Module` users never load it) and only if no limit was set. Returns the limit.
    """
    flask = sys.modules.get("flask")
    if flask is None:
        return None
    defaults = flask.Flask.default_config
    if defaults.get("MAX_CONTENT_LENGTH") is None:
        limit = int(os.environ.get(SERVING_MAX_REQUEST_BYTES_ENV, DEFAULT_SERVING_MAX_REQUEST_BYTES))
        flask.Flask.default_config = type(defaults)({**defaults, "MAX_CONTENT_LENGTH": limit})
    return flask.Flask.default_config["MAX_CONTENT_LENGTH"]


def allowed_server_path(path: str) -> str:
    """Resolve a server-side path and require it to lie inside the allow-list (no `..` or symlink escape)."""
    roots = [r for r in os.environ.get(SERVING_ALLOWED_DIRS_ENV, "").split(os.pathsep) if r]
    if not roots:
        raise UnsupportedInputError("reading server-side paths is off; send the video bytes as `videos` "
                                    f"(the server enables paths with {SERVING_ALLOWED_DIRS_ENV})")
    real = os.path.realpath(path)
    for root in roots:
        root_real = os.path.realpath(root)
        if os.path.commonpath([real, root_real]) == root_real:
            if not os.path.exists(real):
                raise InputNotFoundError(f"no such file: {path!r}")
            return real
    raise UnsupportedInputError(f"{path!r} is outside the folders this server may read")


def check_fields(**fields: Any) -> None:
    """Every given request field must be a list (a bare string would be read char by char)."""
    for name, value in fields.items():
        if value is not None and not isinstance(value, list):
            raise ValueError(f"`{name}` must be a list, got {type(value).__name__}")


def base64_items(field: str, values: Optional[List[Any]], *, prefix: str, kind: str = "video",
                 key: str = "path") -> List[Item]:
    """Items `<prefix>_<i>` from base64-encoded files (size-limited); bad entries become per-item errors."""
    limit = max_video_bytes()
    items: List[Item] = []
    for i, text in enumerate(values or []):
        item = Item(f"{prefix}_{i}", kind=kind, key=key)
        if not isinstance(text, str):
            item.error = UnsupportedInputError(f"{field}[{i}] must be a base64 string")
        elif len(text) * 3 // 4 > limit:
            item.error = UnsupportedInputError(f"{field}[{i}] is larger than the server's limit of {limit} bytes")
        else:
            try:
                item.data = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError) as exc:
                item.error = UnsupportedInputError(f"{field}[{i}] is not valid base64: {exc}")
        items.append(item)
    return items


def path_items(paths: Optional[List[Any]]) -> List[Item]:
    """Items from server-side paths, each checked against the allow-list."""
    items = []
    for p in paths or []:
        try:
            items.append(Item(str(p), path=allowed_server_path(str(p))))
        except VideoHubError as exc:
            items.append(Item(str(p), error=exc))
    return items
