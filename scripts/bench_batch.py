"""Batch jobs (`videohub.batch`): videos/s in this process vs. on Ray with 1 and 2 workers, with the per-stage
split (decode / model / write), and the driver's peak memory while streaming a very long input list (mostly
missing files). Prints a table and writes JSON.

    python scripts/bench_batch.py MODULE_DIR [--videos 24] [--paths 100000 1000000] [--out FILE]

The speed configurations run one after the other in one call, on the same generated clips, so their ratios are
comparable even on a shared machine (absolute figures are not). Ray runs use a private local cluster
(`ray.init`) of this machine's cores, one CPU per worker.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from videohub.batch.job import JobConfig, run_job
from videohub.measure import write_results

REPO = Path(__file__).resolve().parents[1]


def make_clips(folder: Path, n: int, frames: int = 48, size=(320, 240)) -> list:
    """`n` clips of moving coloured bars (MPEG-4 Part 2 via OpenCV), each different."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"clip{i:05d}.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, size)
        colour = rng.integers(0, 256, 3).tolist()
        for t in range(frames):
            img = np.zeros((size[1], size[0], 3), np.uint8)
            x = (t * 7 + i * 13) % size[0]
            img[:, x:x + 40] = colour
            writer.write(img)
        writer.release()
        paths.append(str(path))
    return paths


def speed(module: str, clips: list, work: Path, workers: list, batch_size: int) -> list:
    listing = work / "clips.txt"
    listing.write_text("\n".join(clips) + "\n")
    configs = [("single process", None, 1)] + [(f"Ray, {w} worker(s)", "local", w) for w in workers]
    rows = []
    for name, ray, w in configs:
        out = work / f"out-{len(rows)}"
        s = run_job(JobConfig(module=module, inputs=str(listing), output=str(out), ray=ray, workers=w,
                              batch_size=batch_size, progress=False))
        assert s["processed"] == len(clips) and s["ok"] == len(clips), s
        rows.append({"config": name, "videos": s["processed"], "run_s": s["run_s"],
                     "videos_per_s": s["videos_per_s"], "stage_s": s["stage_s"],
                     "first_rows_s": s["first_rows_s"], "steady_videos_per_s": s["steady_videos_per_s"]})
    base = rows[0]["videos_per_s"]
    for r in rows:
        r["speedup_vs_single"] = r["videos_per_s"] / base
    return rows


def long_list(path: Path, n: int, real: list, every: int = 10_000) -> None:
    """A list of `n` distinct paths: a `real` clip every `every` lines (while they last), the rest missing."""
    with open(path, "w") as f:
        for i in range(n):
            k, real_here = divmod(i, every)
            line = real[k] if real_here == 0 and k < len(real) else f"/nonexistent/library/v{i:08d}.mp4"
            f.write(line + "\n")


def driver_memory(module: str, clips: list, work: Path, counts: list) -> list:
    """Peak RSS of a driver process (local job: it also runs the model) streaming `n` paths."""
    rows = []
    for n in counts:
        listing = work / f"paths-{n}.txt"
        long_list(listing, n, clips)
        out = work / f"mem-{n}"
        cmd = [sys.executable, str(REPO / "scripts" / "batch.py"), module, "--inputs", str(listing), "--output",
               str(out), "--batch-size", "2000", "--shard-rows", "50000", "--no-progress"]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t
        manifest = json.loads((out / "manifest.json").read_text())
        s = manifest["summary"]
        assert s["processed"] == n and manifest["complete"], proc.stderr[-2000:]
        rows.append({"paths": n, "wall_s": wall, "driver_peak_rss_mb": s["driver_peak_rss_mb"],
                     "paths_per_s": n / s["run_s"], "errors_by_type": s["errors_by_type"], "ok": s["ok"],
                     "shards": manifest["shards"]})
        listing.unlink()
        shutil.rmtree(out)
    return rows


def print_tables(result: dict) -> None:
    print("| configuration | videos | seconds | videos/s | vs single | first rows after s | videos/s after | "
          "decode s | model s | write s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in result["speed"]:
        st = r["stage_s"]
        print(f"| {r['config']} | {r['videos']} | {r['run_s']:.1f} | {r['videos_per_s']:.2f} | "
              f"{r['speedup_vs_single']:.2f}x | {r['first_rows_s'] or 0:.1f} | {r['steady_videos_per_s'] or 0:.2f} | {st['decode']:.1f} | {st['model']:.1f} | {st['write']:.2f} |")
    if result["memory"]:
        print("\n| input paths | driver peak RSS MB | paths/s | shards |")
        print("|---|---|---|---|")
        for r in result["memory"]:
            print(f"| {r['paths']:,} | {r['driver_peak_rss_mb']:.0f} | {r['paths_per_s']:.0f} | {r['shards']} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("module", help="module folder with weights (or a packed archive, or a hub name)")
    ap.add_argument("--videos", type=int, default=24)
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2], help="Ray worker counts to measure")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--paths", type=int, nargs="*", default=[100_000, 1_000_000],
                    help="list lengths for the driver-memory runs (none: skip them)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "batch.json"))
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    try:
        clips = make_clips(work / "clips", args.videos)
        result = {"module": args.module, "machine": {"cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()},
                  "speed": speed(args.module, clips, work, args.workers, args.batch_size),
                  "memory": driver_memory(args.module, clips, work, args.paths),
                  "load_avg_at_end": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_tables(result)
    write_results(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
