"""Keeping the model busy: an ordered, bounded map over worker threads or processes for decode work, stage
timings and progress bars.

Decoding (OpenCV / FFmpeg), resizing and the large numpy operations of preprocessing release the GIL, so
worker threads overlap them with the predictor (which releases it too); worker processes also keep the Python
parts of decoding off the interpreter that runs the model. `scripts/benchmark.py --throughput` measures the
pipeline against the model alone.
"""
from __future__ import annotations

import multiprocessing
import queue
import sys
import threading
import time
from collections import deque
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Dict, Iterable, Iterator, Optional, Tuple, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Outcome = Tuple[T, Optional[R], Optional[BaseException]]


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int = 2, ahead: Optional[int] = None,
                processes: bool = False, initializer: Optional[Callable[..., None]] = None,
                initargs: tuple = ()) -> Iterator[Outcome]:
    """Yield `(item, fn(item), None)` or `(item, None, exception)` for every item, in input order.

    `workers` threads (or, with `processes`, worker processes) run `fn`; at most `ahead` items (default
    `2 * workers`) are submitted beyond the one being consumed, so memory is bounded by `ahead` results however
    long `items` is. `items` is read lazily (it may be a generator). An exception in `fn` becomes that item's
    outcome; the others still run. `workers=1` keeps all calls of `fn` in one background worker, in order (for
    a reader that is not thread-safe) while the consumer works in parallel; `workers=0` runs everything inline.
    Worker processes (`fn`, items and results must pickle; `initializer(*initargs)` runs in each) are started
    from a clean server process (multiprocessing's "forkserver", never a fork of this possibly threaded
    process) and are gone when the iteration ends, however it ends.
    """
    if workers <= 0:
        for item in items:
            try:
                yield item, fn(item), None
            except Exception as exc:  # every failure is kept as that item's outcome
                yield item, None, exc
        return
    ahead = max(1, int(ahead if ahead is not None else 2 * workers))
    source = iter(items)
    if processes:
        pool: Executor = ProcessPoolExecutor(workers, mp_context=process_context(), initializer=initializer,
                                             initargs=initargs)
    else:
        pool = ThreadPoolExecutor(workers, thread_name_prefix="videohub-decode", initializer=initializer,
                                  initargs=initargs)
    pending: deque = deque()
    try:
        for item in source:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) > ahead:
                yield _outcome(*pending.popleft())
        while pending:
            yield _outcome(*pending.popleft())
    finally:
        # A consumer that stops early (strict=True, break) must not wait for work nobody will read.
        pool.shutdown(wait=True, cancel_futures=True)


def _outcome(item: T, future: Future) -> Outcome:
    try:
        return item, future.result(), None
    except Exception as exc:  # every failure is kept as that item's outcome (a dead worker: BrokenProcessPool)
        return item, None, exc


def process_context() -> multiprocessing.context.BaseContext:
    """Worker processes start from multiprocessing's fork server: forking this process itself could copy a
    lock held by one of its threads (the predictor's, the decoder's)."""
    return multiprocessing.get_context("forkserver")


class StageTimer:
    """Thread-safe seconds per stage ("decode", "preprocess", "model", ...) and the wall time of a run.

    `utilisation(stage)` = busy seconds of that stage / wall seconds: for the model stage, how much of the run
    the predictor was working (1.0 means decoding was entirely hidden behind the model)."""

    def __init__(self) -> None:
        self.seconds: Dict[str, float] = {}
        self.counts: Dict[str, int] = {}
        self._lock = threading.Lock()
        self._t0 = time.perf_counter()
        self.wall = 0.0

    def add(self, stage: str, seconds: float, count: int = 1) -> None:
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
            self.counts[stage] = self.counts.get(stage, 0) + count

    def merge(self, timings: Dict[str, float]) -> None:
        for stage, s in timings.items():
            self.add(stage, s)

    @contextmanager
    def stage(self, name: str):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t)

    def stop(self) -> "StageTimer":
        self.wall = time.perf_counter() - self._t0
        return self

    def utilisation(self, stage: str = "model") -> float:
        return self.seconds.get(stage, 0.0) / self.wall if self.wall > 0 else 0.0

    def as_dict(self) -> Dict[str, object]:
        return {"wall_s": self.wall, "stage_s": dict(self.seconds), "counts": dict(self.counts),
                "model_utilisation": self.utilisation("model")}


def progress_enabled(progress: Optional[bool], total: Optional[int], min_items: int = 2,
                     stream=None) -> bool:
    """`progress=None` (auto): a bar for runs of at least `min_items` items, only when stderr is a terminal
    (never in logs, pipes, CI or `hub serving`). `True` / `False` force it on / off."""
    if progress is not None:
        return bool(progress)
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    if not (callable(isatty) and isatty()):
        return False
    return total is None or total >= min_items


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: Optional[int], enabled: bool, desc: str = "videos", unit: str = "video"):
    """A tqdm bar on stderr when `enabled`, else a no-op object with the same `update` / `close`."""
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=False)


_DONE = object()


def prefetch(iterable: Iterable[T], ahead: int = 2) -> Iterator[T]:
    """Run `iterable` in a background thread, at most `ahead` items in advance, yielding them in order.

    The producer (e.g. reading and decoding the next window of a long video) overlaps with the consumer
    (the model). An exception raised by the producer is re-raised here, at its position."""
    q: "queue.Queue" = queue.Queue(maxsize=max(1, int(ahead)))
    stop = threading.Event()

    def produce():
        try:
            for item in iterable:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    close = getattr(iterable, "close", None)  # a generator releases its reader now
                    if close is not None:
                        close()
                    return
            q.put((_DONE, None))
        except BaseException as exc:  # handed to the consumer, raised there
            q.put((_DONE, exc))

    thread = threading.Thread(target=produce, name="videohub-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if item is _DONE:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue, then let it finish
            try:
                q.get_nowait()
            except Exception:
                thread.join(0.05)
