"""Small measuring helpers shared by the benchmark scripts."""
from __future__ import annotations

import resource
import statistics
import time
from typing import Callable


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
