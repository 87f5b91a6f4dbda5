"""Where a module keeps its exported model, and the cache files made from it.

Inside a module folder (git-ignored):
    weights/inference.json, weights/inference.pdiparams   exported network (Paddle inference model)
    weights/model.pdparams                                 the same weights as a dygraph state dict
    weights/meta.json                                      source, sha256, export details, card snapshot
    weights/engines.json                                   engine verdicts (see videohub.runtime.verify)
    weights/engine_timings.json                            engine timings per CPU model (videohub.runtime.ranking)
A multi-network module keeps weights/<part>.json, .pdiparams and .pdparams per network.
Each derived cache file (e.g. `inference.onnx`) has a `<file>.json` record of what it was made from.
Machine-wide measurements (the CPU's peak GFLOP/s, videohub.runtime.peak) live in `user_cache_dir()`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple, Union

from videohub.models.checkpoint import sha256_file

PathLike = Union[str, Path]
MODEL_BASENAME = "inference"  # weights/inference.json + weights/inference.pdiparams


def user_cache_dir() -> Path:
    """$VIDEOHUB_CACHE_DIR, else $XDG_CACHE_HOME/videohub, else ~/.cache/videohub (not created here)."""
    if os.environ.get("VIDEOHUB_CACHE_DIR"):
        return Path(os.environ["VIDEOHUB_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "videohub"


def read_json(path: Path) -> Dict[str, Any]:
    """A JSON object from `path`, {} when the file is missing."""
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_json(path: Path, data: Dict[str, Any]) -> None:
    """Write atomically (temporary name, then rename), creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    tmp.replace(path)


def weights_dir(module_dir: PathLike) -> Path:
    return Path(module_dir) / "weights"


def inference_files(module_dir: PathLike, part: Optional[str] = None) -> Tuple[Path, Path]:
    """The exported model of a module (`part=None`) or of one network of a multi-network module."""
    d = weights_dir(module_dir)
    base = part or MODEL_BASENAME
    return d / f"{base}.json", d / f"{base}.pdiparams"


_DIGESTS: Dict[Tuple, str] = {}


def sha256_of(*paths: PathLike) -> str:
    """sha256 over the contents of several files (in order). Remembered per file identity (path, size, mtime):
    choosing an engine asks for the exported model's digest once per verdict and once for the timings, and
    hashing a ResNet-50's weights costs more than the answer."""
    key = tuple((str(Path(p).resolve()), st.st_size, st.st_mtime_ns) for p in paths for st in [os.stat(p)])
    if key not in _DIGESTS:
        _DIGESTS[key] = sha256_file(*paths)
    return _DIGESTS[key]


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
