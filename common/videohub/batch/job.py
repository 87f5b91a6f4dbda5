"""The driver of a batch job: what is pending, running it (in this process or on Ray), writing the rows,
progress, and the summary. `run_job(JobConfig(...))` is what `scripts/batch.py` calls.

Resuming is reading the results folder: an input whose current row has this job's run key (module, version,
weights, task, options) is skipped, an error row is redone only with `retry_errors`. Rows are written as they
come back (one shard per worker batch by default), so a killed driver loses at most the batches in flight.
"""
from __future__ import annotations

import resource
import socket
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional

import pyarrow as pa
import pyarrow.compute as pc

from videohub.batch.cluster import ray_tables
from videohub.batch.inputs import batched, iter_inputs
from videohub.batch.store import TIMING_COLUMNS, ResultStore, iter_lines
from videohub.batch.worker import BatchWorker, ModuleSource, TaskOptions, module_directory, module_identity, \
    module_source
from videohub.tasks.concurrency import progress_bar, progress_enabled


@dataclass
class JobConfig:
    module: str                          # module folder, packed archive (.tar.gz) or installed hub name
    inputs: str                          # list file, folder, glob or one path/URI
    output: str                          # results folder
    task: str = "classify"
    ray: Optional[str] = None            # None: this process; "local", "auto" or HOST:PORT: Ray
    workers: int = 1                     # Ray actors
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    batch_size: int = 16                 # inputs per worker call (and per shard)
    model_batch: int = 1                 # videos per predictor call
    decode_workers: int = 2              # decode threads per worker
    top_k: Optional[int] = None
    threshold: Optional[float] = None
    retry_errors: bool = False
    shard_rows: int = 0                  # rows per shard; 0: one shard per worker batch
    progress: Optional[bool] = None      # None: a bar when stderr is a terminal

    def task_options(self) -> TaskOptions:
        return TaskOptions(top_k=self.top_k, threshold=self.threshold, batch_size=self.model_batch,
                           use_gpu=self.gpus_per_worker > 0)


@dataclass
class Plan:
    pending: int = 0
    skipped_done: int = 0
    duplicate_inputs: int = 0


def pending_paths(store: ResultStore, inputs: Iterable[str], run_key: str, retry_errors: bool,
                  plan: Plan, chunk: int = 1000) -> Iterator[str]:
    """The inputs still to do, streamed: not given before in this listing, and without a current row of this
    run key (an error row counts as done unless `retry_errors`)."""
    for paths in batched(inputs, chunk):
        fresh = store.first_seen(paths)
        plan.duplicate_inputs += len(paths) - len(fresh)
        current = store.lookup(fresh)
        for p in fresh:
            status, key = current.get(p, (None, None))
            if key == run_key and (status == "ok" or not retry_errors):
                plan.skipped_done += 1
            else:
                plan.pending += 1
                yield p


def local_tables(files, source: ModuleSource, cfg: JobConfig) -> Iterator[pa.Table]:
    """Worker batches run in this process, one after the other."""
    worker = BatchWorker(source, cfg.task, cfg.task_options(), decode_workers=cfg.decode_workers)
    for chunk in batched(iter_lines(files), cfg.batch_size):
        yield worker(pa.table({"path": chunk}))


class ShardWriter:
    """Buffers result tables and writes them as shards; checks every row came from this job's module."""

    def __init__(self, store: ResultStore, run_key: str, shard_rows: int):
        self.store, self.run_key, self.shard_rows = store, run_key, shard_rows
        self.buffer: List[pa.Table] = []
        self.buffered = 0
        self.rows = self.ok = 0
        self.errors_by_type: Dict[str, int] = {}
        self.stage_s = {"decode": 0.0, "model": 0.0, "write": 0.0}

    def add(self, table: pa.Table) -> None:
        keys = set(table.column("run_key").to_pylist())
        if keys != {self.run_key}:
            raise RuntimeError(f"a worker ran another module version or options: {sorted(keys - {self.run_key})} "
                               f"instead of {self.run_key}; install the same module on every node")
        self.stage_s["decode"] += pc.sum(table.column("decode_s")).as_py() or 0.0
        self.stage_s["model"] += pc.sum(table.column("model_s")).as_py() or 0.0
        table = table.drop_columns([c.name for c in TIMING_COLUMNS])
        for status, etype in zip(table.column("status").to_pylist(), table.column("error_type").to_pylist()):
            if status == "ok":
                self.ok += 1
            else:
                self.errors_by_type[etype] = self.errors_by_type.get(etype, 0) + 1
        self.rows += table.num_rows
        self.buffer.append(table)
        self.buffered += table.num_rows
        if self.buffered >= self.shard_rows:
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        t = time.perf_counter()
        self.store.write_shard(pa.concat_tables(self.buffer))
        self.stage_s["write"] += time.perf_counter() - t
        self.buffer, self.buffered = [], 0


