"""Classify, extract features or detect proposals for a whole video library, locally or on a Ray cluster;
resumable (a rerun does only what is missing), one result row per input in Parquet shards.

    python scripts/batch.py MODULE --inputs LIST.txt|DIR|'GLOB' --output results/ \\
        [--ray local|auto|HOST:PORT] [--workers N] [--gpus-per-worker F] [--task classify|features|detect] \\
        [--retry-errors]

MODULE: a module folder, a `scripts/pack.py` archive (shipped to every Ray worker) or an installed hub name.
Read the results with `pyarrow.parquet.read_table("results/shards")`; `results/manifest.json` says what is done.
Exit status 0 when every input has a result, 1 when some failed (each failure is a row with its error), 2 when
the job itself could not run.
"""
from __future__ import annotations

import argparse
import sys

from videohub.batch.job import JobConfig, main_summary, run_job
from videohub.batch.worker import TASKS


def parse_args(argv=None) -> JobConfig:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("module", help="module folder, packed archive (.tar.gz) or installed hub module name")
    ap.add_argument("--inputs", required=True, help="a .txt list (one path or URI a line), a folder, a glob "
                                                   "pattern (quoted) or one file; file:// URIs and fsspec URLs")
    ap.add_argument("--output", required=True, help="results folder (created; a rerun resumes it)")
    ap.add_argument("--task", choices=tuple(TASKS), default="classify")
    ap.add_argument("--ray", default=None, metavar="ADDRESS",
                    help="run on Ray: 'local' (a private cluster), 'auto' (the one `ray start` made here) or "
                         "HOST:PORT; default: this process, no Ray")
    ap.add_argument("--workers", type=int, default=1, help="Ray actors, each with its own loaded module")
    ap.add_argument("--cpus-per-worker", type=float, default=1.0)
    ap.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPUs per actor (fractions share one)")
    ap.add_argument("--batch-size", type=int, default=16, help="inputs per worker call (and per shard)")
    ap.add_argument("--model-batch", type=int, default=1, help="videos per predictor call")
    ap.add_argument("--decode-workers", type=int, default=2, help="decode threads per worker")
    ap.add_argument("--top-k", type=int, default=None)
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--retry-errors", action="store_true", help="redo the inputs whose row is an error")
    ap.add_argument("--shard-rows", type=int, default=0,
                    help="rows per shard file (0: one shard per worker batch; a killed driver loses the rows "
                         "not yet written)")
    ap.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                    help="progress bar on stderr (default: when stderr is a terminal)")
    a = ap.parse_args(argv)
    return JobConfig(module=a.module, inputs=a.inputs, output=a.output, task=a.task, ray=a.ray,
                     workers=a.workers, cpus_per_worker=a.cpus_per_worker, gpus_per_worker=a.gpus_per_worker,
                     batch_size=a.batch_size, model_batch=a.model_batch, decode_workers=a.decode_workers,
                     top_k=a.top_k, threshold=a.threshold, retry_errors=a.retry_errors, shard_rows=a.shard_rows,
                     progress=a.progress)


def main(argv=None) -> int:
    cfg = parse_args(argv)
    try:
        summary = run_job(cfg)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"batch: {exc}", file=sys.stderr)
        return 2
    return main_summary(summary)


if __name__ == "__main__":
    sys.exit(main())
