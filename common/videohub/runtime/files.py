"""Where a module keeps its exported model, and the cache files made from it.

Inside a module folder (git-ignored):
    weights/inference.json, weights/inference.pdiparams   exported network (Paddle inference model)
    weights/model.pdparams                                 the same weights as a dygraph state dict
    weights/meta.json                                      source, sha256, export details, card snapshot
    weights/engines.json                                   engine verdicts (see videohub.runtime.verify)
A multi-network module keeps weights/<part>.json, .pdiparams and .pdparams per network.
Each derived cache file (e.g. `inference.onnx`) has a `<file>.json` record of what it was made from.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple, Union

PathLike = Union[str, Path]
MODEL_BASENAME = "inference"  # weights/inference.json + weights/inference.pdiparams


def weights_dir(module_dir: PathLike) -> Path:
    return Path(module_dir) / "weights"


def inference_files(module_dir: PathLike, part: Optional[str] = None) -> Tuple[Path, Path]:
    """The exported model of a module (`part=None`) or of one network of a multi-network module."""
    d = weights_dir(module_dir)
    base = part or MODEL_BASENAME
    return d / f"{base}.json", d / f"{base}.pdiparams"


def sha256_of(*paths: PathLike) -> str:
    """sha256 over the contents of several files (in order)."""
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _record_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def cache_is_fresh(path: Path, expected: Dict[str, Any]) -> bool:
    """True when `path` exists and its record matches `expected` (source checksums, tool versions)."""
    rec = _record_path(path)
    if not (path.is_file() and rec.is_file()):
        return False
    with open(rec, encoding="utf-8") as f:
        got = json.load(f)
    return all(got.get(k) == v for k, v in expected.items())


def write_cache(path: Path, write: Callable[[Path], None], record: Dict[str, Any]) -> Path:
    """Write a cache file atomically (to a temporary name, then rename) with its record beside it."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    with open(_record_path(path), "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1)
    return path
