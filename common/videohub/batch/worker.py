"""One batch worker: loads a module once (an installed folder, a hub name, or a packed archive), turns a batch
of input paths into result rows (one per input, errors in place), and says which module made them.

The same `BatchWorker` runs in the driver's process (local jobs) and in each Ray actor (`cluster.py`). A task is
an entry of `TASKS`: the module's task method to call and how its results become the columns of
`store.TASK_COLUMNS`.
"""
from __future__ import annotations

import atexit
import io
import json
import os
import shutil
import socket
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import paddlehub as hub
import pyarrow as pa
from paddlehub.env import MODULE_HOME
from paddlehub.module.module import Module

from videohub.batch.inputs import local_path, remote_item, stat_facts
from videohub.batch.store import row_schema
from videohub.errors import error_record
from videohub.tasks.items import Item
from videohub.tasks.proposals import path_kind
from videohub.weights import read_meta

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")


# ---------------------------------------------------------------------------------------------- the module
@dataclass(frozen=True)
class ModuleSource:
    """Where workers find the module: a folder present on every node (`directory`), a module installed with
    `hub install` on every node (`name`), or the bytes of a `scripts/pack.py` archive shipped with the job."""
    directory: Optional[str] = None
    name: Optional[str] = None
    archive: Optional[bytes] = field(default=None, repr=False)


def module_source(spec: str) -> ModuleSource:
    """`spec` -> source: a folder, a .tar.gz archive (read now, shipped to the workers), else a hub name."""
    if os.path.isdir(spec):
        return ModuleSource(directory=os.path.abspath(spec))
    if spec.endswith(ARCHIVE_SUFFIXES) and os.path.isfile(spec):
        return ModuleSource(archive=Path(spec).read_bytes())
    return ModuleSource(name=spec)


_UNPACKED: Dict[int, Path] = {}


def module_directory(source: ModuleSource) -> Path:
    """The local folder of the module (an archive is unpacked once per process into a temporary folder)."""
    if source.directory is not None:
        return Path(source.directory)
    if source.name is not None:
        path = Path(MODULE_HOME) / source.name
        if not path.is_dir():
            raise FileNotFoundError(f"module {source.name!r} is not installed on {socket.gethostname()} "
                                    f"(looked in {path}); hub install it there, or give a packed archive")
        return path
    key = hash(source.archive)
    if key not in _UNPACKED:
        root = Path(tempfile.mkdtemp(prefix="videohub_batch_module_"))
        atexit.register(shutil.rmtree, root, True)  # weights included: hundreds of MB per unpacked copy
        with tarfile.open(fileobj=io.BytesIO(source.archive), mode="r:gz") as tar:
            tar.extractall(root, filter="data")
            top = {Path(n).parts[0] for n in tar.getnames()}
        if len(top) != 1:
            raise ValueError(f"a packed module holds one top folder; this archive holds {sorted(top)}")
        _UNPACKED[key] = root / top.pop()
    return _UNPACKED[key]


@dataclass(frozen=True)
class ModuleIdentity:
    name: str
    version: str
    weights_sha256: str   # sha256 of the checkpoint the weights were made from (per part: "part:sha,...")

    def run_key(self, task: str, options: Dict[str, Any]) -> str:
        """What a row's result depends on: rows with the same key need not be redone."""
        return f"{self.name}@{self.version}|{self.weights_sha256}|{task}|{json.dumps(options, sort_keys=True)}"


def module_identity(directory: Path) -> ModuleIdentity:
    """Name and version from module.py (read as `hub install` reads it) and the weights' sha256 from
    weights/meta.json."""
    info = Module.load_module_info(str(directory))
    meta = read_meta(directory)
    if "parts" in meta:
        sha = ",".join(f"{p}:{r['source']['sha256']}" for p, r in sorted(meta["parts"].items()))
    else:
        sha = meta["source"]["sha256"]
    return ModuleIdentity(info.name, str(info.version), sha)


# ---------------------------------------------------------------------------------------------- tasks
@dataclass(frozen=True)
class TaskOptions:
    top_k: Optional[int] = None
    threshold: Optional[float] = None
    batch_size: int = 1           # videos per predictor call inside a worker batch
    use_gpu: bool = False

    def result_options(self) -> Dict[str, Any]:
        """The options that change results (part of the run key)."""
        return {"top_k": self.top_k, "threshold": self.threshold}


@dataclass(frozen=True)
class Task:
    method: str                                        # the module task's method taking a list of items
    call: Callable[[Any, List[Item], TaskOptions], List[dict]]
    columns: Callable[[dict], Dict[str, Any]]          # a successful result -> its task columns
    item_kind: Callable[[str], str] = lambda path: "video"


