#!/usr/bin/env python3
"""Compare the video backends (OpenCV / PyAV / decord) for our sampling patterns: speed and exactness.

    python scripts/bench_backends.py [CLIPS ...] [--repeat 3] [--out benchmarks/out/backends.json]

Patterns: 8 TSN segments and one 64-frame dense clip (I3D). Each sampled frame is scaled to short side 256
right after decoding, as the pipeline does. "exact" means every frame the seek-based reader returns equals
the frame at the same index in the same backend's sequential decode of the whole file (a seek that lands
on the wrong frame shows up here); "max|d| vs opencv" compares the sequentially decoded frames across
backends (colour conversion differences only). Without CLIPS it uses ../shared/data/samples/*.{mp4,avi}.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "common"))

from videohub.io import sampling, transforms  # noqa: E402
from videohub.io.reader import backends, open_video  # noqa: E402


def scale(frame: np.ndarray) -> np.ndarray:
    return transforms.scale_frame(frame, "short_side", 256, "cv2")


def patterns(n: int, fps: float) -> dict:
    return {"segments8": sampling.segment_indices(n, 8),
            "dense64": sampling.dense_clip_indices(n, fps, 64, 1, 25.0)[0]}


def sequential(path: str, backend: str, n: int) -> list:
    """Every frame, read front to back (no seek): the ground truth for that backend."""
    with open_video(path, backend) as r:
        return r.get_frames(np.arange(n))  # consecutive indices: no gap ever exceeds the seek threshold


def bench_clip(path: str, repeat: int) -> list:
    rows = []
    with open_video(path, "opencv") as r:
        n, fps = r.info.num_frames, r.info.fps
    truth, failed = {}, {}
    for b in backends():
        try:
            truth[b] = sequential(path, b, n)
        except Exception as exc:  # reported in the table, not hidden
            failed[b] = f"{type(exc).__name__}: {exc}"
    for name, idx in patterns(n, fps).items():
        for b in backends():
            if b in failed or "opencv" in failed:
                rows.append({"clip": Path(path).name, "pattern": name, "backend": b, "frames": int(len(idx)),
                             "seconds": float("nan"), "exact": False, "wrong_indices": [],
                             "max_abs_diff_vs_opencv": -1, "error": failed.get(b) or failed["opencv"]})
                continue
            times, got = [], None
            for _ in range(repeat):
                t = time.perf_counter()
                with open_video(path, b) as r:
                    got = r.get_frames(idx, scale)
                times.append(time.perf_counter() - t)
            want = [scale(truth[b][i]) for i in idx]
            wrong = [int(i) for i, a, w in zip(idx, got, want) if a.shape != w.shape or not np.array_equal(a, w)]
            cross = max(int(np.abs(truth[b][i].astype(int) - truth["opencv"][i].astype(int)).max())
                        for i in idx)
            rows.append({"clip": Path(path).name, "pattern": name, "backend": b, "frames": int(len(idx)),
                         "seconds": statistics.median(times), "exact": not wrong, "wrong_indices": wrong[:8],
                         "max_abs_diff_vs_opencv": cross})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clips", nargs="*")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "backends.json"))
    args = ap.parse_args(argv)
    clips = args.clips or sorted(str(p) for p in (REPO.parent / "shared" / "data" / "samples").iterdir()
                                 if p.suffix in (".mp4", ".avi"))
    rows = [r for c in clips for r in bench_clip(c, args.repeat)]
    print(f"{'clip':38} {'pattern':10} {'backend':7} {'ms':>8} {'exact':>6} {'max|d| vs opencv':>17}")
    for r in rows:
        print(f"{r['clip'][:38]:38} {r['pattern']:10} {r['backend']:7} {1000 * r['seconds']:8.1f} "
              f"{str(r['exact']):>6} {r['max_abs_diff_vs_opencv']:17d}" + (f"  {r['error'][:60]}" if "error" in r else ""))
    summary = {}
    for pat in sorted({r["pattern"] for r in rows}):
        for b in backends():
            sel = [r for r in rows if r["pattern"] == pat and r["backend"] == b and "error" not in r]
            summary[f"{pat}/{b}"] = {"total_s": sum(r["seconds"] for r in sel),
                                     "all_exact": all(r["exact"] for r in sel), "clips": len(sel)}
    print("\ntotal over clips:")
    for k, v in summary.items():
        print(f"  {k:20} {1000 * v['total_s']:8.1f} ms over {v['clips']} clips, exact on all: {v['all_exact']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
