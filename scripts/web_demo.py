#!/usr/bin/env python3
"""A web page to try the modules on your own videos: pick a module, drop a video, watch the progress, then see
the top-k labels as bars, the timeline over the windows and the annotated video playing in the page.

    python scripts/web_demo.py --modules i3d_kinetics400,bmn_activitynet          # http://127.0.0.1:8870
    python scripts/web_demo.py --modules modules/i3d_kinetics400 --port 0          # a module folder, any free port

A standalone server (Python's `http.server`, nothing to install) rather than a `hub serving` route: PaddleHub's
serving app has fixed JSON routes and no hook for more, and takes videos as base64 inside JSON; this page
uploads the file as it is and polls a job for its progress. The modules are the same objects `hub.Module`
gives (names are loaded by PaddleHub, folders with `module.py` directly), and the work is their `visualize`.

Safety as in `hub serving`: 127.0.0.1 unless `--host` says otherwise; an upload larger than
`VIDEOHUB_SERVING_MAX_VIDEO_BYTES` (256 MiB) is refused with HTTP 413 before its body is read; nothing on the
server is read by path (uploads go to a private temporary folder, results name the uploaded file only). A bad
video gets its per-item error record on the page; an unexpected failure shows its type and first line, the
traceback goes to the server's stderr only. One job runs at a time (the modules share the CPU); the last
`--keep` jobs' files are kept.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import traceback
import uuid
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from queue import Queue
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qs, urlparse

from videohub.hub.serving import max_video_bytes

PAGE = Path(__file__).with_name("web_demo.html")
MEDIA_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".png": "image/png"}


def load_module(spec: str) -> Any:
    """A module by name (PaddleHub loads it, installing it if needed) or from a folder holding module.py."""
    import paddlehub as hub

    folder = Path(spec)
    if (folder / "module.py").is_file():
        return hub.Module(directory=str(folder.resolve()))
    return hub.Module(name=spec)


def describe(module: Any) -> Dict[str, Any]:
    proposals = hasattr(module, "detect")
    return {"name": module.name, "summary": module.summary or "", "kind": "proposals" if proposals else "labels",
            "windows": bool(getattr(module, "windowed", False)), "top_k": 5}


def safe_name(name: str) -> str:
    """The uploaded file's own name (no folders), for display only."""
    base = re.sub(r"[\x00-\x1f\x7f]", "", re.split(r"[\\/]", name or "")[-1]).strip()
    if base in ("", ".", ".."):
        return "upload"
    stem, suffix = os.path.splitext(base)
    return stem[:80] + suffix[:10]   # short enough for any file system (80 CJK characters are 240 bytes)


def public_error(exc: BaseException) -> Dict[str, str]:
    lines = str(exc).strip().splitlines()
    return {"type": type(exc).__name__, "message": lines[0] if lines else ""}


class Job:
    def __init__(self, module: str, filename: str, upload: Path, folder: Path, options: Dict[str, Any]):
        self.id = uuid.uuid4().hex
        self.module, self.filename, self.folder, self.options = module, filename, folder, options
        self.upload = upload
        self.state, self.stage, self.progress = "queued", "waiting", 0.0
        self.result: Optional[Dict[str, Any]] = None
        self.error: Optional[Dict[str, str]] = None
        self.files: Dict[str, Path] = {}

    def public(self, error: Dict[str, str]) -> Dict[str, str]:
        """An error record with the server's paths replaced by the uploaded file's name (messages name files)."""
        message = str(error.get("message", "")).replace(str(self.upload), self.filename)
        return {"type": str(error.get("type", "Error")), "message": message.replace(str(self.folder), "")}

    def status(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"id": self.id, "module": self.module, "file": self.filename, "state": self.state,
                               "stage": self.stage, "progress": round(self.progress, 3)}
        if self.result is not None:
            out["result"] = self.result
        if self.error is not None:
            out["error"] = self.error
        out.update({f"{kind}_url": f"/api/jobs/{self.id}/{kind}" for kind in self.files})
        return out


class Demo:
    """The modules, the jobs and the one worker thread that runs them."""

    def __init__(self, modules: Dict[str, Any], work_dir: Path, max_bytes: int, keep: int = 8):
        self.modules, self.work_dir, self.max_bytes, self.keep = modules, work_dir, max_bytes, keep
        self.jobs: "OrderedDict[str, Job]" = OrderedDict()
        self.lock = threading.Lock()
        self.queue: "Queue[Job]" = Queue()
        threading.Thread(target=self._worker, daemon=True, name="demo-worker").start()

    def submit(self, module: str, filename: str, data_path: Path, folder: Path, options: Dict[str, Any]) -> Job:
        job = Job(module, filename, data_path, folder, options)
        with self.lock:
            self.jobs[job.id] = job
            while len(self.jobs) > self.keep:
                _, old = self.jobs.popitem(last=False)
                shutil.rmtree(old.folder, ignore_errors=True)
        self.queue.put(job)
        return job

    def _worker(self) -> None:
        while True:
            job = self.queue.get()
            try:
                self._run(job)
            except Exception as exc:  # shown as type and first line; the traceback stays on the server
                traceback.print_exc()
                job.error, job.state = job.public(public_error(exc)), "failed"

    def _run(self, job: Job) -> None:
        module = self.modules[job.module]
        opts = job.options
        video = job.folder / f"video.{opts['format']}"
        timeline = job.folder / "timeline.png"
        job.state, job.stage = "running", "running the model"

        def frames_done(done: int, total: int) -> None:
            job.stage, job.progress = f"drawing frame {done} of {total}", done / max(1, total)

        kwargs: Dict[str, Any] = {"timeline_path": str(timeline), "frame_progress": frames_done,
                                  "max_side": opts["max_side"]}
        if describe(module)["kind"] == "proposals":
            result = module.visualize(str(job.upload), str(video), top_n=opts["top_k"], **kwargs)
        else:
            windows = {"window": opts["window"], "stride": opts["stride"]} if opts["window"] else {}
            result = module.visualize(str(job.upload), str(video), top_k=opts["top_k"], **windows, **kwargs)
        result.pop("video", None), result.pop("timeline", None)   # server paths never leave the server
        for key in ("path", "name"):
            if key in result:
                result[key] = job.filename
        if "error" in result:
            job.error, job.state = job.public(result["error"]), "failed"
            return
        job.files = {"video": video, "timeline": timeline}
        job.result, job.state, job.stage, job.progress = result, "done", "done", 1.0


