"""The web page in a real browser: headless Chromium (Debian's chromium + chromium-driver) driven by Selenium
loads the page of a real `scripts/web_demo.py` server on 127.0.0.1, uploads a real clip, waits for the result and
checks the top-1 label and that the annotated video plays; a screenshot is saved to test-artifacts/. Bad uploads
get their error message on the page (never a traceback) and oversized ones HTTP 413 before the body is read."""
from __future__ import annotations

import http.client
import json
import os
import re

import pytest

from conftest import I3D_DIR as MODULE_DIR, REPO, load_script, needs_i3d_weights, shared_path

shots = load_script("screenshots")
ARTIFACTS = REPO / "test-artifacts"
wait_for = shots.wait_for

pytestmark = [
    pytest.mark.skipif(not (os.path.exists(shots.CHROMIUM) and os.path.exists(shots.CHROMEDRIVER)),
                       reason="needs Chromium and its driver: apt-get install chromium chromium-driver"),
    needs_i3d_weights(),
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    pytest.importorskip("selenium.webdriver")
    with shots.start_browser(str(tmp_path_factory.mktemp("chromium-profile"))) as driver:
        yield driver


@pytest.fixture(scope="module")
def server(browser, tmp_path_factory):
    """A real demo server on a free port of 127.0.0.1 (uploads limited to 8 MiB); stopped after the tests."""
    env = dict(os.environ, PYTHONWARNINGS="ignore", VIDEOHUB_SERVING_MAX_VIDEO_BYTES=str(8 << 20))
    with shots.start_server(str(MODULE_DIR), env=env, cwd=str(tmp_path_factory.mktemp("cwd"))) as address:
        yield address


def test_upload_a_clip_see_labels_and_the_video_play(server, browser):
    clip = shared_path("data", "samples", "paddlevideo_example_archery.avi")
    state = shots.upload(browser, server[0], clip, window="2.6")
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
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video\n" * 100)
    assert shots.upload(browser, server[0], bad) == "error"
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
