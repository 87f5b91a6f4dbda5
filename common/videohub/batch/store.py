"""The results folder of a batch job: one row per input in Parquet shards, a manifest, an index of what is done.

    results/
      shards/part-<time_ns>-<pid>-<n>.parquet   # written to a temporary name, then renamed: all or nothing
      manifest.json                            # module identity, task, counts, complete or not (atomic too)
      index.sqlite                             # path -> latest row; rebuilt from the shards on every start
      pending/                                 # the paths this run still has to do (one path a line)

A path's current row is its row in the newest shard. Rows superseded by a newer one (an error retried, an input
redone with other weights) are removed from their old shards when the index is rebuilt, at the start and the
end of every run, so a folder never keeps two rows for one path, even after a crash between the two steps.
Only one job writes to a folder at a time (an exclusive lock on `results/.lock`).
"""
from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import pyarrow as pa
import pyarrow.parquet as pq

PathLike = Union[str, os.PathLike]

COMMON_COLUMNS = [
    pa.field("path", pa.string(), nullable=False),
    pa.field("status", pa.string(), nullable=False),        # "ok" | "error"
    pa.field("size", pa.int64()),                           # bytes of a local input (null when none)
    pa.field("mtime", pa.float64()),                        # its modification time (seconds since the epoch)
    pa.field("module", pa.string()),
    pa.field("module_version", pa.string()),
    pa.field("weights_sha256", pa.string()),
    pa.field("task", pa.string()),
    pa.field("run_key", pa.string()),                       # module, version, weights, task and options
    pa.field("error_type", pa.string()),
    pa.field("error_message", pa.string()),
    pa.field("worker", pa.string()),                        # host:pid that produced the row
]
TASK_COLUMNS = {
    "classify": [pa.field("labels", pa.list_(pa.string())), pa.field("scores", pa.list_(pa.float64())),
                 pa.field("backend", pa.string())],
    "features": [pa.field("features", pa.list_(pa.float32())), pa.field("features_shape", pa.list_(pa.int64()))],
    "detect": [pa.field("duration", pa.float64()), pa.field("proposals_json", pa.string())],
}
# Seconds a worker spent per stage on a row's batch (shared evenly by its rows); the driver sums them.
TIMING_COLUMNS = [pa.field("decode_s", pa.float64()), pa.field("model_s", pa.float64())]


def row_schema(task: str, timings: bool = False) -> pa.Schema:
    if task not in TASK_COLUMNS:
        raise ValueError(f"unknown task {task!r}; one of {', '.join(TASK_COLUMNS)}")
    return pa.schema(COMMON_COLUMNS + TASK_COLUMNS[task] + (TIMING_COLUMNS if timings else []))


