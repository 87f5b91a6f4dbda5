#!/usr/bin/env python3
"""Benchmark a module on real clips: decode / preprocess / model split, end to end, peak memory, and the
exported predictor against dygraph. Prints a table and writes JSON.

    python scripts/benchmark.py i3d_kinetics400 --clips a.avi b.mp4 [--repeat 5] [--dygraph]
    python scripts/benchmark.py i3d_kinetics400 --long-video 600     # make a 10-minute 720p video, measure RSS
    python scripts/benchmark.py --index-cost 600     # frame index vs sparse decoding, 10-minute 720p H.264 mp4/mkv
    python scripts/benchmark.py tsm_kinetics400 i3d_kinetics400 --throughput 20 --generated /tmp/gen
        # pipeline vs model alone on 20 inputs cycling the shared clips, alternated per round; modules without
        # weights on a generated checkpoint (in a copy under /tmp/gen); also --decode threads processes
    python scripts/benchmark.py tsm_kinetics400 i3d_kinetics400 --decode-cpu     # decode CPU seconds per clip
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional, Tuple

from videohub.measure import median_seconds, peak_rss_mb, write_results
from videohub.runtime.predictor import cpu_model

REPO = Path(__file__).resolve().parents[1]


def bench_clips(module: str, clips, repeat: int, dygraph: bool, threads: int, onednn) -> dict:
    import numpy as np

    from videohub.card import load_card
    from videohub.io.preprocess import prepare_video
    from videohub.runtime.engines.paddle_inference import PaddlePredictor as Predictor
    from videohub.runtime.predictor import RuntimeOptions
    from videohub.runtime.files import inference_files
    from videohub.weights import require_weights

    module_dir = Path(module) if Path(module).is_dir() else REPO / "modules" / module  # a name or a folder
    card = load_card(module_dir)
    require_weights(card, module_dir)
    opts = RuntimeOptions(onednn=card.onednn if onednn is None else onednn, cpu_threads=threads,
                          disabled_passes=card.disabled_passes)
    t = time.perf_counter()
    predictor = Predictor(*inference_files(module_dir), opts)
    create_s = time.perf_counter() - t
    rows, inputs = [], []
    for clip in clips:
        timings = {}
        prepared = prepare_video(clip, card.preprocess, timings=timings)  # cold (first) decode
        x = prepared.arrays
        predictor.run(*x)  # warm-up
        decode = median_seconds(lambda: prepare_video(clip, card.preprocess), repeat)
        split = {}
        for _ in range(repeat):
            prepare_video(clip, card.preprocess, timings=split)
        model = median_seconds(lambda: predictor.run(*x), repeat)
        row = {"clip": Path(clip).name, "input_shapes": [list(a.shape) for a in x],
               "frames_in_video": prepared.info.num_frames, "video_seconds": round(prepared.info.duration, 2),
               "open_s": split.get("open", 0) / repeat, "decode_s": split["decode"] / repeat,
               "preprocess_s": split["preprocess"] / repeat, "model_s": model,
               "end_to_end_s": decode + model}
        row["decode_share"] = (row["open_s"] + row["decode_s"]) / row["end_to_end_s"]
        rows.append(row)
        inputs.append(x)
    rss = peak_rss_mb()  # before the dygraph network exists: the deployed path's memory
    if dygraph:
        from videohub.runtime.verify import dygraph_outputs, reference_network

        net = reference_network(card, module_dir)  # strict key check
        for row, x in zip(rows, inputs):
            refs = dygraph_outputs(net, x)  # also the warm-up
            row["dygraph_s"] = median_seconds(lambda: dygraph_outputs(net, x), max(1, repeat // 2))
            # every output (SlowFast's probabilities saturate; its logits show the difference)
            outs = predictor.run(*x)
            row["predictor_vs_dygraph_rel_err"] = max(float(np.abs(o - r).max() / np.abs(r).max())
                                                      for o, r in zip(outs, refs))
            row["speedup_vs_dygraph"] = row["dygraph_s"] / row["model_s"]
    return {"predictor_create_s": create_s, "runtime": opts.__dict__, "clips": rows, "peak_rss_mb": rss}


LONG_VIDEO_CHILD = r"""
import json, sys, time
from videohub.measure import peak_rss_mb
from videohub.card import load_card
from videohub.io.preprocess import prepare_video
from videohub.runtime.engines.paddle_inference import PaddlePredictor as Predictor
from videohub.runtime.predictor import RuntimeOptions
from videohub.runtime.files import inference_files
module_dir, video = sys.argv[1], sys.argv[2]
card = load_card(module_dir)
if card.models:  # several networks (videotag: extractor + classifier): through the module
    import paddlehub as hub
    m = hub.Module(directory=module_dir)
    run = lambda prepared: m.task.run_batch([prepared], False)
