"""List the videos of a folder that cannot be used, and the odd ones, with the reason (like mmaction2's
check_videos), without crashing on any of them.

    python scripts/check_videos.py DIR [--backend opencv] [--json] [--all-files]

Status per file: `ok`, `odd` (usable, but worth a look: rotation metadata, variable frame rate, tiny, huge,
portrait, grayscale, very short), `unreadable` (missing, empty, not a video, unknown codec), `zero_frames`
(no video stream or no frames), `truncated` (announced frames that do not decode, the last one included).
Exit status: 1 when any file is unreadable, zero_frames or truncated, else 0.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from videohub.errors import NoVideoFramesError, TruncatedVideoError, VideoHubError
from videohub.io.files import VIDEO_EXTENSIONS
from videohub.io.reader import DEFAULT_BACKEND, backends, open_video

TINY_SIDE = 32          # a short side below this is mostly upscaled noise
HUGE_PIXELS = 3840 * 2160
SHORT_SECONDS = 0.5
VFR_SPREAD = 0.2        # relative spread of frame durations above which the rate counts as variable
PROBE_PACKETS = 300


def container_facts(path: str) -> Dict[str, Any]:
    """Rotation and frame-duration spread from the container (demuxing only, no decoding); {} without PyAV."""
    try:
        import av
    except ImportError:
        return {}
    facts: Dict[str, Any] = {}
    try:
        with av.open(path) as c:
            if not c.streams.video:
                return facts
            st = c.streams.video[0]
            rot = st.metadata.get("rotate")
            if rot not in (None, "0"):
                facts["rotation"] = rot
            pts = []
            for i, pkt in enumerate(c.demux(st)):
                if pkt.pts is not None:
                    pts.append(pkt.pts)
                if i >= PROBE_PACKETS:
                    break
            d = np.diff(np.sort(np.asarray(pts, dtype=np.float64)))
            d = d[d > 0]
            if d.size >= 3 and (d.max() - d.min()) / np.median(d) > VFR_SPREAD:
                facts["vfr"] = float((d.max() - d.min()) / np.median(d))
    except Exception as exc:  # a container PyAV cannot read: the decoder check reports the real problem
        facts["probe_error"] = f"{type(exc).__name__}: {exc}"
    return facts


def check_video(path: str, backend: str = DEFAULT_BACKEND) -> Dict[str, Any]:
    """One file -> {"path", "status", "reasons", "info"}; never raises."""
    rec: Dict[str, Any] = {"path": path, "status": "ok", "reasons": [], "info": {}}
    try:
        with open_video(path, backend) as reader:
            info = reader.info
            rec["info"] = info.as_dict()
            n = info.num_frames
            frames = reader.get_frames(sorted({0, n // 2, n - 1}))
    except NoVideoFramesError as exc:
        rec.update(status="zero_frames", reasons=[str(exc)])
        return rec
    except TruncatedVideoError as exc:
        rec.update(status="truncated", reasons=[str(exc)])
        return rec
    except VideoHubError as exc:
        rec.update(status="unreadable", reasons=[f"{type(exc).__name__}: {exc}"])
        return rec
    except Exception as exc:  # any decoder failure is a finding, not a crash
        rec.update(status="unreadable", reasons=[f"{type(exc).__name__}: {exc}"])
        return rec
    w, h = info.width, info.height
    odd = []
    if min(w, h) < TINY_SIDE:
        odd.append(f"tiny ({w}x{h})")
    if w * h > HUGE_PIXELS:
        odd.append(f"huge ({w}x{h}): decoding is slow")
    if h > w:
        odd.append(f"portrait ({w}x{h})")
    if all(np.array_equal(f[..., 0], f[..., 1]) and np.array_equal(f[..., 1], f[..., 2]) for f in frames):
        odd.append("grayscale (all sampled frames have R == G == B)")
    if info.duration < SHORT_SECONDS:
        odd.append(f"short ({info.num_frames} frames, {info.duration:.2f} s)")
    facts = container_facts(path)
    if "rotation" in facts:
        odd.append(f"rotation metadata {facts['rotation']} degrees")
    if "vfr" in facts:
        odd.append(f"variable frame rate (frame durations spread {facts['vfr']:.0%})")
    if odd:
        rec.update(status="odd", reasons=odd)
    return rec


def find_files(directory: Path, all_files: bool) -> List[str]:
    files = sorted(p for p in directory.rglob("*") if p.is_file() or p.is_symlink())
    return [str(p) for p in files if all_files or p.suffix.lower() in VIDEO_EXTENSIONS]


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="Check the videos of a folder (recursively).")
    ap.add_argument("directory")
    ap.add_argument("--backend", default=DEFAULT_BACKEND, choices=sorted(backends()))
    ap.add_argument("--json", action="store_true", help="print one JSON list instead of a table")
    ap.add_argument("--all-files", action="store_true", help="check every file, not only video extensions")
    args = ap.parse_args(argv)
    d = Path(args.directory)
    if not d.is_dir():
        ap.error(f"{d} is not a directory")
    records = [check_video(p, args.backend) for p in find_files(d, args.all_files)]
    if args.json:
        print(json.dumps(records, ensure_ascii=False, indent=1))
    else:
        for r in records:
            print(f"{r['status']:<12} {r['path']}" + (f"\n{'':<12} " + "; ".join(r["reasons"]) if r["reasons"] else ""))
        counts = {s: sum(r["status"] == s for r in records) for s in ("ok", "odd", "unreadable", "zero_frames",
                                                                       "truncated")}
        print(" ".join(f"{k}={v}" for k, v in counts.items()), file=sys.stderr)
    return 1 if any(r["status"] in ("unreadable", "zero_frames", "truncated") for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
