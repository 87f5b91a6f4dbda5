#!/usr/bin/env python3
"""Make the README's pictures from the shared sample clips with the real I3D module:

    python scripts/screenshots.py [--shared ../shared] [--out docs]

- `docs/annotated_frame.png`: a frame of `hub run i3d_kinetics400 --output_video` on the arm-wrestling clip
  (3 s windows every 1.5 s);
- `docs/timeline.png`: the timeline of the 79 s street clip in 10 s windows every 5 s;
- `docs/web_demo.png`: the web page (`scripts/web_demo.py`) in headless Chromium after uploading the archery clip.

The browser helpers (`start_server`, `start_browser`) are shared with tests/viz/test_web_demo.py.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Tuple

REPO = Path(__file__).resolve().parents[1]
MODULE_DIR = REPO / "modules" / "i3d_kinetics400"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Flags that work in containers and CI: no sandbox (root), no GPU, nothing fetched from the network.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,1400"]


@contextlib.contextmanager
def start_server(modules: str, env: dict = None, cwd: str = None) -> Iterator[Tuple[str, int]]:
    """A real `scripts/web_demo.py` on a free port of 127.0.0.1: yields (URL, port); SIGTERM at the end."""
    proc = subprocess.Popen([sys.executable, str(REPO / "scripts" / "web_demo.py"), "--modules", modules,
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env or dict(os.environ, PYTHONWARNINGS="ignore"), cwd=cwd)
    try:
        line = proc.stdout.readline()   # printed once the modules are loaded
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not match:
            raise RuntimeError(f"the demo server did not start: {line!r} "
                               f"{proc.stderr.read() if proc.poll() is not None else ''}")
        yield f"http://127.0.0.1:{match.group(1)}", int(match.group(1))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def start_browser(profile_dir: str) -> Iterator[Any]:
    """Headless Debian Chromium driven by Selenium through chromedriver, with a new empty profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile_dir}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise TimeoutError(f"timed out waiting for {what}")


def page_state(driver: Any) -> str:
    """'result' or 'error' once the page shows one, else ''."""
    return driver.execute_script(
        "return document.getElementById('result').style.display === 'block' ? 'result' :"
        " document.getElementById('error').style.display === 'block' ? 'error' : ''")


def upload(driver: Any, url: str, clip: Path, window: str = "") -> str:
    """Load the page, upload `clip` (with a window in seconds, if given) and wait for the result or error."""
    driver.get(url + "/")
    wait_for(lambda: driver.execute_script("return document.querySelectorAll('#module option').length"), 30,
             "the module list")
    if window:
        driver.find_element("id", "window").send_keys(window)
    driver.find_element("id", "file").send_keys(str(clip))
    return wait_for(lambda: page_state(driver), 300, "the result")


def small_png(src: Any, out: Path, colours: int = 256) -> Path:
    """Save a picture as a palette PNG (a few hundred KB at most for the README)."""
    from PIL import Image

    img = src if isinstance(src, Image.Image) else Image.open(src)
    img.convert("RGB").quantize(colours, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--out", type=Path, default=REPO / "docs")
    args = ap.parse_args(argv)
    samples = args.shared / "data" / "samples"
    args.out.mkdir(parents=True, exist_ok=True)
    import av
    import paddlehub as hub

    module = hub.Module(directory=str(MODULE_DIR))
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "arm.mp4"
        module.visualize(str(samples / "mmaction2_demo_arm_wrestling.mp4"), str(video), top_k=3, window=3.0,
                         stride=1.5)
        with av.open(str(video)) as c:
            frame = next(f for i, f in enumerate(c.decode(video=0)) if i == 150)
        print(small_png(frame.to_image(), args.out / "annotated_frame.png"))
        res = module.timeline(str(samples / "opencv_vtest_long_msmpeg4.avi"), str(Path(tmp) / "t.png"),
                              window=10.0, stride=5.0, top_k=5)
        print(small_png(res["timeline"], args.out / "timeline.png", colours=64))
        del module
        with start_server(str(MODULE_DIR), cwd=tmp) as (url, _), start_browser(str(Path(tmp) / "profile")) as drv:
            state = upload(drv, url, samples / "paddlevideo_example_archery.avi", window="2.6")
            if state != "result":
                raise RuntimeError(drv.find_element("id", "error").text)
            wait_for(lambda: drv.execute_script("return document.getElementById('video').currentTime > 1"), 30,
                     "the video to play")
            drv.save_screenshot(str(Path(tmp) / "page.png"))
        print(small_png(Path(tmp) / "page.png", args.out / "web_demo.png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
