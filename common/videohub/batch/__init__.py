"""Batch jobs over video libraries too large for one call: classify, extract features or detect proposals for
millions of files, locally or on a Ray cluster, resumable, one result row per input.

* `inputs.py` — input paths streamed from a list file, a folder walk or a glob (never listed in memory at once),
  `file://` URIs and fsspec URLs;
* `store.py` — the results folder: Parquet shards written atomically, the manifest, the on-disk index of what is
  done (rebuilt from the shards on every start) and the removal of superseded rows;
* `worker.py` — loading a module once (installed folder, hub name or packed archive), its identity (name,
  version, weights sha256) and the per-task conversion of results into rows; one worker per process or actor;
* `job.py` — the driver: what is pending, the local loop, progress and the summary;
* `cluster.py` — the Ray Data + actors pipeline (imports `ray`; only loaded when a run asks for Ray).

A new task (besides classify, features, detect) is one entry of `worker.TASKS` plus its columns in
`store.TASK_COLUMNS`. `python scripts/batch.py --help` is the command line over `job.run_job`.
"""