def write_atomic(path: Path, write) -> None:
    """`write(tmp_path)` then rename to `path`: readers see the whole file or none of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class FolderLocked(RuntimeError):
    pass


class ResultStore:
    """Shards, manifest and index of one results folder (see the module docstring)."""

    def __init__(self, root: PathLike, task: str):
        self.root = Path(root)
        self.task = task
        self.schema = row_schema(task)
        self.shards_dir = self.root / "shards"
        self.pending_dir = self.root / "pending"
        self.manifest_path = self.root / "manifest.json"
        self.shards_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = None
        self._seq = 0
        self.db: Optional[sqlite3.Connection] = None

    # ------------------------------------------------------------------ lock
    def lock(self) -> "ResultStore":
        f = open(self.root / ".lock", "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise FolderLocked(f"another batch job is writing to {self.root}") from None
        self._lock_file = f
        return self

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # ------------------------------------------------------------------ shards
    def shards(self) -> List[Path]:
        """The shard files, oldest first (names start with the time they were written)."""
        return sorted(self.shards_dir.glob("part-*.parquet"))

    def write_shard(self, table: pa.Table) -> Path:
        """One shard with `table`'s rows (columns of this task's schema), written atomically."""
        self._seq += 1
        path = self.shards_dir / f"part-{time.time_ns():020d}-{os.getpid()}-{self._seq:06d}.parquet"
        table = table.select(self.schema.names).cast(self.schema)
        write_atomic(path, lambda tmp: pq.write_table(table, tmp))
        return path

    def read_rows(self) -> pa.Table:
        """Every current row (one per path)."""
        tables = [pq.read_table(s, schema=self.schema) for s in self.shards()]
        return pa.concat_tables(tables) if tables else self.schema.empty_table()

    # ------------------------------------------------------------------ index
    def rebuild_index(self) -> int:
        """Read every shard's paths into a fresh index and remove superseded rows from old shards.
        Returns the number of rows removed."""
        if self.db is not None:
            self.db.close()
        index = self.root / "index.sqlite"
        for stale in (index, index.with_name("index.sqlite-journal")):
            if stale.exists():
                stale.unlink()
        self.db = db = sqlite3.connect(str(index))
        db.executescript("""
            PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
            CREATE TABLE rows(path TEXT PRIMARY KEY, status TEXT, run_key TEXT, error_type TEXT, shard TEXT);
            CREATE TEMP TABLE incoming(path TEXT PRIMARY KEY, status TEXT, run_key TEXT, error_type TEXT,
                                       shard TEXT);
            CREATE TEMP TABLE superseded(shard TEXT, path TEXT);
        """)
        for shard in self.shards():
            t = pq.read_table(shard, columns=["path", "status", "run_key", "error_type"])
            cols = [t.column(c).to_pylist() for c in t.column_names]
            db.executemany("INSERT OR REPLACE INTO incoming VALUES (?, ?, ?, ?, ?)",
                           ((*row, shard.name) for row in zip(*cols)))
            db.execute("INSERT INTO superseded SELECT rows.shard, rows.path FROM rows JOIN incoming USING (path)")
            db.execute("INSERT OR REPLACE INTO rows SELECT * FROM incoming")
            db.execute("DELETE FROM incoming")
        db.commit()
        return self._remove_superseded()

    def _remove_superseded(self) -> int:
        removed = 0
        for (shard,) in self.db.execute("SELECT DISTINCT shard FROM superseded").fetchall():
            drop = {p for (p,) in self.db.execute("SELECT path FROM superseded WHERE shard = ?", (shard,))}
            path = self.shards_dir / shard
            table = pq.read_table(path)
            keep = pa.array([p not in drop for p in table.column("path").to_pylist()])
            kept = table.filter(keep)
            removed += table.num_rows - kept.num_rows
            if kept.num_rows:
                write_atomic(path, lambda tmp: pq.write_table(kept, tmp))
            else:
                path.unlink()
        self.db.execute("DELETE FROM superseded")
        self.db.commit()
        return removed

    def lookup(self, paths: Sequence[str]) -> Dict[str, Tuple[str, str]]:
        """{path: (status, run_key)} of the current rows of `paths` that have one."""
        out: Dict[str, Tuple[str, str]] = {}
        for start in range(0, len(paths), 500):
            chunk = list(paths[start:start + 500])
            marks = ",".join("?" * len(chunk))
            out.update((p, (s, k)) for p, s, k in self.db.execute(
                f"SELECT path, status, run_key FROM rows WHERE path IN ({marks})", chunk))
        return out

    def first_seen(self, paths: Sequence[str]) -> List[str]:
        """The paths of `paths` not given before in this run (an input listed twice gets one row)."""
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS seen(path TEXT PRIMARY KEY)")
        fresh = []
        for p in paths:
            if self.db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (p,)).rowcount:
                fresh.append(p)
        return fresh

    def counts(self, run_key: str) -> Dict[str, object]:
        """Rows of this run key: ok, errors by type; rows of other run keys (older module versions)."""
        ok = errors = other = 0
        by_type: Dict[str, int] = {}
        for status, key, etype, n in self.db.execute(
                "SELECT status, run_key, error_type, COUNT(*) FROM rows GROUP BY status, run_key, error_type"):
            if key != run_key:
                other += n
            elif status == "ok":
                ok += n
            else:
                errors += n
                by_type[etype] = by_type.get(etype, 0) + n
        return {"rows": ok + errors + other, "ok": ok, "errors": errors, "errors_by_type": by_type,
                "rows_of_other_versions": other}

    # ------------------------------------------------------------------ pending list
    def write_pending(self, paths: Iterable[str], lines_per_file: int = 100_000) -> Tuple[List[Path], int]:
        """Write `paths` (streamed) to numbered list files under `pending/`; returns (files, count)."""
        if self.pending_dir.exists():
            for old in self.pending_dir.iterdir():
                old.unlink()
        self.pending_dir.mkdir(exist_ok=True)
        files: List[Path] = []
        count, f = 0, None
        try:
            for p in paths:
                if count % lines_per_file == 0:
                    if f is not None:
                        f.close()
                    files.append(self.pending_dir / f"pending-{len(files):05d}.txt")
                    f = open(files[-1], "w", encoding="utf-8")
                f.write(p + "\n")
                count += 1
        finally:
            if f is not None:
                f.close()
        return files, count

    # ------------------------------------------------------------------ manifest
    def read_manifest(self) -> Optional[dict]:
        if not self.manifest_path.is_file():
            return None
        with open(self.manifest_path, encoding="utf-8") as f:
            return json.load(f)

    def write_manifest(self, manifest: dict) -> None:
        text = json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True)
        write_atomic(self.manifest_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def iter_lines(files: Iterable[Path]) -> Iterator[str]:
    """The lines of `files`, in order, without their line ends."""
    for path in files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                yield line.rstrip("\n")
