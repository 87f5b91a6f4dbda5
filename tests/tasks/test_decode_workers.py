"""The batch pipeline with its decoding in worker processes: the same results as in this process, in input order,
errors in place, bounded look-ahead, and no worker left behind however the call ends."""
from __future__ import annotations

import functools
import json
import multiprocessing
import os
import re
from contextlib import contextmanager

import pytest

from toy_module import clips, toy  # noqa: F401 (fixtures)
from videohub.errors import EmptyFileError
from videohub.tasks.concurrency import ordered_map
from videohub.tasks.decoding import decode_worker_init


@contextmanager
def decoding(task, processes: bool):
    """The module's task decoding in worker processes (or threads) for the duration of the block."""
    old = task.decode_processes
    task.decode_processes = processes
    try:
        yield task
    finally:
        task.decode_processes = old


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def without_temp_names(results):
    return json.loads(re.sub(r"[^ '\"]*\.video", "<upload>", json.dumps(results)))


def mixed_inputs(clips, tmp_path):  # noqa: F811
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_bytes(b"not a video at all" * 100)
    paths = [str(clips[0]), str(tmp_path / "missing.mp4"), str(clips[1]), str(tmp_path / "empty.mp4"),
             str(clips[2]), str(tmp_path / "text.mp4"), str(clips[3]), str(clips[4]), str(clips[1])]
    return paths, [clips[2].read_bytes(), b"\x00garbage"]


def test_worker_processes_give_the_in_process_results_in_order(toy, clips, tmp_path):  # noqa: F811
    paths, videos = mixed_inputs(clips, tmp_path)
    with decoding(toy.task, processes=False):
        in_threads = toy.classify(paths=paths, videos=videos, batch_size=2, top_k=4)
    seen = []
    real_run = toy.task.run_batch

    def run_batch(batch, use_gpu, streams=1):  # the model runs here while the workers decode
        seen.extend(p.pid for p in multiprocessing.active_children())
        return real_run(batch, use_gpu, streams)

    toy.task.run_batch = run_batch
    try:
        with decoding(toy.task, processes=True):
            in_workers = toy.classify(paths=paths, videos=videos, batch_size=2, top_k=4)
    finally:
        del toy.task.run_batch
    assert seen, "no decode worker process was running"
    assert [r["path"] for r in in_workers] == paths + ["video_0", "video_1"]
    # same predictions, same error records, same places (uploaded bytes go through a temporary file each time)
    assert without_temp_names(in_workers) == without_temp_names(in_threads)
    types = {r["path"]: r["error"]["type"] for r in in_workers if "error" in r}
    assert types == {paths[1]: "InputNotFoundError", paths[3]: "EmptyFileError", paths[5]: "VideoOpenError",
                     "video_1": "VideoOpenError"}
    # the clips differ: a mix-up of positions would show
    assert in_workers[0]["prediction"] != pytest.approx(in_workers[2]["prediction"], abs=1e-4)
    assert all(gone(pid) for pid in seen) and not multiprocessing.active_children()


def test_strict_error_from_a_worker_ends_the_workers(toy, clips, tmp_path):  # noqa: F811
    (tmp_path / "empty.mp4").write_bytes(b"")
    paths = [str(clips[0]), str(tmp_path / "empty.mp4")] + [str(c) for c in clips]
    with decoding(toy.task, processes=True), pytest.raises(EmptyFileError):
        toy.classify(paths=paths, strict=True)
    assert not multiprocessing.active_children()


def test_process_map_bounded_lookahead_order_and_errors():
    pulled = []

    def source():
        for i in range(12):
            pulled.append(i)
            yield i

    ahead = 2
    out = []
    # int("x3") fails for one item only: its error stays in its place
    for k, (item, value, exc) in enumerate(ordered_map(int, (f"x{i}" if i == 3 else str(i) for i in source()),
                                                       workers=2, ahead=ahead, processes=True)):
        assert len(pulled) <= k + ahead + 1  # memory: never more than `ahead` results beyond the one consumed
        out.append((item, value, type(exc).__name__ if exc else None))
    assert out == [(f"x{i}" if i == 3 else str(i), None if i == 3 else i, "ValueError" if i == 3 else None)
                   for i in range(12)]
    assert not multiprocessing.active_children()


def test_decode_workers_run_at_the_given_niceness():
    base = os.nice(0)
    outcomes = list(ordered_map(functools.partial(os.nice), [0, 0], workers=1, processes=True,
                                initializer=decode_worker_init, initargs=(3,)))
    assert [value for _, value, _ in outcomes] == [min(base + 3, 19)] * 2
    assert os.nice(0) == base
