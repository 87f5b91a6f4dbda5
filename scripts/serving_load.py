"""Bounded load against a real `hub serving` process: requests/s and p50/p99 latency.

    python scripts/serving_load.py [--module i3d_kinetics400] [--requests 40] [--clients 8]
                                   [--multiprocess --workers 2] [--url 127.0.0.1:8866] [--json out.json]

Without `--url` it installs the module (`hub install modules/NAME`) into a temporary HUB_HOME, starts
`hub serving start -m NAME -p <free port>` (the server binds 0.0.0.0; traffic goes to 127.0.0.1 only), runs the
load and always stops the server. Each request carries one small synthetic video as base64 file bytes.
The helpers here (`ServingProcess`, `run_load`) are also used by tests/hub/test_serving.py.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port nobody listens on right now (small race with other processes, acceptable for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hub_bin() -> str:
    return str(Path(sys.executable).parent / "hub")


def process_tree_rss(pid: int) -> int:
    """Resident memory (bytes) of a process and its descendants, from /proc (gunicorn workers included)."""
    total, seen, todo = 0, set(), [pid]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


class ServingProcess:
    """`hub serving start` in its own process group, with its own HUB_HOME; a context manager that always stops
    it (SIGTERM to the group, then SIGKILL)."""

    def __init__(self, module: str, hub_home: Path, module_dir: Optional[Path] = None,
                 multiprocess: bool = False, workers: int = 2, env: Optional[Dict[str, str]] = None,
                 start_timeout: float = 240.0):
        self.module, self.hub_home = module, Path(hub_home)
        self.module_dir = Path(module_dir or REPO / "modules" / module)
        self.multiprocess, self.workers = multiprocess, workers
        self.env = dict(os.environ, HUB_HOME=str(self.hub_home), PYTHONWARNINGS="ignore", **(env or {}))
        self.start_timeout = start_timeout
        self.port = free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = self.hub_home / f"serving_{self.port}.out"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/predict/{self.module}"

    def install(self) -> None:
        self.hub_home.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([hub_bin(), "install", str(self.module_dir)], cwd=self.hub_home, env=self.env,
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0 or not (self.hub_home / "modules" / self.module).is_dir():
            raise RuntimeError(f"hub install failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")

    def start(self) -> "ServingProcess":
        if not (self.hub_home / "modules" / self.module).is_dir():
            self.install()
        cmd = [hub_bin(), "serving", "start", "-m", self.module, "-p", str(self.port)]
        if self.multiprocess:
            cmd += ["--use_multiprocess", "--workers", str(self.workers)]
        log = open(self.log_path, "w")
        # cwd = HUB_HOME: never a folder holding a directory named like the module (PaddleHub quirk)
        self.proc = subprocess.Popen(cmd, cwd=self.hub_home, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.alive():
                return self
            time.sleep(1.0)
        self.stop()
        raise RuntimeError(f"server not up after {self.start_timeout:.0f}s:\n{self.log_tail()}")

    def alive(self) -> bool:
        """The process runs and answers GET / on 127.0.0.1."""
        if self.proc is None or self.proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def rss(self) -> int:
        return process_tree_rss(self.proc.pid) if self.proc else 0

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)  # our own process group (start_new_session)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> "ServingProcess":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


def post_raw(url: str, data: bytes, content_type: str = "application/json",
             timeout: float = 300.0) -> Dict[str, Any]:
    """POST bytes; returns {"http": status, "json": decoded reply or None, "text": reply text, "seconds"}."""
    req = urllib.request.Request(url, data=data, headers={"Content-Type": content_type}, method="POST")
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    seconds = time.perf_counter() - t0
    text = raw.decode("utf-8", "replace")
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    return {"http": status, "json": payload, "text": text, "seconds": seconds}


def run_load(url: str, bodies: Sequence[bytes], clients: int,
             check: Callable[[int, Dict[str, Any]], bool]) -> Dict[str, Any]:
    """Send every body once from `clients` threads; `check(i, reply)` says whether reply i is right."""
    replies: List[Optional[Dict[str, Any]]] = [None] * len(bodies)

    def one(i: int) -> None:
        try:
            replies[i] = post_raw(url, bodies[i])
        except Exception as exc:  # a refused connection or timeout is a failed request, not a crash
            replies[i] = {"http": 0, "json": None, "text": repr(exc), "seconds": float("nan")}

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(len(bodies))))
    wall = time.perf_counter() - t0
    lat = np.array([r["seconds"] for r in replies], dtype=np.float64)
    ok = [bool(check(i, r)) for i, r in enumerate(replies)]
    return {"requests": len(bodies), "clients": clients, "ok": int(sum(ok)), "failed": [i for i, g in enumerate(ok) if not g],
            "wall_s": wall, "requests_per_s": len(bodies) / wall,
            "p50_s": float(np.nanpercentile(lat, 50)), "p99_s": float(np.nanpercentile(lat, 99)),
            "mean_s": float(np.nanmean(lat)), "replies": replies}


def synthetic_video_b64(path: Path, seed: int) -> str:
    """A small video of a bar moving right (MPEG-4 with OpenCV; size and length vary with `seed`), base64 text."""
    import base64

    import cv2

    w, h = 64 + 8 * (seed % 3), 48
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (w, h))
    for i in range(16 + seed % 8):
        frame = np.zeros((h, w, 3), np.uint8)
        frame[:, (i * 3) % w:(i * 3) % w + w // 8] = (255, 200, 50)
        writer.write(frame)
    writer.release()
    return base64.b64encode(path.read_bytes()).decode("ascii")


def valid_reply(reply: Dict[str, Any], n: int) -> bool:
    """A "000" reply with n results, each a prediction (results in `results`, or in `msg` in GPU mode)."""
    j = reply.get("json") or {}
    res = j.get("results") if isinstance(j.get("results"), list) else j.get("msg")
    return (reply["http"] == 200 and j.get("status") == "000" and isinstance(res, list) and len(res) == n
            and all(isinstance(r.get("prediction"), dict) and r["prediction"] for r in res))


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", default="i3d_kinetics400")
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--multiprocess", action="store_true", help="gunicorn (--use_multiprocess)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--url", default=None, help="an already running server (host:port); default: start one")
    ap.add_argument("--json", default=None, help="write the numbers here")
    args = ap.parse_args(argv)
    if not 1 <= args.requests <= 2000 or not 1 <= args.clients <= 64:
        ap.error("keep the load bounded: 1..2000 requests, 1..64 clients")

    with tempfile.TemporaryDirectory(prefix="videohub_load_") as tmp:
        tmp = Path(tmp)
        videos = [synthetic_video_b64(tmp / f"v{k}.mp4", k) for k in range(6)]
        bodies = [json.dumps({"videos": [videos[i % len(videos)]], "top_k": 3}).encode() for i in range(args.requests)]
        server = None
        if args.url:
            host = args.url if "://" in args.url else f"http://{args.url}"
            url = f"{host.rstrip('/')}/predict/{args.module}"
        else:
            server = ServingProcess(args.module, tmp / "hub_home", multiprocess=args.multiprocess,
                                    workers=args.workers).__enter__()
            url = server.url
        try:
            # one warm-up request (predictor creation) outside the measurement
            warm = post_raw(url, bodies[0])
            if not valid_reply(warm, 1):
                raise SystemExit(f"warm-up failed: {warm['text'][:500]}")
            rss0 = server.rss() if server else 0
            stats = run_load(url, bodies, args.clients, lambda i, r: valid_reply(r, 1))
            rss1 = server.rss() if server else 0
            up = server.alive() if server else None
        finally:
            if server:
                server.stop()
    stats.pop("replies")
    mode = "multiprocess" if args.multiprocess else "default"
    report = {"module": args.module, "mode": mode, "workers": args.workers if args.multiprocess else 1,
              "cpu_count": os.cpu_count(), **stats, "rss_before_mb": rss0 / 2**20, "rss_after_mb": rss1 / 2**20,
              "server_up_after": up}
    rows = [("mode", mode), ("requests", stats["requests"]), ("clients", stats["clients"]),
            ("answered correctly", stats["ok"]), ("wall s", f"{stats['wall_s']:.1f}"),
            ("requests/s", f"{stats['requests_per_s']:.3f}"), ("p50 latency s", f"{stats['p50_s']:.2f}"),
            ("p99 latency s", f"{stats['p99_s']:.2f}"), ("server RSS MB before/after",
                                                          f"{rss0 / 2**20:.0f} / {rss1 / 2**20:.0f}")]
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0 if stats["ok"] == stats["requests"] else 1


if __name__ == "__main__":
    sys.exit(main())
