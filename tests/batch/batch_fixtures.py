"""Helpers of the batch tests (fixtures are in the test files): a cheap real module (PP-TSMv2 with generated weights), a small video library
with bad inputs, and a real local Ray cluster (a head node and a worker node on 127.0.0.1)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from conftest import REPO, load_script
from synthetic import write_pyav_video

MODULE = "pptsmv2_kinetics400"   # the cheapest Kinetics module per clip here (card: 0.083 s on OpenVINO)
RAY_BIN = Path(sys.executable).with_name("ray")


def perturbed_checkpoint(card, path: Path, seed: int = 0) -> Path:
    """The card's network with freshly initialised parameters scattered by seeded noise (so that different
    videos get different scores), saved as a .pdparams checkpoint."""
    import paddle

    from videohub.models import build_network

    paddle.seed(seed)
    net = build_network(card.arch_name, **card.arch_kwargs)
    rng = np.random.default_rng(seed)
    state = {}
    for key, value in net.state_dict().items():
        a = value.numpy()
        if a.dtype.kind == "f":
            if key.endswith("_variance"):
                a = rng.uniform(0.5, 1.5, a.shape)
            elif key.endswith("_mean"):
                a = rng.normal(0, 0.1, a.shape)
            else:
                a = a * (1 + rng.normal(0, 0.3, a.shape)) + rng.normal(0, 0.1, a.shape)
        state[key] = paddle.to_tensor(a.astype(value.numpy().dtype))
    paddle.save(state, str(path))
    return path


def install_module(root: Path) -> Path:
    """A copy of the module under `root` with a generated checkpoint imported by `scripts/fetch_weights.py
    --from` (the way the model tests install weights)."""
    from videohub.card import load_card

    dst = root / "modules" / MODULE
    shutil.copytree(REPO / "modules" / MODULE, dst, ignore=shutil.ignore_patterns("weights", "__pycache__"))
    ckpt = perturbed_checkpoint(load_card(dst), root / "checkpoint.pdparams")
    assert load_script("fetch_weights").main([MODULE, "--from", str(ckpt), "--modules-dir", str(dst.parent)]) == 0
    return dst


def make_library(root: Path, good: int, seed: int = 0) -> dict:
    """`good` short videos (each its own colours and motion) in nested folders, and one input of each bad
    kind; returns {"inputs": [paths in list order], "list": list file, "bad": {name: path}}."""
    rng = np.random.default_rng(seed)
    inputs = []
    for i in range(good):
        folder = root / f"part{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 256, (1, 1, 3))
        frames = []
        for t in range(10):
            img = np.broadcast_to(base, (48, 64, 3)).copy()
            x = int(rng.integers(0, 48))
            img[:, x:x + 16] = rng.integers(0, 256, 3)
            frames.append(img.astype(np.uint8))
        inputs.append(str(write_pyav_video(folder / f"clip{i:04d}.mp4", frames)))
    bad = {"missing": root / "missing.mp4", "empty": root / "empty.mp4", "text": root / "text.mp4",
           "folder": root / "folder.mp4", "cut": root / "cut.mp4"}
    bad["empty"].write_bytes(b"")
    bad["text"].write_text("not a video\n" * 40)
    bad["folder"].mkdir()
    whole = Path(inputs[0]).read_bytes()
    bad["cut"].write_bytes(whole[: len(whole) // 2])
    for i, p in enumerate(bad.values()):  # bad inputs spread through the list
        inputs.insert(min(len(inputs), 7 * i + 3), str(p))
    listing = root / "inputs.txt"
    listing.write_text("# the library\n" + "\n".join(inputs) + "\n" + inputs[5] + "\n", encoding="utf-8")
    return {"inputs": inputs, "list": listing, "bad": {k: str(v) for k, v in bad.items()}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subprocess_env() -> dict:
    # A throw-away cluster on this machine: no usage reports, no auth token (Ray >= 2.5x asks for one by default)
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "common"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def wait_for(condition, timeout: float, what: str, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(f"waited {timeout:.0f} s for {what}")


class RayCluster:
    """`ray start --block` for a head node and one worker node (1 CPU each), owned by this process: stopping
    them (SIGTERM) stops their Ray processes and no others."""

    def __init__(self):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.temp_dir = tempfile.mkdtemp(prefix="vhray", dir="/tmp")  # short: Ray's socket paths
        self.nodes = []
        common = ["--block", "--num-cpus", "1", "--object-store-memory", str(100 * 2**20),
                  "--disable-usage-stats", "--node-ip-address", "127.0.0.1"]
        try:
            self.start([str(RAY_BIN), "start", "--head", "--port", str(self.port), "--include-dashboard", "false",
                        "--temp-dir", self.temp_dir, *common])
            self.start([str(RAY_BIN), "start", "--address", self.address, *common])
        except BaseException:
            self.stop()
            raise

    def start(self, cmd):
        """Start one node and wait until `ray start` reports it running."""
        log_path = Path(self.temp_dir) / f"node{len(self.nodes)}.log"
        with open(log_path, "wb") as log:
            node = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=subprocess_env(),
                                    start_new_session=True)
        self.nodes.append(node)

        def started() -> bool:
            text = log_path.read_text(errors="replace")
            assert node.poll() is None, f"ray start exited:\n{text[-3000:]}"
            return "Ray runtime started" in text

        wait_for(started, 120, f"the Ray node {cmd[2:4]}", poll=0.5)

    def processes(self):
        import psutil

        procs = []
        for node in self.nodes:
            try:
                procs += psutil.Process(node.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                pass
        return procs

    def actor_processes(self):
        """The batch actors' worker processes (Ray titles them `ray::MapWorker(MapBatches(BatchWorker))`)."""
        out = []
        for p in self.processes():
            try:
                if "MapBatches(BatchWorker)" in " ".join(p.cmdline()):
                    out.append(p)
            except Exception:  # exited meanwhile
                pass
        return out

    def stop(self) -> None:
        """SIGTERM to each `ray start --block` (it stops its node's processes), then SIGKILL to whatever is
        left in the process groups these nodes were started in."""
        for node in reversed(self.nodes):
            if node.poll() is None:
                node.terminate()
            try:
                node.wait(3)
            except subprocess.TimeoutExpired:
                pass
        time.sleep(1)
        for node in self.nodes:
            try:
                os.killpg(node.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.temp_dir, ignore_errors=True)