def number(query: Dict[str, List[str]], key: str, kind: type, default: Any) -> Any:
    values = query.get(key)
    if not values or values[0] == "":
        return default
    try:
        value = kind(values[0])
    except ValueError:
        raise ValueError(f"{key} must be a {kind.__name__}, got {values[0]!r}") from None
    if value <= 0:
        raise ValueError(f"{key} must be positive, got {values[0]!r}")
    return value


def make_handler(demo: Demo) -> type:
    page = PAGE.read_bytes()

    class Handler(BaseHTTPRequestHandler):
        server_version = "videohub-demo"

        def log_message(self, fmt: str, *args: Any) -> None:  # quiet: one line per request on stderr
            sys.stderr.write("[web_demo] " + fmt % args + "\n")

        def send_bytes(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def send_json(self, status: int, doc: Any) -> None:
            self.send_bytes(status, json.dumps(doc, ensure_ascii=False).encode("utf-8"), "application/json")

        def send_error_json(self, status: int, kind: str, message: str) -> None:
            self.send_json(status, {"error": {"type": kind, "message": message}})

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/":
                return self.send_bytes(200, page, "text/html; charset=utf-8")
            if url.path == "/api/modules":
                return self.send_json(200, [describe(m) for m in demo.modules.values()])
            m = re.fullmatch(r"/api/jobs/([0-9a-f]{32})(?:/(video|timeline))?", url.path)
            job = demo.jobs.get(m.group(1)) if m else None
            if job is None:
                return self.send_error_json(404, "NotFound", "no such page or job")
            if m.group(2) is None:
                return self.send_json(200, job.status())
            path = job.files.get(m.group(2))
            if path is None or not path.is_file():
                return self.send_error_json(404, "NotFound", f"the job has no {m.group(2)}")
            return self.send_bytes(200, path.read_bytes(), MEDIA_TYPES[path.suffix])

        def do_POST(self) -> None:
            url = urlparse(self.path)
            if url.path != "/api/jobs":
                return self.send_error_json(404, "NotFound", "no such page")
            query = parse_qs(url.query)
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                return self.send_error_json(411, "LengthRequired", "the upload needs a Content-Length")
            if length > demo.max_bytes:
                self.close_connection = True   # the body is never read
                return self.send_error_json(413, "UploadTooLarge", f"the video is {length} bytes; this server "
                                            f"takes at most {demo.max_bytes} bytes")
            if length <= 0:
                return self.send_error_json(400, "EmptyFileError", "the upload is empty")
            module = (query.get("module") or [""])[0]
            if module not in demo.modules:
                return self.send_error_json(400, "UnknownModule", f"choose one of {', '.join(demo.modules)}")
            try:
                fmt = (query.get("format") or ["mp4"])[0]
                if f".{fmt}" not in (".mp4", ".webm"):
                    raise ValueError(f"format must be mp4 or webm, got {fmt!r}")
                options = {"format": fmt, "top_k": number(query, "top_k", int, 5),
                           "window": number(query, "window", float, None),
                           "stride": number(query, "stride", float, None),
                           "max_side": number(query, "max_side", int, None)}
            except ValueError as exc:
                return self.send_error_json(400, "BadOption", str(exc))
            filename = safe_name((query.get("filename") or [""])[0])
            folder = Path(tempfile.mkdtemp(prefix="job-", dir=demo.work_dir))
            (folder / "upload").mkdir()
            data_path = folder / "upload" / filename   # the user's own name: what the timeline's title shows
            remaining = length
            with open(data_path, "wb") as f:
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 1 << 20))
                    if not chunk:
                        break
                    f.write(chunk)
                    remaining -= len(chunk)
            if remaining:
                shutil.rmtree(folder, ignore_errors=True)
                return self.send_error_json(400, "TruncatedUpload", "the upload ended early")
            job = demo.submit(module, filename, data_path, folder, options)
            return self.send_json(202, job.status())

    return Handler


def stop(signum: int, frame: Any) -> None:
    """SIGTERM ends the server like Ctrl-C (its temporary files are removed)."""
    raise KeyboardInterrupt


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--modules", required=True, help="comma-separated module names or module folders")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    ap.add_argument("--port", type=int, default=8870, help="port (0: any free one; the URL is printed)")
    ap.add_argument("--keep", type=int, default=8, help="jobs whose files are kept")
    args = ap.parse_args(argv)
    modules = {}
    for spec in [s.strip() for s in args.modules.split(",") if s.strip()]:
        module = load_module(spec)
        modules[module.name] = module
    max_bytes = max_video_bytes()
    work_dir = Path(tempfile.mkdtemp(prefix="videohub-demo-"))
    server = ThreadingHTTPServer((args.host, args.port), make_handler(Demo(modules, work_dir, max_bytes, args.keep)))
    host, port = server.server_address[:2]
    print(f"serving {', '.join(modules)} on http://{host}:{port}/", flush=True)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