else:
    p = Predictor(*inference_files(module_dir), RuntimeOptions(onednn=card.onednn, disabled_passes=card.disabled_passes))
    run = lambda prepared: p.run(*prepared.arrays)
t = time.perf_counter(); prepared = prepare_video(video, card.preprocess); t_dec = time.perf_counter() - t
t = time.perf_counter(); run(prepared); t_model = time.perf_counter() - t
print(json.dumps({"frames": prepared.info.num_frames, "frames_sampled": int(prepared.indices.size), "size": [prepared.info.width, prepared.info.height],
                  "decode_s": t_dec, "model_s": t_model,
                  "peak_rss_mb": peak_rss_mb()}))
"""


def write_segment(path: Path, seconds: int, fps: int = 25, size=(1280, 720)) -> None:
    """Low-complexity 720p content (a gradient and a moving square), MPEG-4 part 2 (mp4v)."""
    import cv2
    import numpy as np

    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    base = np.zeros((h, w, 3), np.uint8)
    base[:, :, 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    for i in range(seconds * fps):
        frame = base.copy()
        x = (i * 7) % (w - 80)
        frame[h // 3:h // 3 + 80, x:x + 80] = 255
        writer.write(frame)
    writer.release()


def write_h264_segment(path: Path, seconds: int, fps: int = 25, size=(1280, 720)) -> None:
    """H.264 (libx264, ultrafast, B-frames, 10 s key frame interval) through PyAV: a moving bar over noise."""
    import av
    import numpy as np

    w, h = size
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 60, size=(h, w, 3), dtype=np.uint8)
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "28", "g": str(10 * fps)})
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        for i in range(seconds * fps):
            img = noise.copy()
            x = (i * 7) % (w - 80)
            img[h // 4: 3 * h // 4, x:x + 80] = (230, 180, 40)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            for pkt in st.encode(frame):
                out.mux(pkt)
        for pkt in st.encode(None):
            out.mux(pkt)


def make_long_video(path: Path, seconds: int, fps: int = 25, size=(1280, 720), codec: str = "mp4v") -> None:
    """A long video made quickly: one segment of up to 60 s is encoded (`codec` "mp4v" with OpenCV or "h264"
    with PyAV), then its packets are copied (re-timed, no re-encoding) into `path`'s container until
    `seconds` are reached."""
    import av

    seg_s = min(60, seconds)
    seg = path.with_name(path.stem + "_segment.mp4")
    (write_h264_segment if codec == "h264" else write_segment)(seg, seg_s, fps, size)
    reps, rest = divmod(seconds, seg_s)
    if rest:
        raise ValueError(f"--long-video must be a multiple of {seg_s} seconds")
    with av.open(str(seg)) as probe:
        tb = probe.streams.video[0].time_base
    span = int(round(seg_s / float(tb)))  # segment length in stream ticks
    with av.open(str(path), "w") as out:
        with av.open(str(seg)) as first:
            ost = out.add_stream_from_template(first.streams.video[0])
        for k in range(reps):
            with av.open(str(seg)) as inp:
                for pkt in inp.demux(inp.streams.video[0]):
                    if pkt.dts is None:  # the demuxer's flush packet
                        continue
                    pkt.pts += k * span
                    pkt.dts += k * span
                    pkt.stream = ost
                    out.mux(pkt)
    seg.unlink()


WINDOWS_CHILD = r"""
import json, sys, time
from videohub.measure import peak_rss_mb
import paddlehub as hub
module_dir, video, window, stride = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
m = hub.Module(directory=module_dir)
t = time.perf_counter()
res = m.classify_windows(path=video, window=window, stride=stride, top_k=1, progress=False)
wall = time.perf_counter() - t
print(json.dumps({"windows": len(res["windows"]), "wall_s": wall, "stats": m.last_stats,
                  "top1": res["prediction"],
                  "peak_rss_mb": peak_rss_mb()}))
