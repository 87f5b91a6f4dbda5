#!/usr/bin/env python3
"""Benchmark a module on real clips: decode / preprocess / model split, end to end, peak memory, and the
exported predictor against dygraph. Prints a table and writes JSON.

    python scripts/benchmark.py i3d_kinetics400 --clips a.avi b.mp4 [--repeat 5] [--dygraph]
    python scripts/benchmark.py i3d_kinetics400 --long-video 600     # make a 10-minute 720p video, measure RSS
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_clips(module: str, clips, repeat: int, dygraph: bool, threads: int, onednn) -> dict:
    import numpy as np

    from videohub.card import load_card
    from videohub.pipeline import prepare_video
    from videohub.runtime import Predictor, RuntimeOptions
    from videohub.weights import inference_files, require_weights

    module_dir = REPO / "modules" / module
    card = load_card(module_dir)
    require_weights(card, module_dir)
    opts = RuntimeOptions(onednn=card.onednn if onednn is None else onednn, cpu_threads=threads)
    t = time.perf_counter()
    predictor = Predictor(*inference_files(module_dir), opts)
    create_s = time.perf_counter() - t
    rows, inputs = [], []
    for clip in clips:
        timings = {}
        prepared = prepare_video(clip, card.preprocess, timings=timings)  # cold (first) decode
        x = prepared.arrays
        predictor.run(*x)  # warm-up
        decode = median_time(lambda: prepare_video(clip, card.preprocess), repeat)
        split = {}
        for _ in range(repeat):
            prepare_video(clip, card.preprocess, timings=split)
        model = median_time(lambda: predictor.run(*x), repeat)
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
        import paddle

        from videohub.models import build_network

        net = build_network(card.arch_name, **card.arch_kwargs)
        net.set_state_dict(paddle.load(str(module_dir / "weights" / "model.pdparams")))
        for row, x in zip(rows, inputs):
            with paddle.no_grad():
                t = time.perf_counter()
                ref = net(*[paddle.to_tensor(a) for a in x])
                ref = (ref[0] if isinstance(ref, (tuple, list)) else ref).numpy()
                row["dygraph_s"] = time.perf_counter() - t
            out = predictor.run(*x)[0]
            row["predictor_vs_dygraph_rel_err"] = float(np.abs(out - ref).max() / np.abs(ref).max())
            row["speedup_vs_dygraph"] = row["dygraph_s"] / row["model_s"]
    return {"predictor_create_s": create_s, "runtime": opts.__dict__, "clips": rows, "peak_rss_mb": rss}


LONG_VIDEO_CHILD = r"""
import json, resource, sys, time
from videohub.card import load_card
from videohub.pipeline import prepare_video
from videohub.runtime import Predictor, RuntimeOptions
from videohub.weights import inference_files
module_dir, video = sys.argv[1], sys.argv[2]
card = load_card(module_dir)
p = Predictor(*inference_files(module_dir), RuntimeOptions(onednn=card.onednn))
t = time.perf_counter(); prepared = prepare_video(video, card.preprocess); t_dec = time.perf_counter() - t
t = time.perf_counter(); p.run(*prepared.arrays); t_model = time.perf_counter() - t
print(json.dumps({"frames": prepared.info.num_frames, "size": [prepared.info.width, prepared.info.height],
                  "decode_s": t_dec, "model_s": t_model,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))
"""


def make_long_video(path: Path, seconds: int, fps: int = 25, size=(1280, 720)) -> None:
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


def bench_long_video(module: str, seconds: int, keep: bool) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="videohub_long_"))
    video = tmp / f"long_{seconds}s_720p.mp4"
    t = time.perf_counter()
    make_long_video(video, seconds)
    made = time.perf_counter() - t
    proc = subprocess.run([sys.executable, "-c", LONG_VIDEO_CHILD, str(REPO / "modules" / module), str(video)],
                          capture_output=True, text=True, check=True)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res.update({"video_seconds": seconds, "video_bytes": video.stat().st_size, "make_s": made})
    if not keep:
        video.unlink()
        tmp.rmdir()
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("module")
    ap.add_argument("--clips", nargs="*", default=[])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--onednn", choices=("on", "off"), default=None, help="override the card")
    ap.add_argument("--dygraph", action="store_true", help="also time the dygraph network on the same input")
    ap.add_argument("--long-video", type=int, default=0, metavar="SECONDS",
                    help="generate a 720p video of this length and measure a subprocess's peak RSS on it")
    ap.add_argument("--keep-video", action="store_true")
    ap.add_argument("--out", default=None, help="JSON result file (default benchmarks/out/<module>.json)")
    args = ap.parse_args(argv)

    result = {"module": args.module, "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                                 "python": platform.python_version()},
              "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])])}
    if args.clips:
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
    if args.long_video:
        long = bench_long_video(args.module, args.long_video, args.keep_video)
        result["long_video"] = long
        print(f"long video: {long['video_seconds']} s {long['size'][0]}x{long['size'][1]} "
              f"({long['video_bytes'] / 1e6:.0f} MB, {long['frames']} frames): decode {long['decode_s']:.2f} s, "
              f"model {long['model_s']:.2f} s, peak RSS {long['peak_rss_mb']:.0f} MB")
    out = Path(args.out) if args.out else REPO / "benchmarks" / "out" / f"{args.module}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
