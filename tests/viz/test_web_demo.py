"""The web page in a real browser: headless Chromium (Debian's chromium + chromium-driver) driven by Selenium
loads the page of a real `scripts/web_demo.py` server on 127.0.0.1, uploads a real clip, waits for the result and
checks the top-1 label and that the annotated video plays; a screenshot is saved to test-artifacts/. Bad uploads
get their error message on the page (never a traceback) and oversized ones HTTP 413 before the body is read."""
from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from conftest import REPO, shared_path
from videohub.weights import weights_installed

CHROMIUM, DRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"
MODULE_DIR = REPO / "modules" / "i3d_kinetics400"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,1400"]

pytestmark = [
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)),
                       reason="needs Chromium and its driver: apt-get install chromium chromium-driver"),
    pytest.mark.skipif(not weights_installed(MODULE_DIR), reason="I3D weights not installed"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real demo server on a free port of 127.0.0.1; stopped (SIGTERM) after the tests."""
    env = dict(os.environ, PYTHONWARNINGS="ignore", VIDEOHUB_SERVING_MAX_VIDEO_BYTES=str(8 << 20))
    proc = subprocess.Popen([sys.executable, str(REPO / "scripts" / "web_demo.py"), "--modules", str(MODULE_DIR),
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=tmp_path_factory.mktemp("cwd"))
    try:
        line = proc.stdout.readline()   # printed once the modules are loaded
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, f"server did not start: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}"
        yield f"http://127.0.0.1:{match.group(1)}", int(match.group(1))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(condition, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def result_or_error(driver) -> str:
    return driver.execute_script(
        "return document.getElementById('result').style.display === 'block' ? 'result' :"
        " document.getElementById('error').style.display === 'block' ? 'error' : ''")


def test_upload_a_clip_see_labels_and_the_video_play(server, browser):
    clip = shared_path("data", "samples", "paddlevideo_example_archery.avi")
    url, _ = server
    browser.get(url + "/")
    wait_for(lambda: browser.execute_script("return document.querySelectorAll('#module option').length"), 30,
             "the module list")
    browser.find_element("id", "window").send_keys("2.6")
    browser.find_element("id", "file").send_keys(str(clip))
    state = wait_for(lambda: result_or_error(browser), 240, "the result")
    assert state == "result", browser.find_element("id", "error").text
    names = [e.text for e in browser.find_elements("css selector", "#bars .name")]
    assert names[0] == "archery" and len(names) == 5
    assert re.search(r"mean of [23] windows", browser.find_element("id", "result-title").text)
    wait_for(lambda: browser.execute_script("return document.getElementById('video').readyState >= 2"), 30,
             "the video to load")
    t0 = browser.execute_script("return document.getElementById('video').currentTime")
    wait_for(lambda: browser.execute_script("return document.getElementById('video').currentTime") > t0 + 0.3, 20,
             "the video to play")
    size = browser.execute_script("const v = document.getElementById('video'); return [v.videoWidth, v.videoHeight]")
    assert size == [320, 240]
    wait_for(lambda: browser.execute_script("const i = document.getElementById('timeline');"
                                            " return i.complete && i.naturalWidth"), 20, "the timeline")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "web_demo.png"))
    assert (ARTIFACTS / "web_demo.png").stat().st_size > 10000
    page = browser.page_source
    assert "/tmp/" not in page and "job-" not in page          # no server-side path reaches the page


def test_bad_upload_shows_the_error_message(server, browser, tmp_path):
    url, _ = server
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video\n" * 100)
    browser.get(url + "/")
    wait_for(lambda: browser.execute_script("return document.querySelectorAll('#module option').length"), 30,
             "the module list")
    browser.find_element("id", "file").send_keys(str(bad))
    assert wait_for(lambda: result_or_error(browser), 60, "the error") == "error"
    text = browser.find_element("id", "error").text
    assert text.startswith("VideoOpenError:") and "Traceback" not in text and str(tmp_path) not in text


def test_oversized_upload_refused_before_reading(server):
    _, port = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("POST", "/api/jobs?module=i3d_kinetics400&filename=big.mp4")
    conn.putheader("Content-Length", str(9 << 20))   # over the server's 8 MiB; no body is sent
    conn.endheaders()
    reply = conn.getresponse()
    assert reply.status == 413 and json.loads(reply.read())["error"]["type"] == "UploadTooLarge"
    conn.close()


def test_upload_names_never_become_server_paths(server):
    _, port = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/api/jobs?module=i3d_kinetics400&filename=..%2F..%2Fevil.mp4", body=b"x" * 1000)
    reply = conn.getresponse()
    job = json.loads(reply.read())
    assert reply.status == 202 and job["file"] == "evil.mp4"

    def status():
        conn.request("GET", f"/api/jobs/{job['id']}")
        doc = json.loads(conn.getresponse().read())
        return doc if doc["state"] in ("done", "failed") else None

    doc = wait_for(status, 60, "the job")
    assert doc["state"] == "failed" and doc["error"]["type"] == "VideoOpenError"
    assert "/" not in json.dumps(doc).replace("/api/jobs/", "")    # no path of the server in the reply
    conn.close()
