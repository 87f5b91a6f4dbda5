"""List the videos of a folder that cannot be used, and the odd ones, with the reason (like mmaction2's
check_videos), without crashing on any of them. It opens each file exactly as `classify` does (frame index,
truncation rule, backend fallback), so its verdict is what `classify` will do.

    python scripts/check_videos.py DIR [--backend opencv] [--json] [--all-files]

Status per file: `ok`, `odd` (usable, but worth a look: rotation metadata, variable frame rate, another
backend needed, a corrected frame count, tiny, huge, portrait, grayscale, very short), `unreadable` (missing,
empty, not a video, no backend decodes its codec), `zero_frames` (no video stream or no frames), `truncated`
(the file ends materially before what its container announces, or its end does not decode). `info` holds the
index facts: frames decodable vs announced, duration vs announced, codec, pixel format, container, rotation.
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
from videohub.io.frame_index import frame_index
from videohub.io.reader import DEFAULT_BACKEND, backends, open_video

TINY_SIDE = 32          # a short side below this is mostly upscaled noise
HUGE_PIXELS = 3840 * 2160
SHORT_SECONDS = 0.5


def check_video(path: str, backend: str = DEFAULT_BACKEND) -> Dict[str, Any]:
    """One file -> {"path", "status", "reasons", "info"}; never raises."""
    rec: Dict[str, Any] = {"path": path, "status": "ok", "reasons": [], "info": {}}
    try:
        rec["info"] = frame_index(path).facts()
    except Exception:  # noqa: BLE001 - open_video below reports why the file cannot be read
        pass
    try:
        with open_video(path, backend) as reader:
            info = reader.info
            rec["info"].update(info.as_dict())
            n = info.num_frames
            frames = reader.get_frames(sorted({0, n // 2, n - 1}))
            fallback = reader.fallback
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
    facts = rec["info"]
    if facts.get("rotation"):
        odd.append(f"rotation metadata {facts['rotation']} degrees")
    if facts.get("variable_rate"):
        odd.append("variable frame rate")
    if fallback:
        odd.append(fallback)
    if facts.get("frames") and info.num_frames < facts["frames"]:
        odd.append(f"the last {facts['frames'] - info.num_frames} of {facts['frames']} frames do not decode; "
                   f"{info.num_frames} are used")
    if facts.get("shortfall_frames"):
        odd.append(f"the header announces {facts['announced_frames']} frames; the file holds {facts['frames']} "
                   f"pictures up to {facts['duration']} s of the announced {facts['announced_duration']} s "
                   "(not truncation)")
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
