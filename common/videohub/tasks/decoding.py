"""From an input item to network inputs, in this process or in decode worker processes.

Module-level and light on imports (video code only, never the model runtime), so that a worker process
started for decoding imports little and pickles `ItemPreparer` by reference.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from videohub.card import PreprocessSpec
from videohub.io.files import input_file
from videohub.io.preprocess import PreparedVideo, prepare_array, prepare_video
from videohub.tasks.items import Item


def prepare_item(item: Item, spec: PreprocessSpec, backend: str,
                 timings: Optional[Dict[str, float]] = None) -> PreparedVideo:
    """One item -> network inputs (decoded sparsely, scaled, cropped, normalised); `timings` receives the
    seconds of each stage ("open", "decode", "preprocess")."""
    item.check()
    if item.value is not None:
        t = time.perf_counter()
        prepared = prepare_array(item.value, spec, name=item.name)
        if timings is not None:
            timings["preprocess"] = timings.get("preprocess", 0.0) + time.perf_counter() - t
        return prepared
    with input_file(item.name, item.path, item.data) as path:
        return prepare_video(path, spec, backend, timings)


@dataclass(frozen=True)
class ItemPreparer:
    """`prepare_item` with its options bound, returning the stage timings with the inputs: picklable, for
    decode worker processes."""

    spec: PreprocessSpec
    backend: str

    def __call__(self, item: Item) -> Tuple[PreparedVideo, Dict[str, float]]:
        timings: Dict[str, float] = {}
        return prepare_item(item, self.spec, self.backend, timings), timings


def decode_worker_init(niceness: int) -> None:
    """In each decode worker process: yield the CPU to the model when both want it (`niceness` > 0)."""
    if niceness:
        os.nice(niceness)