"""


def bench_index_cost(seconds: int, repeat: int) -> dict:
    """Building the frame index (demuxing every packet) against decoding what the samplers take (8 segments,
    TSN/TSM; a 64-frame clip, I3D) by seeking, on a `seconds`-long 720p H.264 mp4 and the same in mkv."""
    import numpy as np

    from videohub.io.frame_index import build_frame_index
    from videohub.io.reader import open_video

    rows = []
    with tempfile.TemporaryDirectory(prefix="index_cost_") as tmp:
        t = time.perf_counter()
        mp4 = Path(tmp) / "long720p.mp4"
        make_long_video(mp4, seconds, codec="h264")
        make_s = time.perf_counter() - t
        mkv = mp4.with_suffix(".mkv")
        make_long_video(mkv, seconds, codec="h264")
        for path in (mp4, mkv):
            index_s = median_seconds(lambda: build_frame_index(str(path)), repeat, warmup=1)
            n = build_frame_index(str(path)).num_frames
            for name, idx in (("8 segments", np.linspace(0, n - 1, 8).round().astype(int)),
                              ("64-frame clip", np.arange(n // 2 - 32, n // 2 + 32))):
                def decode():
                    with open_video(path, "opencv") as r:  # the index is cached: this is the decoding alone
                        r.get_frames(idx)

                decode_s = median_seconds(decode, repeat, warmup=1)
                rows.append({"file": path.suffix[1:], "frames": n, "sampled": name, "index_s": round(index_s, 3),
                             "decode_s": round(decode_s, 3), "index_vs_decode": round(index_s / decode_s, 3)})
    return {"seconds": seconds, "make_s": round(make_s, 1), "rows": rows}


def bench_windows(module: str, seconds: int, window: float, stride: float, keep: bool) -> dict:
    """Generate a 720p video of `seconds` and classify it in sliding windows in a fresh process."""
    tmp = Path(tempfile.mkdtemp(prefix="videohub_long_"))
    video = tmp / f"long_{seconds}s_720p.mp4"
    t = time.perf_counter()
    make_long_video(video, seconds)
    made = time.perf_counter() - t
    proc = subprocess.run([sys.executable, "-c", WINDOWS_CHILD, str(REPO / "modules" / module), str(video),
                           str(window), str(stride)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res.update({"video_seconds": seconds, "video_bytes": video.stat().st_size, "make_s": made,
                "window": window, "stride": stride, "seconds_per_video_second": res["wall_s"] / seconds})
    if not keep:
        video.unlink()
        tmp.rmdir()
    return res


SHARED = Path(os.environ.get("VIDEOHUB_SHARED", REPO.parent / "shared"))


def sample_clips() -> list:
    """The real clips of ../shared/data/samples (or $VIDEOHUB_SHARED), for runs given no --clips."""
    folder = SHARED / "data" / "samples"
    return sorted(str(p) for p in folder.glob("*") if p.suffix in (".mp4", ".avi"))


def module_dir_for(module: str, generated_root: Optional[Path], manifest: Optional[str] = None) -> Path:
    """The module's folder: a folder given as such, modules/<name> when its weights are installed, else (with
    `generated_root`) a copy under it whose weights are a deterministic generated checkpoint (the shared
    tool's seed 0 for `manifest`, default `<architecture>_state_dict.tsv`, imported with
    `fetch_weights.py --from`), made once and reused."""
    from videohub.card import load_card
    from videohub.weights import weights_installed

    if Path(module).is_dir():
        return Path(module)
    own = REPO / "modules" / module
    if weights_installed(own) or generated_root is None:
        return own
    copy = Path(generated_root) / module
    if weights_installed(copy):
        return copy
    import importlib.util
    import shutil

    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(own, copy, ignore=shutil.ignore_patterns("weights", "__pycache__"))
    tool_spec = importlib.util.spec_from_file_location("make_reference_checkpoint",
                                                       SHARED / "tools" / "make_reference_checkpoint.py")
    tool = importlib.util.module_from_spec(tool_spec)
    tool_spec.loader.exec_module(tool)
    ckpt = Path(generated_root) / f"{module}_seed0.pdparams"
    manifest_path = SHARED / "data" / "state_dicts" / (manifest or f"{load_card(own).arch_name}_state_dict.tsv")
    tool.main(["--manifest", str(manifest_path), "--seed", "0", "--out", str(ckpt)])
    fetch_spec = importlib.util.spec_from_file_location("fetch_weights", REPO / "scripts" / "fetch_weights.py")
    fetch = importlib.util.module_from_spec(fetch_spec)
    fetch_spec.loader.exec_module(fetch)
    if fetch.main([module, "--from", str(ckpt), "--modules-dir", str(generated_root)]) != 0:
        raise RuntimeError(f"{module}: importing the generated checkpoint failed")
    return copy


def repeated(clips, n: int) -> list:
    """`n` inputs cycling through `clips` (20 real clips from the 8 samples)."""
    return [clips[i % len(clips)] for i in range(n)]


def bench_throughput(module: str, clips, n: int, batch_size: int, workers: int, naive: bool, rounds: int = 3,
                     generated_root: Optional[Path] = None, decode: str = "threads", niceness: int = 0,
                     streams: Optional[int] = None, manifest: Optional[str] = None) -> dict:
    """Pipeline (`classify` on the list) vs model only (pre-decoded inputs) on the same `n` inputs, alternated
    `rounds` times in one process so that both see the same load of a shared machine; the ratio is per round
    (model-only seconds / pipeline seconds), reported with its median. Model only is measured twice: one
    inference at a time on every thread (the predictor one video gets), and with the pipeline's inference
    streams (several at once: `ModelRuntime.throughput_streams`, or `streams`; 1 turns them off). `decode`:
    "processes" or "threads" (`decode_workers` of them, at `niceness`). `naive`: also decode every frame into
    memory with OpenCV, then the dygraph network."""
    import statistics

    import paddlehub as hub

    from videohub.io.preprocess import prepare_video
    from videohub.tasks.concurrency import ordered_map

    module_dir = module_dir_for(module, generated_root, manifest)
    m = hub.Module(directory=str(module_dir), decode_workers=workers)
    m.task.decode_processes, m.task.decode_niceness = decode == "processes", niceness
    m.task.inference_streams = streams
    inputs = repeated(list(clips), n)
    unique = sorted(set(inputs), key=inputs.index)
    prepared = {c: prepare_video(c, m.card.preprocess) for c in unique}
    durations = {c: prepared[c].info.duration for c in unique}
    predictor = m.predictor(False)
    engine = m.engine_choice(False)
    n_streams = m.task.model_streams(False, -(-n // batch_size))
    streamed = m.runtime.predictor(False, streams=n_streams)
    for c in unique:  # warm-up: every input shape once (oneDNN / OpenVINO kernels)
        predictor.run(*prepared[c].arrays)
        streamed.run(*prepared[c].arrays)
    m.classify(paths=unique[:2], batch_size=batch_size, top_k=1)  # warm-up of the pipeline's own path

    def model_only() -> Tuple[float, float]:
        t, c = time.perf_counter(), cpu_seconds()
        for x in inputs:
            predictor.run(*prepared[x].arrays)
        return time.perf_counter() - t, cpu_seconds() - c

    def model_only_streams() -> float:
        t = time.perf_counter()
        for _, _, exc in ordered_map(lambda x: streamed.run(*prepared[x].arrays), inputs,
                                     workers=n_streams if n_streams > 1 else 0, ahead=n_streams):
            if exc is not None:
                raise exc
        return time.perf_counter() - t

    def pipeline():
        t, c = time.perf_counter(), cpu_seconds()
        results = m.classify(paths=inputs, batch_size=batch_size, top_k=1)
        wall, cpu = time.perf_counter() - t, cpu_seconds() - c
        failed = [r for r in results if "error" in r]
        if failed:
            raise RuntimeError(f"{module}: inputs failed in the pipeline: {failed}")
        return wall, cpu, m.last_stats

    per_round = []
    for _ in range(max(1, rounds)):
        mo, mo_cpu = model_only()
        mo_streams = model_only_streams()
        wall, cpu, stats = pipeline()
        per_round.append({"model_only_s": mo, "model_only_streams_s": mo_streams, "pipeline_s": wall,
                          "ratio": mo / wall, "ratio_streams": mo_streams / wall, "model_only_cpu_s": mo_cpu,
                          "pipeline_cpu_s": cpu, "cpu_ratio": mo_cpu / cpu, "stages": stats})
    prepared.clear()  # the pre-decoded inputs are not needed any more
    video_s = sum(durations[c] for c in inputs)
    model_s = statistics.median(r["model_only_s"] for r in per_round)
    wall = statistics.median(r["pipeline_s"] for r in per_round)
    out = {"module": module, "module_dir": str(module_dir), "engine": f"{engine.engine}/{engine.precision}",
           "videos": n, "unique_clips": [Path(c).name for c in unique], "video_seconds": video_s,
           "batch_size": batch_size, "decode_workers": workers, "decode": decode, "niceness": niceness,
           "rounds": per_round,
           "model_only_s": model_s, "model_only_s_per_clip": model_s / n, "model_only_videos_per_s": n / model_s,
           "pipeline_s": wall, "pipeline_s_per_clip": wall / n, "pipeline_videos_per_s": n / wall,
           "pipeline_video_seconds_per_s": video_s / wall,
           "pipeline_vs_model_only": statistics.median(r["ratio"] for r in per_round),
           "inference_streams": n_streams,
           "model_only_streams_s_per_clip": statistics.median(r["model_only_streams_s"] for r in per_round) / n,
           "pipeline_vs_model_only_streams": statistics.median(r["ratio_streams"] for r in per_round),
           # CPU seconds of the model alone / of the whole pipeline (decode workers included): the ratio a
           # machine whose cores the model keeps busy reaches at best, whatever else runs on a shared one
           "cpu_ratio": statistics.median(r["cpu_ratio"] for r in per_round),
           "stages": per_round[-1]["stages"]}
    if naive:
        out["naive"] = bench_naive(m, unique, inputs)
        out["pipeline_vs_naive"] = out["naive"]["seconds_for_inputs"] / wall
    m.runtime.release()
    return out


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (decode worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def bench_decode_cpu(modules, clips, repeat: int, backend: str = "opencv") -> list:
    """CPU seconds per clip of decoding and preprocessing each clip as the module's card says (one thread, after
    one warm-up pass): what the pipeline adds to the model's work, measured in CPU time so that a shared
    machine's load does not count."""
    from videohub.card import load_card
    from videohub.io.preprocess import prepare_video

    rows = []
    for module in modules:
        spec = load_card(Path(module) if Path(module).is_dir() else REPO / "modules" / module).preprocess
        for clip in clips:
            prepare_video(clip, spec, backend)
        c = cpu_seconds()
        for _ in range(repeat):
            for clip in clips:
                prepare_video(clip, spec, backend)
        rows.append({"module": module, "backend": backend, "clips": len(clips),
                     "decode_cpu_s_per_clip": (cpu_seconds() - c) / (repeat * len(clips))})
    return rows


