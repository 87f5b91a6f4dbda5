"""Batch jobs on Ray: the driver puts the pending list into the object store, one block per worker batch, a
chunk of `CHUNK_PATHS` paths at a time (so its memory does not grow with the list); Ray Data streams the blocks
through a pool of actors, each holding one loaded module (`BatchWorker`), and back to the driver, which writes
the rows. Each chunk starts its actor pool anew (one module load per actor per chunk).

Actors are restarted and their in-flight batches retried when a worker process dies (Ray Data's defaults:
`max_restarts=-1`, `max_task_retries=-1`), so a killed actor costs its batch's time, not its rows. Ray is
optional: without it installed only local jobs run.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, List

import pyarrow as pa

from videohub.batch.inputs import batched
from videohub.batch.store import iter_lines
from videohub.batch.worker import BatchWorker, ModuleSource

try:
    import ray
    import ray.data
except ImportError:  # local jobs need no Ray
    ray = None

CHUNK_PATHS = 100_000   # pending paths handed to Ray Data at a time


def connect(address: str) -> None:
    """Join the cluster at `address` ("auto": the one `ray start` made on this node, HOST:PORT), or start a
    private one in this process ("local")."""
    if ray is None:
        raise RuntimeError("Ray is not installed: pip install 'ray[data]' (see requirements.txt), or run locally")
    if ray.is_initialized():
        return
    if address == "local":
        ray.init(include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False   # the job's own bar counts videos, with rate and ETA


def ray_tables(files: List[Path], source: ModuleSource, cfg) -> Iterator[pa.Table]:
    """Result tables of the pending `files` (list files on this node), computed by `cfg.workers` actors."""
    connect(cfg.ray)
    for chunk in batched(iter_lines(files), CHUNK_PATHS):
        # One block per worker batch: Ray Data hands whole blocks to actors; larger blocks would leave some idle
        blocks = [ray.put(pa.table({"path": paths})) for paths in batched(chunk, cfg.batch_size)]
        ds = ray.data.from_arrow_refs(blocks).map_batches(
            BatchWorker,
            fn_constructor_kwargs={"source": source, "task": cfg.task, "options": cfg.task_options(),
                                   "cpu_threads": max(1, int(cfg.cpus_per_worker)),
                                   "decode_workers": cfg.decode_workers},
            batch_size=cfg.batch_size, batch_format="pyarrow", concurrency=cfg.workers,
            num_cpus=cfg.cpus_per_worker, num_gpus=cfg.gpus_per_worker or None)
        yield from ds.iter_batches(batch_size=None, batch_format="pyarrow")