def run_job(cfg: JobConfig) -> Dict[str, Any]:
    """Run (or resume) a job; returns its summary (also written to the manifest)."""
    t0 = time.perf_counter()
    source = module_source(cfg.module)
    identity = module_identity(module_directory(source))
    run_key = identity.run_key(cfg.task, cfg.task_options().result_options())
    store = ResultStore(cfg.output, cfg.task).lock()
    try:
        old = store.read_manifest()
        if old is not None and old.get("task") != cfg.task:
            raise ValueError(f"{cfg.output} holds {old.get('task')!r} results; use another folder for {cfg.task!r}")
        removed_at_start = store.rebuild_index()
        plan = Plan()
        files, total = store.write_pending(pending_paths(store, iter_inputs(cfg.inputs), run_key,
                                                         cfg.retry_errors, plan))
        manifest = {"module": identity.name, "module_version": identity.version,
                    "weights_sha256": identity.weights_sha256, "task": cfg.task, "run_key": run_key,
                    "inputs": cfg.inputs, "config": {k: v for k, v in asdict(cfg).items() if k != "progress"},
                    "driver": f"{socket.gethostname()}", "complete": False, "pending_at_start": total}
        store.write_manifest(manifest)
        writer = ShardWriter(store, run_key, max(1, cfg.shard_rows))
        bar = progress_bar(total, progress_enabled(cfg.progress, total))
        t_run = time.perf_counter()
        first = None
        try:
            for table in job_tables(files, source, cfg) if total else ():
                if first is None:  # module loading, actor start-up, the first batch
                    first = (time.perf_counter() - t_run, table.num_rows)
                writer.add(table)
                bar.update(table.num_rows)
        finally:
            writer.flush()
            bar.close()
        run_s = time.perf_counter() - t_run
        removed_at_end = store.rebuild_index()
        counts = store.counts(run_key)
        summary = {
            "inputs_pending": total, "processed": writer.rows, "ok": writer.ok,
            "errors_by_type": writer.errors_by_type, "skipped_done": plan.skipped_done,
            "duplicate_inputs": plan.duplicate_inputs, "run_s": run_s, "wall_s": time.perf_counter() - t0,
            "videos_per_s": writer.rows / run_s if run_s > 0 else 0.0, "stage_s": writer.stage_s,
            "first_rows_s": first[0] if first else None,
            # after the first rows came back: the rate once the workers have started
            "steady_videos_per_s": (writer.rows - first[1]) / (run_s - first[0])
            if first and run_s > first[0] and writer.rows > first[1] else None,
            "superseded_rows_removed": removed_at_start + removed_at_end, "folder": counts,
            "workers": cfg.workers if cfg.ray else 1, "ray": cfg.ray,
            "driver_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}  # Linux: KiB
        manifest.update(complete=writer.rows == total, summary=summary, shards=len(store.shards()))
        store.write_manifest(manifest)
        return summary
    finally:
        store.close()


def job_tables(files, source: ModuleSource, cfg: JobConfig) -> Iterator[pa.Table]:
    if cfg.ray is None:
        return local_tables(files, source, cfg)
    return ray_tables(files, source, cfg)


def format_summary(s: Dict[str, Any]) -> str:
    """The end-of-job report: done, failed by error type, skipped, time, speed and the stage split."""
    errors = ", ".join(f"{t} {n}" for t, n in sorted(s["errors_by_type"].items())) or "none"
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in s["stage_s"].items())
    f = s["folder"]
    return "\n".join([
        f"processed {s['processed']} of {s['inputs_pending']} pending inputs in {s['run_s']:.1f} s "
        f"({s['videos_per_s']:.2f} videos/s, {s['workers']} worker(s){', Ray ' + s['ray'] if s['ray'] else ''})",
        f"  ok {s['ok']}; failed {sum(s['errors_by_type'].values())} ({errors})",
        f"  skipped (already done) {s['skipped_done']}; inputs listed twice {s['duplicate_inputs']}",
        f"  stage seconds (summed over workers and threads): {stages}; driver peak RSS "
        f"{s['driver_peak_rss_mb']:.0f} MB",
        f"  results folder: {f['rows']} rows, ok {f['ok']}, errors {f['errors']}"
        + (f", {f['rows_of_other_versions']} from other module versions/options" if f["rows_of_other_versions"] else ""),
    ])


def main_summary(summary: Dict[str, Any]) -> int:
    """Exit status of a job: 0 when every input has an ok row, 1 when some failed."""
    print(format_summary(summary), file=sys.stderr)
    return 0 if summary["folder"]["errors"] == 0 else 1