def throughput_table(rows) -> str:
    """One line per module: engine, model-only seconds per clip (one inference at a time, and with the
    pipeline's inference streams), pipeline seconds per clip, the ratios (median; per round for the first),
    the CPU-seconds ratio, the stage split."""
    lines = [f"{'module':24} {'decode':8} {'engine':16} {'model s/clip':>12} {'streams':>7} {'model s/clip':>12} "
             f"{'e2e s/clip':>10} {'ratio':>6} {'rounds':>17} {'ratio vs streams':>16} {'cpu ratio':>9}  "
             "pipeline stages (busy s per clip)"]
    for tp in rows:
        st = tp["stages"]["stage_s"]
        split = ", ".join(f"{k} {v / tp['videos']:.3f}" for k, v in st.items())
        per_round = " ".join(f"{r['ratio']:.3f}" for r in tp["rounds"])
        lines.append(f"{tp['module']:24} {tp['decode']:8} {tp['engine']:16} {tp['model_only_s_per_clip']:12.3f} "
                     f"{tp['inference_streams']:7d} {tp['model_only_streams_s_per_clip']:12.3f} "
                     f"{tp['pipeline_s_per_clip']:10.3f} {tp['pipeline_vs_model_only']:6.3f} {per_round:>17} "
                     f"{tp['pipeline_vs_model_only_streams']:16.3f} {tp['cpu_ratio']:9.3f}  {split}")
    return "\n".join(lines)


