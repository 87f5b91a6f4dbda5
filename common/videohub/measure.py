"""Small measuring helpers shared by the benchmark scripts."""
from __future__ import annotations

import json
import resource
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Union


def median_seconds(fn: Callable[[], object], repeat: int, warmup: int = 0) -> float:
    """Median wall time of `repeat` calls of `fn`, after `warmup` untimed calls (first-run compilation, caches)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_results(path: Union[str, Path], result: Any) -> Path:
    """Write a benchmark's results as JSON (folders made as needed) and say where."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"written to {out}")
    return out