def _classify_columns(r: dict) -> Dict[str, Any]:
    return {"labels": list(r["prediction"]), "scores": [float(v) for v in r["prediction"].values()],
            "backend": r.get("backend")}


def _feature_columns(r: dict) -> Dict[str, Any]:
    arr = np.asarray(r["features"], np.float32)
    return {"features": arr.ravel(), "features_shape": list(arr.shape)}


def _detect_columns(r: dict) -> Dict[str, Any]:
    return {"duration": r.get("duration"), "proposals_json": json.dumps(r["proposals"])}


TASKS: Dict[str, Task] = {
    "classify": Task("classify_items", lambda task, items, o: task.classify_items(
        items, use_gpu=o.use_gpu, top_k=o.top_k, threshold=o.threshold, batch_size=o.batch_size),
        _classify_columns),
    "features": Task("extract_features", lambda task, items, o: task.extract_features(items, use_gpu=o.use_gpu),
                     _feature_columns),
    "detect": Task("detect_items", lambda task, items, o: task.detect_items(items, top_k=o.top_k,
                                                                          use_gpu=o.use_gpu),
                   _detect_columns, path_kind),
}


# ---------------------------------------------------------------------------------------------- the worker
class BatchWorker:
    """Loads the module once; `worker(batch)` -> a table with one row per input path of the batch.

    `batch` is a table (or dict) whose first column holds the input paths/URIs. Every input gets its row: a
    result, or the per-item error record (an unexpected failure of a whole batch is retried item by item)."""

    def __init__(self, source: ModuleSource, task: str, options: TaskOptions, cpu_threads: Optional[int] = None,
                 decode_workers: int = 2):
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; one of {', '.join(TASKS)}")
        directory = module_directory(source)
        self.identity = module_identity(directory)
        self.module = hub.Module(directory=str(directory), cpu_threads=cpu_threads, decode_workers=decode_workers)
        self.task, self.options = TASKS[task], options
        if not hasattr(self.module.task, self.task.method):
            raise ValueError(f"module {self.identity.name} cannot do the {task!r} task "
                             f"(its {type(self.module.task).__name__} has no {self.task.method})")
        self.task_name = task
        self.schema = row_schema(task, timings=True)
        self.run_key = self.identity.run_key(task, options.result_options())
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def item(self, uri: str) -> Item:
        local = local_path(uri)
        if local is None:
            return remote_item(uri, "video")
        return Item(uri, path=local, kind=self.task.item_kind(local))

    def run_items(self, items: List[Item]) -> List[dict]:
        """The task's results for `items`; a batch that fails as a whole is redone one item at a time."""
        try:
            return self.task.call(self.module.task, items, self.options)
        except Exception:
            results = []
            for item in items:
                try:
                    results.extend(self.task.call(self.module.task, [item], self.options))
                except Exception as exc:  # this item's error record, in its place
                    results.append({"path": item.name, "error": error_record(exc)})
            return results

    def __call__(self, batch) -> pa.Table:
        table = batch if isinstance(batch, pa.Table) else pa.table(batch)
        uris = [str(u) for u in table.column(0).to_pylist()]
        items = [self.item(u) for u in uris]
        t0 = time.perf_counter()
        results = self.run_items(items)
        wall = time.perf_counter() - t0
        stats = getattr(self.module.task, "last_stats", None) or {}
        stage = stats.get("stage_s", {})
        decode = stage.get("decode", 0.0) + stage.get("preprocess", 0.0) + stage.get("open", 0.0)
        model = stage.get("model", wall - decode if decode else wall)
        share = 1.0 / max(len(uris), 1)
        rows = [self.row(uri, item, res, decode * share, model * share) for uri, item, res in zip(uris, items, results)]
        return pa.Table.from_pylist(rows, schema=self.schema)

    def row(self, uri: str, item: Item, result: dict, decode_s: float, model_s: float) -> Dict[str, Any]:
        if result.get(item.key) != uri:  # results come back in input order; anything else is a bug
            raise RuntimeError(f"result for {result.get(item.key)!r} in the place of {uri!r}")
        row: Dict[str, Any] = {
            "path": uri, **stat_facts(item.path), **{"module": self.identity.name,
                                                     "module_version": self.identity.version,
                                                     "weights_sha256": self.identity.weights_sha256},
            "task": self.task_name, "run_key": self.run_key, "worker": self.worker,
            "decode_s": decode_s, "model_s": model_s}
        if "error" in result:
            row.update(status="error", error_type=result["error"]["type"], error_message=result["error"]["message"])
        else:
            row.update(status="ok", **self.task.columns(result))
        return row