def bench_naive(m, unique, inputs) -> dict:
    """The naive way per clip, timed once per unique clip and summed over the inputs it stands for."""
    import cv2
    import numpy as np
    import paddle

    from videohub.models import build_network
    from videohub.io.preprocess import prepare_array

    net = build_network(m.card.arch_name, **m.card.arch_kwargs)
    net.set_state_dict(paddle.load(str(Path(m.directory) / "weights" / "model.pdparams")))
    per_clip = {}
    for c in unique:
        t = time.perf_counter()
        cap = cv2.VideoCapture(c)
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        frames = []
        while True:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(f, cv2.COLOR_BGR2RGB))
        cap.release()
        x = prepare_array(np.stack(frames), m.card.preprocess, fps=fps).arrays
        t_dec = time.perf_counter() - t
        with paddle.no_grad():
            net(*[paddle.to_tensor(a) for a in x])
        per_clip[c] = {"decode_all_s": t_dec, "total_s": time.perf_counter() - t, "frames": len(frames)}
        del frames, x
    return {"per_clip": {Path(c).name: v for c, v in per_clip.items()},
            "seconds_for_inputs": sum(per_clip[c]["total_s"] for c in inputs)}


def bench_long_video(module: str, seconds: int, keep: bool) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="videohub_long_"))
    video = tmp / f"long_{seconds}s_720p.mp4"
    t = time.perf_counter()
    make_long_video(video, seconds)
    made = time.perf_counter() - t
    module_dir = Path(module) if Path(module).is_dir() else REPO / "modules" / module  # a name or a folder
    proc = subprocess.run([sys.executable, "-c", LONG_VIDEO_CHILD, str(module_dir), str(video)],
                          capture_output=True, text=True, check=True)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res.update({"video_seconds": seconds, "video_bytes": video.stat().st_size, "make_s": made})
    if not keep:
        video.unlink()
        tmp.rmdir()
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("module", nargs="*", help="module name(s) or folder(s); several only with --throughput")
    ap.add_argument("--clips", nargs="*", default=[])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--onednn", choices=("on", "off"), default=None, help="override the card")
    ap.add_argument("--dygraph", action="store_true", help="also time the dygraph network on the same input")
    ap.add_argument("--long-video", type=int, default=0, metavar="SECONDS",
                    help="generate a 720p video of this length and measure a subprocess's peak RSS on it")
    ap.add_argument("--keep-video", action="store_true")
    ap.add_argument("--windows", type=float, nargs=2, default=None, metavar=("WINDOW", "STRIDE"),
                    help="with --long-video: classify it in sliding windows (seconds) instead of as one clip")
    ap.add_argument("--throughput", type=int, default=0, metavar="N",
                    help="N inputs cycling through --clips: pipeline vs model-only videos/s, stage split")
    ap.add_argument("--naive", action="store_true",
                    help="with --throughput: also the naive way (all frames into memory with OpenCV, dygraph)")
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2, help="decode workers of the pipeline")
    ap.add_argument("--rounds", type=int, default=3,
                    help="with --throughput: model-only and pipeline runs, alternated (the ratio is per round)")
    ap.add_argument("--decode-cpu", action="store_true",
                    help="CPU seconds per clip of decoding + preprocessing --clips (default: the shared samples)")
    ap.add_argument("--decode", nargs="+", choices=("threads", "processes"), default=["threads"],
                    help="with --throughput: decode workers as processes or threads (several: one row each)")
    ap.add_argument("--niceness", type=int, default=0, help="with --throughput: niceness of decode processes")
    ap.add_argument("--streams", type=int, default=None,
                    help="with --throughput: inferences at once in the pipeline (default: the runtime's choice; "
                         "1: one at a time)")
    ap.add_argument("--manifest", nargs="+", default=[], metavar="MODULE=FILE",
                    help="with --generated: the shared state-dict manifest of a module whose file is not "
                         "<architecture>_state_dict.tsv (e.g. stnet_kinetics400=legacy_stnet_r50_state_dict.tsv)")
    ap.add_argument("--generated", default=None, metavar="DIR",
                    help="modules without installed weights run on a generated checkpoint, in a copy under DIR "
                         "(made once, reused)")
    ap.add_argument("--index-cost", type=int, default=0, metavar="SECONDS",
                    help="frame index vs sparse decoding on a 720p H.264 mp4 and mkv of this length")
    ap.add_argument("--out", default=None, help="JSON result file (default benchmarks/out/<module>.json)")
    args = ap.parse_args(argv)
    if args.index_cost:
        ic = bench_index_cost(args.index_cost, args.repeat)
        print(f"{'file':5} {'frames':>7} {'sampled':>14} {'index s':>8} {'decode s':>9} {'index/decode':>13}")
        for r in ic["rows"]:
            print(f"{r['file']:5} {r['frames']:7d} {r['sampled']:>14} {r['index_s']:8.3f} {r['decode_s']:9.3f} "
                  f"{r['index_vs_decode']:13.3f}")
        out = Path(args.out or REPO / "benchmarks" / "out" / "index_cost.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
                                   "cpus": os.cpu_count(), **ic}, indent=1))
        print(f"written {out}")
        return 0
    modules = args.module
    if not modules:
        ap.error("give a module (or --index-cost)")
    if len(modules) > 1 and not (args.throughput or args.decode_cpu):
        ap.error("several modules only with --throughput or --decode-cpu")
    args.module = modules[0]

    result = {"module": args.module, "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(),
                                                 "platform": platform.platform(), "python": platform.python_version()},
              "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])])}
    if (args.throughput or args.decode_cpu) and not args.clips:
        args.clips = sample_clips()
        if not args.clips:
            ap.error("--throughput needs --clips (no shared/data/samples beside the checkout or in $VIDEOHUB_SHARED)")
    if args.decode_cpu:
        rows = bench_decode_cpu(modules, args.clips, args.repeat)
        result["decode_cpu"] = rows
        for r in rows:
            print(f"{r['module']:24} {r['backend']:7} decode + preprocess {r['decode_cpu_s_per_clip']:.4f} CPU s per clip "
                  f"({r['clips']} clips x {args.repeat})")
        default_out = REPO / "benchmarks" / "out" / "decode_cpu.json"
    elif args.throughput:
        generated = Path(args.generated) if args.generated else None
        manifests = dict(m.split("=", 1) for m in args.manifest)
        rows = [bench_throughput(name, args.clips, args.throughput, args.batch_size, args.workers, args.naive,
                                 args.rounds, generated, decode, args.niceness, args.streams,
                                 manifests.get(name))
                for name in modules for decode in args.decode]
        result["module"], result["throughput"] = ",".join(modules), rows
        print(throughput_table(rows))
        for tp in rows:
            if "naive" in tp:
                print(f"{tp['module']} naive (decode all frames, dygraph): {tp['naive']['seconds_for_inputs']:.1f} s "
                      f"for the same inputs; pipeline is {tp['pipeline_vs_naive']:.1f}x faster")
        default_out = REPO / "benchmarks" / "out" / "throughput.json"
    elif args.clips:
        onednn = None if args.onednn is None else args.onednn == "on"
        result.update(bench_clips(args.module, args.clips, args.repeat, args.dygraph, args.threads, onednn))
        print(f"{'clip':34} {'open':>6} {'decode':>7} {'prep':>6} {'model':>7} {'e2e':>7} {'dec%':>5}"
              f" {'dygraph':>8} {'x':>5} {'rel_err':>8}")
        for r in result["clips"]:
            print(f"{r['clip'][:34]:34} {r['open_s']:6.3f} {r['decode_s']:7.3f} {r['preprocess_s']:6.3f} "
                  f"{r['model_s']:7.3f} {r['end_to_end_s']:7.3f} {100 * r['decode_share']:5.1f}"
                  + (f" {r['dygraph_s']:8.2f} {r['speedup_vs_dygraph']:5.1f} {r['predictor_vs_dygraph_rel_err']:8.1e}"
                     if "dygraph_s" in r else ""))
        print(f"peak RSS of the predictor path {result['peak_rss_mb']:.0f} MB")
    if args.long_video and args.windows:
        lw = bench_windows(args.module, args.long_video, args.windows[0], args.windows[1], args.keep_video)
        result["long_video_windows"] = lw
        print(f"long video {lw['video_seconds']} s 720p ({lw['video_bytes'] / 1e6:.0f} MB, made in "
              f"{lw['make_s']:.0f} s): {lw['windows']} windows of {lw['window']} s stride {lw['stride']} s in "
              f"{lw['wall_s']:.1f} s ({lw['seconds_per_video_second']:.4f} s per video second), peak RSS "
              f"{lw['peak_rss_mb']:.0f} MB, model utilisation {lw['stats']['model_utilisation']:.3f}")
    elif args.long_video:
        long = bench_long_video(args.module, args.long_video, args.keep_video)
        result["long_video"] = long
        print(f"long video: {long['video_seconds']} s {long['size'][0]}x{long['size'][1]} "
              f"({long['video_bytes'] / 1e6:.0f} MB, {long['frames']} frames): decode {long['decode_s']:.2f} s, "
              f"model {long['model_s']:.2f} s, peak RSS {long['peak_rss_mb']:.0f} MB")
    if not (args.throughput or args.decode_cpu):
        default_out = REPO / "benchmarks" / "out" / f"{args.module}.json"
    write_results(args.out or default_out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
