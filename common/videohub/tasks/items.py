"""The one input-item type of every task, and how a call's arguments become items.

An `Item` is one input of a call: a local path, uploaded bytes, or an in-memory value (decoded frames, a
feature array, a feature dict). A problem found while building it (a bad type, a path outside a server's
allow-list, invalid base64) is kept in `error` and becomes that input's error record, in its place.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from videohub.errors import UnsupportedInputError

VideoInput = Union[bytes, np.ndarray]


@dataclass
class Item:
    name: str                               # what the result reports (the path, or e.g. "video_0")
    path: Optional[str] = None
    data: Optional[bytes] = None            # uploaded file bytes
    value: Any = None                       # frames [T, H, W, 3], a feature array or a feature dict
    kind: str = "video"                     # "video" | "npy" | "json" | "pkl" | "features"
    error: Optional[BaseException] = None
    key: str = "path"                       # the result field that holds `name` ("path" or "name")
    duration: Optional[float] = None        # seconds, where the caller gave it (proposals)
    extra: Dict[str, Any] = field(default_factory=dict)  # facts the result reports besides the prediction

    def check(self) -> None:
        """Raise the error found while building the item, if any."""
        if self.error is not None:
            raise self.error


def as_list(value: Any, single: tuple) -> Optional[list]:
    """None stays None; one value of the `single` types becomes a list of it; else a list of the values."""
    if value is None:
        return None
    if isinstance(value, single):
        return [value]
    return list(value)


def video_items(paths: Optional[Sequence[Any]] = None, videos: Optional[Sequence[VideoInput]] = None) -> List[Item]:
    """Items of a video call: `paths` (files), then `videos` (encoded bytes or uint8 RGB frame arrays)."""
    if paths is None and videos is None:
        raise ValueError("give `paths` (video files) or `videos` (encoded bytes or uint8 frame arrays)")
    items = [Item(str(p), path=str(p)) for p in as_list(paths, (str, os.PathLike)) or []]
    for i, v in enumerate(as_list(videos, (bytes, bytearray, np.ndarray)) or []):
        name = f"video_{i}"
        if isinstance(v, (bytes, bytearray)):
            items.append(Item(name, data=bytes(v)))
        elif isinstance(v, np.ndarray):
            items.append(Item(name, value=v))
        else:
            items.append(Item(name, error=UnsupportedInputError(
                f"videos[{i}] is a {type(v).__name__}; expected encoded video bytes or a uint8 array [T, H, W, 3]")))
    return items


def feature_items(features: Optional[Sequence[Any]], paths: Optional[Sequence[Any]],
                  kind_of_path: Callable[[str], str], single_feature: tuple = (np.ndarray, Mapping),
                  array_key: str = "name") -> List[Item]:
    """Items of a feature call: in-memory `features` (named `features_<i>`, reported under `array_key`), then
    files (`kind_of_path(path)` says which reader takes each)."""
    items = [Item(f"features_{i}", value=f, kind="features", key=array_key)
             for i, f in enumerate(as_list(features, single_feature) or [])]
    items += [Item(str(p), path=str(p), kind=kind_of_path(str(p))) for p in as_list(paths, (str, os.PathLike)) or []]
    return items
