"""Batch pipeline, sliding windows and streams on a tiny exported network (fast, synthetic videos)."""
from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest

from synthetic import write_video
from toy_module import FPS, clips, toy  # noqa: F401 (fixtures)
from videohub.io import sampling
from videohub.runtime.predictor import trt_shape_ranges
from videohub.tasks.concurrency import StageTimer, ordered_map, prefetch, progress_bar, progress_enabled
from videohub.io.reader import open_video
from videohub.tasks import decoding, windows as win

def decode_all(path) -> np.ndarray:
    with open_video(str(path)) as r:
        return np.stack(r.get_frames(np.arange(r.info.num_frames)))



# ---------------------------------------------------------------------------------------------- pipeline
def test_threaded_batches_keep_order_and_errors(toy, clips, tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    paths = [str(clips[0]), str(tmp_path / "missing.mp4"), str(clips[1]), str(tmp_path / "empty.mp4"),
             str(clips[2]), str(clips[3]), str(clips[4]), str(clips[1])]
    batched = toy.classify(paths=paths, batch_size=3, top_k=4)
    stats = toy.last_stats
    one_by_one = [toy.classify(paths=[p], top_k=4)[0] for p in paths]
    assert [r["path"] for r in batched] == paths
    assert batched[1]["error"]["type"] == "InputNotFoundError"
    assert batched[3]["error"]["type"] == "EmptyFileError"
    for b, o in zip(batched, one_by_one):
        assert ("error" in b) == ("error" in o)
        if "prediction" in b:
            assert b["prediction"] == pytest.approx(o["prediction"], abs=1e-5)
    # the clips differ, so a mix-up of positions would show
    assert batched[0]["prediction"] != pytest.approx(batched[2]["prediction"], abs=1e-4)
    assert stats["counts"]["model"] == 2 and stats["stage_s"]["decode"] > 0 and stats["wall_s"] > 0


def test_ordered_map_order_errors_and_bounded_lookahead():
    started, lock = [], threading.Lock()

    def fn(i):
        with lock:
            started.append(i)
        time.sleep(0.002 * (7 - i % 7))  # later items finish first
        if i % 5 == 3:
            raise ValueError(f"bad {i}")
        return i * i

    seen = []
    for k, (item, value, exc) in enumerate(ordered_map(fn, iter(range(20)), workers=3, ahead=4)):
        assert item == k
        assert (exc is not None) == (k % 5 == 3)
        assert value == (None if exc else k * k)
        with lock:
            assert max(started) <= k + 5  # never more than `ahead` + 1 items beyond the one consumed
        seen.append(item)
    assert seen == list(range(20))


def test_prefetch_reraises_at_position():
    def gen():
        yield 1
        yield 2
        raise RuntimeError("boom")

    out = []
    with pytest.raises(RuntimeError, match="boom"):
        for x in prefetch(gen(), ahead=1):
            out.append(x)
    assert out == [1, 2]


def test_progress_bar_off_when_not_a_tty(capsys):
    assert not progress_enabled(None, 100, stream=io.StringIO())

    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert progress_enabled(None, 100, stream=Tty())
    assert not progress_enabled(None, 1, stream=Tty())  # a single video: no bar
    assert progress_enabled(True, 1) and not progress_enabled(False, 100, stream=Tty())
    bar = progress_bar(10, enabled=False)
    bar.update(3)
    bar.close()
    assert capsys.readouterr().err == ""


def test_slow_decoder_overlaps_with_model(toy, clips, monkeypatch):
    """With a decoder and a model that each sleep, the wall time is below the sum of the stage times:
    the stages ran at the same time (a serial pipeline can never be below the sum)."""
    real_prepare, real_run = decoding.prepare_item, toy.task.run_batch

    def slow_prepare(item, spec, backend, timings=None):  # what the decode workers run for each item
        time.sleep(0.05)
        out = real_prepare(item, spec, backend, None)
        if timings is not None:
            timings["decode"] = timings.get("decode", 0.0) + 0.05
        return out

    def slow_run(batch, use_gpu, streams=1):
        time.sleep(0.05)
        return real_run(batch, use_gpu, streams)

    monkeypatch.setattr(decoding, "prepare_item", slow_prepare)
    monkeypatch.setattr(toy.task, "run_batch", slow_run)
    paths = [str(c) for c in clips] * 2
    toy.classify(paths=paths)
    stats = toy.last_stats
    assert stats["wall_s"] < stats["stage_s"]["decode"] + stats["stage_s"]["model"]


# ---------------------------------------------------------------------------------------------- windows
@pytest.mark.parametrize("variant", [None, "dense"])
def test_windows_cover_the_video_and_match_direct_classification(toy, tmp_path, variant):
    video = write_video(tmp_path / "long.mp4", num_frames=110, size=(64, 48), fps=FPS)  # 4.4 s
    res = toy.classify_windows(path=str(video), window=1.5, stride=1.0, top_k=4, preprocess=variant,
                               batch_size=2)
    spans = [(w["start"], w["end"]) for w in res["windows"]]
    assert spans[0][0] == 0.0 and spans[-1][1] == pytest.approx(110 / FPS)
    assert all(b[0] <= a[1] for a, b in zip(spans, spans[1:]))  # no gap between windows
    assert spans == [(round(s, 3), round(e, 3)) for s, e in sampling.time_windows(110 / FPS, 1.5, 1.0)]
    frames = decode_all(video)
    spec = toy.card.preprocess_for(variant)
    probs = []
    for (s, e), w in zip(sampling.time_windows(110 / FPS, 1.5, 1.0), res["windows"]):
        plan = win.window_at(s, e, FPS, len(frames), spec)
        direct = toy.classify(videos=[win.frames_of_window(frames, plan)], top_k=4, preprocess=variant)[0]
        assert w["prediction"] == pytest.approx(direct["prediction"], abs=1e-5)
        probs.append([direct["prediction"][k] for k in "abcd"])
    mean = np.mean(probs, axis=0)
    assert [res["prediction"][k] for k in "abcd"] == pytest.approx(mean.tolist(), abs=1e-5)
    # windows see different frames, so their predictions differ
    assert res["windows"][0]["prediction"] != pytest.approx(res["windows"][-1]["prediction"], abs=1e-4)


def test_classify_with_window_keeps_errors_in_place(toy, clips, tmp_path):
    out = toy.classify(paths=[str(clips[4]), str(tmp_path / "nope.mp4")], window=1.0, stride=0.5)
    assert len(out[0]["windows"]) == len(sampling.time_windows(58 / FPS, 1.0, 0.5))
    assert out[1]["error"]["type"] == "InputNotFoundError"
    with pytest.raises(ValueError):
        toy.classify(paths=[str(clips[0])], window=0)


@pytest.mark.parametrize("window,stride", [(1.5, 1.0), (1.0, 1.0), (2.0, 0.7), (10.0, None)])
def test_stream_path_equals_file_path(toy, tmp_path, window, stride):
    video = write_video(tmp_path / "s.mp4", num_frames=96, size=(64, 48), fps=FPS)
    by_file = toy.classify_windows(path=str(video), window=window, stride=stride, top_k=4)
    by_stream = toy.classify_windows(stream=str(video), window=window, stride=stride, top_k=4)
    assert [(w["start"], w["end"]) for w in by_stream["windows"]] == \
        [(w["start"], w["end"]) for w in by_file["windows"]]
    for a, b in zip(by_stream["windows"], by_file["windows"]):
        assert a["prediction"] == pytest.approx(b["prediction"], abs=1e-6)
    live = list(toy.iter_windows(str(video), window=window, stride=stride, top_k=4))
    assert [w["prediction"] for w in live] == [w["prediction"] for w in by_stream["windows"]]


def test_stream_max_seconds_and_memory_bound(toy, tmp_path):
    video = write_video(tmp_path / "m.mp4", num_frames=100, size=(64, 48), fps=FPS)
    res = toy.classify_windows(stream=str(video), window=1.0, max_seconds=2.0)
    assert res["windows"][-1]["end"] == pytest.approx(2.0)
    # the ring of kept frames is bounded by the window, whatever the stream's length
    spec = toy.card.preprocess
    frames = (np.full((48, 64, 3), i, np.uint8) for i in range(10_000))
    pairs = win.stream_windows(frames, FPS, spec, window=1.0, stride=1.0)
    for k, (w, pv) in enumerate(pairs):
        if k == 3:
            break
    frame_refs = pairs.gi_frame.f_locals["ring"]
    assert len(frame_refs) <= int(np.ceil(1.0 * FPS)) + 2


# ---------------------------------------------------------------------------------------------- misc
def test_stage_timer_and_trt_shape_ranges():
    t = StageTimer()
    t.add("model", 0.5)
    t.add("model", 0.25)
    t.wall = 1.0
    assert t.utilisation("model") == pytest.approx(0.75)
    r = trt_shape_ranges(["x"], [(8, 3, 224, 224)], [1], [16])
    assert r == (("x", (1, 8, 3, 224, 224), (1, 8, 3, 224, 224), (16, 8, 3, 224, 224)),)


def test_toy_trt_shapes_follow_the_card(toy):
    # one video = one row of [4 segments, 3, 32, 32] (default) or [8 frames, ...] (dense variant):
    # different per-row shapes cannot share one TensorRT engine, which is said, not guessed
    with pytest.raises(ValueError, match="per-row input shapes"):
        toy.task.trt_shapes()
